"""paymodule business callbacks: signed JSON to `callbackUrl` when an order is paid.

The spec calls back on payment success only. The body is fixed when the
payment commits; `X-Signature` is the lower-hex HMAC-SHA256 of those exact
bytes + `X-Nonce` + `X-Timestamp` (ms) with the merchant's
`callbackSignSecret`, so every retry sends the same bytes and headers and a
merchant can deduplicate on `tradeId`. Any 2xx acknowledges.
"""

from __future__ import annotations

import secrets
from datetime import timezone

import msgspec

from paymux.core.models import Credential, Order, Refund
from paymux.dialects.paymodule import wire
from paymux.services.notifications import DeliveryPolicy, DeliveryReply, Outbound
from paymux.signing import paymodule as signing

ORDER_EVENTS = {"order.paid"}


def is_ack(reply: DeliveryReply) -> bool:
    return 200 <= reply.status < 300


# The ruling's schedule: immediately, 1 m, 5 m, 15 m, 60 m, 2 h, 4 h, 8 h, 12 h, 24 h.
POLICY = DeliveryPolicy(
    delays_s=(0, 60, 300, 900, 3600, 7200, 14400, 28800, 43200, 86400), is_ack=is_ack
)


def signed_message(url: str, body: bytes, secret: str, now_ms: int) -> Outbound:
    nonce = secrets.token_hex(16)
    timestamp = str(now_ms)
    return Outbound(
        url=url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Signature": signing.sign(body, nonce, timestamp, secret),
            "X-Nonce": nonce,
            "X-Timestamp": timestamp,
        },
    )


class PaymoduleNotifier:
    policy = POLICY

    def __init__(self, tz: timezone) -> None:
        self._tz = tz

    def order_event(
        self, event: str, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        if event not in ORDER_EVENTS or not order.notify_url or cred is None:
            return None
        body = msgspec.json.encode(wire.callback_data(order, self._tz))
        return signed_message(order.notify_url, body, cred.secret, now_ms)

    def refund_event(
        self, event: str, refund: Refund, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        return None  # the spec has no refunds
