"""paymodule caller identification: the `X-Api-Key` header, or the deployment's default merchant.

The spec has no authentication at all (its examples send none), so the ruling
identifies the caller by its apiKey and lets a deployment name a merchant for
calls without one: the demo merchant in sandbox mode, nobody in production,
unless `PAYMUX_PAYMODULE_DEFAULT_MERCHANT` says otherwise. The merchant's IP
allowlist and rate limit apply either way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from litestar import Request

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant
from paymux.demo import demo_merchant_id
from paymux.dialects.requests import client_ip
from paymux.services import merchants
from paymux.services.access import check_ip

if TYPE_CHECKING:
    from paymux.context import Context

API_KEY_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")


async def default_merchant_id(ctx: Context) -> str | None:
    configured = ctx.settings.paymodule_default_merchant
    if configured is not None:
        return configured or None
    return await ctx.store.read(demo_merchant_id) if ctx.sandbox else None


async def caller(request: Request, ctx: Context) -> Merchant:
    """The merchant a request acts for, or the error that explains why there is none."""
    key = request.headers.get("x-api-key", "").strip()
    if key:
        if not API_KEY_RE.fullmatch(key):
            raise PaymuxError(ErrorCode.UNAUTHORIZED, "X-Api-Key is malformed")
        try:
            merchant, _ = await ctx.keys.lookup("paymodule", key)
        except PaymuxError as exc:
            if exc.code is ErrorCode.MERCHANT_NOT_FOUND:
                raise PaymuxError(ErrorCode.UNAUTHORIZED, "unknown X-Api-Key") from None
            raise
    else:
        merchant_id = await default_merchant_id(ctx)
        if merchant_id is None:
            raise PaymuxError(ErrorCode.UNAUTHORIZED, "the X-Api-Key header is required")
        merchant = await ctx.store.read(merchants.get_merchant, merchant_id)
    if not merchant.active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "merchant is disabled")
    check_ip(merchant, client_ip(request))
    await ctx.limiter.acquire(merchant)
    return merchant
