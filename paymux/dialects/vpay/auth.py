"""vpay authentication: common parameters, timestamp window, HMAC signature, nonce."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from litestar import Request

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant
from paymux.dialects import fields
from paymux.dialects.requests import client_ip
from paymux.services.access import check_ip
from paymux.signing import vpay as signing

if TYPE_CHECKING:
    from paymux.context import Context

WINDOW_S = 300
NONCE_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
KEY_RE = re.compile(r"[0-9A-Za-z]{1,32}")
COMMON = {"app_id", "timestamp", "nonce_str", "sign", "sign_type"}


def parse_timestamp(text: str, ctx: Context) -> datetime:
    if not (len(text) == 14 and text.isdigit()):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "timestamp must be YYYYMMDDHHMMSS", field="timestamp"
        )
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=ctx.settings.tz)
    except ValueError:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "timestamp is not a valid time", field="timestamp"
        ) from None
    return local.astimezone(UTC).replace(tzinfo=None)


async def authenticate(request: Request, ctx: Context, params: dict[str, Any]) -> Merchant:
    """The merchant that signed `params`, or the error that explains why not."""
    app_id = fields.text(params, "app_id", pattern=KEY_RE)
    timestamp = fields.text(params, "timestamp", max_len=14)
    nonce = fields.text(params, "nonce_str", pattern=NONCE_RE)
    signature = fields.text(params, "sign", max_len=128)
    sign_type = fields.text(params, "sign_type", required=False, max_len=16)
    if sign_type and sign_type != "HMAC-SHA256":
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "sign_type must be HMAC-SHA256", field="sign_type"
        )
    sent = parse_timestamp(timestamp, ctx)
    if abs((ctx.env.clock.now() - sent).total_seconds()) > WINDOW_S:
        raise PaymuxError(
            ErrorCode.STALE_TIMESTAMP, f"timestamp is outside the ±{WINDOW_S}s window"
        )
    merchant, secrets = await ctx.keys.lookup("vpay", app_id)
    if not merchant.active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "merchant is disabled")
    check_ip(merchant, client_ip(request))
    if not any(signing.verify(params, secret, signature) for secret in secrets):
        raise PaymuxError(ErrorCode.INVALID_SIGNATURE, "signature does not match the parameters")
    ctx.limiter.check(merchant)
    if not await ctx.nonces.use(f"vpay:{merchant.id}", nonce, WINDOW_S):
        raise PaymuxError(ErrorCode.REPLAYED_NONCE, "nonce_str was already used")
    return merchant
