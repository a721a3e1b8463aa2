"""gateway's wire format: bank codes, the reply envelope, and orders as gateway fields. Pure.

The spec's examples fix the details copied here: `message` with Chinese as
`\\uXXXX` escapes, amounts as the fen amount written with two decimals
(`10000` → `"10000.00"`), times as `YYYY-MM-DD HH:MM:SS` in the deployment
timezone, `pay_status` -1 paying / 0 failed / 1 paid.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timezone
from html import escape
from typing import Any

from paymux.core.models import Order
from paymux.core.states import OrderStatus

# bank_code → the cashier's payment method (see paymux/web/cashier.py) and the spec's name.
BANK_CODES: dict[str, tuple[str, str]] = {
    "903": ("wechat_h5", "微信H5支付"),
    "911": ("alipay_qr", "支付宝扫码"),
    "912": ("wechat_qr", "微信扫码"),
    "906": ("bank", "网银支付"),
    "901": ("alipay_h5", "支付宝H5"),
}

PAYING, FAILED, PAID = -1, 0, 1
PAY_STATUS: dict[str, int] = {
    OrderStatus.PENDING: PAYING,
    OrderStatus.PAID: PAID,
    OrderStatus.PARTIALLY_REFUNDED: PAID,
    OrderStatus.REFUNDED: PAID,
    OrderStatus.CLOSED: FAILED,
    OrderStatus.EXPIRED: FAILED,
    OrderStatus.FAILED: FAILED,
}


def amount_text(fen: int) -> str:
    """The spec echoes amounts in fen with two decimals: 10000 → "10000.00"."""
    return f"{fen}.00"


def local_time(moment: datetime | None, tz: timezone) -> str | None:
    """A stored (naive UTC) time as the spec prints it, in the deployment timezone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def envelope(ok: bool, message: str, data: dict[str, Any]) -> bytes:
    """`{"status":"1","message":"\\u4e0b…","data":{…}}`, byte for byte in the example's style.

    `json.dumps` with its default `ensure_ascii` writes non-ASCII as lower-case
    `\\uXXXX`, as the spec's example (and PHP's `json_encode`) does.
    """
    body = {"status": "1" if ok else "0", "message": message, "data": data}
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def auto_submit_form(url: str) -> str:
    """An HTML form that sends the payer's browser to `url` as soon as it is printed."""
    return (
        f'<form id="paymux_cashier" name="paymux_cashier" action="{escape(url)}" method="get">'
        '<noscript><button type="submit">前往支付</button></noscript></form>'
        '<script>document.forms["paymux_cashier"].submit();</script>'
    )


def unified_data(order: Order, redirect_url: str) -> dict[str, Any]:
    return {
        "order_no": order.merchant_order_no,
        "platform_order_no": order.order_no,
        "pay_status": PAY_STATUS[order.status],
        "bank_code": order.extra.get("bank_code", ""),
        "amount": amount_text(order.amount),
        "content": auto_submit_form(redirect_url),
        "redirect_url": redirect_url,
    }


def query_data(order: Order, tz: timezone) -> dict[str, Any]:
    """check_order's `data`: the example's fields in the example's order, then `bank_code`."""
    return {
        "order_no": order.merchant_order_no,
        "amount": amount_text(order.amount),
        "attach": order.attach,
        "pay_status": PAY_STATUS[order.status],
        "platform_order_no": order.order_no,
        "created_at": local_time(order.created_at, tz),
        "pay_time": local_time(order.paid_at, tz),
        "bank_code": order.extra.get("bank_code", ""),
    }


def callback_fields(order: Order, appid: str, tz: timezone) -> dict[str, str]:
    """The async notification's fields (5.2) before signing, in the example's order.

    `pay_time` is when the result happened (paid, or failed), since the spec
    makes it required; `actual_amount` is what the payer actually paid.
    """
    status = PAY_STATUS[order.status]
    return {
        "actual_amount": amount_text(order.amount if status == PAID else 0),
        "amount": amount_text(order.amount),
        "appid": appid,
        "attach": order.attach,
        "order_no": order.merchant_order_no,
        "pay_status": str(status),
        "pay_time": local_time(order.paid_at or order.closed_at, tz) or "",
        "platform_order_no": order.order_no,
    }


def return_fields(order: Order) -> dict[str, str]:
    """The sync return's fields (5.3) before signing."""
    return {"order_no": order.merchant_order_no, "pay_status": str(PAY_STATUS[order.status])}
