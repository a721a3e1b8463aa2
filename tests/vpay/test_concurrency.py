"""Many requests at once against one order or a few accounts: the invariants hold on both backends.

Threads release together at a barrier so the requests really overlap.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import func, select

from paymux.dialects.vpay.client import VpayClient, VpayError
from paymux.services.ledger import get_account
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork
from tests.vpay.conftest import notification_rows


def attempt(call: Callable[[int], Any], i: int) -> tuple[str, Any]:
    """("ok", data) when call(i) succeeds, (vpay code, None) when it is refused."""
    try:
        return "ok", call(i)
    except VpayError as error:
        return error.code, None


def together(n: int, call: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run call(0..n-1) on n threads released at once by a barrier."""
    barrier = threading.Barrier(n)

    def run(i: int) -> tuple[str, Any]:
        barrier.wait()
        return attempt(call, i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def shared_client(client: VpayClient, n: int) -> VpayClient:
    """The same merchant's client with a connection pool big enough for `n` parallel calls."""
    client.http = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=n))
    return client


def pay_entries(uow: UnitOfWork, order_no: str) -> int:
    e = t.journal_entries.c
    return uow.conn.execute(
        select(func.count()).where(e.order_no == order_no, e.type == "pay")
    ).scalar_one()


def postings_total(uow: UnitOfWork) -> int:
    return int(uow.conn.execute(select(func.coalesce(func.sum(t.postings.c.amount), 0))).scalar())


def test_fifty_pays_of_one_order_pay_once(server, vpay):
    client = shared_client(vpay, 50)
    payer, payee = client.create_account()["account_id"], client.create_account()["account_id"]
    client.recharge(payer, 100_000)
    order = client.create_order("RACE-PAY", 1000, notify_url="http://127.0.0.1:9/notify")
    results = together(50, lambda _: client.pay_order(order["order_id"], payer, payee))
    outcomes = Counter(code for code, _ in results)
    assert outcomes == {"ok": 1, "ORDER.INVALID_STATUS": 49}, outcomes
    assert client.account_info(payer)["balance"] == 99_000
    assert client.account_info(payee)["balance"] == 1000
    assert client.query_order(order_id=order["order_id"])["status"] == 1
    assert server.ctx.store.read_sync(pay_entries, order["order_id"]) == 1
    assert [row.event for row in notification_rows(server, order["order_id"])] == ["order.paid"]
    server.assert_ledger_clean()


def test_pay_racing_close_has_one_winner(server, vpay):
    client = shared_client(vpay, 2)
    payer, payee = client.create_account()["account_id"], client.create_account()["account_id"]
    client.recharge(payer, 100_000)
    paid = 0
    for round_no in range(12):
        order_id = client.create_order(f"RACE-CLOSE-{round_no}", 1000)["order_id"]
        pay, close = together(
            2,
            lambda i, order_id=order_id: (
                client.pay_order(order_id, payer, payee)
                if i == 0
                else client.close_order(order_id=order_id)
            ),
        )
        status = client.query_order(order_id=order_id)["status"]
        if pay[0] == "ok":
            assert close[0] in ("ORDER.INVALID_STATUS", "ORDER.CLOSE_CONFLICT"), close
            assert status == 1
            paid += 1
        else:
            assert pay[0] == "ORDER.INVALID_STATUS" and close[0] == "ok", (pay, close)
            assert status == 2
    assert client.account_info(payer)["balance"] == 100_000 - 1000 * paid
    assert client.account_info(payee)["balance"] == 1000 * paid
    server.assert_ledger_clean()


def test_fifty_refunds_of_thirty_percent_never_exceed_the_amount(server, vpay):
    client = shared_client(vpay, 50)
    order = client.create_order("RACE-REFUND", 1000, notify_url="http://127.0.0.1:9/notify")
    assert server.sandbox_pay(order["order_id"]).status_code == 200
    settlement_before = server.ctx.store.read_sync(_balance, f"S:{client.app_id}:CNY")
    results = together(50, lambda i: client.refund(f"RACE-R{i}", 300, order_id=order["order_id"]))
    outcomes = Counter(code for code, _ in results)
    assert outcomes == {"ok": 3, "REFUND.EXCEEDS_AMOUNT": 47}, outcomes
    final = client.query_order(order_id=order["order_id"])
    assert (final["refunded_amount"], final["status"]) == (900, 3)
    assert server.ctx.store.read_sync(_balance, f"S:{client.app_id}:CNY") == (
        settlement_before - 900
    )
    refund_ids = {data["refund_id"] for code, data in results if code == "ok"}
    refund_events = [row.event for ref in refund_ids for row in notification_rows(server, ref)]
    assert refund_events == ["refund.succeeded"] * 3
    server.assert_ledger_clean()


def _balance(uow: UnitOfWork, account_id: str) -> int:
    return get_account(uow, account_id).balance


def test_two_hundred_transfers_between_five_accounts(server, vpay):
    client = shared_client(vpay, 16)
    accounts = [client.create_account()["account_id"] for _ in range(5)]
    for account in accounts:
        client.recharge(account, 1000)
    rng = random.Random(20240519)
    plan = []
    for _ in range(200):
        source, target = rng.sample(accounts, 2)
        plan.append((source, target, rng.randint(1, 700)))
    total_before = server.ctx.store.read_sync(postings_total)

    def move(i: int) -> Any:
        source, target, amount = plan[i]
        return client.transfer(source, target, amount)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: attempt(move, i), range(200)))
    outcomes = Counter(code for code, _ in results)
    assert set(outcomes) <= {"ok", "ACCOUNT.INSUFFICIENT_BALANCE"}, outcomes
    assert outcomes["ok"] > 50, outcomes
    expected = dict.fromkeys(accounts, 1000)
    for (code, _), (source, target, amount) in zip(results, plan, strict=True):
        if code == "ok":
            expected[source] -= amount
            expected[target] += amount
    balances = {a: client.account_info(a)["balance"] for a in accounts}
    assert balances == expected
    assert min(balances.values()) >= 0 and sum(balances.values()) == 5000
    for account in accounts:
        involved = sum(
            1
            for (code, _), (s, t_, _a) in zip(results, plan, strict=True)
            if code == "ok" and account in (s, t_)
        )
        assert client.transactions(account, type=5)["total"] == involved
    assert server.ctx.store.read_sync(postings_total) == total_before == 0
    server.assert_ledger_clean()
