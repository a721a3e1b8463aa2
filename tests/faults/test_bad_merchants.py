"""Broken merchant endpoints do not hold up anyone else's notifications.

tests/notify checks that each kind of broken endpoint (hang, reset, redirect,
10 MB reply) is a failed, retried attempt. Here they all misbehave at once,
several rows each, while a healthy merchant is being paid: its notifications
must arrive without waiting for the broken ones' timeout, and the dispatcher
must still be delivering once they have timed out.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.harness import BACKENDS, run_server
from tests.notify.conftest import new_merchant
from tests.notify.receiver import Receiver

TIMEOUT_S = 8.0
BROKEN = ("hang", "close", "redirect", "huge")


@pytest.mark.parametrize("backend", BACKENDS)
def test_broken_merchants_do_not_hold_up_healthy_ones(tmp_path: Path, backend: str) -> None:
    with (
        Receiver() as receiver,
        run_server(tmp_path, backend, notify_timeout_s=TIMEOUT_S) as server,
    ):
        receiver.modes.update({f"/{mode}": mode for mode in BROKEN})
        broken = {mode: new_merchant(server) for mode in BROKEN}
        healthy = new_merchant(server)
        broken_orders = {
            merchant.paid_order(receiver.url(f"/{mode}")): merchant
            for _ in range(5)
            for mode, merchant in broken.items()
        }
        receiver.wait_for(lambda: len(receiver.bodies("/hang")) == 5)
        hanging_since = time.perf_counter()

        def pay_healthy() -> float:
            """Pay one order of the healthy merchant; seconds until its notification arrived."""
            before = len(receiver.bodies("/ok"))
            paid_at = time.perf_counter()
            order_id = healthy.paid_order(receiver.url("/ok"))
            receiver.wait_for(lambda: len(receiver.bodies("/ok")) > before, timeout=2 * TIMEOUT_S)
            arrived = next(r for r in receiver.requests[::-1] if r.path == "/ok")
            assert healthy.client.verify_notification(arrived.body)["order_id"] == order_id
            return arrived.at - paid_at

        # While five deliveries hang, the healthy merchant's go straight through.
        latencies = [pay_healthy() for _ in range(5)]
        assert time.perf_counter() - hanging_since < TIMEOUT_S, "measured after the hangs ended"
        assert max(latencies) < TIMEOUT_S / 2, latencies

        # Every broken row got its failed attempt, the hanging ones by the timeout...
        for order_id, merchant in broken_orders.items():
            view = merchant.wait_attempts(order_id, 1, timeout=3 * TIMEOUT_S)
            assert view["status"] == "PENDING" and not view["attempt_log"][0]["success"], view
        # ...and the dispatcher is still delivering afterwards.
        assert pay_healthy() < TIMEOUT_S / 2
        assert server.admin("GET", "/metrics").status_code == 200
