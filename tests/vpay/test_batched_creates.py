"""Concurrent creates run together (`orders.create_orders`, `store.engine.batched`): each
caller gets exactly what a create of its own would have given, on both backends.

The batch function is wrapped (not replaced) to see the batches the store forms and, in
the failure test, to make a batch fail after it wrote, which the store must undo.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from paymux.services import orders
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork
from tests.harness import Server
from tests.vpay.test_concurrency import shared_client, together

BatchFn = Callable[[UnitOfWork, list[orders.CreateOrder]], list[Any]]


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The size of every batch `create_orders` answered without raising, in order."""
    sizes: list[int] = []
    real: BatchFn = orders.create_order.batched  # type: ignore[attr-defined]

    def counted(uow: UnitOfWork, cmds: list[orders.CreateOrder]) -> list[Any]:
        outcomes = real(uow, cmds)
        sizes.append(len(cmds))
        return outcomes

    monkeypatch.setattr(orders.create_order, "batched", counted)
    yield sizes


def order_rows(server: Server, merchant_id: str) -> dict[str, int]:
    """merchant order no → amount, for every order the merchant has."""

    def read(uow: UnitOfWork) -> dict[str, int]:
        o = t.orders.c
        rows = uow.conn.execute(
            select(o.merchant_order_no, o.amount).where(o.merchant_id == merchant_id)
        )
        return {row.merchant_order_no: row.amount for row in rows}

    return server.ctx.store.read_sync(read)


def merchant_of(server: Server, app_id: str) -> str:
    def read(uow: UnitOfWork) -> str:
        c = t.credentials.c
        query = select(c.merchant_id).where(c.dialect == "vpay", c.key_id == app_id).limit(1)
        return uow.conn.execute(query).scalar_one()

    return server.ctx.store.read_sync(read)


def burst(client: Any) -> list[tuple[str, Any]]:
    """48 creates at once: 32 new numbers, 8 identical retries of B-0…B-7 and 8 creates of
    B-8…B-15 with another amount."""

    def create(i: int) -> Any:
        if i < 32:
            return client.create_order(f"B-{i}", 100 + i)
        if i < 40:
            return client.create_order(f"B-{i - 32}", 100 + i - 32)
        return client.create_order(f"B-{i - 32}", 5_000 + i)

    return together(48, create)


def check_burst(server: Server, client: Any, results: list[tuple[str, Any]]) -> None:
    ids = {}
    for i in range(32):
        code, data = results[i]
        if i in range(8, 16) and code != "ok":  # lost its number to the other amount
            assert code == "ORDER.INVALID_PARAMS", results[i]
            continue
        assert code == "ok", results[i]
        assert data["merchant_order_id"] == f"B-{i}" and data["amount"] == 100 + i
        ids[f"B-{i}"] = data["order_id"]
    for i in range(32, 40):  # a retry gets the very same order
        code, data = results[i]
        assert code == "ok", results[i]
        assert data["order_id"] == ids[f"B-{i - 32}"]
    for n in range(8, 16):  # of two creates of one number with different amounts, one wins
        pair = [results[n], results[n + 32]]
        assert Counter(code for code, _ in pair) == {"ok": 1, "ORDER.INVALID_PARAMS": 1}, pair
        winner = next(data for code, data in pair if code == "ok")
        ids[f"B-{n}"] = winner["order_id"]
        assert client.query_order(order_id=winner["order_id"])["amount"] == winner["amount"]
    stored = order_rows(server, merchant_of(server, client.app_id))
    assert sorted(stored) == sorted(f"B-{i}" for i in range(32))
    for n in range(8):
        assert stored[f"B-{n}"] == 100 + n


def test_a_burst_of_creates_is_answered_as_if_each_ran_alone(server, vpay, batches):
    client = shared_client(vpay, 48)
    results = burst(client)
    check_burst(server, client, results)
    assert max(batches, default=0) > 1, f"no batch formed: {batches}"
    assert sum(batches) <= 48


def test_a_batch_that_fails_after_writing_is_undone_and_each_create_runs_alone(
    server, vpay, monkeypatch
):
    real: BatchFn = orders.create_order.batched  # type: ignore[attr-defined]
    failed: list[int] = []

    def fails_after_writing(uow: UnitOfWork, cmds: list[orders.CreateOrder]) -> list[Any]:
        real(uow, cmds)
        failed.append(len(cmds))
        raise RuntimeError("a bug after the insert")

    monkeypatch.setattr(orders.create_order, "batched", fails_after_writing)
    client = shared_client(vpay, 48)
    results = burst(client)
    assert failed, "no batch formed"
    check_burst(server, client, results)
    o = t.orders.c
    merchant_id = merchant_of(server, client.app_id)
    count = server.ctx.store.read_sync(
        lambda uow: uow.conn.execute(
            select(func.count()).where(o.merchant_id == merchant_id)
        ).scalar_one()
    )
    assert count == 32
