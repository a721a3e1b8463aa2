"""Outbox service functions: claim due rows, record attempts, list, redeliver, prune.

Each is a plain function over a unit of work, run by the store in its own
transaction. Two clocks meet here on purpose: schedules (`next_attempt_at`)
follow the platform clock, which the sandbox can move forward, while leases
(`lease_until`) are real UTC time, because a lease guards against a worker that
died, and moving the test clock must not make a live worker's claim look stale.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Row,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.services import audit
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork

N = t.notifications.c
A = t.delivery_attempts.c

PENDING = "PENDING"
DELIVERED = "DELIVERED"
EXHAUSTED = "EXHAUSTED"
STATUSES = (PENDING, DELIVERED, EXHAUSTED)

EXCERPT_BYTES = 1024
ERROR_CHARS = 256


def real_now() -> datetime:
    """Wall-clock naive UTC, for leases (see the module docstring)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Claim:
    """A due row this worker holds until `lease_until`: what to send and where."""

    id: int
    merchant_id: str
    dialect: str
    url: str
    headers: dict[str, str]
    body: bytes
    attempts: int
    lease_until: datetime


@dataclass(frozen=True, slots=True)
class AttemptResult:
    started_at: datetime
    latency_ms: int
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    success: bool = False


@dataclass(frozen=True, slots=True)
class NotificationFilter:
    """Which notifications a list or a redelivery is about; empty fields match everything."""

    ids: tuple[int, ...] = ()
    merchant_id: str | None = None
    dialect: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.ids:
            conds.append(N.id.in_(self.ids))
        if self.merchant_id:
            conds.append(N.merchant_id == self.merchant_id)
        if self.dialect:
            conds.append(N.dialect == self.dialect)
        if self.status:
            if self.status not in STATUSES:
                raise PaymuxError(
                    ErrorCode.INVALID_PARAMS,
                    f"status must be one of {', '.join(STATUSES)}",
                    field="status",
                )
            conds.append(N.status == self.status)
        if self.since:
            conds.append(N.created_at >= self.since)
        if self.until:
            conds.append(N.created_at < self.until)
        return conds

    def describe(self) -> str:
        """The filter as `name=value` pairs, for the audit log."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return " ".join(f"{name}={value}" for name, value in values.items() if value)


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    merchant_id: str
    dialect: str
    event: str
    ref: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempt_no: int
    started_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str
    success: bool


@dataclass(frozen=True, slots=True)
class NotificationDetail:
    notification: NotificationView
    headers: dict[str, str]
    body: bytes
    attempts: list[AttemptView] = field(default_factory=list)


_VIEW_COLUMNS = [N[f.name] for f in fields(NotificationView)]
_ATTEMPT_COLUMNS = [A[f.name] for f in fields(AttemptView)]


@dataclass(frozen=True, slots=True)
class Claimed:
    """What one `claim_due` leased, and what it left behind."""

    claims: list[Claim]
    # When the next row not yet due becomes due (None: none, or the batch was full).
    next_due: datetime | None
    # Merchants at their share: due rows of theirs may be waiting for it to free up.
    capped: frozenset[str] = frozenset()


# Leases the rows one look took and reads what the attempts need, in one statement.
_LEASE = (
    update(t.notifications)
    .where(N.id.in_(bindparam("b_ids", expanding=True)))
    .values(lease_until=bindparam("b_lease"))
    .returning(N.id, N.merchant_id, N.dialect, N.url, N.headers, N.body, N.attempts)
)

# Looks per claim at most: each one after the first leaves out one more merchant at its share.
CLAIM_ROUNDS = 4


def claim_due(
    uow: UnitOfWork,
    dialects: Collection[str],
    limit: int,
    lease_s: float,
    *,
    per_merchant: int = 0,
    held: Mapping[str, int] | None = None,
) -> Claimed:
    """Lease up to `limit` due rows of the given dialects to the caller, oldest first.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers each take
    different rows without waiting. SQLite: the single writer (and BEGIN
    IMMEDIATE across processes) serializes claims, so the lease update is a
    compare-and-set by construction. Rows of dialects this process does not
    know stay for a process that does.

    With `per_merchant`, the caller ends up holding at most that many rows of
    any one merchant (`held` counts the ones it holds already): one merchant's
    backlog at the head of the queue would otherwise fill the whole batch, and
    if its endpoint hangs, every delivery slot with it. Rows past a merchant's
    share are left unleased (their locks end with this transaction), and the
    next look leaves that merchant out, so the batch fills with other
    merchants' rows. Also returns when the next row not yet due becomes due,
    so the caller can sleep exactly that long.
    """
    if not dialects or limit <= 0:
        return Claimed([], None)
    now = uow.env.clock.now()
    lease_now = real_now()
    lease = lease_now + timedelta(seconds=lease_s)
    counts = Counter(held or {})
    full = {m for m, n in counts.items() if per_merchant and n >= per_merchant}
    rows: list[Row[Any]] = []
    for _ in range(CLAIM_ROUNDS):
        want = limit - len(rows)
        conds = [
            N.status == PENDING,
            N.next_attempt_at <= now,
            or_(N.lease_until.is_(None), N.lease_until <= lease_now),
            N.dialect.in_(dialects),
        ]
        if full:
            conds.append(N.merchant_id.not_in(sorted(full)))
        # Ids first: rows past a merchant's share are left, and their bodies never read.
        found = uow.conn.execute(
            select(N.id, N.merchant_id)
            .where(*conds)
            .order_by(N.next_attempt_at)
            .limit(want)
            .with_for_update(skip_locked=True)
        ).all()
        taken: list[int] = []
        for notification_id, merchant_id in found:
            if per_merchant and counts[merchant_id] >= per_merchant:
                full.add(merchant_id)
                continue
            counts[merchant_id] += 1
            taken.append(notification_id)
        if taken:  # leased now, so the next look's lease condition passes them over
            leased = uow.conn.execute(_LEASE, {"b_ids": taken, "b_lease": lease}).all()
            order = {notification_id: n for n, notification_id in enumerate(taken)}
            rows.extend(sorted(leased, key=lambda r: order[r.id]))
        if len(found) < want or len(taken) == len(found):
            break  # nothing more is due, or nothing was left behind
    next_due = None
    if len(rows) < limit:
        next_due = uow.conn.execute(
            select(func.min(N.next_attempt_at)).where(
                N.status == PENDING, N.next_attempt_at > now, N.dialect.in_(dialects)
            )
        ).scalar_one_or_none()
    claims = [
        Claim(
            id=r.id,
            merchant_id=r.merchant_id,
            dialect=r.dialect,
            url=r.url,
            headers=dict(r.headers or {}),
            body=bytes(r.body),
            attempts=r.attempts,
            lease_until=lease,
        )
        for r in rows
    ]
    return Claimed(claims, next_due, frozenset(full))


# Built once: recording attempts is the dispatcher's hot path, and building SQLAlchemy
# statements per call costs several times more than SQLite executing them.
_INSERT_ATTEMPT = insert(t.delivery_attempts)
_MOVE_ON = (
    update(t.notifications)
    .where(
        N.id == bindparam("b_id"),
        N.lease_until == bindparam("b_lease"),
        N.attempts == bindparam("b_attempts"),
    )
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts") + 1,
        next_attempt_at=bindparam("b_next"),
        delivered_at=func.coalesce(bindparam("b_delivered", type_=DateTime), N.delivered_at),
        lease_until=None,
        last_error=bindparam("b_error"),
    )
)


def record_attempt(
    uow: UnitOfWork, claim: Claim, result: AttemptResult, delays_s: Sequence[float]
) -> str:
    """Log the attempt and move the row on: DELIVERED, PENDING at the next slot, or EXHAUSTED.

    `delays_s[i]` is the wait before attempt i+1, so after attempt n fails the
    next one is `delays_s[n]` away. The row update is a compare-and-set on the
    lease and the attempt count: if the lease was lost (this worker stalled
    past it and another took the row) the attempt is still logged, but the
    row belongs to the other worker. Returns the outcome for metrics.
    """
    attempt_no = claim.attempts + 1
    error = result.error[:ERROR_CHARS]
    uow.conn.execute(
        _INSERT_ATTEMPT,
        {
            "notification_id": claim.id,
            "attempt_no": attempt_no,
            "started_at": result.started_at,
            "status_code": result.status_code,
            "latency_ms": result.latency_ms,
            "response_excerpt": result.excerpt,
            "error": error,
            "success": result.success,
        },
    )
    now = uow.env.clock.now()
    next_at: datetime | None = None
    if result.success:
        outcome, status = "delivered", DELIVERED
    elif attempt_no < len(delays_s):
        outcome, status = "failed", PENDING
        next_at = now + timedelta(seconds=delays_s[attempt_no])
    else:
        outcome, status = "exhausted", EXHAUSTED
    changed = uow.conn.execute(
        _MOVE_ON,
        {
            "b_id": claim.id,
            "b_lease": claim.lease_until,
            "b_attempts": claim.attempts,
            "b_status": status,
            "b_next": next_at,
            "b_delivered": now if result.success else None,
            "b_error": error,
        },
    ).rowcount
    return outcome if changed == 1 else "superseded"


def record_attempts(
    uow: UnitOfWork, attempts: Sequence[tuple[Claim, AttemptResult, Sequence[float]]]
) -> list[str]:
    """Several `record_attempt`s in one transaction (the dispatcher batches them)."""
    return [record_attempt(uow, claim, result, delays) for claim, result, delays in attempts]


_RELEASE = (
    update(t.notifications)
    .where(N.id == bindparam("b_id"), N.lease_until == bindparam("b_lease"))
    .values(lease_until=None)
)


def release(uow: UnitOfWork, claims: Sequence[Claim]) -> None:
    """Give back claimed rows that were never attempted (a dispatcher stopping)."""
    for claim in claims:
        uow.conn.execute(_RELEASE, {"b_id": claim.id, "b_lease": claim.lease_until})


def queue_stats(uow: UnitOfWork) -> tuple[int, datetime | None]:
    """How many rows are due now, and since when the oldest of them has been."""
    now = uow.env.clock.now()
    count, oldest = uow.conn.execute(
        select(func.count(), func.min(N.next_attempt_at)).where(
            N.status == PENDING, N.next_attempt_at <= now
        )
    ).one()
    return int(count), oldest


def list_notifications(
    uow: UnitOfWork, flt: NotificationFilter, limit: int = 50, before_id: int | None = None
) -> list[NotificationView]:
    """Newest first; page with `before_id` = the last id of the previous page."""
    conds = flt.conditions()
    if before_id is not None:
        conds.append(N.id < before_id)
    rows = uow.conn.execute(
        select(*_VIEW_COLUMNS).where(*conds).order_by(N.id.desc()).limit(limit)
    ).all()
    return [NotificationView(**r._mapping) for r in rows]


def get_notification(uow: UnitOfWork, notification_id: int) -> NotificationDetail:
    row = uow.conn.execute(
        select(*_VIEW_COLUMNS, N.headers, N.body).where(N.id == notification_id)
    ).first()
    if row is None:
        raise PaymuxError(ErrorCode.NOT_FOUND, f"notification {notification_id} not found")
    mapping = dict(row._mapping)
    headers, body = mapping.pop("headers"), mapping.pop("body")
    attempts = uow.conn.execute(
        select(*_ATTEMPT_COLUMNS)
        .where(A.notification_id == notification_id)
        .order_by(A.attempt_no, A.id)
    ).all()
    return NotificationDetail(
        notification=NotificationView(**mapping),
        headers=dict(headers or {}),
        body=bytes(body),
        attempts=[AttemptView(**a._mapping) for a in attempts],
    )


def redeliver(uow: UnitOfWork, flt: NotificationFilter) -> int:
    """Make the matching rows due now: one new attempt of the same bytes each.

    The attempt count is kept, so for an EXHAUSTED row the schedule is already
    used up and a failed redelivery leaves it EXHAUSTED again (visible, and
    redeliverable again) instead of restarting hours of retries. A row in
    flight keeps its lease: it is never sent twice at once.
    """
    conds = flt.conditions()
    if not conds:
        raise PaymuxError(ErrorCode.MISSING_PARAM, "a redelivery needs ids or a filter")
    if flt.ids:
        found = set(uow.conn.execute(select(N.id).where(N.id.in_(flt.ids))).scalars())
        missing = sorted(set(flt.ids) - found)
        if missing:
            raise PaymuxError(ErrorCode.NOT_FOUND, f"notification {missing[0]} not found")
    count = uow.conn.execute(
        update(t.notifications)
        .where(*conds)
        .values(status=PENDING, next_attempt_at=uow.env.clock.now())
    ).rowcount
    if count:
        uow.after_commit(uow.env.wake_dispatcher)
    return count


def redeliver_audited(uow: UnitOfWork, actor: audit.Actor, flt: NotificationFilter) -> int:
    """`redeliver`, and who asked for it in the audit log, in the same transaction."""
    count = redeliver(uow, flt)
    audit.record(
        uow,
        actor,
        "notification.redeliver",
        target_type="notification",
        target_id=",".join(str(i) for i in flt.ids),
        detail=f"{count} redelivered; {flt.describe()}",
    )
    return count


def prune_delivered(uow: UnitOfWork, retention_s: float, batch: int = 1000) -> int:
    """Delete delivered rows (and their attempt log) older than the retention period.

    Exhausted and pending rows are never pruned: they are what an operator
    still has to look at. Works in batches so one run never holds the writer long.
    """
    cutoff = uow.env.clock.now() - timedelta(seconds=retention_s)
    ids = list(
        uow.conn.execute(
            select(N.id).where(N.status == DELIVERED, N.delivered_at < cutoff).limit(batch)
        ).scalars()
    )
    if not ids:
        return 0
    uow.conn.execute(delete(t.delivery_attempts).where(A.notification_id.in_(ids)))
    return uow.conn.execute(delete(t.notifications).where(N.id.in_(ids))).rowcount
