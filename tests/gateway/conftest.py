"""gateway fixtures: the merchant's SDK client, a local shop that receives callbacks and returns,
and read-only looks at paymux's tables to prove a refused request changed nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select

from paymux.dialects.gateway.client import GatewayClient
from paymux.store import tables as t
from tests.harness import Server


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Shop:
    """A merchant's web server: records every POST and answers `replies[path]` (or SUCCESS)."""

    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: dict[str, bytes] = field(default_factory=dict)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.at(path)) >= count, timeout)
        got = self.at(path)
        assert len(got) >= count, f"expected {count} POSTs to {path}, got {len(got)}"
        return got


@pytest.fixture
def shop() -> Iterator[Shop]:
    state = Shop()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = state.replies.get(self.path, b"SUCCESS")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            with state.arrived:
                state.received.append(Received(self.path, dict(self.headers), body))
                state.arrived.notify_all()

        def log_message(self, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


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
