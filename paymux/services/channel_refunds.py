"""Refunds of orders paid through a live channel (WeChat Pay, Alipay): channel first, then ledger.

The money of such an order is at the channel, so paymux may only move its
ledger once the channel says the payer has it back. A refund therefore runs
in three steps, and the channel call is never inside a transaction (on SQLite
it would stall the single writer):

1. `open_refund`, one transaction: `refunds.create_refund(complete=False)`
   makes the refund PROCESSING, holds its amount on the merchant's settlement
   account and reserves it on the order, and schedules a check.
2. `send_refund`: the order's connector `refund()` under out_trade_no = the
   platform order no (what `payments.start_payment` opened the trade with)
   and out_refund_no = the refund no.
3. `apply_result`, one transaction: SUCCEEDED captures the hold into the
   world account (`refunds.complete_refund`, which notifies the merchant),
   FAILED releases it and gives the amount back to the order
   (`refunds.fail_refund`), and so does a send the channel refuses for good
   (`ChannelRefused`: WeChat Pay's NOT_ENOUGH, USER_ACCOUNT_ABNORMAL, …, the
   reason kept on the refund for the operator); PROCESSING, or any other
   ChannelError (timeout, outage, rate limit), leaves the refund PROCESSING
   for the check.

The check (`check_due_refunds`, a timed job) asks the channel about every
PROCESSING refund that is due, on a backoff from its creation (the offsets of
`payments.REFUND_RETRY_S`, then every 6 hours). When the channel reports a
refund as failed — which is also how the connectors report a refund they
never received (a crash between steps 1 and 2, a request lost on the way) —
it is sent again under the same out_refund_no: both channels deduplicate on
it, so a refund they know is answered with its state, and one they never got
is made now. Only the answer to a send decides FAILED.

The schedule is the `refunds.next_check_at` column with its own index rather
than a field of `extra`: PROCESSING refunds are few, but finding them through
JSON would scan every refund ever made on each pass. Every transition is the
compare-and-set of `complete_refund`/`fail_refund`, so a channel notice
racing the job, or two dispatchers' passes, end in one outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from paymux.channels import LIVE_CHANNELS, connector
from paymux.channels.base import (
    ChannelError,
    ChannelRefused,
    RefundRequest,
    RefundResult,
    RefundState,
)
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Order, Refund
from paymux.core.states import RefundStatus
from paymux.logs import log
from paymux.services import channel_credentials, orders, payments, refunds
from paymux.store import tables as t
from paymux.store.engine import Store
from paymux.store.uow import UnitOfWork

if TYPE_CHECKING:
    from paymux.context import Context

REF = t.refunds.c
BATCH = 100


@dataclass(frozen=True, slots=True)
class _Job:
    """What one channel call needs, read in one short transaction."""

    refund: Refund
    order: Order
    config: dict[str, Any] | None


def is_live(order: Order) -> bool:
    """Whether the order's money is at a live channel, so its refunds go through this module."""
    return order.channel in LIVE_CHANNELS


def next_check_at(created_at: datetime, now: datetime) -> datetime:
    """The first point of the backoff after `now`: the retry delays summed from creation.

    Derived from the creation time rather than counted, so two overlapping
    passes that both reschedule a refund agree on when it is due.
    """
    at = created_at
    for delay in payments.REFUND_RETRY_S:
        at += timedelta(seconds=delay)
        if at > now:
            return at
    return now + timedelta(seconds=payments.REFUND_RETRY_S[-1])


def open_refund(
    uow: UnitOfWork, order_no: str, merchant_refund_no: str, amount: int, reason: str
) -> Refund:
    """Step 1: the PROCESSING refund with its hold, due for a check if step 2 never happens.

    Idempotent per merchant refund no like `create_refund`: a retry returns the
    existing refund (in whatever state it reached).
    """
    order = orders.get_by_no(uow, order_no)
    if not is_live(order):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"order {order_no} was not paid at a channel")
    refund = refunds.create_refund(
        uow,
        order.merchant_id,
        merchant_refund_no=merchant_refund_no,
        amount=amount,
        order_no=order_no,
        reason=reason,
        complete=False,
    )
    if refund.status == RefundStatus.PROCESSING:
        now = uow.env.clock.now()
        uow.conn.execute(
            update(t.refunds)
            .where(REF.id == refund.id, REF.status == RefundStatus.PROCESSING.value)
            .values(next_check_at=next_check_at(refund.created_at, now))
        )
    return refund


def _job(uow: UnitOfWork, refund_no: str) -> _Job:
    refund = refunds.get_refund_by_no(uow, refund_no)
    order = orders.get_by_no(uow, refund.order_no)
    return _Job(
        refund, order, channel_credentials.load_config(uow, order.merchant_id, order.channel)
    )


def _note(uow: UnitOfWork, refund: Refund, **notes: str) -> None:
    """Keep what the channel last said on a PROCESSING refund (shown on the order page)
    and push its next check along the backoff."""
    extra = {**refund.extra, **{k: v[:256] for k, v in notes.items()}}
    uow.conn.execute(
        update(t.refunds)
        .where(REF.id == refund.id, REF.status == RefundStatus.PROCESSING.value)
        .values(extra=extra, next_check_at=next_check_at(refund.created_at, uow.env.clock.now()))
    )


def retry_later(uow: UnitOfWork, refund_no: str, error: str) -> Refund:
    """The channel could not be asked (or gave no answer): stay PROCESSING, check again later."""
    refund = refunds.get_refund_by_no(uow, refund_no)
    _note(uow, refund, channel_message=error)
    return refunds.get_refund_by_no(uow, refund_no)


def apply_result(uow: UnitOfWork, refund_no: str, result: RefundResult) -> Refund:
    """Step 3: settle the refund as the channel reports it; a refund already settled is kept.

    The compare-and-set inside `complete_refund`/`fail_refund` is the first
    write, so losing a race to a notice or another pass changes nothing here.
    """
    refund = refunds.get_refund_by_no(uow, refund_no)
    if refund.status != RefundStatus.PROCESSING:
        return refund
    said = {"channel_refund_no": result.channel_refund_no} if result.channel_refund_no else {}
    if result.state is RefundState.PROCESSING:
        _note(uow, refund, channel_message="", **said)
        return refunds.get_refund_by_no(uow, refund_no)
    extra = {**refund.extra, **said, "channel_message": result.message[:256]}
    try:
        if result.state is RefundState.SUCCEEDED:
            refunds.complete_refund(uow, refund_no)
        else:
            refunds.fail_refund(uow, refund_no)
    except PaymuxError as exc:
        if exc.code is not ErrorCode.ORDER_STATE_CONFLICT:
            raise
        return refunds.get_refund_by_no(uow, refund_no)
    uow.conn.execute(
        update(t.refunds).where(REF.id == refund.id).values(extra=extra, next_check_at=None)
    )
    log.info("channel_refund_settled", refund_no=refund_no, state=result.state.value)
    return refunds.get_refund_by_no(uow, refund_no)


def apply_notice(uow: UnitOfWork, merchant_id: str, channel: str, result: RefundResult) -> None:
    """A channel's refund notice for an order refund; one that names none of ours is ignored.

    The notice is verified by then, and must come from the order's merchant
    and channel, so one merchant's keys cannot settle another's refund.
    """
    row = uow.conn.execute(
        select(t.refunds).where(
            REF.refund_no == result.out_refund_no, REF.merchant_id == merchant_id
        )
    ).first()
    if row is None:
        return
    refund = Refund.from_row(row)
    if orders.get_by_no(uow, refund.order_no).channel == channel:
        apply_result(uow, refund.refund_no, result)


async def _call(store: Store, job: _Job, *, query: bool) -> RefundResult | None:
    """Ask (query) or tell (refund) the channel; None after recording why it could not."""
    refund, order = job.refund, job.order
    base_url = store.env.settings.public_base_url
    channel = connector(order.channel, base_url)
    if job.config is None:
        await store.write(retry_later, refund.refund_no, "the channel credentials were removed")
        return None
    try:
        creds = channel.credentials(job.config)
        if query:
            return await channel.query_refund(creds, order.order_no, refund.refund_no)
        return await channel.refund(
            creds,
            RefundRequest(
                out_trade_no=order.order_no,
                out_refund_no=refund.refund_no,
                amount=refund.amount,
                total=order.amount,
                currency=refund.currency,
                reason=refund.reason,
                notify_url=payments.notice_url(base_url, channel.name, order.merchant_id),
            ),
        )
    except ChannelRefused as exc:
        if query:  # asking about a refund is refused: ask again later, as for an outage
            await store.write(retry_later, refund.refund_no, exc.message)
            return None
        return RefundResult(refund.refund_no, RefundState.FAILED, message=exc.message)
    except ChannelError as exc:
        log.warning("channel_refund_failed", channel=channel.name, refund_no=refund.refund_no)
        await store.write(retry_later, refund.refund_no, exc.message)
        return None


async def send_refund(store: Store, refund_no: str) -> Refund:
    """Steps 2 and 3 for a refund `open_refund` made; a settled refund is returned as it is.

    Safe to repeat (a double-submitted form, the job after a crash): the
    channel deduplicates on out_refund_no.
    """
    job = await store.read(_job, refund_no)
    if job.refund.status != RefundStatus.PROCESSING:
        return job.refund
    result = await _call(store, job, query=False)
    if result is None:
        return await store.read(refunds.get_refund_by_no, refund_no)
    return await store.write(apply_result, refund_no, result)


async def check_refund(store: Store, refund_no: str) -> Refund:
    """Ask the channel about a PROCESSING refund; one it reports failed or unknown is sent again."""
    job = await store.read(_job, refund_no)
    if job.refund.status != RefundStatus.PROCESSING:
        return job.refund
    result = await _call(store, job, query=True)
    if result is None:
        return await store.read(refunds.get_refund_by_no, refund_no)
    if result.state is RefundState.FAILED:
        return await send_refund(store, refund_no)
    return await store.write(apply_result, refund_no, result)


def _due(uow: UnitOfWork, limit: int) -> list[str]:
    return list(
        uow.conn.execute(
            select(REF.refund_no)
            .where(
                REF.next_check_at <= uow.env.clock.now(),
                REF.status == RefundStatus.PROCESSING.value,
            )
            .order_by(REF.next_check_at)
            .limit(limit)
        ).scalars()
    )


async def check_due_refunds(store: Store) -> int:
    """One pass of the follow-up job; returns how many refunds it asked about."""
    due = await store.read(_due, BATCH)
    for refund_no in due:
        await check_refund(store, refund_no)
    if due:
        log.info("channel_refunds_checked", refunds=len(due))
    return len(due)


async def run(ctx: Context) -> int:
    """The timed job's entry point (`paymux.notify.jobs.register_task`)."""
    return await check_due_refunds(ctx.store)
