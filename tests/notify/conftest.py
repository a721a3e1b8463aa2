"""Notification test helpers: a vpay merchant, paid orders that notify, the admin view of a row."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from paymux.dialects.vpay.client import VpayClient
from paymux.services import orders
from paymux.services.notifications import notify_order
from paymux.store.uow import UnitOfWork
from tests.harness import BACKENDS, Server, run_server
from tests.notify.receiver import Receiver

SCHEDULE = (0, 5, 10, 30, 60, 120)  # vpay's, from RULINGS.md


@dataclass
class Merchant:
    server: Server
    merchant_id: str
    client: VpayClient

    def paid_order(self, notify_url: str) -> str:
        """Create an order that notifies `notify_url` and pay it; returns the order id."""
        order = self.client.create_order(
            "N-" + secrets.token_hex(6), 1234, "QR_CODE", notify_url=notify_url
        )
        response = self.server.sandbox_pay(order["order_id"])
        assert response.status_code == 200, response.text
        return order["order_id"]

    def notification(self, order_id: str) -> dict[str, Any]:
        """The admin API's full view of the order's notification (row, bytes, attempt log)."""
        listed = self.server.admin(
            "GET", f"/admin/v1/notifications?merchant_id={self.merchant_id}&limit=1000"
        )
        assert listed.status_code == 200, listed.text
        (row,) = [n for n in listed.json()["notifications"] if n["ref"] == order_id]
        return show(self.server, row["id"])

    def wait_attempts(self, order_id: str, count: int, timeout: float = 10) -> dict[str, Any]:
        """Poll until the notification has `count` attempts logged (no test clock involved)."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.notification(order_id)
            if len(view["attempt_log"]) >= count:
                return view
            assert time.monotonic() < deadline, view
            time.sleep(0.02)


def due_vpay_notifications(uow: UnitOfWork, merchant_id: str, url: str, count: int) -> None:
    """One real payment, then the vpay notifier's signed bytes for `count - 1` more payments
    of it under other order numbers, written by the outbox service: `count` due rows in one
    commit, for the scale test and the throughput benchmark (paying that many orders through
    the ledger would only make them slower to set up)."""
    order, _ = orders.create_order(
        uow, orders.CreateOrder(merchant_id, "W-0", "vpay", "QR_CODE", 100, notify_url=url)
    )
    paid = orders.pay_order(uow, order.order_no)  # writes the first notification itself
    for i in range(1, count):
        twin = replace(paid, order_no=str(int(paid.order_no) + i), merchant_order_no=f"W-{i}")
        notify_order(uow, "order.paid", twin)


def show(server: Server, notification_id: int) -> dict[str, Any]:
    response = server.admin("GET", f"/admin/v1/notifications/{notification_id}")
    assert response.status_code == 200, response.text
    return response.json()


def new_merchant(server: Server) -> Merchant:
    created = server.create_merchant("notify merchant")
    creds = created["vpay"]
    return Merchant(
        server,
        created["merchant_id"],
        VpayClient(server.base_url, creds["app_id"], creds["secret_key"]),
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rec:
        yield rec


@pytest.fixture(scope="module", params=BACKENDS)
def quick_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose delivery attempts time out after 1 s (merchants that hang)."""
    with run_server(tmp_path_factory.mktemp("quick"), request.param, notify_timeout_s=1.0) as srv:
        yield srv


PAYMUX = str(Path(sys.executable).with_name("paymux"))


def start_paymux(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`paymux <args>` as a process of its own (output to `log`), as an operator runs it."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [PAYMUX, *args],
            env={**os.environ, "PAYMUX_LOG_LEVEL": "INFO", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for_log(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"{text!r} not in {log}"
        time.sleep(0.05)
