"""Timed jobs: periodic work that every dispatcher runs next to deliveries.

Adding a job is one line at the bottom of this module:

    register_job("withdrawals.process", withdrawals.process_due_withdrawals, every_s=5)

`register_job` takes a service function `fn(uow) -> int` and runs it in its
own write transaction (the int is how much it did, for the log). A job that
must do I/O outside a transaction (querying a payment channel) uses
`register_task(name, fn, every_s=...)` with `async fn(ctx) -> int` instead.

Jobs follow the platform clock: `every_s` is platform time, and in sandbox mode
`POST /sandbox/v1/clock/advance` runs every job at once. Every dispatcher
(`paymux serve`, each `paymux worker`) runs every job, so a job must be safe to
run concurrently with itself: compare-and-set updates, idempotent deletes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from paymux.notify import outbox
from paymux.notify.config import NotifyConfig
from paymux.services import (
    access,
    channel_refunds,
    ledger,
    nonces,
    orders,
    reconcile,
    skills,
    withdrawals,
)
from paymux.store.uow import UnitOfWork

if TYPE_CHECKING:
    from paymux.context import Context


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every_s: float
    run: Callable[[Context], Awaitable[int]]


JOBS: dict[str, Job] = {}


def register_task(name: str, fn: Callable[[Context], Awaitable[int]], *, every_s: float) -> None:
    """A job that runs outside any transaction; registering a name again replaces it."""
    JOBS[name] = Job(name, every_s, fn)


def register_job(name: str, fn: Callable[[UnitOfWork], int], *, every_s: float) -> None:
    """A service function run in its own write transaction every `every_s` seconds."""

    async def run(ctx: Context) -> int:
        return await ctx.store.write(fn)

    register_task(name, run, every_s=every_s)


async def prune_outbox(ctx: Context) -> int:
    retention_s = NotifyConfig.from_settings(ctx.settings).retention_s
    return await ctx.store.write(outbox.prune_delivered, retention_s)


register_job("orders.expire", orders.expire_due_orders, every_s=2)
register_job("withdrawals.process", withdrawals.process_approved_withdrawals, every_s=2)
register_job("nonces.prune", nonces.prune_nonces, every_s=60)
register_job("ledger.fold_pending", ledger.apply_all_pending, every_s=1)
register_job("ratelimits.prune", access.prune_rate_counters, every_s=60)
register_job("skillpay.settle_refunds", skills.settle_stale_refunds, every_s=30)
register_task("outbox.prune", prune_outbox, every_s=3600)
register_task("channels.reconcile", reconcile.run, every_s=30)
register_task("channels.order_refunds", channel_refunds.run, every_s=30)
