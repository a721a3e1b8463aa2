"""skillpay authentication: TSK-RSA2 both ways, the 3-minute window, and `nonceStr` replay.

paymux signs every request it sends and every reply it gives with the
platform key, dated by the platform clock; it verifies every request and
reply of a skill with that skill's public key from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Request

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.dialects import fields
from paymux.dialects.requests import client_ip, content_type, decode_json_object
from paymux.services import skills
from paymux.services.access import check_ip
from paymux.signing import tsk_rsa2

if TYPE_CHECKING:
    from paymux.context import Context

WINDOW_S = tsk_rsa2.WINDOW_S
# A request is acceptable while its Datetime is within ±WINDOW_S of now, so a
# nonce must be remembered for the whole span in which it could come back.
NONCE_TTL_S = 2 * WINDOW_S


@lru_cache(maxsize=4)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    return tsk_rsa2.load_private_key(pem)


@lru_cache(maxsize=1024)
def _public_key(text: str) -> rsa.RSAPublicKey:
    return tsk_rsa2.load_public_key(text)


def authorization(ctx: Context, body: bytes, moment: datetime | None = None) -> str:
    """The platform's `Authorization` value for `body`, dated `moment` (default: now)."""
    when = tsk_rsa2.format_datetime(moment or ctx.env.clock.now())
    return tsk_rsa2.authorization_header(body, when, _private_key(ctx.platform_private_pem))


def authorization_of(headers: Mapping[str, str]) -> str | None:
    """The `Authorization` header whatever the case of its key (plain dicts and HTTP headers)."""
    return next((value for key, value in headers.items() if key.lower() == "authorization"), None)


def check_skill_signature(
    ctx: Context, skill: skills.Skill, authorization_value: str | None, body: bytes
) -> None:
    """Verify something the skill signed (a request or a reply) against the platform clock.

    Right after a key rotation the replaced key is tried too (grace period).
    """
    now = ctx.env.clock.now()
    keys = skill.public_keys(now)
    for index, text in enumerate(keys):
        try:
            tsk_rsa2.check_authorization(authorization_value, body, _public_key(text), now)
            return
        except tsk_rsa2.Rejected as exc:
            if exc.reason == "signature" and index + 1 < len(keys):
                continue
            stale = exc.reason == "stale"
            code = ErrorCode.STALE_TIMESTAMP if stale else ErrorCode.INVALID_SIGNATURE
            raise PaymuxError(code, str(exc)) from None


async def authenticate(request: Request, ctx: Context) -> tuple[skills.Skill, dict[str, Any]]:
    """The skill that signed this request and the request's fields, or the error saying why not."""
    if content_type(request) != "application/json":
        raise PaymuxError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
    body = await request.body()
    params = decode_json_object(body)
    skill_id = fields.text(params, "skillId", max_len=32)
    skill, merchant = await ctx.store.read(skills.find_skill, skill_id)
    check_skill_signature(ctx, skill, request.headers.get("authorization"), body)
    if not (skill.active and merchant.active):
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, f"skill {skill_id} is disabled")
    check_ip(merchant, client_ip(request))
    await ctx.limiter.acquire(merchant)
    nonce = fields.text(params, "nonceStr", max_len=32)
    if not await ctx.nonces.use(f"skillpay:{skill_id}", nonce, NONCE_TTL_S):
        raise PaymuxError(ErrorCode.REPLAYED_NONCE, "nonceStr was already used")
    return skill, params


def moment_of(now_ms: int) -> datetime:
    """A notifier's `now_ms` as the naive UTC datetime the signature is dated with."""
    return datetime.fromtimestamp(now_ms / 1000, UTC).replace(tzinfo=None)
