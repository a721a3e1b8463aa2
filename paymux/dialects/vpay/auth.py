"""vpay authentication: common parameters, HMAC signature, timestamp window, nonce."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
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

NONCE_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
KEY_RE = re.compile(r"[0-9A-Za-z]{1,32}")
# HMAC-SHA256 as hex; anything else (non-ASCII above all) cannot be compared in constant time.
SIGN_RE = re.compile(r"[0-9A-Fa-f]{64}")
COMMON = {"app_id", "timestamp", "nonce_str", "sign", "sign_type"}
# What a signed parameter may be: the scalars a merchant's `k=v` string can print.
SCALARS = (str, int, float, bool, type(None))


def parse_timestamp(text: str, ctx: Context) -> datetime:
    """`YYYYMMDDHHMMSS` in the deployment timezone, as naive UTC."""
    if not (len(text) == 14 and text.isascii() and text.isdigit()):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "timestamp must be YYYYMMDDHHMMSS", field="timestamp"
        )
    try:  # by hand: strptime costs seven times as much, on every signed request
        local = datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
        )
        return local - timedelta(hours=ctx.settings.tz_offset_hours)
    except (ValueError, OverflowError):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "timestamp is not a valid time", field="timestamp"
        ) from None


def check_scalars(params: dict[str, Any]) -> None:
    """Refuse objects and arrays: they have no `k=v` form, so nobody could have signed them."""
    for name, value in params.items():
        if not isinstance(value, SCALARS):
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS, f"{name} must be a string or a number", field=name
            )


async def authenticate(request: Request, ctx: Context, params: dict[str, Any]) -> Merchant:
    """The merchant that signed `params`, or the error that explains why not.

    The signature is checked before anything about the merchant is revealed
    (disabled, allowlist, rate limit), and the nonce is spent last, so a
    forged request can neither probe a merchant nor burn its nonces.
    """
    app_id = fields.text(params, "app_id", pattern=KEY_RE)
    timestamp = fields.text(params, "timestamp", max_len=14)
    nonce = fields.text(params, "nonce_str", pattern=NONCE_RE)
    signature = fields.text(params, "sign", max_len=128, pattern=SIGN_RE)
    sign_type = fields.text(params, "sign_type", required=False, max_len=16)
    if sign_type and sign_type != "HMAC-SHA256":
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "sign_type must be HMAC-SHA256", field="sign_type"
        )
    sent = parse_timestamp(timestamp, ctx)
    check_scalars(params)
    merchant, secrets = await ctx.keys.lookup("vpay", app_id)
    if not signing.verify_any(params, secrets, signature):
        raise PaymuxError(ErrorCode.INVALID_SIGNATURE, "signature does not match the parameters")
    if not merchant.active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "merchant is disabled")
    check_ip(merchant, client_ip(request))
    window = merchant.timestamp_window_s
    if abs((ctx.env.clock.now() - sent).total_seconds()) > window:
        raise PaymuxError(ErrorCode.STALE_TIMESTAMP, f"timestamp is outside the ±{window}s window")
    await ctx.limiter.acquire(merchant)
    # A timestamp stays acceptable for 2 × window (from window early to window
    # late), so its nonce must be remembered that long or it could be replayed.
    if not await ctx.nonces.use(f"vpay:{merchant.id}", nonce, 2 * window):
        raise PaymuxError(ErrorCode.REPLAYED_NONCE, "nonce_str was already used")
    return merchant
