"""gateway notifications: async form POST (5.2), its ack and schedule, and the sync return (5.3).

Both are signed with the callback rule (empty values kept), so an empty
`attach` is part of what the merchant verifies.
"""

from __future__ import annotations

from datetime import timezone
from urllib.parse import urlencode

from paymux.core.models import Credential, Order, Refund
from paymux.dialects.gateway import wire
from paymux.services.notifications import DeliveryPolicy, DeliveryReply, Outbound
from paymux.signing import gateway as signing

# The payment results the spec calls "明确的结果": paid (pay_status 1) and
# failed (0). An order that merely expires unpaid is not a transaction result;
# the merchant learns of it through check_order.
ORDER_EVENTS = {"order.paid", "order.failed"}

ACK = b"SUCCESS"


def is_ack(reply: DeliveryReply) -> bool:
    """The body `SUCCESS` (upper case, as the spec insists); surrounding whitespace and a
    UTF-8 BOM (PHP files saved with one print it first) are ignored."""
    return reply.body.strip().removeprefix(b"\xef\xbb\xbf").strip() == ACK


# RULINGS: "retry every 60 s, 5 retries" → the first attempt at once, then five
# more a minute apart: six attempts in all.
POLICY = DeliveryPolicy(delays_s=(0, 60, 60, 60, 60, 60), is_ack=is_ack)


class GatewayNotifier:
    policy = POLICY

    def __init__(self, tz: timezone) -> None:
        self._tz = tz

    def order_event(
        self, event: str, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        if event not in ORDER_EVENTS or not order.notify_url or cred is None:
            return None
        fields = wire.callback_fields(order, cred.key_id, self._tz)
        fields["sign"] = signing.sign_callback(fields, cred.secret)
        return Outbound(
            url=order.notify_url,
            body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def refund_event(
        self, event: str, refund: Refund, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        """The spec has no refunds, so it has no refund notification either."""
        return None

    def sync_return(self, order: Order, cred: Credential) -> dict[str, str]:
        """The fields the cashier posts to `return_url` through the payer's browser."""
        fields = wire.return_fields(order)
        fields["sign"] = signing.sign_callback(fields, cred.secret)
        return fields
