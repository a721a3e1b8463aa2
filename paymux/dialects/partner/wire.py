"""partner's wire format: the `{code, message, data}` envelope and core records as partner JSON.

Pure mapping. Amounts leave as decimal strings of the currency ("12.34"),
times as `yyyy-MM-dd HH:mm:ss` in the deployment timezone, statuses as the
spec's section 6 names. A field without a value is left out rather than sent
as null or "", because the spec's PHP and Java samples sign empty values
differently and a left-out field signs the same under both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timezone
from typing import Any

import msgspec

from paymux.core.models import Order, Refund, Withdrawal
from paymux.core.money import format_decimal
from paymux.core.states import OrderStatus, RefundStatus
from paymux.services.oauth import SessionKey, UserInfo

# Section 6.1. A refunded order was still paid successfully; its refunds are reported apart.
ORDER_STATUS: dict[str, str] = {
    OrderStatus.PENDING: "PENDING",
    OrderStatus.PAID: "SUCCESS",
    OrderStatus.PARTIALLY_REFUNDED: "SUCCESS",
    OrderStatus.REFUNDED: "SUCCESS",
    OrderStatus.FAILED: "FAILED",
    OrderStatus.CLOSED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
}

# Section 6.2.
REFUND_STATUS: dict[str, str] = {
    RefundStatus.PROCESSING: "PENDING",
    RefundStatus.SUCCEEDED: "SUCCESS",
    RefundStatus.FAILED: "FAILED",
}


def envelope(code: str, message: str, data: Any) -> bytes:
    return msgspec.json.encode({"code": code, "message": message, "data": data})


def local_time(moment: datetime | None, tz: timezone) -> str | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def present(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that have a value (see the module docstring)."""
    return {k: v for k, v in fields.items() if v is not None and v != ""}


def order_status(order: Order, now: datetime) -> str:
    """A pending order past its expiry reads EXPIRED even before the expiry job has run."""
    if order.status == OrderStatus.PENDING and order.expire_at and order.expire_at <= now:
        return "EXPIRED"
    return ORDER_STATUS[order.status]


def order_data(order: Order, now: datetime, tz: timezone) -> dict[str, Any]:
    return present(
        {
            "orderNo": order.order_no,
            "partnerOrderNo": order.merchant_order_no,
            "amount": format_decimal(order.amount, order.currency),
            "currency": order.currency,
            "status": order_status(order, now),
            "refundedAmount": format_decimal(order.refunded_amount, order.currency),
            "openid": order.extra.get("openid"),
            "subject": order.subject,
            "description": order.description,
            "createTime": local_time(order.created_at, tz),
            "expireTime": local_time(order.expire_at, tz),
            "payTime": local_time(order.paid_at, tz),
        }
    )


def pay_params(
    api_key: str, order_no: str, nonce: str, timestamp_s: int, pay_sign: str
) -> dict[str, Any]:
    """Section 3.5's reply: what the partner's H5 puts into `nexaauth://order?…`."""
    return {
        "timestamp": str(timestamp_s),
        "nonce": nonce,
        "signType": "MD5",
        "paySign": pay_sign,
        "apiKey": api_key,
        "orderNo": order_no,
    }


def refund_data(refund: Refund, order: Order, tz: timezone) -> dict[str, Any]:
    return present(
        {
            "refundNo": refund.refund_no,
            "partnerRefundNo": refund.merchant_refund_no,
            "orderNo": order.order_no,
            "partnerOrderNo": order.merchant_order_no,
            "amount": format_decimal(refund.amount, refund.currency),
            "currency": refund.currency,
            "status": REFUND_STATUS[refund.status],
            "refundedAmount": format_decimal(order.refunded_amount, order.currency),
            "reason": refund.reason,
            "createTime": local_time(refund.created_at, tz),
            "completeTime": local_time(refund.completed_at, tz),
        }
    )


def withdrawal_data(withdrawal: Withdrawal, tz: timezone) -> dict[str, Any]:
    return present(
        {
            "withdrawalNo": withdrawal.withdrawal_no,
            "amount": format_decimal(withdrawal.amount, withdrawal.currency),
            "currency": withdrawal.currency,
            "status": withdrawal.status,
            "userId": withdrawal.user_ref,
            "remark": withdrawal.remark,
            "reason": withdrawal.reason,
            "createTime": local_time(withdrawal.created_at, tz),
            "completeTime": local_time(withdrawal.completed_at, tz),
        }
    )


def session_data(session: SessionKey) -> dict[str, Any]:
    return {"session_key": session.session_key, "expires_in": session.expires_in}


def user_info_data(info: UserInfo, tz: timezone) -> dict[str, Any]:
    # paymux keeps no avatars; the field is there (empty) because the spec lists it.
    return {
        "nickname": info.nickname,
        "avatar": "",
        "openid": info.openid,
        "binding_time": local_time(info.bound_at, tz),
    }


# -- notifications (section 8): the fields before timestamp, nonce and signature are added -----


def order_notification(order: Order, api_key: str, tz: timezone) -> dict[str, Any]:
    return present(
        {
            "notifyType": "payment",
            "apiKey": api_key,
            "orderNo": order.order_no,
            "partnerOrderNo": order.merchant_order_no,
            "amount": format_decimal(order.amount, order.currency),
            "currency": order.currency,
            "status": ORDER_STATUS[order.status],
            "payTime": local_time(order.paid_at, tz),
        }
    )


def refund_notification(refund: Refund, order: Order, api_key: str, tz: timezone) -> dict[str, Any]:
    return present({"notifyType": "refund", "apiKey": api_key, **refund_data(refund, order, tz)})


def withdrawal_notification(withdrawal: Withdrawal, api_key: str, tz: timezone) -> dict[str, Any]:
    return present(
        {"notifyType": "withdrawal", "apiKey": api_key, **withdrawal_data(withdrawal, tz)}
    )
