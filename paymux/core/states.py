"""State machines of orders, refunds and withdrawals.

The transition tables here are the single source of truth; the store turns a
transition into a compare-and-set (`UPDATE ... WHERE status IN (allowed from)`),
so two racing requests can never both move the same row.
"""

from __future__ import annotations

from enum import StrEnum

from paymux.core.errors import ErrorCode, PaymuxError


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    CLOSED = "CLOSED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


class RefundStatus(StrEnum):
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WithdrawalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


# The statuses from which each order action is allowed.
ORDER_PAYABLE = frozenset({OrderStatus.PENDING})
ORDER_CLOSABLE = frozenset({OrderStatus.PENDING})
ORDER_REFUNDABLE = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED})
ORDER_SETTLED = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED})
ORDER_FINAL_UNPAID = frozenset({OrderStatus.CLOSED, OrderStatus.EXPIRED, OrderStatus.FAILED})

WITHDRAWAL_TRANSITIONS: dict[WithdrawalStatus, frozenset[WithdrawalStatus]] = {
    WithdrawalStatus.APPROVED: frozenset({WithdrawalStatus.PENDING}),
    WithdrawalStatus.REJECTED: frozenset({WithdrawalStatus.PENDING}),
    WithdrawalStatus.PROCESSING: frozenset({WithdrawalStatus.APPROVED}),
    WithdrawalStatus.SUCCESS: frozenset({WithdrawalStatus.PROCESSING}),
    WithdrawalStatus.FAILED: frozenset({WithdrawalStatus.PROCESSING}),
}


def status_after_refund(amount: int, refunded_total: int) -> OrderStatus:
    """The order status once `refunded_total` of `amount` has been refunded."""
    if refunded_total <= 0:
        return OrderStatus.PAID
    if refunded_total >= amount:
        return OrderStatus.REFUNDED
    return OrderStatus.PARTIALLY_REFUNDED


def order_action_error(action: str, status: str) -> PaymuxError:
    return PaymuxError(
        ErrorCode.ORDER_INVALID_STATUS, f"cannot {action} an order in status {status}"
    )
