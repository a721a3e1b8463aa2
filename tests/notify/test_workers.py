"""Scale mode: `paymux worker` processes, alone or side by side, on a shared database."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import pytest

from paymux.app import register_notifiers
from paymux.config import Settings
from paymux.context import build_context
from paymux.dialects.vpay.client import VpayClient
from paymux.services import merchants
from tests.harness import BACKENDS, PG_URL, pg_schema, run_server
from tests.notify.conftest import (
    SCHEDULE,
    due_vpay_notifications,
    new_merchant,
    start_paymux,
    wait_for_log,
)
from tests.notify.receiver import Receiver

COUNT = 1000


@pytest.mark.skipif(not PG_URL, reason="needs PAYMUX_TEST_DATABASE_URL (PostgreSQL)")
def test_two_workers_deliver_each_notification_once(tmp_path: Path) -> None:
    receiver = Receiver(delay_s=0.02)  # a merchant taking 20 ms per notification
    with pg_schema() as url, receiver:
        ctx = build_context(Settings(data_dir=tmp_path / "data", database_url=url))
        register_notifiers(ctx)
        created = ctx.store.write_sync(merchants.create_merchant, "scale")
        verifier = VpayClient("http://unused", secret_key=created.credentials["vpay"]["secret_key"])
        env = {"PAYMUX_DATA_DIR": str(tmp_path / "data"), "PAYMUX_DATABASE_URL": url}
        logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
        workers = [start_paymux(["worker", "--concurrency", "16"], env, log) for log in logs]
        try:
            for worker, log in zip(workers, logs, strict=True):
                wait_for_log(log, "worker_started", worker)
            ctx.store.write_sync(due_vpay_notifications, created.merchant.id, receiver.url(), COUNT)
            receiver.wait_for(lambda: len(receiver.requests) >= COUNT, timeout=60)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            codes = [worker.wait(20) for worker in workers]
            ctx.close()
        assert codes == [0, 0]

        received = Counter(
            verifier.verify_notification(body)["order_id"] for body in receiver.bodies()
        )
        assert len(received) == COUNT and set(received.values()) == {1}  # each exactly once
        delivered = [
            json.loads(line)["delivered"]
            for log in logs
            for line in log.read_text().splitlines()
            if '"worker_stopped"' in line
        ]
        assert len(delivered) == 2 and sum(delivered) == COUNT
        assert min(delivered) > 0, delivered  # both took part


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_follows_the_clock_moved_through_serve(
    tmp_path: Path, backend: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scale mode on either database: `serve` delivers nothing, one worker does, and a
    sandbox clock advance made through `serve` reaches the worker through the database."""
    monkeypatch.setenv("PAYMUX_NOTIFY_EMBEDDED", "0")
    with run_server(tmp_path, backend) as server:
        settings = server.ctx.settings
        env = {
            "PAYMUX_DATA_DIR": str(settings.data_dir),
            "PAYMUX_DATABASE_URL": settings.database_url,
        }
        log = tmp_path / "worker.log"
        worker = start_paymux(["worker"], env, log)
        try:
            wait_for_log(log, "worker_started", worker)
            merchant = new_merchant(server)
            receiver.modes["/ok"] = "500"
            order_id = merchant.paid_order(receiver.url())
            merchant.wait_attempts(order_id, 1)  # made by the worker: serve has no dispatcher
            # Each retry is due 5 s, then 10 s later; after the advance the worker must
            # make it well before that much real time has passed.
            for attempt, seconds in ((2, SCHEDULE[1]), (3, SCHEDULE[2])):
                if attempt == 3:
                    receiver.modes.clear()
                server.advance_clock(seconds)
                merchant.wait_attempts(order_id, attempt, timeout=seconds - 0.5)
            assert merchant.notification(order_id)["status"] == "DELIVERED"
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(20) == 0
