"""gateway authentication: `appid` names the merchant, `sign` is the MD5 request rule.

The spec has no timestamp or nonce, so there is no replay window: a replayed
unified order is harmless because `order_no` is the idempotency key, and a
replayed query only reads.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from litestar import Request

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant
from paymux.dialects import fields
from paymux.dialects.requests import client_ip
from paymux.services.access import check_ip
from paymux.signing import gateway as signing

if TYPE_CHECKING:
    from paymux.context import Context

APPID_RE = re.compile(r"[0-9A-Za-z_-]{1,32}")
SIGN_RE = re.compile(r"[0-9A-Fa-f]{32}")


def as_strings(params: dict[str, Any]) -> dict[str, str]:
    """Every value as the text the merchant signed.

    A form body is all strings already; a JSON body may carry numbers (signed
    as written) or null (an empty value, left out of the signature like "").
    Anything else cannot have been signed as `k=v` and is refused.
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, str):
            out[key] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            out[key] = str(value)
        else:
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS, f"{key} must be a string or an integer", field=key
            )
    return out


async def authenticate(request: Request, ctx: Context, params: dict[str, str]) -> Merchant:
    """The merchant whose secret signed `params` with the request rule, or why not."""
    appid = fields.text(params, "appid", pattern=APPID_RE)
    signature = fields.text(params, "sign", max_len=32, pattern=SIGN_RE)
    merchant, secrets = await ctx.keys.lookup("gateway", appid)
    if not merchant.active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "merchant is disabled")
    check_ip(merchant, client_ip(request))
    if not any(signing.verify_request(params, secret, signature) for secret in secrets):
        raise PaymuxError(
            ErrorCode.INVALID_SIGNATURE,
            "sign does not match the parameters (MD5 of the sorted non-empty parameters"
            " with secret, lower-case hex)",
        )
    await ctx.limiter.acquire(merchant)
    return merchant
