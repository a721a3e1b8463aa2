"""Crash safety: `paymux serve` killed by SIGKILL mid-delivery loses nothing, invents nothing."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paymux.app import register_notifiers
from paymux.config import Settings
from paymux.context import build_context
from paymux.dialects.vpay.client import VpayClient
from paymux.services import orders
from paymux.store.uow import UnitOfWork
from tests.harness import BACKENDS, free_port, pg_schema
from tests.notify.conftest import start_paymux
from tests.notify.receiver import Receiver

TOKEN = "crash-test-admin-token"
LEASE_S = 3


@contextlib.contextmanager
def database_url(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        with pg_schema() as url:
            yield url
    else:
        yield ""  # SQLite in the data directory


def _pay_then_die(uow: UnitOfWork, order_no: str) -> None:
    """The paying service, with the process dying after its writes and before COMMIT."""
    orders.pay_order(uow, order_no)
    raise RuntimeError("killed before COMMIT")


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_between_commit_and_delivery(tmp_path: Path, backend: str) -> None:
    with database_url(backend) as url, Receiver() as receiver, contextlib.ExitStack() as stack:
        port = free_port()
        env = {
            "PAYMUX_DATA_DIR": str(tmp_path / "data"),
            "PAYMUX_DATABASE_URL": url,
            "PAYMUX_ADMIN_TOKEN": TOKEN,
            "PAYMUX_NOTIFY_LEASE_S": str(LEASE_S),
            "PAYMUX_NOTIFY_TIMEOUT_S": "2",
        }
        admin = stack.enter_context(
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
        )

        def serve() -> None:
            proc = start_paymux(["serve", "--port", str(port)], env, tmp_path / "serve.log")
            stack.callback(proc.kill)
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                with contextlib.suppress(httpx.TransportError):
                    if admin.get("/metrics").status_code == 200:
                        return proc
                assert time.monotonic() < deadline, "paymux serve did not come up"
                time.sleep(0.05)

        server = serve()
        creds = admin.post("/admin/v1/merchants", json={"name": "crash"}).json()
        client = VpayClient(
            str(admin.base_url), creds["vpay"]["app_id"], creds["vpay"]["secret_key"]
        )
        paid, never_committed = (
            client.create_order(no, 100, "QR_CODE", notify_url=receiver.url())["order_id"]
            for no in ("CRASH-PAID", "CRASH-UNCOMMITTED")
        )

        # Committed, then the server dies while the merchant is still reading the request:
        # the row is claimed (leased) by a process that no longer exists.
        receiver.modes["/ok"] = "hang"
        assert admin.post(f"/sandbox/v1/orders/{paid}/pay").status_code == 200
        receiver.wait_for(lambda: len(receiver.requests) == 1)
        server.kill()
        server.wait()

        # A payment whose transaction never commits writes no notification either.
        ctx = build_context(Settings(data_dir=tmp_path / "data", database_url=url))
        register_notifiers(ctx)
        with pytest.raises(RuntimeError, match="before COMMIT"):
            ctx.store.write_sync(_pay_then_die, never_committed)
        ctx.close()

        receiver.modes.clear()
        server = serve()
        receiver.wait_for(lambda: len(receiver.requests) == 2, timeout=LEASE_S + 15)
        first, second = receiver.requests
        assert first.body == second.body  # the same notification, sent again...
        assert second.at - first.at >= LEASE_S - 0.5  # ...once the dead server's lease ran out
        assert client.verify_notification(second.body)["order_id"] == paid

        listed = admin.get("/admin/v1/notifications", params={"merchant_id": creds["merchant_id"]})
        (row,) = listed.json()["notifications"]  # nothing for the uncommitted payment
        assert row["ref"] == paid
        deadline = time.monotonic() + 5
        while admin.get(f"/admin/v1/notifications/{row['id']}").json()["status"] != "DELIVERED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        assert len(receiver.requests) == 2
        server.terminate()
        assert server.wait(20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
