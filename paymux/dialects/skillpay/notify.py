"""skillpay notices: ship (on payment) and refund result, TSK-RSA2 signed, until a signed SUCCESS.

The spec leaves the retry strategy to the platform ("一定的策略定期重新发起通知");
paymux follows the schedule WeChat Pay uses for its own merchants, about a
day of attempts in all. A notice counts as received only when the skill
answers 2xx with a reply signed by the skill's key (3-minute window) whose
`retCode` is SUCCESS. The body never changes between attempts, so the skill
can de-duplicate on it, but each attempt is signed anew: a TSK-RSA2 signature
is only valid for 3 minutes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from paymux.core.errors import PaymuxError
from paymux.core.models import Credential, Order, Refund
from paymux.dialects.skillpay import auth, wire
from paymux.services import skills
from paymux.services.notifications import DeliveryPolicy, DeliveryReply, Outbound

if TYPE_CHECKING:
    from paymux.context import Context

DELAYS_S: tuple[float, ...] = (
    0,
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
REFUND_EVENTS = {"refund.succeeded", "refund.failed"}


class SkillpayNotifier:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.policy = DeliveryPolicy(
            delays_s=DELAYS_S, is_ack=self.is_ack, attempt_headers=self.attempt_headers
        )

    def _message(self, url: str, fields: dict[str, object], now_ms: int) -> Outbound:
        body = msgspec.json.encode(fields)
        return Outbound(
            url=url,
            body=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": auth.authorization(self._ctx, body, auth.moment_of(now_ms)),
            },
        )

    def order_event(
        self, event: str, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        """The ship notice (通知发货) to the ship URL the order was created with."""
        if event != "order.paid" or not order.notify_url:
            return None
        return self._message(
            order.notify_url, wire.ship_notice(order, secrets.token_hex(16)), now_ms
        )

    def refund_event(
        self, event: str, refund: Refund, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        """The refund result notice (退款结果通知) once the refund is SUCCESS or FAIL."""
        if event not in REFUND_EVENTS or not refund.notify_url:
            return None
        return self._message(
            refund.notify_url, wire.refund_notice(refund, order, secrets.token_hex(16)), now_ms
        )

    def attempt_headers(self, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        """The stored headers with a fresh platform signature dated now."""
        fresh = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        fresh["Authorization"] = auth.authorization(self._ctx, body)
        return fresh

    async def is_ack(self, reply: DeliveryReply) -> bool:
        if not 200 <= reply.status < 300:
            return False
        try:
            skill = await self._ctx.store.read(skills.skill_of_merchant, reply.merchant_id)
            auth.check_skill_signature(
                self._ctx, skill, auth.authorization_of(reply.headers), reply.body
            )
        except PaymuxError:
            return False
        try:
            parsed = msgspec.json.decode(reply.body)
        except msgspec.DecodeError:
            return False
        return isinstance(parsed, dict) and parsed.get("retCode") == "SUCCESS"
