"""A real paymux server for tests: uvicorn on a free loopback port, fresh database each time.

SQLite always; PostgreSQL too when PAYMUX_TEST_DATABASE_URL is set (each server
gets its own schema, so parallel runs never see each other's rows).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from sqlalchemy import create_engine, text

from paymux.app import create_app
from paymux.config import Settings
from paymux.context import Context, build_context
from paymux.http_protocol import PROTOCOL
from paymux.services import ledger

PG_URL = os.environ.get("PAYMUX_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PAYMUX_TEST_REDIS_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields a database URL whose search_path points at it."""
    name = "t_" + secrets.token_hex(6)
    engine = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote('-csearch_path=' + name)}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        engine.dispose()


@dataclass
class Server:
    base_url: str
    ctx: Context
    backend: str

    @property
    def admin_token(self) -> str:
        return self.ctx.admin_token

    def admin(self, method: str, path: str, json: Any = None) -> httpx.Response:
        return httpx.request(
            method,
            self.base_url + path,
            json=json,
            timeout=30,
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )

    def create_merchant(self, name: str = "test merchant") -> dict[str, Any]:
        """All dialects' credentials of a new merchant, through the admin API."""
        response = self.admin("POST", "/admin/v1/merchants", {"name": name})
        assert response.status_code == 201, response.text
        return response.json()

    def update_merchant(self, merchant_id: str, **changes: Any) -> dict[str, Any]:
        response = self.admin("POST", f"/admin/v1/merchants/{merchant_id}", changes)
        assert response.status_code == 200, response.text
        return response.json()

    def sandbox_pay(self, order_no: str) -> httpx.Response:
        return self.admin("POST", f"/sandbox/v1/orders/{order_no}/pay")

    def sandbox_fail(self, order_no: str) -> httpx.Response:
        return self.admin("POST", f"/sandbox/v1/orders/{order_no}/fail")

    def advance_clock(self, seconds: float) -> httpx.Response:
        response = self.admin("POST", "/sandbox/v1/clock/advance", {"seconds": seconds})
        assert response.status_code == 200, response.text
        return response

    def create_user(
        self, name: str = "payer", balance: int = 0, currency: str = "CNY"
    ) -> dict[str, Any]:
        response = self.admin(
            "POST", "/sandbox/v1/users", {"name": name, "balance": balance, "currency": currency}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def ledger_problems(self) -> list[Any]:
        return self.ctx.store.read_sync(ledger.check_ledger)

    def assert_ledger_clean(self) -> None:
        problems = self.ledger_problems()
        assert not problems, problems


@contextlib.contextmanager
def run_server(tmp_path: Path, backend: str = "sqlite", **overrides: Any) -> Iterator[Server]:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(pg_schema()) if backend == "postgresql" else ""
        port = free_port()
        settings = Settings(
            data_dir=tmp_path / f"data-{port}",
            database_url=database_url,
            public_base_url=f"http://127.0.0.1:{port}",
            admin_token="test-admin-" + secrets.token_hex(8),
        ).with_overrides(**overrides)
        ctx = build_context(settings)
        app = create_app(ctx)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
                http=PROTOCOL,
                access_log=False,
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("paymux test server did not start")
            time.sleep(0.01)
        try:
            yield Server(f"http://127.0.0.1:{port}", ctx, backend)
        finally:
            server.should_exit = True
            thread.join(timeout=20)
