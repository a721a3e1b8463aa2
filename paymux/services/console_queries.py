"""Read-only queries behind the operator console: lists, dashboards, order pages, statements.

Nothing here writes. Lists of big tables page by keyset (`WHERE (created_at,
id) < (:c, :i) ORDER BY created_at DESC, id DESC LIMIT n`), never by OFFSET,
so page 10,000 costs what page 1 costs; the indexes they rely on are created
by migration 0002_console and listed in docs/console.md. The snapshot
functions describe a record for the audit log (never a secret).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select, tuple_

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.ledger import EntryType
from paymux.core.models import (
    Account,
    ChannelMismatch,
    Order,
    PaymentAttempt,
    Refund,
)
from paymux.core.states import ORDER_FINAL_UNPAID, ORDER_SETTLED, RefundStatus
from paymux.notify import outbox
from paymux.services import ledger
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork

ORD, REF, N, DA = t.orders.c, t.refunds.c, t.notifications.c, t.delivery_attempts.c
JE, P, ACC, W = t.journal_entries.c, t.postings.c, t.accounts.c, t.withdrawals.c
SETTLED = [s.value for s in ORDER_SETTLED]
ENDED = SETTLED + [s.value for s in ORDER_FINAL_UNPAID]
MAX_PAGE = 200


# -- orders list ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """The console's order search; empty fields match everything. Times are naive UTC."""

    merchant_id: str = ""
    dialect: str = ""
    channel: str = ""
    status: str = ""
    since: datetime | None = None
    until: datetime | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    number: str = ""  # a platform or merchant order no, exactly

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.merchant_id:
            conds.append(ORD.merchant_id == self.merchant_id)
        if self.dialect:
            conds.append(ORD.dialect == self.dialect)
        if self.channel:
            conds.append(ORD.channel == self.channel)
        if self.status:
            conds.append(ORD.status == self.status)
        if self.since:
            conds.append(ORD.created_at >= self.since)
        if self.until:
            conds.append(ORD.created_at < self.until)
        if self.min_amount is not None:
            conds.append(ORD.amount >= self.min_amount)
        if self.max_amount is not None:
            conds.append(ORD.amount <= self.max_amount)
        if self.number:
            conds.append(or_(ORD.order_no == self.number, ORD.merchant_order_no == self.number))
        return conds


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: strictly older than (created_at, id)."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.created_at.isoformat()}~{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            moment, _, ident = text.partition("~")
            return cls(datetime.fromisoformat(moment), int(ident))
        except ValueError:
            raise PaymuxError(ErrorCode.INVALID_PARAMS, "bad page cursor", field="after") from None


def list_orders(
    uow: UnitOfWork, flt: OrderFilter, after: Cursor | None, limit: int
) -> tuple[list[Order], Cursor | None]:
    """One page of orders, newest first, and the cursor of the next page (None at the end)."""
    limit = max(1, min(limit, MAX_PAGE))
    conds = flt.conditions()
    if after is not None:
        conds.append(tuple_(ORD.created_at, ORD.id) < tuple_(after.created_at, after.id))
    rows = uow.conn.execute(
        select(t.orders)
        .where(*conds)
        .order_by(ORD.created_at.desc(), ORD.id.desc())
        .limit(limit + 1)
    ).all()
    orders = [Order.from_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    return orders, Cursor(orders[-1].created_at, orders[-1].id) if more else None


def merchant_names(uow: UnitOfWork, ids: Iterable[str] | None = None) -> dict[str, str]:
    """id → name, of the given merchants or of all (for labels and filter drop-downs)."""
    query = select(t.merchants.c.id, t.merchants.c.name).order_by(t.merchants.c.name)
    if ids is not None:
        query = query.where(t.merchants.c.id.in_(set(ids)))
    return {row[0]: row[1] for row in uow.conn.execute(query)}


# -- the order page -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostingLine:
    account_id: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class EntryView:
    id: int
    type: str
    ref: str
    created_at: datetime
    postings: list[PostingLine]


@dataclass(frozen=True, slots=True)
class AttemptLine:
    attempt_no: int
    started_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str
    success: bool


@dataclass(frozen=True, slots=True)
class NotificationLine:
    id: int
    event: str
    ref: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_error: str
    log: list[AttemptLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OrderPage:
    order: Order
    merchant_name: str
    attempts: list[PaymentAttempt]
    refunds: list[Refund]
    entries: list[EntryView]
    notifications: list[NotificationLine]
    mismatches: list[ChannelMismatch]


def _entries(uow: UnitOfWork, order_no: str) -> list[EntryView]:
    rows = uow.conn.execute(
        select(JE.id, JE.type, JE.ref, JE.created_at, P.account_id, P.amount, P.currency)
        .select_from(t.journal_entries.join(t.postings, P.entry_id == JE.id))
        .where(JE.order_no == order_no)
        .order_by(JE.id, P.id)
    ).all()
    entries: dict[int, EntryView] = {}
    for r in rows:
        entry = entries.setdefault(r.id, EntryView(r.id, r.type, r.ref, r.created_at, []))
        entry.postings.append(PostingLine(r.account_id, r.amount, r.currency))
    return list(entries.values())


def notifications_of(uow: UnitOfWork, refs: list[str]) -> list[NotificationLine]:
    """The notifications about these records (order, refund, withdrawal nos) with their logs."""
    rows = uow.conn.execute(
        select(
            N.id,
            N.event,
            N.ref,
            N.url,
            N.status,
            N.attempts,
            N.next_attempt_at,
            N.created_at,
            N.last_error,
        )
        .where(N.ref.in_(refs))
        .order_by(N.id)
    ).all()
    lines = [NotificationLine(**r._mapping) for r in rows]
    if not lines:
        return lines
    by_id = {line.id: line for line in lines}
    attempts = uow.conn.execute(
        select(
            DA.notification_id,
            DA.attempt_no,
            DA.started_at,
            DA.status_code,
            DA.latency_ms,
            DA.response_excerpt,
            DA.error,
            DA.success,
        )
        .where(DA.notification_id.in_(list(by_id)))
        .order_by(DA.notification_id, DA.attempt_no, DA.id)
    ).all()
    for a in attempts:
        values = dict(a._mapping)
        by_id[values.pop("notification_id")].log.append(AttemptLine(**values))
    return lines


def order_page(uow: UnitOfWork, order_no: str) -> OrderPage:
    row = uow.conn.execute(select(t.orders).where(ORD.order_no == order_no)).first()
    if row is None:
        raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"order {order_no} not found")
    order = Order.from_row(row)
    pa, mm = t.payment_attempts.c, t.channel_mismatches.c
    attempts = [
        PaymentAttempt.from_row(r)
        for r in uow.conn.execute(
            select(t.payment_attempts).where(pa.order_id == order.id).order_by(pa.id)
        ).all()
    ]
    refunds = [
        Refund.from_row(r)
        for r in uow.conn.execute(
            select(t.refunds).where(REF.order_id == order.id).order_by(REF.id)
        ).all()
    ]
    mismatches = [
        ChannelMismatch.from_row(r)
        for r in uow.conn.execute(
            select(t.channel_mismatches).where(mm.order_no == order_no).order_by(mm.id)
        ).all()
    ]
    return OrderPage(
        order=order,
        merchant_name=merchant_names(uow, [order.merchant_id]).get(order.merchant_id, ""),
        attempts=attempts,
        refunds=refunds,
        entries=_entries(uow, order_no),
        notifications=notifications_of(uow, [order_no] + [r.refund_no for r in refunds]),
        mismatches=mismatches,
    )


# -- dashboard ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Orders created in a period, by one key (dialect, channel, or the day)."""

    key: str
    created: int
    ended: int  # no longer pending: paid, refunded, closed, expired or failed
    paid: int
    volume: dict[str, int]  # currency → paid amount

    @property
    def success_rate(self) -> float | None:
        """Paid among the orders that reached an outcome; None when none did yet."""
        return self.paid / self.ended if self.ended else None


@dataclass(frozen=True, slots=True)
class Dashboard:
    total: Breakdown
    by_dialect: list[Breakdown]
    by_channel: list[Breakdown]
    refunds: dict[str, tuple[int, int]]  # currency → (count, amount), non-failed, created today
    notifications_due: int
    notifications_failing: int  # pending with at least one failed attempt
    notifications_exhausted: int
    withdrawals_waiting: int
    open_mismatches: int


def _breakdown(uow: UnitOfWork, key: Any, since: datetime, until: datetime) -> list[Breakdown]:
    settled = ORD.status.in_(SETTLED)
    rows = uow.conn.execute(
        select(
            key.label("key"),
            ORD.currency,
            func.count(),
            func.sum(case((ORD.status.in_(ENDED), 1), else_=0)),
            func.sum(case((settled, 1), else_=0)),
            func.sum(case((settled, ORD.amount), else_=0)),
        )
        .where(ORD.created_at >= since, ORD.created_at < until)
        .group_by(key, ORD.currency)
    ).all()
    merged: dict[str, list[Any]] = {}
    for name, currency, created, ended, paid, volume in rows:
        item = merged.setdefault(str(name), [0, 0, 0, {}])
        item[0] += int(created)
        item[1] += int(ended or 0)
        item[2] += int(paid or 0)
        if volume:
            item[3][currency] = item[3].get(currency, 0) + int(volume)
    return [Breakdown(k, *v) for k, v in sorted(merged.items())]


def _sum(parts: list[Breakdown], key: str) -> Breakdown:
    volume: dict[str, int] = defaultdict(int)
    for part in parts:
        for currency, amount in part.volume.items():
            volume[currency] += amount
    return Breakdown(
        key,
        sum(p.created for p in parts),
        sum(p.ended for p in parts),
        sum(p.paid for p in parts),
        dict(volume),
    )


def dashboard(uow: UnitOfWork, since: datetime, until: datetime) -> Dashboard:
    """Today's numbers (the caller says when today began and ends, in UTC)."""
    now = uow.env.clock.now()
    by_dialect = _breakdown(uow, ORD.dialect, since, until)
    refund_rows = uow.conn.execute(
        select(REF.currency, func.count(), func.sum(REF.amount))
        .where(
            REF.created_at >= since,
            REF.created_at < until,
            REF.status != RefundStatus.FAILED.value,
        )
        .group_by(REF.currency)
    ).all()
    count_n = select(func.count()).select_from(t.notifications)
    return Dashboard(
        total=_sum(by_dialect, "all"),
        by_dialect=by_dialect,
        by_channel=_breakdown(uow, ORD.channel, since, until),
        refunds={cur: (int(n), int(a or 0)) for cur, n, a in refund_rows},
        notifications_due=uow.conn.execute(
            count_n.where(N.status == "PENDING", N.next_attempt_at <= now)
        ).scalar_one(),
        notifications_failing=uow.conn.execute(
            count_n.where(N.status == "PENDING", N.attempts > 0)
        ).scalar_one(),
        notifications_exhausted=uow.conn.execute(
            count_n.where(N.status == "EXHAUSTED")
        ).scalar_one(),
        withdrawals_waiting=uow.conn.execute(
            select(func.count()).select_from(t.withdrawals).where(W.status == "PENDING")
        ).scalar_one(),
        open_mismatches=uow.conn.execute(
            select(func.count())
            .select_from(t.channel_mismatches)
            .where(t.channel_mismatches.c.resolved_at.is_(None))
        ).scalar_one(),
    )


def series(uow: UnitOfWork, periods: list[tuple[str, datetime, datetime]]) -> list[Breakdown]:
    """One breakdown per (label, since, until) period, for the volume/success chart.

    A range query per period rides the created_at index and works the same on
    both databases, where grouping by a local calendar day would not.
    """
    return [_sum(_breakdown(uow, ORD.currency, a, b), label) for label, a, b in periods]


# -- notifications --------------------------------------------------------------------------------


def failing_notifications(
    uow: UnitOfWork, flt: outbox.NotificationFilter, limit: int, before_id: int | None
) -> list[outbox.NotificationView]:
    """Pending notifications that failed at least once (still retrying), newest first."""
    conds = [*flt.conditions(), N.status == outbox.PENDING, N.attempts > 0]
    if before_id is not None:
        conds.append(N.id < before_id)
    columns = [N[f.name] for f in fields(outbox.NotificationView)]
    rows = uow.conn.execute(select(*columns).where(*conds).order_by(N.id.desc()).limit(limit)).all()
    return [outbox.NotificationView(**r._mapping) for r in rows]


# -- merchants ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyInfo:
    dialect: str
    key_id: str
    valid_until: datetime | None  # None: the current secret; else a rotated one in its grace
    created_at: datetime


def merchant_keys(uow: UnitOfWork, merchant_id: str) -> list[KeyInfo]:
    """Key ids of a merchant's credentials, current and in grace; never the secrets."""
    c = t.credentials.c
    now = uow.env.clock.now()
    rows = uow.conn.execute(
        select(c.dialect, c.key_id, c.valid_until, c.created_at)
        .where(c.merchant_id == merchant_id, or_(c.valid_until.is_(None), c.valid_until > now))
        .order_by(c.dialect, c.id.desc())
    ).all()
    return [KeyInfo(*r) for r in rows]


def _with_pending(uow: UnitOfWork, rows: list[Any]) -> list[Account]:
    """Accounts as the journal says: pooled accounts' pending postings added, as
    `ledger.get_account` does, with one grouped query for the whole page."""
    accounts = [Account.from_row(r) for r in rows]
    if not accounts:
        return accounts
    pending = {
        account_id: int(total)
        for account_id, total in uow.conn.execute(
            select(P.account_id, func.sum(P.amount))
            .where(P.account_id.in_([a.id for a in accounts]), P.pending.is_(True))
            .group_by(P.account_id)
        )
    }
    return [
        replace(a, balance=a.balance + pending[a.id]) if pending.get(a.id) else a for a in accounts
    ]


def merchant_accounts(uow: UnitOfWork, merchant_id: str) -> list[Account]:
    rows = uow.conn.execute(
        select(t.accounts).where(ACC.owner_type == "merchant", ACC.owner_id == merchant_id)
    ).all()
    return _with_pending(uow, rows)


# -- accounts -------------------------------------------------------------------------------------


def list_accounts(
    uow: UnitOfWork, owner_type: str, search: str, limit: int, after_id: str | None
) -> list[Account]:
    """Accounts by id (keyset), optionally of one owner type or with an id/owner containing text."""
    conds: list[ColumnElement[bool]] = []
    if owner_type:
        conds.append(ACC.owner_type == owner_type)
    if search:
        conds.append(
            or_(
                ACC.id.contains(search, autoescape=True),
                ACC.owner_id.contains(search, autoescape=True),
            )
        )
    if after_id:
        conds.append(ACC.id > after_id)
    rows = uow.conn.execute(
        select(t.accounts).where(*conds).order_by(ACC.id).limit(max(1, min(limit, MAX_PAGE)))
    ).all()
    return _with_pending(uow, rows)


@dataclass(frozen=True, slots=True)
class Payer:
    user_id: str
    name: str
    created_at: datetime
    wallets: list[Account]


def sandbox_payers(uow: UnitOfWork, limit: int = 100) -> list[Payer]:
    """The newest wallet users with their wallets (the sandbox payers of the simulator page)."""
    u = t.users.c
    users = uow.conn.execute(
        select(u.id, u.name, u.created_at).order_by(u.created_at.desc()).limit(limit)
    ).all()
    if not users:
        return []
    wallets: dict[str, list[Account]] = defaultdict(list)
    for row in uow.conn.execute(
        select(t.accounts).where(ACC.owner_type == "user", ACC.owner_id.in_([r.id for r in users]))
    ).all():
        wallets[row.owner_id].append(Account.from_row(row))
    return [Payer(r.id, r.name, r.created_at, wallets[r.id]) for r in users]


# -- daily statement ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    kind: str  # pay | refund | withdraw | transfer | recharge | ...
    entry_id: int
    order_no: str
    merchant_order_no: str
    ref: str  # refund no, withdrawal no, ...
    dialect: str
    channel: str
    gross: int  # what the payer paid (pay), or the amount moved
    fee: int  # platform fee kept (pay only)
    net: int  # the change of the merchant's settlement balance


@dataclass(frozen=True, slots=True)
class Statement:
    merchant_id: str
    merchant_name: str
    currency: str
    account_id: str
    since: datetime
    until: datetime
    opening: int
    lines: list[StatementLine]
    closing_ledger: int  # the account's balance from the journal at `until`, computed apart

    @property
    def totals(self) -> dict[str, int]:
        sums: dict[str, int] = defaultdict(int)
        for line in self.lines:
            sums[f"{line.kind}_gross"] += line.gross
            sums[f"{line.kind}_net"] += line.net
            sums["fees"] += line.fee
            sums["net"] += line.net
        return dict(sums)

    @property
    def closing(self) -> int:
        return self.opening + sum(line.net for line in self.lines)

    @property
    def matches_ledger(self) -> bool:
        return self.closing == self.closing_ledger


def statement(
    uow: UnitOfWork, merchant_id: str, currency: str, since: datetime, until: datetime
) -> Statement:
    """Every movement of the merchant's settlement account in [since, until), from the journal.

    Payments show gross, fee and net; refunds and withdrawals their amount.
    The closing balance is also summed straight from the postings, so the
    file proves that its lines add up to the ledger.
    """
    names = merchant_names(uow, [merchant_id])
    if merchant_id not in names:
        raise PaymuxError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} not found")
    account_id = ledger.settlement_account_id(merchant_id, currency)

    def balance_at(moment: datetime) -> int:
        return int(
            uow.conn.execute(
                select(func.coalesce(func.sum(P.amount), 0)).where(
                    P.account_id == account_id, P.created_at < moment
                )
            ).scalar_one()
        )

    rows = uow.conn.execute(
        select(P.entry_id, P.amount, P.created_at, JE.type, JE.order_no, JE.ref)
        .select_from(t.postings.join(t.journal_entries, P.entry_id == JE.id))
        .where(P.account_id == account_id, P.created_at >= since, P.created_at < until)
        .order_by(P.id)
    ).all()
    entry_ids = [r.entry_id for r in rows]
    fees: dict[int, int] = {}
    if entry_ids:
        fees = {
            entry_id: fee
            for entry_id, fee in uow.conn.execute(
                select(P.entry_id, P.amount).where(
                    P.entry_id.in_(entry_ids), P.account_id == ledger.fees_account_id(currency)
                )
            )
        }
    order_nos = {r.order_no for r in rows if r.order_no}
    order_info: dict[str, tuple[str, str, str]] = {}
    if order_nos:
        order_info = {
            o.order_no: (o.merchant_order_no, o.dialect, o.channel)
            for o in uow.conn.execute(
                select(ORD.order_no, ORD.merchant_order_no, ORD.dialect, ORD.channel).where(
                    ORD.order_no.in_(order_nos)
                )
            ).all()
        }
    lines = []
    for r in rows:
        fee = int(fees.get(r.entry_id, 0)) if r.type == EntryType.PAY else 0
        merchant_no, dialect, channel = order_info.get(r.order_no or "", ("", "", ""))
        lines.append(
            StatementLine(
                at=r.created_at,
                kind=r.type,
                entry_id=r.entry_id,
                order_no=r.order_no or "",
                merchant_order_no=merchant_no,
                ref=r.ref if r.ref != r.order_no else "",
                dialect=dialect,
                channel=channel,
                gross=abs(int(r.amount)) + fee,
                fee=fee,
                net=int(r.amount),
            )
        )
    return Statement(
        merchant_id=merchant_id,
        merchant_name=names[merchant_id],
        currency=currency,
        account_id=account_id,
        since=since,
        until=until,
        opening=balance_at(since),
        lines=lines,
        closing_ledger=balance_at(until),
    )


# -- audit snapshots (what a record looked like; never a secret) ---------------------------------


def order_snapshot(uow: UnitOfWork, order_no: str) -> dict[str, Any] | None:
    row = uow.conn.execute(
        select(ORD.status, ORD.amount, ORD.refunded_amount, ORD.currency, ORD.closed_at).where(
            ORD.order_no == order_no
        )
    ).first()
    return None if row is None else dict(row._mapping)


def merchant_snapshot(uow: UnitOfWork, merchant_id: str) -> dict[str, Any] | None:
    m = t.merchants.c
    row = uow.conn.execute(
        select(
            m.name,
            m.status,
            m.fee_rate_bp,
            m.ip_allowlist,
            m.rate_limit_per_s,
            m.timestamp_window_s,
            m.notify_url,
        ).where(m.id == merchant_id)
    ).first()
    if row is None:
        return None
    snapshot = dict(row._mapping)
    snapshot["keys"] = [asdict(k) for k in merchant_keys(uow, merchant_id) if k.valid_until is None]
    return snapshot


def withdrawal_snapshot(uow: UnitOfWork, withdrawal_no: str) -> dict[str, Any] | None:
    row = uow.conn.execute(
        select(W.status, W.amount, W.currency, W.reason).where(W.withdrawal_no == withdrawal_no)
    ).first()
    return None if row is None else dict(row._mapping)


def notification_snapshot(uow: UnitOfWork, ids: str) -> dict[str, Any] | None:
    """`ids` is one id or several, comma-separated (a redelivery of many is one action)."""
    wanted = [int(i) for i in ids.split(",") if i]
    rows = uow.conn.execute(
        select(N.id, N.status, N.attempts, N.next_attempt_at).where(N.id.in_(wanted))
    ).all()
    return {str(r.id): {"status": r.status, "attempts": r.attempts} for r in rows} or None


def mismatch_snapshot(uow: UnitOfWork, mismatch_id: str) -> dict[str, Any] | None:
    mm = t.channel_mismatches.c
    row = uow.conn.execute(
        select(mm.kind, mm.refund_status, mm.resolved_at, mm.resolution).where(
            mm.id == int(mismatch_id)
        )
    ).first()
    return None if row is None else dict(row._mapping)


def skill_snapshot(uow: UnitOfWork, skill_id: str) -> dict[str, Any] | None:
    sk = t.skills.c
    row = uow.conn.execute(
        select(
            sk.merchant_id,
            sk.status,
            sk.create_order_url,
            sk.ship_url,
            sk.refund_notify_url,
            sk.sandbox_refund,
            func.length(sk.public_key).label("public_key_chars"),
        ).where(sk.skill_id == skill_id)
    ).first()
    return None if row is None else dict(row._mapping)


def no_snapshot(_uow: UnitOfWork, _target: str) -> dict[str, Any] | None:
    """For actions whose record does not exist before (creation) or has no state (checks)."""
    return None
