"""vpay test helpers: a signed SDK client per merchant, raw requests, and "nothing changed".

Every client takes its timestamps from the platform clock, so tests that
advance the sandbox clock keep signing valid requests, like a merchant whose
clock is in sync with the platform's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import func, select

from paymux.dialects.vpay.client import VpayClient, VpayError
from paymux.dialects.vpay.codes import MESSAGES
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork
from tests.harness import Server

# The tables whose rows a failed request must leave exactly as they were.
# (Nonces are left out: a verified request spends its nonce even when it fails.)
STATE_TABLES = (
    t.merchants,
    t.credentials,
    t.accounts,
    t.journal_entries,
    t.postings,
    t.holds,
    t.orders,
    t.refunds,
    t.withdrawals,
    t.users,
)


def new_client(server: Server, name: str = "vpay merchant") -> VpayClient:
    """A client signing for a new merchant made through the admin API."""
    creds = server.create_merchant(name)["vpay"]
    return VpayClient(
        server.base_url,
        creds["app_id"],
        creds["secret_key"],
        admin_token=server.admin_token,
        clock=server.ctx.env.clock.time,
    )


@pytest.fixture
def vpay(server: Server) -> VpayClient:
    """A merchant of the test's own, for tests that change it or count its orders."""
    return new_client(server)


@pytest.fixture(scope="module")
def shared_vpay(server: Server) -> VpayClient:
    """One merchant for a module's refusal tests: they leave nothing behind to isolate."""
    return new_client(server, "shared merchant")


def send(
    client: VpayClient,
    path: str,
    body: dict[str, Any] | bytes,
    *,
    content_type: str = "application/json",
) -> httpx.Response:
    """POST exactly `body` (already signed, tampered, or not JSON at all)."""
    content = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return client.http.post(
        client.base + path, content=content, headers={"Content-Type": content_type}
    )


def expect(response: httpx.Response, code: str) -> dict[str, Any]:
    """Assert the vpay error `code` with its documented HTTP status and full envelope."""
    body = response.json()
    assert body["code"] == code, body
    zh, en, status = MESSAGES[code]
    assert response.status_code == status, (response.status_code, body)
    assert body["localized_msg"] == {"zh_CN": zh, "en_US": en}
    assert body["data"] is None
    assert body["debug_id"] == response.headers["x-request-id"]
    return body


def fails(code: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> VpayError:
    """Run an SDK call that must fail with `code` (and that code's HTTP status)."""
    with pytest.raises(VpayError) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert error.code == code, (error.code, error.message)
    assert error.status == MESSAGES[code][2], (error.status, error.message)
    return error


# Bookkeeping a timed job may change at any moment without changing any money:
# pooled accounts' cached balances and the pending flags of their postings.
# Balances are compared as the journal states them instead.
BOOKKEEPING = {"accounts.balance", "postings.pending"}


def _state(uow: UnitOfWork) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for table in STATE_TABLES:
        columns = [c for c in table.columns if f"{table.name}.{c.name}" not in BOOKKEEPING]
        rows = uow.conn.execute(select(*columns))
        state[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    p = t.postings.c
    state["journal balances"] = sorted(
        uow.conn.execute(select(p.account_id, func.sum(p.amount)).group_by(p.account_id)).all()
    )
    n = t.notifications.c
    # Only which notifications exist: a dispatcher may be delivering them meanwhile.
    state["notifications"] = sorted(uow.conn.execute(select(n.id, n.event, n.ref)).all())
    return state


@contextlib.contextmanager
def unchanged(server: Server) -> Iterator[None]:
    """Assert that the block leaves every order, refund, account, entry and notification as is."""
    before = server.ctx.store.read_sync(_state)
    yield
    after = server.ctx.store.read_sync(_state)
    for table in before:
        assert before[table] == after[table], f"{table} changed"


def notification_rows(server: Server, ref: str) -> list[Any]:
    """The outbox rows written for an order or refund number."""

    def read(uow: UnitOfWork) -> list[Any]:
        n = t.notifications.c
        return list(
            uow.conn.execute(
                select(n.event, n.url, n.body, n.status, n.dialect)
                .where(n.ref == ref)
                .order_by(n.id)
            ).all()
        )

    return server.ctx.store.read_sync(read)
