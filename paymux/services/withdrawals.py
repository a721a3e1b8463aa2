"""Withdrawals: a merchant pays out from its settlement account to a user's wallet.

The amount is frozen (a ledger hold) the moment the merchant asks, so it
cannot be spent twice while an operator reviews it. Approval only marks it;
the timed job `process_approved_withdrawals` moves it PROCESSING → SUCCESS
(the hold is captured into the wallet) or FAILED (the hold is released), and
rejection releases the hold at once. Every status change is a compare-and-set
over `WITHDRAWAL_TRANSITIONS` and writes its notification in the same
transaction, so a change is never reported without happening or the reverse.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, true, update

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.ledger import EntryType
from paymux.core.models import Withdrawal
from paymux.core.money import check_amount, check_currency, format_decimal
from paymux.core.states import WITHDRAWAL_TRANSITIONS, WithdrawalStatus
from paymux.services import ledger
from paymux.services.merchants import get_merchant
from paymux.services.notifications import notify_withdrawal
from paymux.services.users import ensure_wallet
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork

W = t.withdrawals.c

# A sandbox-only marker: the sandbox payout channel refuses this withdrawal when processed.
SANDBOX_FAILURE = "sandbox_failure"


def request_withdrawal(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    dialect: str,
    user_id: str,
    user_ref: str,
    amount: int,
    currency: str,
    notify_url: str = "",
    remark: str = "",
) -> Withdrawal:
    """Freeze `amount` on the merchant's settlement account for a payout to the user: PENDING."""
    check_amount(amount)
    check_currency(currency)
    if not get_merchant(uow, merchant_id).active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "merchant is disabled")
    source = ledger.ensure_settlement_account(uow, merchant_id, currency)
    target = ensure_wallet(uow, user_id, currency)
    withdrawal_no = uow.env.new_no()
    try:
        hold_id = ledger.hold(uow, source, amount, f"withdrawal:{withdrawal_no}")
    except PaymuxError as exc:
        if exc.code is not ErrorCode.INSUFFICIENT_BALANCE:
            raise
        available = ledger.get_account(uow, source).available
        raise PaymuxError(
            ErrorCode.INSUFFICIENT_BALANCE,
            f"insufficient settlement balance: {format_decimal(available, currency)} {currency}"
            f" available, {format_decimal(amount, currency)} {currency} requested",
        ) from None
    uow.conn.execute(
        insert(t.withdrawals).values(
            withdrawal_no=withdrawal_no,
            merchant_id=merchant_id,
            dialect=dialect,
            from_account_id=source,
            to_account_id=target,
            hold_id=hold_id,
            amount=amount,
            currency=currency,
            status=WithdrawalStatus.PENDING.value,
            user_ref=user_ref,
            remark=remark,
            reason="",
            notify_url=notify_url,
            extra={},
            created_at=uow.env.clock.now(),
            completed_at=None,
        )
    )
    return get_by_no(uow, withdrawal_no)


def get_by_no(uow: UnitOfWork, withdrawal_no: str) -> Withdrawal:
    row = uow.conn.execute(select(t.withdrawals).where(W.withdrawal_no == withdrawal_no)).first()
    if row is None:
        raise PaymuxError(ErrorCode.WITHDRAWAL_NOT_FOUND, f"withdrawal {withdrawal_no} not found")
    return Withdrawal.from_row(row)


def get_withdrawal(uow: UnitOfWork, merchant_id: str, withdrawal_no: str) -> Withdrawal:
    """A merchant's own withdrawal; another merchant's is reported as not found."""
    withdrawal = get_by_no(uow, withdrawal_no)
    if withdrawal.merchant_id != merchant_id:
        raise PaymuxError(ErrorCode.WITHDRAWAL_NOT_FOUND, f"withdrawal {withdrawal_no} not found")
    return withdrawal


def list_withdrawals(
    uow: UnitOfWork, status: str | None, page: int, page_size: int
) -> tuple[int, list[Withdrawal]]:
    """The operator's review queue (newest first), optionally of one status."""
    where = W.status == status if status else true()
    total = uow.conn.execute(
        select(func.count()).select_from(t.withdrawals).where(where)
    ).scalar_one()
    rows = uow.conn.execute(
        select(t.withdrawals)
        .where(where)
        .order_by(W.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return int(total), [Withdrawal.from_row(r) for r in rows]


def _transition(
    uow: UnitOfWork, withdrawal: Withdrawal, to: WithdrawalStatus, **values: Any
) -> Withdrawal:
    allowed = [s.value for s in WITHDRAWAL_TRANSITIONS[to]]
    changed = uow.conn.execute(
        update(t.withdrawals)
        .where(W.id == withdrawal.id, W.status.in_(allowed))
        .values(status=to.value, **values)
    ).rowcount
    if changed != 1:
        current = get_by_no(uow, withdrawal.withdrawal_no)
        raise PaymuxError(
            ErrorCode.WITHDRAWAL_INVALID_STATUS,
            f"withdrawal {withdrawal.withdrawal_no} is {current.status}; cannot move it to {to}",
        )
    done = get_by_no(uow, withdrawal.withdrawal_no)
    notify_withdrawal(uow, f"withdrawal.{to.value.lower()}", done)
    return done


def approve_withdrawal(uow: UnitOfWork, withdrawal_no: str) -> Withdrawal:
    """The operator accepts the request; the payout job picks it up."""
    return _transition(uow, get_by_no(uow, withdrawal_no), WithdrawalStatus.APPROVED)


def reject_withdrawal(uow: UnitOfWork, withdrawal_no: str, reason: str) -> Withdrawal:
    """The operator refuses the request: the frozen amount is released in the same step."""
    reason = reason.strip()
    if not reason or len(reason) > 256:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, "reason must be 1..256 characters", field="reason"
        )
    withdrawal = get_by_no(uow, withdrawal_no)
    done = _transition(
        uow,
        withdrawal,
        WithdrawalStatus.REJECTED,
        reason=reason,
        completed_at=uow.env.clock.now(),
    )
    ledger.release_hold(uow, withdrawal.hold_id)
    return done


def mark_sandbox_failure(uow: UnitOfWork, withdrawal_no: str, reason: str) -> Withdrawal:
    """Sandbox: make the payout channel refuse this withdrawal when the job processes it.

    Allowed while it is PENDING or APPROVED, so a test can set it up before
    approving without racing the job.
    """
    reason = reason.strip() or "the sandbox payout channel refused the transfer"
    withdrawal = get_by_no(uow, withdrawal_no)
    waiting = [WithdrawalStatus.PENDING.value, WithdrawalStatus.APPROVED.value]
    changed = uow.conn.execute(
        update(t.withdrawals)
        .where(W.id == withdrawal.id, W.status.in_(waiting))
        .values(extra={**withdrawal.extra, SANDBOX_FAILURE: reason[:256]})
    ).rowcount
    if changed != 1:
        raise PaymuxError(
            ErrorCode.WITHDRAWAL_INVALID_STATUS,
            f"withdrawal {withdrawal_no} is {withdrawal.status}; it can no longer be made to fail",
        )
    return get_by_no(uow, withdrawal_no)


def process_approved_withdrawals(uow: UnitOfWork, limit: int = 100) -> int:
    """The payout job: every APPROVED withdrawal goes PROCESSING, then SUCCESS or FAILED.

    The sandbox channel pays out synchronously, so both steps happen in one
    run (each with its own notification). Claiming by compare-and-set makes
    concurrent runs (several workers) process each withdrawal once.
    Returns how many withdrawals were finished.
    """
    rows = uow.conn.execute(
        select(t.withdrawals)
        .where(W.status == WithdrawalStatus.APPROVED.value)
        .order_by(W.id)
        .limit(limit)
    ).all()
    finished = 0
    for row in rows:
        try:
            processing = _transition(uow, Withdrawal.from_row(row), WithdrawalStatus.PROCESSING)
        except PaymuxError as exc:
            if exc.code is ErrorCode.WITHDRAWAL_INVALID_STATUS:
                continue  # another worker claimed it first
            raise
        _pay_out(uow, processing)
        finished += 1
    return finished


def _pay_out(uow: UnitOfWork, withdrawal: Withdrawal) -> None:
    now = uow.env.clock.now()
    failure = withdrawal.extra.get(SANDBOX_FAILURE)
    if failure:
        _transition(uow, withdrawal, WithdrawalStatus.FAILED, reason=failure, completed_at=now)
        ledger.release_hold(uow, withdrawal.hold_id)
        return
    _transition(uow, withdrawal, WithdrawalStatus.SUCCESS, completed_at=now)
    ledger.capture_hold(
        uow,
        withdrawal.hold_id,
        EntryType.WITHDRAW,
        withdrawal.to_account_id,
        withdrawal.currency,
        ref=withdrawal.withdrawal_no,
    )
