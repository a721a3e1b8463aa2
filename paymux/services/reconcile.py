"""The channel reconcile job: ask live channels about payments whose notice has not come.

Notices get lost (a firewall, an outage, a bad deploy). Each open attempt at a
live channel is queried on the schedule of `payments.next_check_at`: a few
times with backoff, once shortly before the order expires, and once after, when
the trade is closed at the channel so that nobody can pay an order paymux has
expired. Automatic refunds of mismatches that the channel could not take, or
has not finished, are pushed on in the same pass.

It runs as a timed job (`paymux.notify.jobs`, every dispatcher runs it), so
two passes may overlap: every write goes through the compare-and-set services
of `payments`, and channel calls are idempotent (same out_trade_no, same
out_refund_no).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from paymux.channels import LIVE_CHANNELS, connector
from paymux.channels.base import ChannelError, Trade, TradeState
from paymux.core.models import Order, PaymentAttempt
from paymux.core.states import OrderStatus
from paymux.logs import log
from paymux.services import channel_credentials, orders, payments
from paymux.services.payments import AttemptStatus, MismatchRefund
from paymux.store import tables as t
from paymux.store.engine import Store
from paymux.store.uow import UnitOfWork

if TYPE_CHECKING:
    from paymux.context import Context

PA, MM = t.payment_attempts.c, t.channel_mismatches.c
BATCH = 100


@dataclass(frozen=True, slots=True)
class _Due:
    attempt: PaymentAttempt
    order: Order
    config: dict[str, Any] | None


def _due_attempts(uow: UnitOfWork, limit: int) -> list[_Due]:
    rows = uow.conn.execute(
        select(t.payment_attempts)
        .where(
            PA.status == AttemptStatus.PENDING.value,
            PA.channel.in_(LIVE_CHANNELS),
            PA.next_check_at <= uow.env.clock.now(),
        )
        .order_by(PA.next_check_at)
        .limit(limit)
    ).all()
    due = []
    for row in rows:
        attempt = PaymentAttempt.from_row(row)
        config = channel_credentials.load_config(uow, attempt.merchant_id, attempt.channel)
        due.append(_Due(attempt, orders.get_by_no(uow, attempt.order_no), config))
    return due


def _due_refunds(uow: UnitOfWork, limit: int) -> list[int]:
    return list(
        uow.conn.execute(
            select(MM.id)
            .where(
                MM.refund_status.in_(
                    [MismatchRefund.PENDING.value, MismatchRefund.PROCESSING.value]
                ),
                MM.next_refund_at <= uow.env.clock.now(),
            )
            .order_by(MM.next_refund_at)
            .limit(limit)
        ).scalars()
    )


def _ended(order: Order, uow: UnitOfWork) -> bool:
    """Whether paymux no longer lets the order be paid (it may not be marked EXPIRED yet)."""
    expired = order.expire_at is not None and order.expire_at <= uow.env.clock.now()
    return order.status != OrderStatus.PENDING or expired


def _retry_later(uow: UnitOfWork, attempt_id: int, error: str) -> None:
    attempt = payments.get_attempt(uow, attempt_id)
    delay = payments.CHECK_AFTER_S[min(attempt.checks, len(payments.CHECK_AFTER_S) - 1)]
    now = uow.env.clock.now()
    uow.conn.execute(
        update(t.payment_attempts)
        .where(PA.id == attempt_id, PA.status == AttemptStatus.PENDING.value)
        .values(
            checks=attempt.checks + 1,
            error=error[:256],
            next_check_at=now + timedelta(seconds=delay),
            updated_at=now,
        )
    )


def _after_query(uow: UnitOfWork, attempt_id: int, trade: Trade) -> tuple[int | None, bool]:
    """Apply one query's answer: (mismatch id to refund, whether to close at the channel)."""
    attempt = payments.get_attempt(uow, attempt_id)
    mismatch_id = payments.apply_trade(uow, attempt.merchant_id, attempt.channel, trade)
    attempt = payments.get_attempt(uow, attempt_id)
    if attempt.status != AttemptStatus.PENDING:
        return mismatch_id, False
    now = uow.env.clock.now()
    if trade.state is TradeState.CLOSED:
        payments.finish_attempt(uow, attempt_id, AttemptStatus.CLOSED, "closed at the channel")
        return mismatch_id, False
    order = orders.get_by_no(uow, attempt.order_no)
    if _ended(order, uow):
        return mismatch_id, True
    uow.conn.execute(
        update(t.payment_attempts)
        .where(PA.id == attempt_id, PA.status == AttemptStatus.PENDING.value)
        .values(
            checks=attempt.checks + 1,
            error="",
            next_check_at=payments.next_check_at(
                attempt.created_at, order.expire_at, attempt.checks + 1, now
            ),
            updated_at=now,
        )
    )
    return mismatch_id, False


async def _check(store: Store, due: _Due) -> None:
    attempt, order = due.attempt, due.order
    channel = connector(attempt.channel, store.env.settings.public_base_url)
    if due.config is None:
        await store.write(_retry_later, attempt.id, "the channel credentials were removed")
        return
    creds = channel.credentials(due.config)
    try:
        trade = await channel.query(creds, order.order_no)
    except ChannelError as exc:
        await store.write(_retry_later, attempt.id, exc.message)
        return
    mismatch_id, close = await store.write(_after_query, attempt.id, trade)
    if mismatch_id is not None:
        await payments.refund_mismatch(store, mismatch_id)
    if close:
        try:
            await channel.close(creds, order.order_no)
        except ChannelError as exc:
            await store.write(_retry_later, attempt.id, exc.message)
            return
        await store.write(
            payments.finish_attempt,
            attempt.id,
            AttemptStatus.CLOSED,
            "closed after the order ended",
        )


async def reconcile(store: Store) -> int:
    """One pass over due attempts and due automatic refunds; returns how many it handled."""
    due = await store.read(_due_attempts, BATCH)
    for item in due:
        await _check(store, item)
    refunds = await store.read(_due_refunds, BATCH)
    for mismatch_id in refunds:
        await payments.refund_mismatch(store, mismatch_id)
    if due or refunds:
        log.info("channels_reconciled", attempts=len(due), refunds=len(refunds))
    return len(due) + len(refunds)


async def run(ctx: Context) -> int:
    """The timed job's entry point (`paymux.notify.jobs.register_task`)."""
    return await reconcile(ctx.store)
