"""The audit log: who did what, when, to which record, and how it looked before and after.

An entry is written by the same unit of work as the action it records, so the
log can never claim an action that rolled back, nor miss one that committed.
`audited` wraps any service function that way; the caller passes how to
snapshot the target, which keeps this module free of every other service.
Secrets never enter a snapshot: callers describe credentials by key id only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select

from paymux.store import tables as t
from paymux.store.uow import UnitOfWork

AU = t.audit_log.c
T = TypeVar("T")
Snapshot = Callable[[UnitOfWork, str], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a console operator, an admin-API token holder, or a CLI user."""

    source: str  # console | admin_api | cli
    name: str
    ip: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: datetime
    source: str
    actor: str
    ip: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: str


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


def jsonable(value: Any) -> Any:
    """Snapshots hold datetimes and nested dicts; JSON columns need plain values."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
) -> int:
    result = uow.conn.execute(
        insert(t.audit_log).values(
            at=uow.env.clock.now(),
            source=actor.source,
            actor=actor.name[:64],
            ip=actor.ip[:64],
            action=action[:64],
            target_type=target_type[:32],
            target_id=target_id[:64],
            before=jsonable(before),
            after=jsonable(after),
            detail=detail[:512],
        )
    )
    return int(result.inserted_primary_key[0])


def audited(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    snapshot: Snapshot,
    fn: Callable[..., T],
    *args: Any,
    detail: str = "",
) -> T:
    """Run `fn(uow, *args)` and record it with the target's state before and after.

    If `fn` raises, nothing is recorded: the action did not happen.
    """
    before = snapshot(uow, target_id)
    result = fn(uow, *args)
    record(
        uow,
        actor,
        action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=snapshot(uow, target_id),
        detail=detail,
    )
    return result


def list_entries(
    uow: UnitOfWork, flt: AuditFilter, limit: int = 50, before_id: int | None = None
) -> list[Entry]:
    """Newest first; page with `before_id` = the last id of the previous page (keyset)."""
    conds = []
    if flt.actor:
        conds.append(AU.actor == flt.actor)
    if flt.action:
        conds.append(AU.action == flt.action)
    if flt.target_type:
        conds.append(AU.target_type == flt.target_type)
    if flt.target_id:
        conds.append(AU.target_id == flt.target_id)
    if flt.since:
        conds.append(AU.at >= flt.since)
    if flt.until:
        conds.append(AU.at < flt.until)
    if before_id is not None:
        conds.append(AU.id < before_id)
    rows = uow.conn.execute(
        select(t.audit_log).where(*conds).order_by(AU.id.desc()).limit(limit)
    ).all()
    return [Entry(**r._mapping) for r in rows]


def actions(uow: UnitOfWork) -> list[str]:
    """Every action name that occurs, for the filter's drop-down."""
    return list(uow.conn.execute(select(AU.action).distinct().order_by(AU.action)).scalars())
