"""Fair shares: a merchant whose endpoint hangs holds at most its share of the delivery slots.

tests/faults/test_bad_merchants.py has a few hanging rows, fewer than the slots.
Here one merchant has more due rows than a dispatcher has slots, all of them
older than anyone else's, and its endpoint never answers: each dispatcher gives
it a quarter of its slots and no more, so another merchant's notification still
arrives at once, in one process and across worker processes sharing PostgreSQL.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from paymux.app import register_notifiers
from paymux.config import Settings
from paymux.context import build_context
from paymux.dialects.vpay.client import VpayClient
from paymux.notify.config import NotifyConfig
from paymux.services import merchants
from tests.harness import BACKENDS, PG_URL, pg_schema, run_server
from tests.notify.conftest import due_vpay_notifications, new_merchant, start_paymux, wait_for_log
from tests.notify.receiver import Receiver

TIMEOUT_S = 6.0
HANGING_ROWS = 100  # more than the dispatcher's 64 slots


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hanging_merchant_does_not_hold_up_another(tmp_path: Path, backend: str) -> None:
    with (
        Receiver() as receiver,
        run_server(tmp_path, backend, notify_timeout_s=TIMEOUT_S) as server,
    ):
        receiver.modes["/hang"] = "hang"
        share = NotifyConfig.from_settings(server.ctx.settings).slots_per_merchant
        assert share == 16  # a quarter of the default 64
        hanging = new_merchant(server)
        server.ctx.store.write_sync(
            due_vpay_notifications, hanging.merchant_id, receiver.url("/hang"), HANGING_ROWS
        )
        receiver.wait_count("/hang", share)
        hanging_since = time.perf_counter()

        healthy = new_merchant(server)
        paid_at = time.perf_counter()
        order_id = healthy.paid_order(receiver.url("/ok"))
        (arrived,) = receiver.wait_count("/ok", timeout=2 * TIMEOUT_S)
        assert healthy.client.verify_notification(arrived.body)["order_id"] == order_id
        assert arrived.at - paid_at < TIMEOUT_S / 3, "waited for the hanging merchant"
        # Its share and not one more, until the first of its attempts time out.
        assert time.perf_counter() - hanging_since < TIMEOUT_S, "measured after the hangs ended"
        assert len(receiver.at("/hang")) == share


@pytest.mark.skipif(not PG_URL, reason="needs PAYMUX_TEST_DATABASE_URL (PostgreSQL)")
def test_workers_give_each_merchant_a_share_and_deliver_each_row_once(tmp_path: Path) -> None:
    """Two workers claiming with per-merchant shares (several looks per claim, rows left
    behind unleased) still take each row once: the hanging merchant's rows are attempted
    at most a share per worker at a time, and every healthy row arrives once, promptly."""
    concurrency, healthy_rows = 8, 40
    share = NotifyConfig(concurrency=concurrency).slots_per_merchant
    with pg_schema() as url, Receiver() as receiver:
        receiver.modes["/hang"] = "hang"
        ctx = build_context(Settings(data_dir=tmp_path / "data", database_url=url))
        register_notifiers(ctx)
        hanging = ctx.store.write_sync(merchants.create_merchant, "hanging")
        healthy = ctx.store.write_sync(merchants.create_merchant, "healthy")
        verifier = VpayClient("http://unused", secret_key=healthy.credentials["vpay"]["secret_key"])
        env = {
            "PAYMUX_DATA_DIR": str(tmp_path / "data"),
            "PAYMUX_DATABASE_URL": url,
            "PAYMUX_NOTIFY_TIMEOUT_S": str(TIMEOUT_S),
        }
        logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
        args = ["worker", "--concurrency", str(concurrency)]
        workers = [start_paymux(args, env, log) for log in logs]
        try:
            for worker, log in zip(workers, logs, strict=True):
                wait_for_log(log, "worker_started", worker)
            ctx.store.write_sync(
                due_vpay_notifications, hanging.merchant.id, receiver.url("/hang"), HANGING_ROWS
            )
            receiver.wait_count("/hang", share)  # the hanging rows hold their slots first
            hanging_since = time.perf_counter()
            ctx.store.write_sync(
                due_vpay_notifications, healthy.merchant.id, receiver.url("/ok"), healthy_rows
            )
            receiver.wait_count("/ok", healthy_rows, timeout=TIMEOUT_S)
            assert time.perf_counter() - hanging_since < TIMEOUT_S, "waited for the hangs"
            assert len(receiver.at("/hang")) <= 2 * share  # a share in each worker
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            codes = [worker.wait(3 * TIMEOUT_S) for worker in workers]
            ctx.close()
        assert codes == [0, 0]
        received = Counter(
            verifier.verify_notification(b)["order_id"] for b in receiver.bodies("/ok")
        )
        assert len(received) == healthy_rows and set(received.values()) == {1}
