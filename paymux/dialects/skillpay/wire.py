"""skillpay's wire format: item details, statuses, replies and notices as JSON. Pure mapping.

paymux's order no is the spec's `transactionId`, its refund no the
`refundTransactionId`; the skill's `tradeNo` and `refundTradeNo` are the
merchant order and refund nos. Amounts are fen (integer minor units of CNY).
"""

from __future__ import annotations

import re
from typing import Any

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Order, Refund
from paymux.core.money import MAX_AMOUNT, check_amount
from paymux.core.states import OrderStatus, RefundStatus

CURRENCY = "CNY"
VERSION = "1.0"
NO_RE = re.compile(r"[0-9A-Za-z]{1,32}")  # tradeNo, refundTradeNo and paymux's own nos
MAX_DETAIL_LINES = 100

TRADE_STATUS: dict[str, tuple[str, str]] = {
    OrderStatus.PENDING: ("NOTPAY", "未支付"),
    OrderStatus.PAID: ("SUCCESS", "支付成功"),
    OrderStatus.PARTIALLY_REFUNDED: ("SUCCESS", "支付成功，部分退款"),
    OrderStatus.REFUNDED: ("SUCCESS", "支付成功，已全额退款"),
    OrderStatus.FAILED: ("FAIL", "支付失败"),
    OrderStatus.CLOSED: ("FAIL", "订单已关闭"),
    OrderStatus.EXPIRED: ("FAIL", "订单已超时关闭"),
}

REFUND_STATUS: dict[str, tuple[str, str]] = {
    RefundStatus.PROCESSING: ("PROCESSING", "退款中"),
    RefundStatus.SUCCEEDED: ("SUCCESS", "退款成功"),
    RefundStatus.FAILED: ("FAIL", "退款失败"),
}


class SkillCallFailed(Exception):
    """A call paymux made to the skill did not give a usable answer; `code` says which way."""

    def __init__(self, code: str, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def success(fields: dict[str, Any]) -> dict[str, Any]:
    return {"retCode": "SUCCESS", **fields}


def details(value: object, name: str) -> list[dict[str, Any]]:
    """A `details`/`refundDetails` list: 1..100 lines of {itemId, quantity, amount}, ids unique.

    `amount` is the line total in fen (a free line may be 0); every other field
    the spec defines is checked for type and length, extra fields are dropped.
    """
    if not isinstance(value, list) or not value:
        raise PaymuxError(ErrorCode.MISSING_PARAM, f"{name} must be a non-empty array", field=name)
    if len(value) > MAX_DETAIL_LINES:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"{name} has more than {MAX_DETAIL_LINES} lines", field=name
        )
    lines: list[dict[str, Any]] = []
    for index, line in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(line, dict):
            raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{where} must be an object", field=name)
        item_id = line.get("itemId")
        if not isinstance(item_id, str) or not 1 <= len(item_id) <= 32:
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS, f"{where}.itemId must be 1..32 characters", field=name
            )
        quantity, amount = line.get("quantity"), line.get("amount")
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or not 1 <= quantity <= 10**6
        ):
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS,
                f"{where}.quantity must be an integer from 1 to 1000000",
                field=name,
            )
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
            raise PaymuxError(
                ErrorCode.INVALID_AMOUNT,
                f"{where}.amount must be an integer of fen from 0 to {MAX_AMOUNT}",
                field=name,
            )
        if any(seen["itemId"] == item_id for seen in lines):
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS, f"{where}.itemId {item_id} appears twice", field=name
            )
        lines.append({"itemId": item_id, "quantity": quantity, "amount": amount})
    return lines


def lines_total(lines: list[dict[str, Any]], total_name: str) -> int:
    """The sum of the line amounts, which must be a valid (positive) total."""
    return check_amount(sum(line["amount"] for line in lines), field=total_name)


def check_refund_lines(lines: list[dict[str, Any]], ordered: list[dict[str, Any]]) -> None:
    """Each refunded line names an item of the order, at most its quantity and line amount."""
    by_id = {line["itemId"]: line for line in ordered}
    for line in lines:
        bought = by_id.get(line["itemId"])
        if bought is None:
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS,
                f"refundDetails item {line['itemId']} is not in the order",
                field="refundDetails",
            )
        if line["quantity"] > bought["quantity"] or line["amount"] > bought["amount"]:
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS,
                f"refundDetails item {line['itemId']} exceeds what was ordered",
                field="refundDetails",
            )


def create_order_request(
    skill_id: str, user_token: str, lines: list[dict[str, Any]], total: int, nonce: str
) -> dict[str, Any]:
    return {
        "skillId": skill_id,
        "userToken": user_token,
        "details": lines,
        "totalAmt": total,
        "nonceStr": nonce,
    }


def trade_no_of(status: int, reply: object, total: int) -> str:
    """The `tradeNo` of a verified create-order reply, or why the reply cannot make an order."""
    if not isinstance(reply, dict):
        raise SkillCallFailed("skill_bad_reply", "the create-order reply is not a JSON object")
    ret_code = reply.get("retCode")
    if ret_code == "FAIL":
        raise SkillCallFailed(
            "skill_refused", f"the skill refused the order: {reply.get('retMsg') or 'no retMsg'}"
        )
    if ret_code != "SUCCESS":
        raise SkillCallFailed(
            "skill_bad_reply", f"retCode must be SUCCESS or FAIL, not {ret_code!r}"
        )
    if not 200 <= status < 300:
        raise SkillCallFailed("skill_bad_reply", f"retCode SUCCESS came with HTTP {status}")
    trade_no = reply.get("tradeNo")
    if not isinstance(trade_no, str) or not NO_RE.fullmatch(trade_no):
        raise SkillCallFailed(
            "skill_bad_reply",
            f"tradeNo {trade_no!r} is not 1..32 characters of digits and letters",
        )
    if "totalAmt" in reply and reply["totalAmt"] != total:
        raise SkillCallFailed(
            "skill_bad_reply",
            f"the reply's totalAmt {reply['totalAmt']!r} is not the order's total {total}",
        )
    return trade_no


def order_fields(order: Order) -> dict[str, Any]:
    status, desc = TRADE_STATUS[order.status]
    return {
        "skillId": order.extra["skillId"],
        "transactionId": order.order_no,
        "tradeNo": order.merchant_order_no,
        "totalAmt": order.amount,
        "tradeStatus": status,
        "tradeStatusDesc": desc,
    }


def refund_fields(refund: Refund, order: Order, *, with_status: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "skillId": order.extra["skillId"],
        "transactionId": order.order_no,
        "tradeNo": order.merchant_order_no,
        "refundTransactionId": refund.refund_no,
        "refundTradeNo": refund.merchant_refund_no,
        "totalAmt": order.amount,
        "refundAmt": refund.amount,
    }
    if with_status:
        status, desc = REFUND_STATUS[refund.status]
        fields.update(refundStatus=status, refundStatusDesc=desc)
    return fields


def ship_notice(order: Order, nonce: str) -> dict[str, Any]:
    return {
        "skillId": order.extra["skillId"],
        "userToken": order.extra["userToken"],
        "transactionId": order.order_no,
        "tradeNo": order.merchant_order_no,
        "totalAmt": order.amount,
        "nonceStr": nonce,
    }


def refund_notice(refund: Refund, order: Order, nonce: str) -> dict[str, Any]:
    return {**refund_fields(refund, order, with_status=True), "nonceStr": nonce}


def device_order(order: Order, cashier_url: str, confirm_url: str) -> dict[str, Any]:
    """The device simulator's view of an order: the QR target, or the voice-confirm action."""
    screen = bool(order.extra.get("screen", True))
    return {
        "transactionId": order.order_no,
        "tradeNo": order.merchant_order_no,
        "skillId": order.extra["skillId"],
        "userToken": order.extra["userToken"],
        "totalAmt": order.amount,
        "status": TRADE_STATUS[order.status][0],
        "screen": screen,
        "cashier_url": cashier_url,
        "confirm_url": None if screen else confirm_url,
    }
