"""Orders: create (idempotent per merchant order no), pay, fail, close, expire, query, list."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.ledger import EntryType, Posting, split_fee
from paymux.core.models import Order
from paymux.core.money import check_amount, check_currency
from paymux.core.states import ORDER_CLOSABLE, OrderStatus, order_action_error
from paymux.services import ledger, paging
from paymux.services.merchants import get_merchant
from paymux.services.notifications import notify_order
from paymux.store import tables as t
from paymux.store.engine import one_statement
from paymux.store.sql import Prepared
from paymux.store.uow import UnitOfWork

ORD = t.orders.c


@dataclass(frozen=True, slots=True)
class CreateOrder:
    merchant_id: str
    merchant_order_no: str
    dialect: str
    channel: str
    amount: int
    currency: str = "CNY"
    subject: str = ""
    description: str = ""
    notify_url: str = ""
    return_url: str = ""
    attach: str = ""
    payer: str = ""
    expire_s: int = 2 * 3600
    extra: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """What makes two creates "the same request" for idempotency."""
        values = [getattr(self, f.name) for f in fields(self)]
        return hashlib.sha256(msgspec.json.encode(values, order="sorted")).hexdigest()


@one_statement
def create_order(uow: UnitOfWork, cmd: CreateOrder) -> tuple[Order, bool]:
    """Create the order, or return the existing one for an identical retry.

    Returns (order, created). A different request under an existing merchant
    order no is ORDER_EXISTS. A new order is one statement that also checks the
    merchant and the number; the merchant and the existing order are read only when
    nothing was inserted, to say why (`one_statement`: on PostgreSQL that statement
    runs without BEGIN and COMMIT).
    """
    check_amount(cmd.amount)
    check_currency(cmd.currency)
    digest = cmd.digest()
    values = _new_order(uow, cmd, digest)
    inserted = _INSERT_FOR_ACTIVE_MERCHANT.first(uow.conn, values)
    if inserted is not None:
        values["id"] = inserted["id"]
        return Order.from_mapping(values), True
    if not get_merchant(uow, cmd.merchant_id).active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "merchant is disabled")
    existing = _find_by_merchant_no(uow, cmd.merchant_id, cmd.merchant_order_no)
    if existing is None:
        raise PaymuxError(ErrorCode.UNAVAILABLE, "the order changed while creating; retry")
    return _same_or_exists(uow, existing, digest), False


def _new_order(uow: UnitOfWork, cmd: CreateOrder, digest: str) -> dict[str, Any]:
    now = uow.env.clock.now()
    values = {f.name: getattr(cmd, f.name) for f in fields(cmd) if f.name != "expire_s"}
    values.update(
        order_no=uow.env.new_no(),
        status=OrderStatus.PENDING.value,
        refunded_amount=0,
        request_digest=digest,
        created_at=now,
        expire_at=now + timedelta(seconds=cmd.expire_s) if cmd.expire_s > 0 else None,
        # The settlement account itself is made (if need be) when money first moves.
        payee_account_id=ledger.settlement_account_id(cmd.merchant_id, cmd.currency),
        payer_account_id=None,
        paid_at=None,
        closed_at=None,
    )
    return values


def _same_or_exists(uow: UnitOfWork, row: Mapping[str, Any], digest: str) -> Order:
    if row["request_digest"] != digest:
        raise PaymuxError(
            ErrorCode.ORDER_EXISTS,
            f"merchant order no {row['merchant_order_no']} already exists with different "
            "parameters",
        )
    return Order.from_mapping(row)


_BY_MERCHANT_NO = Prepared(
    select(t.orders).where(
        ORD.merchant_id == bindparam("m"), ORD.merchant_order_no == bindparam("n")
    )
)
_BY_NO = Prepared(select(t.orders).where(ORD.order_no == bindparam("n")))
_NEW_COLUMNS = [c for c in t.orders.c if c.key != "id"]


def _insert_for_active_merchant(make: Callable[[Table], Any]) -> Any:
    """`INSERT … SELECT <the values> WHERE <the merchant is active> ON CONFLICT DO NOTHING
    RETURNING id`: the unique (merchant, merchant order no) decides a create race in the
    same statement, without a savepoint around the insert (SQLite and PostgreSQL say it
    alike; each dialect's `insert` builds its own ON CONFLICT)."""
    return (
        make(t.orders)
        .from_select(
            _NEW_COLUMNS,
            select(*[bindparam(c.key, type_=c.type) for c in _NEW_COLUMNS]).where(
                select(t.merchants.c.id)
                .where(
                    t.merchants.c.id == bindparam("merchant_id"), t.merchants.c.status == "active"
                )
                .exists()
            ),
        )
        .on_conflict_do_nothing(index_elements=[ORD.merchant_id, ORD.merchant_order_no])
        .returning(ORD.id)
    )


_INSERT_FOR_ACTIVE_MERCHANT = Prepared(
    _insert_for_active_merchant(pg_insert), sqlite=_insert_for_active_merchant(sqlite_insert)
)


def _find_by_merchant_no(
    uow: UnitOfWork, merchant_id: str, merchant_order_no: str
) -> Mapping[str, Any] | None:
    return _BY_MERCHANT_NO.first(uow.conn, {"m": merchant_id, "n": merchant_order_no})


def get_by_no(uow: UnitOfWork, order_no: str) -> Order:
    row = _BY_NO.first(uow.conn, {"n": order_no})
    if row is None:
        raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"order {order_no} not found")
    return Order.from_mapping(row)


@one_statement
def find_order(
    uow: UnitOfWork,
    merchant_id: str,
    order_no: str | None = None,
    merchant_order_no: str | None = None,
) -> Order:
    """A merchant's order by either number; another merchant's order is ORDER_ACCESS_DENIED.

    One read (`one_statement`: on PostgreSQL a query runs it on the event loop)."""
    if order_no:
        order = get_by_no(uow, order_no)
        if order.merchant_id != merchant_id:
            raise PaymuxError(ErrorCode.ORDER_ACCESS_DENIED, "order belongs to another merchant")
        if merchant_order_no and order.merchant_order_no != merchant_order_no:
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS, "order_id and merchant_order_id name different orders"
            )
        return order
    if merchant_order_no:
        row = _find_by_merchant_no(uow, merchant_id, merchant_order_no)
        if row is None:
            raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"order {merchant_order_no} not found")
        return Order.from_mapping(row)
    raise PaymuxError(ErrorCode.MISSING_PARAM, "an order number is required")


def pay_order(
    uow: UnitOfWork,
    order_no: str,
    *,
    payer_account_id: str | None = None,
    payee_account_id: str | None = None,
    payer: str = "",
    channel_trade_no: str = "",
) -> Order:
    """Mark a pending order paid and move its money, exactly once.

    The compare-and-set on status (and on expiry) decides races: of fifty
    concurrent pays, or a pay racing a close, exactly one changes the row.
    Money comes from `payer_account_id` (a wallet) or, for channel payments,
    from the world account; it goes to the merchant's settlement account
    (or `payee_account_id`), less the platform fee.
    """
    now = uow.env.clock.now()
    order = get_by_no(uow, order_no)
    settlement = ledger.settlement_account_id(order.merchant_id, order.currency)
    payee = payee_account_id or order.payee_account_id or settlement
    if payee == settlement:  # made lazily: a pooled posting does not touch the row
        ledger.ensure_settlement_account(uow, order.merchant_id, order.currency)
    source = payer_account_id or ledger.ensure_world_account(uow, order.currency)
    if source == payee:
        raise PaymuxError(ErrorCode.SAME_ACCOUNT, "payer and payee accounts are the same")
    changed = _PAY.run(
        uow.conn,
        {
            "i": order.id,
            "now": now,
            "source": source,
            "payee": payee,
            "payer": payer or order.payer,
        },
    )
    if changed != 1:
        _explain_not_pending(uow, order_no, now, "pay")
    fee = split_fee(order.amount, get_merchant(uow, order.merchant_id).fee_rate_bp)
    postings = [
        Posting(source, -order.amount, order.currency),
        Posting(payee, order.amount - fee, order.currency),
    ]
    if fee:
        postings.append(
            Posting(ledger.ensure_fees_account(uow, order.currency), fee, order.currency)
        )
    entry_id = ledger.post(
        uow, EntryType.PAY, postings, order_no=order.order_no, ref=order.order_no
    )
    extra = {**order.extra, "pay_entry_id": entry_id}
    if channel_trade_no:
        extra["channel_trade_no"] = channel_trade_no
    _SET_EXTRA.run(uow.conn, {"i": order.id, "extra": extra})
    paid = get_by_no(uow, order_no)
    notify_order(uow, "order.paid", paid)
    return paid


# Pending and not expired → paid, in one compare-and-set.
_PAY = Prepared(
    update(t.orders)
    .where(
        ORD.id == bindparam("i"),
        ORD.status == OrderStatus.PENDING.value,
        (ORD.expire_at.is_(None)) | (ORD.expire_at > bindparam("now")),
    )
    .values(
        status=OrderStatus.PAID.value,
        paid_at=bindparam("now"),
        payer_account_id=bindparam("source"),
        payee_account_id=bindparam("payee"),
        payer=bindparam("payer"),
    )
)
_SET_EXTRA = Prepared(
    update(t.orders).where(ORD.id == bindparam("i")).values(extra=bindparam("extra"))
)


def _explain_not_pending(uow: UnitOfWork, order_no: str, now: datetime, action: str) -> None:
    order = get_by_no(uow, order_no)
    if order.status == OrderStatus.PENDING.value and order.expire_at and order.expire_at <= now:
        raise PaymuxError(ErrorCode.ORDER_INVALID_STATUS, f"cannot {action}: the order expired")
    raise order_action_error(action, order.status)


def _set_final(uow: UnitOfWork, order: Order, status: OrderStatus, now: datetime) -> bool:
    changed = uow.conn.execute(
        update(t.orders)
        .where(ORD.id == order.id, ORD.status == OrderStatus.PENDING.value)
        .values(status=status.value, closed_at=now)
    ).rowcount
    if changed == 1:
        notify_order(uow, f"order.{status.value.lower()}", get_by_no(uow, order.order_no))
    return changed == 1


def close_order(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    order_no: str | None = None,
    merchant_order_no: str | None = None,
) -> Order:
    order = find_order(uow, merchant_id, order_no=order_no, merchant_order_no=merchant_order_no)
    if order.status not in ORDER_CLOSABLE:
        raise order_action_error("close", order.status)
    if not _set_final(uow, order, OrderStatus.CLOSED, uow.env.clock.now()):
        raise PaymuxError(
            ErrorCode.ORDER_STATE_CONFLICT, "the order changed status while closing; query it again"
        )
    return get_by_no(uow, order.order_no)


def fail_order(uow: UnitOfWork, order_no: str) -> Order:
    order = get_by_no(uow, order_no)
    if order.status != OrderStatus.PENDING.value:
        raise order_action_error("fail", order.status)
    if not _set_final(uow, order, OrderStatus.FAILED, uow.env.clock.now()):
        raise PaymuxError(ErrorCode.ORDER_STATE_CONFLICT, "the order changed status")
    return get_by_no(uow, order_no)


def expire_due_orders(uow: UnitOfWork, limit: int = 500) -> int:
    """Close pending orders past `expire_at` (the timed job), each by compare-and-set."""
    now = uow.env.clock.now()
    rows = uow.conn.execute(
        select(t.orders)
        .where(ORD.status == OrderStatus.PENDING.value, ORD.expire_at <= now)
        .order_by(ORD.expire_at)
        .limit(limit)
    ).all()
    return sum(_set_final(uow, Order.from_row(r), OrderStatus.EXPIRED, now) for r in rows)


def list_orders(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    statuses: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    page: int,
    page_size: int,
) -> tuple[int, list[Order]]:
    conds = [ORD.merchant_id == merchant_id]
    if statuses:
        conds.append(ORD.status.in_(statuses))
    if start:
        conds.append(ORD.created_at >= start)
    if end:
        conds.append(ORD.created_at <= end)
    where = and_(*conds)
    key = ("orders", merchant_id, tuple(statuses or ()), start, end)
    window = paging.window_page(uow, key, select(ORD.id).where(where), page, page_size)
    if not window.limit:
        return window.total, []
    rows = uow.conn.execute(
        select(t.orders)
        .where(where)
        .order_by(ORD.id.desc())
        .limit(window.limit)
        .offset(window.offset)
    ).all()
    return window.total, [Order.from_row(r) for r in rows]
