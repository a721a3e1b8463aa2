"""Orders, refunds, withdrawals and the ledger against a simple model, one random step at a time.

A hypothesis `RuleBasedStateMachine` drives the real services through the
Store (SQLite in a temp directory; PostgreSQL too when
PAYMUX_TEST_DATABASE_URL is set) with random sequences of create, pay (from
outside or from a wallet), close, fail, expire (the clock moves), refund
(synchronous, or held and later completed or failed), account transfers,
recharges and withdrawals, and partner withdrawals through their review
(request, approve, reject, payout failure, the payout job). The model is a
few dictionaries: what each order's status and refunded amount must be, and
what every account's balance and frozen amount must be, including the
platform fee (the merchant has a fee rate) and the outside world.

After every step: every status and amount equals the model's, refunded ≤
paid, no account the model owns is below zero, and `ledger.check_ledger`
(every entry sums to zero, cached balances equal the journal, frozen equals
the active holds, nothing negative) is clean. A service that refuses a step
must refuse it with the error the model predicts and change nothing.

The CI profile is fixed: derandomized, a bounded number of examples and
steps, so a run is reproducible and takes well under a minute per backend.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from paymux.config import Settings
from paymux.context import Context, build_context
from paymux.core.errors import ErrorCode, PaymuxError
from paymux.services import ledger, merchants, orders, refunds, users, withdrawals
from tests.harness import BACKENDS, pg_schema

EXPIRE_S = 7200
FEE_BP = 250  # 2.5 %: the fee account is part of the model
CURRENCY = "CNY"
PROFILE = settings(
    max_examples=int(os.environ.get("PAYMUX_PROPERTY_EXAMPLES", "60")),
    stateful_step_count=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass
class ModelOrder:
    amount: int
    created_at: int  # model clock offset at creation
    status: str = "PENDING"
    refunded: int = 0
    payer: str = ""


@dataclass
class ModelRefund:
    order_no: str
    amount: int
    payer: str


@dataclass
class ModelWithdrawal:
    amount: int
    status: str = "PENDING"
    fails: bool = False


@dataclass
class Model:
    now: int = 0  # seconds the clock has moved
    orders: dict[str, ModelOrder] = field(default_factory=dict)
    held_refunds: dict[str, ModelRefund] = field(default_factory=dict)
    withdrawals: dict[str, ModelWithdrawal] = field(default_factory=dict)
    balance: dict[str, int] = field(default_factory=dict)
    frozen: dict[str, int] = field(default_factory=dict)

    def available(self, account: str) -> int:
        return self.balance.get(account, 0) - self.frozen.get(account, 0)

    def move(self, source: str, target: str, amount: int) -> None:
        self.balance[source] = self.balance.get(source, 0) - amount
        self.balance[target] = self.balance.get(target, 0) + amount

    def hold(self, account: str, amount: int) -> None:
        self.frozen[account] = self.frozen.get(account, 0) + amount


def refunded_status(order: ModelOrder) -> str:
    if order.refunded == 0:
        return "PAID"
    return "REFUNDED" if order.refunded >= order.amount else "PARTIALLY_REFUNDED"


class MoneyMachine(RuleBasedStateMachine):
    """One merchant, one user wallet, two virtual accounts; every step checked against the model."""

    ctx: Context  # set by the test before the machine runs
    clock_base: float

    orders = Bundle("orders")
    held = Bundle("held_refunds")
    payouts = Bundle("withdrawals")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.count = 0

    # -- plumbing ---------------------------------------------------------------------------------

    def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.ctx.store.write_sync(fn, *args)

    def refused(self, code: ErrorCode, fn: Callable[..., Any], *args: Any) -> None:
        """The step must fail with `code`; the invariants then check that nothing changed."""
        with pytest.raises(PaymuxError) as caught:
            self.write(fn, *args)
        assert caught.value.code is code, caught.value

    def next_no(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    @initialize()
    def start(self) -> None:
        created = self.write(merchants.create_merchant, "machine")
        self.merchant = created.merchant.id
        self.write(lambda uow: merchants.update_merchant(uow, self.merchant, fee_rate_bp=FEE_BP))
        self.ctx.keys.invalidate()
        user = self.write(users.create_user, "payer", 50_000, CURRENCY)
        self.user = user.user_id
        self.wallet = users.wallet_account_id(self.user, CURRENCY)
        self.settlement = ledger.settlement_account_id(self.merchant, CURRENCY)
        self.accounts = [
            self.write(ledger.open_account, "merchant", self.merchant, CURRENCY).id
            for _ in range(2)
        ]
        self.start_world = self.account(ledger.world_account_id(CURRENCY)).balance
        self.start_fees = self.fees_balance()
        self.model.balance = {self.wallet: 50_000, self.settlement: 0}
        self.model.balance |= {account: 0 for account in self.accounts}
        self.world_delta = 0  # measured from here: the wallet's opening balance is already in
        self.fees = 0
        # Earlier examples moved the clock (it only moves forward): this one starts from there.
        self.clock_base = self.ctx.env.clock.offset_s

    def account(self, account_id: str) -> Any:
        return self.ctx.store.read_sync(ledger.get_account, account_id)

    def fees_balance(self) -> int:
        try:
            return self.account(ledger.fees_account_id(CURRENCY)).balance
        except PaymuxError:
            return 0

    def world_moves(self, amount: int) -> None:
        """Money entering (negative) or leaving (positive) paymux through the world account."""
        self.world_delta += amount

    # -- orders -----------------------------------------------------------------------------------

    @rule(target=orders, amount=st.integers(1, 20_000))
    def create(self, amount: int) -> str:
        cmd = orders.CreateOrder(
            merchant_id=self.merchant,
            merchant_order_no=self.next_no("O"),
            dialect="vpay",
            channel="sandbox",
            amount=amount,
            expire_s=EXPIRE_S,
        )
        order, created = self.write(orders.create_order, cmd)
        assert created
        self.model.orders[order.order_no] = ModelOrder(amount, self.model.now)
        return order.order_no

    def payable(self, order: ModelOrder) -> bool:
        return order.status == "PENDING" and self.model.now - order.created_at < EXPIRE_S

    def paid(self, order: ModelOrder, payer: str) -> None:
        fee = order.amount * FEE_BP // 10_000
        order.status, order.payer = "PAID", payer
        if payer:
            self.model.move(payer, self.settlement, order.amount)
        else:
            self.world_moves(-order.amount)
            self.model.balance[self.settlement] += order.amount
        self.model.balance[self.settlement] -= fee
        self.fees += fee

    @rule(order_no=orders)
    def pay_from_outside(self, order_no: str) -> None:
        order = self.model.orders[order_no]
        if not self.payable(order):
            self.refused(ErrorCode.ORDER_INVALID_STATUS, orders.pay_order, order_no)
            return
        self.write(orders.pay_order, order_no)
        self.paid(order, "")

    @rule(order_no=orders)
    def pay_from_wallet(self, order_no: str) -> None:
        order = self.model.orders[order_no]

        def pay(uow: Any) -> Any:
            return orders.pay_order(uow, order_no, payer_account_id=self.wallet)

        if not self.payable(order):
            self.refused(ErrorCode.ORDER_INVALID_STATUS, pay)
        elif self.model.available(self.wallet) < order.amount:
            self.refused(ErrorCode.INSUFFICIENT_BALANCE, pay)
        else:
            self.write(pay)
            self.paid(order, self.wallet)

    @rule(order_no=orders)
    def close(self, order_no: str) -> None:
        order = self.model.orders[order_no]

        def close(uow: Any) -> Any:
            return orders.close_order(uow, self.merchant, order_no=order_no)

        if order.status != "PENDING":
            self.refused(ErrorCode.ORDER_INVALID_STATUS, close)
            return
        self.write(close)
        order.status = "CLOSED"

    @rule(order_no=orders)
    def fail(self, order_no: str) -> None:
        order = self.model.orders[order_no]
        if order.status != "PENDING":
            self.refused(ErrorCode.ORDER_INVALID_STATUS, orders.fail_order, order_no)
            return
        self.write(orders.fail_order, order_no)
        order.status = "FAILED"

    @rule(hours=st.sampled_from([1, 2, 3]))
    def expire(self, hours: int) -> None:
        """The test clock moves; the expiry job closes every pending order past its expiry."""
        self.model.now += hours * 3600
        self.ctx.env.clock.set_offset(self.clock_base + self.model.now)
        self.write(orders.expire_due_orders)
        for order in self.model.orders.values():
            if order.status == "PENDING" and self.model.now - order.created_at >= EXPIRE_S:
                order.status = "EXPIRED"

    # -- refunds ----------------------------------------------------------------------------------

    def refund_refusal(self, order: ModelOrder, amount: int) -> ErrorCode | None:
        if order.status not in ("PAID", "PARTIALLY_REFUNDED"):
            return ErrorCode.ORDER_INVALID_STATUS
        if order.refunded + amount > order.amount:
            return ErrorCode.REFUND_EXCEEDS_PAID
        if self.model.available(self.settlement) < amount:
            return ErrorCode.INSUFFICIENT_BALANCE
        return None

    def refund_call(self, order_no: str, amount: int, complete: bool) -> Callable[[Any], Any]:
        number = self.next_no("R")

        def call(uow: Any) -> Any:
            return refunds.create_refund(
                uow,
                self.merchant,
                merchant_refund_no=number,
                amount=amount,
                order_no=order_no,
                complete=complete,
            )

        return call

    @rule(order_no=orders, amount=st.integers(1, 20_000))
    def refund(self, order_no: str, amount: int) -> None:
        order = self.model.orders[order_no]
        call = self.refund_call(order_no, amount, complete=True)
        refusal = self.refund_refusal(order, amount)
        if refusal is not None:
            self.refused(refusal, call)
            return
        self.write(call)
        order.refunded += amount
        order.status = refunded_status(order)
        if order.payer:
            self.model.move(self.settlement, order.payer, amount)
        else:
            self.model.balance[self.settlement] -= amount
            self.world_moves(amount)

    @rule(target=held, order_no=orders, amount=st.integers(1, 20_000))
    def refund_held(self, order_no: str, amount: int) -> Any:
        """A refund a channel settles later: its amount is held on the settlement account."""
        order = self.model.orders[order_no]
        call = self.refund_call(order_no, amount, complete=False)
        refusal = self.refund_refusal(order, amount)
        if refusal is not None:
            self.refused(refusal, call)
            return multiple()
        refund = self.write(call)
        order.refunded += amount
        order.status = refunded_status(order)
        self.model.hold(self.settlement, amount)
        self.model.held_refunds[refund.refund_no] = ModelRefund(order_no, amount, order.payer)
        return refund.refund_no

    @rule(refund_no=consumes(held))
    def complete_refund(self, refund_no: str) -> None:
        held = self.model.held_refunds.pop(refund_no)
        self.write(refunds.complete_refund, refund_no)
        self.model.frozen[self.settlement] -= held.amount
        if held.payer:
            self.model.move(self.settlement, held.payer, held.amount)
        else:
            self.model.balance[self.settlement] -= held.amount
            self.world_moves(held.amount)

    @rule(refund_no=consumes(held))
    def fail_refund(self, refund_no: str) -> None:
        held = self.model.held_refunds.pop(refund_no)
        self.write(refunds.fail_refund, refund_no)
        self.model.frozen[self.settlement] -= held.amount
        order = self.model.orders[held.order_no]
        order.refunded -= held.amount
        order.status = refunded_status(order)

    # -- accounts ---------------------------------------------------------------------------------

    @rule(index=st.integers(0, 1), amount=st.integers(1, 30_000))
    def recharge(self, index: int, amount: int) -> None:
        self.write(ledger.recharge, self.accounts[index], amount)
        self.model.balance[self.accounts[index]] += amount
        self.world_moves(-amount)

    @rule(index=st.integers(0, 1), amount=st.integers(1, 30_000))
    def withdraw_now(self, index: int, amount: int) -> None:
        account = self.accounts[index]
        if self.model.available(account) < amount:
            self.refused(ErrorCode.INSUFFICIENT_BALANCE, ledger.withdraw_now, account, amount)
            return
        self.write(ledger.withdraw_now, account, amount)
        self.model.balance[account] -= amount
        self.world_moves(amount)

    @rule(pair=st.tuples(st.integers(0, 2), st.integers(0, 2)), amount=st.integers(1, 30_000))
    def transfer(self, pair: tuple[int, int], amount: int) -> None:
        """Between the two virtual accounts and the user's wallet."""
        names = [*self.accounts, self.wallet]
        from_id, to_id = names[pair[0]], names[pair[1]]
        if from_id == to_id:
            self.refused(ErrorCode.SAME_ACCOUNT, ledger.account_transfer, from_id, to_id, amount)
        elif self.model.available(from_id) < amount:
            self.refused(
                ErrorCode.INSUFFICIENT_BALANCE, ledger.account_transfer, from_id, to_id, amount
            )
        else:
            self.write(ledger.account_transfer, from_id, to_id, amount)
            self.model.move(from_id, to_id, amount)

    @rule()
    def fold_pending(self) -> None:
        """The timed job that folds pooled accounts' pending postings: invisible to balances."""
        self.write(ledger.apply_all_pending)

    # -- withdrawals ------------------------------------------------------------------------------

    @rule(target=payouts, amount=st.integers(1, 30_000))
    def request_withdrawal(self, amount: int) -> Any:
        def call(uow: Any) -> Any:
            return withdrawals.request_withdrawal(
                uow,
                self.merchant,
                dialect="partner",
                user_id=self.user,
                user_ref="oid",
                amount=amount,
                currency=CURRENCY,
            )

        if self.model.available(self.settlement) < amount:
            self.refused(ErrorCode.INSUFFICIENT_BALANCE, call)
            return multiple()
        withdrawal = self.write(call)
        self.model.hold(self.settlement, amount)
        self.model.withdrawals[withdrawal.withdrawal_no] = ModelWithdrawal(amount)
        return withdrawal.withdrawal_no

    @rule(number=payouts)
    def approve(self, number: str) -> None:
        payout = self.model.withdrawals[number]
        if payout.status != "PENDING":
            self.refused(
                ErrorCode.WITHDRAWAL_INVALID_STATUS, withdrawals.approve_withdrawal, number
            )
            return
        self.write(withdrawals.approve_withdrawal, number)
        payout.status = "APPROVED"

    @rule(number=payouts)
    def reject(self, number: str) -> None:
        payout = self.model.withdrawals[number]
        if payout.status != "PENDING":
            self.refused(
                ErrorCode.WITHDRAWAL_INVALID_STATUS, withdrawals.reject_withdrawal, number, "no"
            )
            return
        self.write(withdrawals.reject_withdrawal, number, "no")
        payout.status = "REJECTED"
        self.model.frozen[self.settlement] -= payout.amount

    @rule(number=payouts)
    def payout_will_fail(self, number: str) -> None:
        payout = self.model.withdrawals[number]
        if payout.status not in ("PENDING", "APPROVED"):
            self.refused(
                ErrorCode.WITHDRAWAL_INVALID_STATUS,
                withdrawals.mark_sandbox_failure,
                number,
                "bank said no",
            )
            return
        self.write(withdrawals.mark_sandbox_failure, number, "bank said no")
        payout.fails = True

    @rule()
    def payout_job(self) -> None:
        self.write(withdrawals.process_approved_withdrawals)
        for payout in self.model.withdrawals.values():
            if payout.status != "APPROVED":
                continue
            self.model.frozen[self.settlement] -= payout.amount
            if payout.fails:
                payout.status = "FAILED"
            else:
                payout.status = "SUCCESS"
                self.model.move(self.settlement, self.wallet, payout.amount)

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def orders_match(self) -> None:
        for order_no, expected in self.model.orders.items():
            order = self.ctx.store.read_sync(orders.get_by_no, order_no)
            assert (order.status, order.refunded_amount) == (expected.status, expected.refunded)
            assert 0 <= order.refunded_amount <= order.amount

    @invariant()
    def withdrawals_match(self) -> None:
        for number, expected in self.model.withdrawals.items():
            assert self.ctx.store.read_sync(withdrawals.get_by_no, number).status == expected.status

    @invariant()
    def balances_match(self) -> None:
        for account_id, expected in self.model.balance.items():
            account = self.account(account_id)
            frozen = self.model.frozen.get(account_id, 0)
            assert (account.balance, account.frozen) == (expected, frozen), account_id
            assert account.available >= 0, account_id
        world = self.account(ledger.world_account_id(CURRENCY)).balance
        assert world - self.start_world == self.world_delta
        assert self.fees_balance() - self.start_fees == self.fees

    @invariant()
    def ledger_clean(self) -> None:
        assert self.ctx.store.read_sync(ledger.check_ledger) == []


@contextlib.contextmanager
def context(tmp_path: Path, backend: str) -> Iterator[Context]:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(pg_schema()) if backend == "postgresql" else ""
        # synchronous=OFF: durability is tested elsewhere; here only the logic is.
        ctx = build_context(Settings(data_dir=tmp_path, database_url=url, sqlite_synchronous="OFF"))
        stack.callback(ctx.close)
        yield ctx


@pytest.mark.parametrize("backend", BACKENDS)
def test_money_machine(tmp_path: Path, backend: str) -> None:
    with context(tmp_path, backend) as ctx:

        class Machine(MoneyMachine):
            pass

        Machine.ctx = ctx
        run_state_machine_as_test(Machine, settings=PROFILE)
