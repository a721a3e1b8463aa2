"""Concurrent sandbox pays run together (`orders.pay_orders`, `store.engine.batched`): each
caller gets what a pay of its own would have given, and the money moves once per order.

The batch function is wrapped (not replaced) to see the batches the store forms and, in
the failure test, to make a batch fail after it wrote, which the store must undo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from paymux.core.ledger import split_fee
from paymux.dialects.vpay.client import VpayClient
from paymux.services import orders
from paymux.store.uow import UnitOfWork
from tests.harness import Server

BatchFn = Callable[[UnitOfWork, list[str]], list[Any]]
FEE_BP = 45


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The size of every batch `pay_orders` answered without raising, in order."""
    sizes: list[int] = []
    real: BatchFn = orders.pay_order.batched  # type: ignore[attr-defined]

    def counted(uow: UnitOfWork, order_nos: list[str]) -> list[Any]:
        outcomes = real(uow, order_nos)
        sizes.append(len(order_nos))
        return outcomes

    monkeypatch.setattr(orders.pay_order, "batched", counted)
    yield sizes


def burst(server: Server) -> tuple[VpayClient, str, list[str], list[int]]:
    """48 sandbox pays at once: 24 pending orders, a second pay of 12 of them, 6 pays of an
    unknown number and 6 of a closed order. Returns the client, its settlement account,
    the pending orders and each pay's HTTP status."""
    merchant = server.create_merchant("batched pays")
    server.update_merchant(merchant["merchant_id"], fee_rate_bp=FEE_BP)
    creds = merchant["vpay"]
    client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    pending = [client.create_order(f"BP-{i}", 1_000 + i)["order_id"] for i in range(24)]
    closed = client.create_order("BP-CLOSED", 500)["order_id"]
    client.close_order(order_id=closed)
    targets = pending + pending[:12] + ["999999999999"] * 6 + [closed] * 6
    barrier = threading.Barrier(len(targets))
    http = httpx.Client(
        base_url=server.base_url,
        timeout=60,
        limits=httpx.Limits(max_connections=len(targets)),
        headers={"Authorization": f"Bearer {server.admin_token}"},
    )

    def pay(order_no: str) -> int:
        barrier.wait()
        return http.post(f"/sandbox/v1/orders/{order_no}/pay").status_code

    with http, ThreadPoolExecutor(len(targets)) as pool:
        statuses = list(pool.map(pay, targets))
    return client, f"S:{merchant['merchant_id']}:CNY", pending, statuses


def check_burst(server: Server, burst_result: tuple[VpayClient, str, list[str], list[int]]) -> None:
    client, settlement, pending, statuses = burst_result
    for i in range(12):  # of two pays of one order, one paid it
        assert sorted([statuses[i], statuses[24 + i]]) == [200, 409], (i, statuses)
    assert statuses[12:24] == [200] * 12, statuses
    assert statuses[36:42] == [404] * 6, statuses
    assert statuses[42:48] == [409] * 6, statuses
    for order_no in pending:
        assert client.query_order(order_id=order_no)["status"] == 1
    credited = sum(1_000 + i - split_fee(1_000 + i, FEE_BP) for i in range(24))
    assert client.account_info(settlement)["balance"] == credited
    server.assert_ledger_clean()


def test_a_burst_of_pays_is_answered_as_if_each_ran_alone(server, batches):
    check_burst(server, burst(server))
    assert max(batches, default=0) > 1, f"no batch formed: {batches}"


def test_a_batch_that_fails_after_writing_is_undone_and_each_pay_runs_alone(server, monkeypatch):
    real: BatchFn = orders.pay_order.batched  # type: ignore[attr-defined]
    failed: list[int] = []

    def fails_after_writing(uow: UnitOfWork, order_nos: list[str]) -> list[Any]:
        real(uow, order_nos)
        failed.append(len(order_nos))
        raise RuntimeError("a bug after the pays")

    monkeypatch.setattr(orders.pay_order, "batched", fails_after_writing)
    check_burst(server, burst(server))
    assert failed, "no batch formed"
