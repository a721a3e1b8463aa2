"""partner notifications (section 8): signed JSON to `notifyUrl`, `success` acknowledges.

Payments report every status change (paid, expired, closed, failed), refunds
their completion, withdrawals each step of their review and payout. Each body
is signed with the API rule (PHP form, and with no empty values, so the Java
form gives the same digest) and fixed at enqueue time, so every retry carries
the same bytes and the partner can deduplicate.
"""

from __future__ import annotations

import secrets
from datetime import timezone
from typing import Any

import msgspec

from paymux.core.models import Credential, Order, Refund, Withdrawal
from paymux.dialects.partner import wire
from paymux.services.notifications import DeliveryPolicy, DeliveryReply, Outbound
from paymux.signing import partner as signing

ORDER_EVENTS = {"order.paid", "order.expired", "order.closed", "order.failed"}
REFUND_EVENTS = {"refund.succeeded", "refund.failed"}


def is_ack(reply: DeliveryReply) -> bool:
    """A 2xx whose body, trimmed, is exactly `success` (case-sensitive)."""
    return 200 <= reply.status < 300 and reply.body.strip() == b"success"


# The first delivery at once, then the spec's retries after 5, 10, 30, 60 and 120 s.
POLICY = DeliveryPolicy(delays_s=(0, 5, 10, 30, 60, 120), is_ack=is_ack)


class PartnerNotifier:
    policy = POLICY

    def __init__(self, tz: timezone) -> None:
        self._tz = tz

    def _message(self, url: str, fields: dict[str, Any], cred: Credential, now_ms: int) -> Outbound:
        fields["timestamp"] = str(now_ms)
        fields["nonce"] = secrets.token_hex(16)
        fields["signature"] = signing.sign(fields, cred.secret)
        return Outbound(
            url=url, body=msgspec.json.encode(fields), headers={"Content-Type": "application/json"}
        )

    def order_event(
        self, event: str, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        if event not in ORDER_EVENTS or not order.notify_url or cred is None:
            return None
        fields = wire.order_notification(order, cred.key_id, self._tz)
        return self._message(order.notify_url, fields, cred, now_ms)

    def refund_event(
        self, event: str, refund: Refund, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        if event not in REFUND_EVENTS or not refund.notify_url or cred is None:
            return None
        fields = wire.refund_notification(refund, order, cred.key_id, self._tz)
        return self._message(refund.notify_url, fields, cred, now_ms)

    def withdrawal_event(
        self, event: str, withdrawal: Withdrawal, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        if not withdrawal.notify_url or cred is None:
            return None
        fields = wire.withdrawal_notification(withdrawal, cred.key_id, self._tz)
        return self._message(withdrawal.notify_url, fields, cred, now_ms)
