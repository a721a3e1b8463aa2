"""partner authentication: apiKey, millisecond timestamp window, SHA-256 signature, nonce.

The checks run cheapest-and-most-telling first: malformed common parameters,
then who the partner is (unknown, disabled, outside its IP allowlist), then
the per-merchant timestamp window, the signature, the rate limit, and last the
nonce — so a request that fails anything earlier never burns its nonce.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NoReturn

from litestar import Request

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant
from paymux.dialects import fields
from paymux.dialects.requests import client_ip
from paymux.services.access import check_ip
from paymux.signing import partner as signing

if TYPE_CHECKING:
    from paymux.context import Context

API_KEY_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
NONCE_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
SIGNATURE_RE = re.compile(r"[0-9A-Fa-f]{64}")
COMMON = {"apiKey", "nonce", "timestamp", *signing.SIGNATURE_FIELDS}


def timestamp_ms(params: dict[str, Any]) -> int:
    """`timestamp` in milliseconds, sent as a string of digits (the spec) or a JSON integer."""
    value = params.get("timestamp")
    if value is None or value == "":
        raise PaymuxError(ErrorCode.MISSING_PARAM, "timestamp is required", field="timestamp")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**16:
        return value
    raise PaymuxError(
        ErrorCode.INVALID_PARAMS,
        "timestamp must be milliseconds since the epoch",
        field="timestamp",
    )


def signature_of(params: dict[str, Any]) -> str:
    """The signature, sent as `signature` (sections 3.2–3.8) or `sign` (section 3.1)."""
    given = {
        name: fields.text(params, name, required=False, max_len=64, pattern=SIGNATURE_RE)
        for name in signing.SIGNATURE_FIELDS
    }
    present = {value for value in given.values() if value}
    if not present:
        raise PaymuxError(ErrorCode.MISSING_PARAM, "signature is required", field="signature")
    if len(present) > 1:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "sign and signature disagree; send one", field="signature"
        )
    return present.pop()


def check_signable(params: dict[str, Any]) -> None:
    """Every value must be a string, number or boolean: nested JSON has no agreed text to sign."""
    for name, value in params.items():
        if isinstance(value, dict | list):
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS, f"{name} must be a string or a number", field=name
            )


async def authenticate(
    request: Request, ctx: Context, params: dict[str, Any], allowed: set[str]
) -> Merchant:
    """The partner that signed `params`, or the error that explains why not."""
    api_key = fields.text(params, "apiKey", pattern=API_KEY_RE)
    nonce = fields.text(params, "nonce", pattern=NONCE_RE)
    sent_ms = timestamp_ms(params)
    signature = signature_of(params)
    fields.no_unknown(params, allowed | COMMON)
    check_signable(params)
    merchant, secrets = await ctx.keys.lookup("partner", api_key)
    if not merchant.active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "the partner is disabled")
    check_ip(merchant, client_ip(request))
    window_s = merchant.timestamp_window_s
    if abs(ctx.env.clock.now_ms() - sent_ms) > window_s * 1000:
        raise PaymuxError(
            ErrorCode.STALE_TIMESTAMP,
            f"timestamp is outside the ±{window_s}s window (milliseconds since the epoch)",
        )
    if not any(signing.verify(params, secret, signature) for secret in secrets):
        await _refuse_signature(ctx, api_key, params, signature)
    await ctx.limiter.acquire(merchant)
    # A timestamp up to one window ahead stays acceptable until one window behind: the
    # nonce must be remembered for both, or a replay near the end would pass.
    if not await ctx.nonces.use(f"partner:{merchant.id}", nonce, 2 * window_s):
        raise PaymuxError(
            ErrorCode.REPLAYED_NONCE,
            f"replayed request: nonce {nonce} was already used within the last {window_s}s",
        )
    return merchant


async def _refuse_signature(
    ctx: Context, api_key: str, params: dict[str, Any], signature: str
) -> NoReturn:
    """A bad signature; 10000003 when it verifies with a secret rotated out of its grace."""
    expired = await ctx.keys.expired("partner", api_key)
    if any(signing.verify(params, secret, signature) for secret in expired):
        raise PaymuxError(
            ErrorCode.CREDENTIAL_EXPIRED,
            "signed with an appSecret that was rotated and whose grace period has ended: "
            "configure the current appSecret",
        )
    raise PaymuxError(ErrorCode.INVALID_SIGNATURE, "signature does not match the parameters")
