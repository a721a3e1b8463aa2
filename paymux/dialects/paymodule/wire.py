"""paymodule's wire format: the `{code, msg, data}` envelope and core records as paymodule JSON.

Pure mapping. Ids are JSON integers (`orderId` is the snowflake order no,
`transactionId` the attempt's snowflake); times are `yyyy-MM-dd HH:mm:ss` in
the deployment timezone; `qrBase64` is a PNG data URI of the channel's code URL.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timezone
from typing import Any

import msgspec
import segno

from paymux.core.models import Order, PaymentAttempt
from paymux.core.states import OrderStatus
from paymux.services.payments import AttemptStatus, Payment

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
METHOD_OF_PAY_TYPE = {"WECHAT_PAY": "WECHAT", "ALIPAY": "ALIPAY"}

ORDER_STATUS = {
    OrderStatus.PAID: "SUCCEEDED",
    OrderStatus.PARTIALLY_REFUNDED: "SUCCEEDED",
    OrderStatus.REFUNDED: "SUCCEEDED",
    OrderStatus.CLOSED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.FAILED: "FAILED",
}


def envelope(code: int, msg: str, data: Any) -> bytes:
    return msgspec.json.encode({"code": code, "msg": msg, "data": data})


def local_time(moment: datetime | None, tz: timezone) -> str | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(tz).strftime(TIME_FORMAT)


# Every one of the eight QR masks makes a valid code that readers decode; segno's search
# for the best-scoring one was over half of a create-order's CPU (docs/performance.md).
QR_MASK = 0


@functools.lru_cache(maxsize=1024)
def qr_png_data_uri(content: str) -> str:
    """A QR code of `content` as the spec's `qrBase64`: a PNG data URI an <img> shows as is.

    Cached: an order's create and the queries that follow it draw the same code URL.
    """
    return segno.make(content, error="m", mask=QR_MASK).png_data_uri(scale=6, border=4)


def pay_method(order: Order) -> str:
    return METHOD_OF_PAY_TYPE.get(order.extra.get("pay_type", ""), "")


def order_status(order: Order, attempt: PaymentAttempt | None, now: datetime) -> str:
    """INIT until a channel gave a code, PENDING while payable, then the order's outcome.

    A pending order past its expiry is EXPIRED already: it can no longer be paid,
    even if the expiry job has not marked it yet.
    """
    if order.status != OrderStatus.PENDING:
        return ORDER_STATUS[OrderStatus(order.status)]
    if order.expire_at is not None and order.expire_at <= now:
        return "EXPIRED"
    if attempt is not None and attempt.status == AttemptStatus.PENDING:
        return "PENDING"
    return "INIT"


def attempt_status(attempt: PaymentAttempt, order: Order, now: datetime) -> str:
    """The attempt's own outcome, or the order's once the order ended with this attempt open."""
    if attempt.status == AttemptStatus.SUCCEEDED:
        return "SUCCEEDED"
    if attempt.status == AttemptStatus.FAILED:
        return "FAILED"
    status = order_status(order, attempt, now)
    if status in ("PENDING", "INIT"):
        return "CANCELED" if attempt.status == AttemptStatus.CLOSED else attempt.status
    if status == "SUCCEEDED" and order.extra.get("transaction_id") != attempt.id:
        return "CANCELED"  # the order was paid through another attempt
    return status


def create_data(payment: Payment, now: datetime, tz: timezone) -> dict[str, Any]:
    order, attempt = payment.order, payment.attempt
    return {
        "orderId": int(order.order_no),
        "transactionId": attempt.id if attempt else None,
        "status": order_status(order, attempt, now),
        "qrBase64": qr_png_data_uri(attempt.code_url) if attempt and attempt.code_url else None,
        "expireAt": local_time(order.expire_at, tz),
    }


def order_data(payment: Payment, now: datetime, tz: timezone) -> dict[str, Any]:
    order = payment.order
    return {
        "id": int(order.order_no),
        "bizOrderId": order.merchant_order_no,
        "amount": order.amount,
        "currency": order.currency,
        "channel": pay_method(order),
        "status": order_status(order, payment.attempt, now),
        "subject": order.subject,
        "description": order.description,
        "channelTradeNo": order.extra.get("channel_trade_no"),
        "paidAt": local_time(order.paid_at, tz),
        "expireAt": local_time(order.expire_at, tz),
        "createdAt": local_time(order.created_at, tz),
    }


def transaction_data(payment: Payment, now: datetime, tz: timezone) -> dict[str, Any] | None:
    order, attempt = payment.order, payment.attempt
    if attempt is None:
        return None
    return {
        "id": attempt.id,
        "orderId": int(order.order_no),
        "channel": attempt.pay_method,
        "clientType": attempt.client_type,
        "status": attempt_status(attempt, order, now),
        "qrBase64": qr_png_data_uri(attempt.code_url) if attempt.code_url else None,
        "codeUrl": attempt.code_url or None,
        "channelTradeNo": attempt.channel_trade_no or None,
        "createdAt": local_time(attempt.created_at, tz),
    }


def callback_data(order: Order, tz: timezone) -> dict[str, Any]:
    """The business callback's fields, in the spec's order."""
    return {
        "tradeId": order.extra.get("transaction_id"),
        "orderId": int(order.order_no),
        "bizOrderId": order.merchant_order_no,
        "channel": pay_method(order),
        "amount": order.amount,
        "currency": order.currency,
        "status": ORDER_STATUS.get(OrderStatus(order.status), order.status),
        "channelTradeNo": order.extra.get("channel_trade_no"),
        "paidAt": local_time(order.paid_at, tz),
        "subject": order.subject,
        "description": order.description,
    }
