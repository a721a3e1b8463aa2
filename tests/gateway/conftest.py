"""gateway fixtures: the merchant's SDK client, a local shop that receives callbacks and returns,
and read-only looks at paymux's tables to prove a refused request changed nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from paymux.dialects.gateway.client import GatewayClient
from paymux.store import tables as t
from tests.harness import Server
from tests.notify.receiver import Receiver


@pytest.fixture
def shop() -> Iterator[Receiver]:
    """A merchant's web server: records every request and answers `SUCCESS` (per-path modes)."""
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def gw(server: Server, merchant: dict[str, Any]) -> Iterator[GatewayClient]:
    client = GatewayClient(
        server.base_url, merchant["gateway"]["appid"], merchant["gateway"]["secret"]
    )
    yield client
    client.http.close()


def order_rows(server: Server, merchant_id: str) -> list[dict[str, Any]]:
    """Every order of the merchant, as stored."""

    def read(uow: Any) -> list[dict[str, Any]]:
        rows = uow.conn.execute(
            select(t.orders).where(t.orders.c.merchant_id == merchant_id).order_by(t.orders.c.id)
        ).all()
        return [dict(r._mapping) for r in rows]

    return server.ctx.store.read_sync(read)


def outbox(server: Server, merchant_id: str) -> list[dict[str, Any]]:
    """The merchant's outbox rows (what the dispatcher will deliver), oldest first."""

    def read(uow: Any) -> list[dict[str, Any]]:
        n = t.notifications.c
        rows = uow.conn.execute(
            select(t.notifications).where(n.merchant_id == merchant_id).order_by(n.id)
        ).all()
        return [dict(r._mapping) for r in rows]

    return server.ctx.store.read_sync(read)


def total_rows(server: Server) -> dict[str, int]:
    """Row counts of the tables a unified order could touch."""

    def read(uow: Any) -> dict[str, int]:
        tables = (t.orders, t.notifications, t.journal_entries, t.postings)
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }

    return server.ctx.store.read_sync(read)
