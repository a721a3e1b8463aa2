"""Refunds: partial and several per order, never more in total than was paid.

The order row carries `refunded_amount` (the sum of all non-failed refunds);
one compare-and-set both reserves the refund amount and moves the order's
status, so concurrent refunds cannot exceed the paid amount.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paymux.channels import LIVE_CHANNELS
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.ledger import EntryType
from paymux.core.models import Order, Refund
from paymux.core.money import check_amount
from paymux.core.states import ORDER_REFUNDABLE, OrderStatus, RefundStatus, order_action_error
from paymux.services import ledger
from paymux.services.notifications import notify_refund
from paymux.services.orders import find_order, get_by_no
from paymux.store import tables as t
from paymux.store.sql import Prepared
from paymux.store.uow import UnitOfWork

ORD, REF = t.orders.c, t.refunds.c


def _digest(order_no: str, amount: int, reason: str, notify_url: str) -> str:
    return hashlib.sha256(f"{order_no}|{amount}|{reason}|{notify_url}".encode()).hexdigest()


def create_refund(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    merchant_refund_no: str,
    amount: int,
    order_no: str | None = None,
    merchant_order_no: str | None = None,
    reason: str = "",
    notify_url: str = "",
    complete: bool = True,
    extra: dict[str, Any] | None = None,
) -> Refund:
    """Refund part or all of a paid order; idempotent per merchant refund no.

    With `complete` (channels that refund synchronously, like the sandbox) the
    money moves at once and the refund is SUCCEEDED. Otherwise it is PROCESSING
    with the amount held on the merchant's account until `complete_refund` or
    `fail_refund`.
    """
    check_amount(amount)
    order = find_order(uow, merchant_id, order_no=order_no, merchant_order_no=merchant_order_no)
    digest = _digest(order.order_no, amount, reason, notify_url)
    existing = _find(uow, merchant_id, merchant_refund_no)
    if existing is not None:
        return _same_or_exists(existing, digest)
    if order.status not in ORDER_REFUNDABLE:
        raise order_action_error("refund", order.status)
    if complete and order.channel in LIVE_CHANNELS:
        # The channel holds the payer's money: the ledger may only say it went back once
        # the channel has returned it (services/channel_refunds.py, the console).
        raise PaymuxError(
            ErrorCode.ORDER_INVALID_STATUS,
            f"an order paid through {order.channel} is refunded at the channel, by an operator",
        )
    reserved = _RESERVE.first(uow.conn, {"i": order.id, "a": amount})
    if reserved is None:
        current = get_by_no(uow, order.order_no)
        if current.status not in ORDER_REFUNDABLE:
            raise order_action_error("refund", current.status)
        raise PaymuxError(
            ErrorCode.REFUND_EXCEEDS_PAID,
            f"refund of {amount} exceeds the refundable {current.amount - current.refunded_amount}",
        )
    order = replace(order, refunded_amount=reserved["refunded_amount"], status=reserved["status"])
    now = uow.env.clock.now()
    payee = order.payee_account_id or ledger.settlement_account_id(merchant_id, order.currency)
    refund_no = uow.env.new_no()
    values: dict[str, Any] = {
        "refund_no": refund_no,
        "merchant_id": merchant_id,
        "order_id": order.id,
        "order_no": order.order_no,
        "merchant_refund_no": merchant_refund_no,
        "amount": amount,
        "currency": order.currency,
        "status": RefundStatus.PROCESSING.value,
        "reason": reason,
        "notify_url": notify_url or order.notify_url,
        "request_digest": digest,
        "extra": dict(extra or {}),
        "created_at": now,
    }
    if complete:
        _move_money(uow, order, payee, amount, refund_no)
        values.update(status=RefundStatus.SUCCEEDED.value, completed_at=now)
    else:
        values["extra"]["hold_id"] = ledger.hold(uow, payee, amount, f"refund:{refund_no}")
    if uow.conn.dialect.name == "sqlite":
        # One writer thread serializes SQLite writes: the lookup above cannot be raced.
        refund_id = _INSERT.insert(uow.conn, values)
    else:
        refund_id = _insert_once(uow, values)
    # The refund and its order as stored, without reading them back: the reserve
    # returned what it made of the order's refunded amount and status.
    refund = Refund.from_mapping({"completed_at": None, **values, "id": refund_id})
    if complete:
        notify_refund(uow, "refund.succeeded", refund, order)
    return refund


def _insert_once(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    """PostgreSQL: of concurrent creates under one merchant refund no, the unique
    constraint lets one through; the others are told so instead of failing."""
    try:
        with uow.conn.begin_nested():
            return _INSERT.insert(uow.conn, values)
    except IntegrityError:
        raise PaymuxError(
            ErrorCode.REFUND_EXISTS,
            f"refund {values['merchant_refund_no']} is being created concurrently",
        ) from None


# Reserve the amount on the order and move its status, in one compare-and-set that says
# what it made of them.
_RESERVE = Prepared(
    update(t.orders)
    .where(
        ORD.id == bindparam("i"),
        or_(*(ORD.status == s.value for s in ORDER_REFUNDABLE)),
        ORD.refunded_amount + bindparam("a") <= ORD.amount,
    )
    .values(
        refunded_amount=ORD.refunded_amount + bindparam("a"),
        status=case(
            (ORD.refunded_amount + bindparam("a") >= ORD.amount, OrderStatus.REFUNDED.value),
            else_=OrderStatus.PARTIALLY_REFUNDED.value,
        ),
    )
    .returning(ORD.refunded_amount, ORD.status)
)
_INSERT = Prepared(insert(t.refunds))
_BY_MERCHANT_NO = Prepared(
    select(t.refunds).where(
        REF.merchant_id == bindparam("m"), REF.merchant_refund_no == bindparam("n")
    )
)
_BY_NO = Prepared(select(t.refunds).where(REF.refund_no == bindparam("n")))


def _move_money(uow: UnitOfWork, order: Order, payee: str, amount: int, refund_no: str) -> None:
    target = order.payer_account_id or ledger.ensure_world_account(uow, order.currency)
    ledger.transfer(
        uow,
        EntryType.REFUND,
        payee,
        target,
        amount,
        order.currency,
        order_no=order.order_no,
        ref=refund_no,
    )


def complete_refund(uow: UnitOfWork, refund_no: str) -> Refund:
    refund = get_refund_by_no(uow, refund_no)
    order = get_by_no(uow, refund.order_no)
    _transition(uow, refund, RefundStatus.SUCCEEDED)
    target = order.payer_account_id or ledger.ensure_world_account(uow, order.currency)
    ledger.capture_hold(
        uow,
        int(refund.extra["hold_id"]),
        EntryType.REFUND,
        target,
        order.currency,
        order_no=order.order_no,
        ref=refund_no,
    )
    done = get_refund_by_no(uow, refund_no)
    notify_refund(uow, "refund.succeeded", done, order)
    return done


def fail_refund(uow: UnitOfWork, refund_no: str) -> Refund:
    """A refund the channel refused: release the hold and give the amount back to the order."""
    refund = get_refund_by_no(uow, refund_no)
    _transition(uow, refund, RefundStatus.FAILED)
    ledger.release_hold(uow, int(refund.extra["hold_id"]))
    uow.conn.execute(
        update(t.orders)
        .where(ORD.id == refund.order_id)
        .values(
            refunded_amount=ORD.refunded_amount - refund.amount,
            status=case(
                (ORD.refunded_amount - refund.amount <= 0, OrderStatus.PAID.value),
                else_=OrderStatus.PARTIALLY_REFUNDED.value,
            ),
        )
    )
    done = get_refund_by_no(uow, refund_no)
    notify_refund(uow, "refund.failed", done, get_by_no(uow, refund.order_no))
    return done


def _transition(uow: UnitOfWork, refund: Refund, status: RefundStatus) -> None:
    changed = uow.conn.execute(
        update(t.refunds)
        .where(REF.id == refund.id, REF.status == RefundStatus.PROCESSING.value)
        .values(status=status.value, completed_at=uow.env.clock.now())
    ).rowcount
    if changed != 1:
        raise PaymuxError(
            ErrorCode.ORDER_STATE_CONFLICT, f"refund {refund.refund_no} is no longer processing"
        )


def _find(uow: UnitOfWork, merchant_id: str, merchant_refund_no: str) -> Mapping[str, Any] | None:
    return _BY_MERCHANT_NO.first(uow.conn, {"m": merchant_id, "n": merchant_refund_no})


def _same_or_exists(row: Mapping[str, Any], digest: str) -> Refund:
    if row["request_digest"] != digest:
        raise PaymuxError(
            ErrorCode.REFUND_EXISTS,
            f"refund {row['merchant_refund_no']} already exists with different parameters",
        )
    return Refund.from_mapping(row)


def get_refund_by_no(uow: UnitOfWork, refund_no: str) -> Refund:
    """A refund by platform number, whoever's it is (callers that act for the platform)."""
    row = _BY_NO.first(uow.conn, {"n": refund_no})
    if row is None:
        raise PaymuxError(ErrorCode.REFUND_NOT_FOUND, f"refund {refund_no} not found")
    return Refund.from_mapping(row)


def get_refund(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    refund_no: str | None = None,
    merchant_refund_no: str | None = None,
) -> Refund:
    if refund_no:
        refund = get_refund_by_no(uow, refund_no)
        if refund.merchant_id != merchant_id:
            raise PaymuxError(ErrorCode.ORDER_ACCESS_DENIED, "refund belongs to another merchant")
        return refund
    if merchant_refund_no:
        row = _find(uow, merchant_id, merchant_refund_no)
        if row is None:
            raise PaymuxError(ErrorCode.REFUND_NOT_FOUND, f"refund {merchant_refund_no} not found")
        return Refund.from_mapping(row)
    raise PaymuxError(ErrorCode.MISSING_PARAM, "a refund number is required")


def order_refunds(uow: UnitOfWork, order_id: int) -> list[Refund]:
    rows = uow.conn.execute(
        select(t.refunds).where(REF.order_id == order_id).order_by(REF.id)
    ).all()
    return [Refund.from_row(r) for r in rows]
