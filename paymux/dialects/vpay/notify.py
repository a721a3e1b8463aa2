"""vpay notifications: signed JSON to `notify_url` on payment and refund; retry schedule."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timezone
from typing import Any

import msgspec

from paymux.core.models import Credential, Order, Refund
from paymux.dialects.vpay import wire
from paymux.services.notifications import DeliveryPolicy, DeliveryReply, Outbound
from paymux.signing import vpay as signing

ORDER_EVENTS = {"order.paid"}
REFUND_EVENTS = {"refund.succeeded", "refund.failed"}


def is_ack(reply: DeliveryReply) -> bool:
    """`SUCCESS`/`success` as the body, or any 2xx with JSON `{"code": "SUCCESS"}`."""
    status, text = reply.status, reply.body.strip()
    if text in (b"SUCCESS", b"success"):
        return True
    if 200 <= status < 300:
        try:
            parsed = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return False
        return isinstance(parsed, dict) and parsed.get("code") == "SUCCESS"
    return False


POLICY = DeliveryPolicy(delays_s=(0, 5, 10, 30, 60, 120), is_ack=is_ack)


class VpayNotifier:
    policy = POLICY

    def __init__(self, tz: timezone) -> None:
        self._tz = tz

    def _message(self, url: str, fields: dict[str, Any], cred: Credential, now_ms: int) -> Outbound:
        moment = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(self._tz)
        fields["timestamp"] = moment.strftime("%Y%m%d%H%M%S")
        fields["nonce_str"] = secrets.token_hex(8)
        fields["sign"] = signing.sign(fields, cred.secret)
        return Outbound(
            url=url, body=msgspec.json.encode(fields), headers={"Content-Type": "application/json"}
        )

    def order_event(
        self, event: str, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        if event not in ORDER_EVENTS or not order.notify_url or cred is None:
            return None
        return self._message(order.notify_url, _order_fields(order), cred, now_ms)

    def refund_event(
        self, event: str, refund: Refund, order: Order, cred: Credential | None, now_ms: int
    ) -> Outbound | None:
        if event not in REFUND_EVENTS or not refund.notify_url or cred is None:
            return None
        fields = _order_fields(order)
        fields.update(
            refund_id=refund.refund_no,
            merchant_refund_id=refund.merchant_refund_no,
            refund_amount=refund.amount,
            refund_status=refund.status,
        )
        return self._message(refund.notify_url, fields, cred, now_ms)


def _order_fields(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_no,
        "merchant_order_id": order.merchant_order_no,
        "amount": order.amount,
        "currency": order.currency,
        "status": wire.STATUS_CODE[order.status],
        "pay_time": wire.utc_time(order.paid_at) or "",
    }
