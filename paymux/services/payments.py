"""Channel payments: open a QR payment at the order's channel and apply what channels report.

A channel call is network I/O, so it never runs inside a transaction (on
SQLite that would stall the single writer). Each use case here is an async
function that runs short transactions around the call: record an INIT
attempt, ask the channel, record the answer. A crash in between leaves an
INIT attempt that the next identical create replaces.

What a channel reports is applied by compare-and-set through the order
services, so a notice racing the reconcile job or paymux's own expiry ends in
one outcome. Money the channel took for an order paymux no longer considers
payable (closed, expired, paid by another trade, other amount) never changes
the order: it becomes a `channel_mismatches` row for an operator, and an
automatic refund through the channel. That money never entered paymux's
ledger, so neither does its refund.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update

from paymux.channels import LIVE_FOR_METHOD, SANDBOX, connector
from paymux.channels.base import (
    Channel,
    ChannelError,
    NoticeRejected,
    NoticeReply,
    PaymentRequest,
    RefundRequest,
    RefundResult,
    RefundState,
    Trade,
    TradeState,
)
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import ChannelMismatch, Order, PaymentAttempt
from paymux.core.states import ORDER_SETTLED, OrderStatus
from paymux.logs import log
from paymux.services import channel_credentials, channel_refunds, orders
from paymux.store import tables as t
from paymux.store.engine import Store
from paymux.store.sql import insert_ignore
from paymux.store.uow import UnitOfWork

PA, MM, ORD = t.payment_attempts.c, t.channel_mismatches.c, t.orders.c

# The payment method's name in `order.extra["pay_type"]`, the hosted cashier's vocabulary.
PAY_TYPE = {"WECHAT": "WECHAT_PAY", "ALIPAY": "ALIPAY"}
CLIENT_TYPE = {"WECHAT": "NATIVE", "ALIPAY": "PRECREATE"}
# Reconcile schedule of an open attempt: seconds after it opened, then one last
# query shortly before the order expires, then a pass after expiry to close it.
CHECK_AFTER_S = (60, 300, 900, 1800, 3600, 5400)
FINAL_CHECK_BEFORE_EXPIRY_S = 120
# Retries of an automatic refund the channel could not take or has not finished.
REFUND_RETRY_S = (60, 300, 900, 3600, 3 * 3600, 6 * 3600)


class AttemptStatus(StrEnum):
    INIT = "INIT"  # recorded, the channel not yet answered
    PENDING = "PENDING"  # the QR code is out
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # the channel refused to open it, or the payment failed
    CLOSED = "CLOSED"  # closed at the channel, unpaid


class MismatchKind(StrEnum):
    PAID_AFTER_CLOSE = "PAID_AFTER_CLOSE"
    DUPLICATE_PAYMENT = "DUPLICATE_PAYMENT"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"


class MismatchRefund(StrEnum):
    NONE = "NONE"  # not refunded automatically: an operator decides
    PENDING = "PENDING"  # to be sent to the channel
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class StartPayment:
    merchant_id: str
    merchant_order_no: str
    dialect: str
    pay_method: str  # WECHAT | ALIPAY
    amount: int
    subject: str
    description: str
    notify_url: str
    expire_s: int


@dataclass(frozen=True, slots=True)
class Payment:
    """An order and its latest channel attempt (None before the first)."""

    order: Order
    attempt: PaymentAttempt | None


@dataclass(frozen=True, slots=True)
class _Prepared:
    payment: Payment
    open: bool  # whether the attempt still has to be opened at the channel
    config: dict[str, Any] | None


def notice_url(base_url: str, channel: str, merchant_id: str) -> str:
    """Where a channel posts this merchant's notices: the merchant names whose keys verify them."""
    return f"{base_url}/channels/{channel}/notify/{merchant_id}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


# -- opening a payment -----------------------------------------------------------------------


def _order_by_merchant_no(
    uow: UnitOfWork, merchant_id: str, merchant_order_no: str
) -> Order | None:
    try:
        return orders.find_order(uow, merchant_id, merchant_order_no=merchant_order_no)
    except PaymuxError as exc:
        if exc.code is ErrorCode.ORDER_NOT_FOUND:
            return None
        raise


def _order_by_no(uow: UnitOfWork, order_no: str) -> Order | None:
    try:
        return orders.get_by_no(uow, order_no)
    except PaymuxError as exc:
        if exc.code is ErrorCode.ORDER_NOT_FOUND:
            return None
        raise


def latest_attempt(uow: UnitOfWork, order_id: int) -> PaymentAttempt | None:
    row = uow.conn.execute(
        select(t.payment_attempts).where(PA.order_id == order_id).order_by(PA.id.desc()).limit(1)
    ).first()
    return None if row is None else PaymentAttempt.from_row(row)


def get_attempt(uow: UnitOfWork, attempt_id: int) -> PaymentAttempt:
    return PaymentAttempt.from_row(
        uow.conn.execute(select(t.payment_attempts).where(PA.id == attempt_id)).one()
    )


def _route(uow: UnitOfWork, merchant_id: str, pay_method: str) -> tuple[str, dict[str, Any] | None]:
    """The live connector when the merchant configured it, else the sandbox (sandbox mode only)."""
    live = LIVE_FOR_METHOD[pay_method]
    config = channel_credentials.load_config(uow, merchant_id, live)
    if config is not None:
        return live, config
    if not uow.env.settings.sandbox:
        raise PaymuxError(
            ErrorCode.CHANNEL_ERROR,
            f"the merchant has no {live} credentials and the sandbox channel is off in production",
        )
    return SANDBOX, None


def _prepare(uow: UnitOfWork, cmd: StartPayment) -> _Prepared:
    existing = _order_by_merchant_no(uow, cmd.merchant_id, cmd.merchant_order_no)
    if existing is None:
        channel, config = _route(uow, cmd.merchant_id, cmd.pay_method)
    else:
        # A retry stays on the order's channel, so configuring credentials in
        # between does not turn an identical retry into "order exists".
        channel = existing.channel
        config = (
            None
            if channel == SANDBOX
            else channel_credentials.load_config(uow, cmd.merchant_id, channel)
        )
    order, _ = orders.create_order(
        uow,
        orders.CreateOrder(
            merchant_id=cmd.merchant_id,
            merchant_order_no=cmd.merchant_order_no,
            dialect=cmd.dialect,
            channel=channel,
            amount=cmd.amount,
            currency="CNY",
            subject=cmd.subject,
            description=cmd.description,
            notify_url=cmd.notify_url,
            expire_s=cmd.expire_s,
            extra={"pay_type": PAY_TYPE[cmd.pay_method]},
        ),
    )
    latest = latest_attempt(uow, order.id)
    now = uow.env.clock.now()
    payable = order.status == OrderStatus.PENDING and not (
        order.expire_at is not None and order.expire_at <= now
    )
    if not payable or (latest is not None and latest.status == AttemptStatus.PENDING):
        return _Prepared(Payment(order, latest), False, None)
    if channel != SANDBOX and config is None:
        raise PaymuxError(
            ErrorCode.CHANNEL_ERROR, f"the merchant's {channel} credentials were removed"
        )
    attempt_id = uow.env.ids.next_id(uow.env.clock.now_ms())
    uow.conn.execute(
        t.payment_attempts.insert().values(
            id=attempt_id,
            order_id=order.id,
            order_no=order.order_no,
            merchant_id=order.merchant_id,
            channel=channel,
            pay_method=cmd.pay_method,
            client_type=CLIENT_TYPE[cmd.pay_method],
            status=AttemptStatus.INIT.value,
            code_url="",
            channel_trade_no="",
            error="",
            checks=0,
            next_check_at=None,
            created_at=now,
            updated_at=now,
        )
    )
    # The notification names the attempt that got paid (paymodule's tradeId).
    extra = {**order.extra, "transaction_id": attempt_id}
    uow.conn.execute(update(t.orders).where(ORD.id == order.id).values(extra=extra))
    order = orders.get_by_no(uow, order.order_no)
    return _Prepared(Payment(order, get_attempt(uow, attempt_id)), True, config)


def finish_attempt(uow: UnitOfWork, attempt_id: int, status: AttemptStatus, note: str) -> None:
    """End an open attempt (closed or failed at the channel): no more reconcile queries."""
    uow.conn.execute(
        update(t.payment_attempts)
        .where(PA.id == attempt_id, PA.status == AttemptStatus.PENDING.value)
        .values(
            status=status.value,
            error=note[:256],
            next_check_at=None,
            updated_at=uow.env.clock.now(),
        )
    )


def _attempt_failed(uow: UnitOfWork, attempt_id: int, error: str) -> None:
    uow.conn.execute(
        update(t.payment_attempts)
        .where(PA.id == attempt_id, PA.status == AttemptStatus.INIT.value)
        .values(
            status=AttemptStatus.FAILED.value, error=error[:256], updated_at=uow.env.clock.now()
        )
    )


def _attempt_opened(uow: UnitOfWork, attempt_id: int, code_url: str, remote: bool) -> Payment:
    now = uow.env.clock.now()
    attempt = get_attempt(uow, attempt_id)
    order = orders.get_by_no(uow, attempt.order_no)
    uow.conn.execute(
        update(t.payment_attempts)
        .where(PA.id == attempt_id, PA.status == AttemptStatus.INIT.value)
        .values(
            status=AttemptStatus.PENDING.value,
            code_url=code_url[:512],
            next_check_at=(
                next_check_at(attempt.created_at, order.expire_at, 0, now) if remote else None
            ),
            updated_at=now,
        )
    )
    return Payment(order, get_attempt(uow, attempt_id))


async def start_payment(store: Store, cmd: StartPayment) -> Payment:
    """Create the order (idempotently) and open its QR payment at the channel.

    An identical retry returns the open attempt; if the previous try never got
    a code from the channel, it tries again. A channel refusal is CHANNEL_ERROR
    and leaves the order payable for that retry.
    """
    prepared = await store.write(_prepare, cmd)
    payment = prepared.payment
    if not prepared.open or payment.attempt is None:
        return payment
    order, attempt = payment.order, payment.attempt
    base_url = store.env.settings.public_base_url
    channel = connector(attempt.channel, base_url)
    request = PaymentRequest(
        out_trade_no=order.order_no,
        amount=order.amount,
        currency=order.currency,
        subject=order.subject,
        description=order.description,
        expire_at=_utc(order.expire_at or order.created_at + timedelta(hours=2)),
        notify_url=notice_url(base_url, channel.name, order.merchant_id),
    )
    try:
        code_url = await channel.create(channel.credentials(prepared.config or {}), request)
    except ChannelError as exc:
        log.warning("channel_create_failed", channel=channel.name, order_no=order.order_no)
        await store.write(_attempt_failed, attempt.id, exc.message)
        raise PaymuxError(ErrorCode.CHANNEL_ERROR, exc.message) from None
    return await store.write(_attempt_opened, attempt.id, code_url, channel.remote)


def get_payment(uow: UnitOfWork, merchant_id: str, order_no: str) -> Payment:
    """A merchant's order with its latest attempt; another merchant's order is not found."""
    try:
        order = orders.find_order(uow, merchant_id, order_no=order_no)
    except PaymuxError as exc:
        if exc.code is ErrorCode.ORDER_ACCESS_DENIED:
            raise PaymuxError(ErrorCode.ORDER_NOT_FOUND, f"order {order_no} not found") from None
        raise
    return Payment(order, latest_attempt(uow, order.id))


# -- the reconcile schedule ------------------------------------------------------------------


def next_check_at(
    opened_at: datetime, expire_at: datetime | None, checks_done: int, now: datetime
) -> datetime | None:
    """When to query an attempt opened at `opened_at` next; None once nothing is left to learn.

    The backoff of CHECK_AFTER_S, then a last query FINAL_CHECK_BEFORE_EXPIRY_S
    before expiry, then the pass at expiry that closes the trade at the channel.
    """
    if expire_at is None:
        return now + timedelta(seconds=CHECK_AFTER_S[-1])
    final = expire_at - timedelta(seconds=FINAL_CHECK_BEFORE_EXPIRY_S)
    if checks_done < len(CHECK_AFTER_S):
        planned = opened_at + timedelta(seconds=CHECK_AFTER_S[checks_done])
        if planned < final:
            return max(planned, now)
    if now < final:
        return final
    return expire_at if now < expire_at else None


# -- applying what a channel reports ---------------------------------------------------------


def _record_mismatch(
    uow: UnitOfWork,
    merchant_id: str,
    channel: str,
    kind: MismatchKind,
    trade: Trade,
    order: Order | None,
    detail: str,
) -> int | None:
    """Record the mismatch once per channel trade; its id when new and due for a refund."""
    now = uow.env.clock.now()
    refund = MismatchRefund.NONE if kind is MismatchKind.UNKNOWN_ORDER else MismatchRefund.PENDING
    amount = trade.amount if trade.amount is not None else (order.amount if order else 0)
    inserted = insert_ignore(
        uow.conn,
        t.channel_mismatches,
        {
            "merchant_id": merchant_id,
            "channel": channel,
            "kind": kind.value,
            "order_no": trade.out_trade_no[:32],
            "order_status": order.status if order else "",
            "channel_trade_no": trade.channel_trade_no[:64],
            "amount": amount,
            "currency": order.currency if order else "CNY",
            "detail": detail[:512],
            "refund_no": "R" + uow.env.new_no(),
            "refund_status": refund.value,
            "channel_refund_no": "",
            "refund_error": "",
            "refund_attempts": 0,
            "next_refund_at": now if refund is MismatchRefund.PENDING else None,
            "resolved_at": None,
            "resolution": "",
            "created_at": now,
            "updated_at": now,
        },
    )
    if not inserted:
        return None
    log.warning(
        "channel_mismatch",
        kind=kind.value,
        channel=channel,
        order_no=trade.out_trade_no,
        channel_trade_no=trade.channel_trade_no,
    )
    row = uow.conn.execute(
        select(MM.id).where(MM.channel == channel, MM.channel_trade_no == trade.channel_trade_no)
    ).one()
    return int(row.id) if refund is MismatchRefund.PENDING else None


def _set_attempts(uow: UnitOfWork, order_id: int, status: AttemptStatus, **values: Any) -> None:
    uow.conn.execute(
        update(t.payment_attempts)
        .where(PA.order_id == order_id, PA.status == AttemptStatus.PENDING.value)
        .values(status=status.value, next_check_at=None, updated_at=uow.env.clock.now(), **values)
    )


def apply_trade(uow: UnitOfWork, merchant_id: str, channel: str, trade: Trade) -> int | None:
    """Bring the order in line with the channel's trade; returns a mismatch id to refund.

    Only SUCCESS and FAILED change anything: a payment is applied once (by
    compare-and-set), a failed payment fails the order. NOTPAY and CLOSED leave
    the order to its own expiry.
    """
    row = _order_by_no(uow, trade.out_trade_no)
    order = (
        row
        if row is not None and row.merchant_id == merchant_id and row.channel == channel
        else None
    )
    if trade.state is TradeState.FAILED and order and order.status == OrderStatus.PENDING:
        _set_attempts(uow, order.id, AttemptStatus.FAILED, error="the channel reported PAYERROR")
        orders.fail_order(uow, order.order_no)
        return None
    if trade.state is not TradeState.SUCCESS:
        return None
    if order is None:
        return _record_mismatch(
            uow, merchant_id, channel, MismatchKind.UNKNOWN_ORDER, trade, None, "no such order"
        )
    if trade.amount is not None and trade.amount != order.amount:
        detail = f"the channel took {trade.amount}, the order is for {order.amount}"
        return _record_mismatch(
            uow, merchant_id, channel, MismatchKind.AMOUNT_MISMATCH, trade, order, detail
        )
    if order.status in ORDER_SETTLED:
        if order.extra.get("channel_trade_no") == trade.channel_trade_no:
            return None  # the same payment reported again
        paid_by = order.extra.get("channel_trade_no") or "another payment"
        detail = f"the order was already paid by {paid_by}"
        return _record_mismatch(
            uow, merchant_id, channel, MismatchKind.DUPLICATE_PAYMENT, trade, order, detail
        )
    try:
        orders.pay_order(uow, order.order_no, channel_trade_no=trade.channel_trade_no)
    except PaymuxError as exc:
        if exc.code is not ErrorCode.ORDER_INVALID_STATUS:
            raise
        detail = f"paid at the channel after the order ended: {exc.message}"
        return _record_mismatch(
            uow, merchant_id, channel, MismatchKind.PAID_AFTER_CLOSE, trade, order, detail
        )
    _set_attempts(uow, order.id, AttemptStatus.SUCCEEDED, channel_trade_no=trade.channel_trade_no)
    return None


def apply_refund(uow: UnitOfWork, merchant_id: str, channel: str, result: RefundResult) -> None:
    """Record a channel refund's outcome; PROCESSING is asked again later.

    The out_refund_no names either a mismatch's automatic refund (`R…`) or an
    order refund (its refund no), which `channel_refunds` settles.
    """
    now = uow.env.clock.now()
    row = uow.conn.execute(
        select(t.channel_mismatches).where(
            MM.merchant_id == merchant_id,
            MM.channel == channel,
            MM.refund_no == result.out_refund_no,
        )
    ).first()
    if row is None:
        channel_refunds.apply_notice(uow, merchant_id, channel, result)
        return
    mismatch = ChannelMismatch.from_row(row)
    values: dict[str, Any] = {
        "refund_status": result.state.value,
        "refund_attempts": mismatch.refund_attempts + 1,
        "updated_at": now,
        "next_refund_at": None,
    }
    if result.channel_refund_no:
        values["channel_refund_no"] = result.channel_refund_no[:64]
    if result.state is RefundState.FAILED:
        values["refund_error"] = result.message[:256]
    if result.state is RefundState.PROCESSING:
        values["next_refund_at"] = now + timedelta(seconds=_refund_delay(mismatch.refund_attempts))
    uow.conn.execute(
        update(t.channel_mismatches)
        .where(
            MM.id == mismatch.id,
            MM.refund_status.in_([MismatchRefund.PENDING.value, MismatchRefund.PROCESSING.value]),
        )
        .values(**values)
    )


def _refund_delay(attempts: int) -> int:
    return REFUND_RETRY_S[min(attempts, len(REFUND_RETRY_S) - 1)]


def _refund_not_sent(uow: UnitOfWork, mismatch_id: int, error: str) -> None:
    row = uow.conn.execute(select(t.channel_mismatches).where(MM.id == mismatch_id)).one()
    uow.conn.execute(
        update(t.channel_mismatches)
        .where(MM.id == mismatch_id)
        .values(
            refund_error=error[:256],
            refund_attempts=row.refund_attempts + 1,
            next_refund_at=uow.env.clock.now()
            + timedelta(seconds=_refund_delay(row.refund_attempts)),
            updated_at=uow.env.clock.now(),
        )
    )


def _refund_job(uow: UnitOfWork, mismatch_id: int) -> tuple[ChannelMismatch, dict[str, Any] | None]:
    mismatch = ChannelMismatch.from_row(
        uow.conn.execute(select(t.channel_mismatches).where(MM.id == mismatch_id)).one()
    )
    return mismatch, channel_credentials.load_config(uow, mismatch.merchant_id, mismatch.channel)


async def refund_mismatch(store: Store, mismatch_id: int) -> None:
    """Send (or follow up) the automatic refund of a mismatch; failures are retried later."""
    mismatch, config = await store.read(_refund_job, mismatch_id)
    base_url = store.env.settings.public_base_url
    channel = connector(mismatch.channel, base_url)
    if config is None and channel.remote:
        await store.write(_refund_not_sent, mismatch_id, "the channel credentials were removed")
        return
    try:
        creds = channel.credentials(config or {})
        if mismatch.refund_status == MismatchRefund.PENDING:
            result = await channel.refund(
                creds,
                RefundRequest(
                    out_trade_no=mismatch.order_no,
                    out_refund_no=mismatch.refund_no,
                    amount=mismatch.amount,
                    total=mismatch.amount,  # what the channel took: all of it goes back
                    currency=mismatch.currency,
                    reason="订单已关闭，自动退款",
                    notify_url=notice_url(base_url, channel.name, mismatch.merchant_id),
                ),
            )
        elif mismatch.refund_status == MismatchRefund.PROCESSING:
            result = await channel.query_refund(creds, mismatch.order_no, mismatch.refund_no)
        else:
            return
    except ChannelError as exc:
        log.warning("channel_refund_failed", channel=channel.name, mismatch_id=mismatch_id)
        await store.write(_refund_not_sent, mismatch_id, exc.message)
        return
    await store.write(apply_refund, mismatch.merchant_id, mismatch.channel, result)


async def receive_notice(
    store: Store, channel_name: str, merchant_id: str, headers: Mapping[str, str], body: bytes
) -> NoticeReply:
    """Verify a channel's asynchronous notice and apply it; the reply is in the channel's format.

    A notice that does not verify changes nothing and is answered as a failure
    (the genuine channel would resend it).
    """
    channel: Channel = connector(channel_name, store.env.settings.public_base_url)
    config = await store.read(channel_credentials.load_config, merchant_id, channel_name)
    if config is None and channel.remote:
        return channel.notice_reply(False, "no credentials for this merchant")
    try:
        notice = channel.parse_notice(channel.credentials(config or {}), headers, body)
    except NoticeRejected as exc:
        log.warning("channel_notice_rejected", channel=channel_name, reason=exc.message)
        return channel.notice_reply(False, exc.message)
    if notice.trade is not None:
        mismatch_id = await store.write(apply_trade, merchant_id, channel_name, notice.trade)
        if mismatch_id is not None:
            await refund_mismatch(store, mismatch_id)
    if notice.refund is not None:
        await store.write(apply_refund, merchant_id, channel_name, notice.refund)
    return channel.notice_reply(True)


# -- the operator's view of mismatches -------------------------------------------------------


def list_mismatches(
    uow: UnitOfWork, unresolved_only: bool = True, limit: int = 100
) -> list[ChannelMismatch]:
    query = select(t.channel_mismatches).order_by(MM.id.desc()).limit(limit)
    if unresolved_only:
        query = query.where(MM.resolved_at.is_(None))
    return [ChannelMismatch.from_row(r) for r in uow.conn.execute(query).all()]


def resolve_mismatch(uow: UnitOfWork, mismatch_id: int, resolution: str) -> ChannelMismatch:
    """An operator marks a mismatch dealt with (the note says how); it leaves the open list."""
    now = uow.env.clock.now()
    changed = uow.conn.execute(
        update(t.channel_mismatches)
        .where(MM.id == mismatch_id, MM.resolved_at.is_(None))
        .values(resolved_at=now, resolution=resolution[:256], updated_at=now)
    ).rowcount
    row = uow.conn.execute(select(t.channel_mismatches).where(MM.id == mismatch_id)).first()
    if row is None:
        raise PaymuxError(ErrorCode.NOT_FOUND, f"no channel mismatch {mismatch_id}")
    if not changed:
        raise PaymuxError(ErrorCode.ORDER_STATE_CONFLICT, "the mismatch is already resolved")
    return ChannelMismatch.from_row(row)
