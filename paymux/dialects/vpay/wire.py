"""vpay's wire format: the unified envelope, and core records as vpay JSON. Pure mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timezone
from functools import lru_cache
from typing import Any

import msgspec

from paymux.core.ledger import EntryType
from paymux.core.models import Account, JournalLine, Merchant, Order, Refund
from paymux.core.money import format_decimal
from paymux.core.states import OrderStatus
from paymux.dialects.vpay.codes import MESSAGES

PAY_TYPES = ("QR_CODE", "ALIPAY", "WECHAT_PAY")

STATUS_CODE: dict[str, int] = {
    OrderStatus.PENDING: 0,
    OrderStatus.PAID: 1,
    OrderStatus.CLOSED: 2,
    OrderStatus.EXPIRED: 2,
    OrderStatus.FAILED: 2,
    OrderStatus.PARTIALLY_REFUNDED: 3,
    OrderStatus.REFUNDED: 4,
}
STATUSES_BY_CODE: dict[int, list[str]] = {}
for _status, _code in STATUS_CODE.items():
    STATUSES_BY_CODE.setdefault(_code, []).append(_status)

# Journal entry type → the spec's transaction `type` (keys are the stored strings).
ENTRY_TYPE_CODE: dict[str, int] = {
    EntryType.PAY: 1,
    EntryType.REFUND: 2,
    EntryType.RECHARGE: 3,
    EntryType.WITHDRAW: 4,
    EntryType.TRANSFER: 5,
}
ENTRY_TYPE_BY_CODE = {code: kind for kind, code in ENTRY_TYPE_CODE.items()}


def utc_time(moment: datetime | None) -> str | None:
    """Data times as the spec's examples show them: UTC with milliseconds and `Z`.

    Times are naive UTC inside paymux; `isoformat` (milliseconds truncated)
    costs a sixth of `strftime` and three of them are in every order reply.
    """
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def envelope_time(now: datetime, tz: timezone) -> str:
    """The envelope `timestamp`: ISO 8601 in the deployment timezone (+08:00 by default)."""
    return _envelope_second(now.replace(microsecond=0), tz)


@lru_cache(maxsize=4)
def _envelope_second(second: datetime, tz: timezone) -> str:
    """One rendering per second: every reply of that second carries the same text."""
    return second.replace(tzinfo=UTC).astimezone(tz).isoformat(timespec="seconds")


def envelope(
    code: str, data: Any, debug_id: str, now: datetime, tz: timezone, detail: str | None = None
) -> bytes:
    zh, en, _ = MESSAGES[code]
    body: dict[str, Any] = {
        "code": code,
        "localized_msg": {"zh_CN": zh, "en_US": en},
        "data": data,
        "debug_id": debug_id,
        "timestamp": envelope_time(now, tz),
    }
    if detail is not None:
        body["detail"] = detail
    return msgspec.json.encode(body)


def merchant_data(merchant: Merchant, public_key: str) -> dict[str, Any]:
    return {
        "merchant_id": merchant.id,
        "merchant_name": merchant.name,
        "public_key": public_key,
        "create_time": utc_time(merchant.created_at),
        "status": merchant.status,
    }


def order_data(order: Order, pay_url: str) -> dict[str, Any]:
    return {
        "order_id": order.order_no,
        "merchant_order_id": order.merchant_order_no,
        "merchant_id": order.merchant_id,
        "amount": order.amount,
        "currency": order.currency,
        "channel": order.extra.get("pay_type", ""),
        "pay_type": order.extra.get("pay_type", ""),
        "status": STATUS_CODE[order.status],
        "refunded_amount": order.refunded_amount,
        "product_desc": order.description,
        "create_time": utc_time(order.created_at),
        "pay_time": utc_time(order.paid_at),
        "expire_time": utc_time(order.expire_at),
        "pay_url": pay_url,
    }


def refund_data(refund: Refund, order: Order) -> dict[str, Any]:
    return {
        "refund_id": refund.refund_no,
        "merchant_refund_id": refund.merchant_refund_no,
        "order_id": order.order_no,
        "merchant_order_id": order.merchant_order_no,
        "amount": refund.amount,
        "currency": refund.currency,
        "refund_status": refund.status,
        "status": STATUS_CODE[order.status],
        "refunded_amount": order.refunded_amount,
        "create_time": utc_time(refund.created_at),
        "complete_time": utc_time(refund.completed_at),
    }


def account_data(account: Account) -> dict[str, Any]:
    return {
        "account_id": account.id,
        "balance": account.balance,
        "frozen_balance": account.frozen,
        "available_balance": account.available,
        "currency": account.currency,
        "create_time": utc_time(account.created_at),
    }


def transaction_data(line: JournalLine) -> dict[str, Any]:
    sign = "+" if line.amount > 0 else "-"
    return {
        "transaction_id": str(line.entry_id),
        "order_id": line.order_no,
        "amount": abs(line.amount),
        "type": ENTRY_TYPE_CODE.get(line.entry_type, 0),  # 0: a kind vpay has no number for
        "is_income": line.amount > 0,
        "amount_display": sign + format_decimal(abs(line.amount), line.currency),
        "currency": line.currency,
        "create_time": utc_time(line.created_at),
    }


def page_data(total: int, page: int, page_size: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "total": total,
        "current_page": page,
        "page_size": page_size,
        "total_pages": (total + page_size - 1) // page_size,
        "data": items,
    }
