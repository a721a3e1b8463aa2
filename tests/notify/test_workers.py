"""Scale mode: two `paymux worker` processes share 1,000 due notifications on PostgreSQL."""

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
from tests.harness import PG_URL, pg_schema
from tests.notify.conftest import due_vpay_notifications, start_paymux, wait_for_log
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
