"""`paymux serve` on SQLite killed with SIGKILL under mixed load, ten times over.

Each worker thread plays one merchant integration through the vpay SDK:
create an order, pay it (sandbox API), refund part of it, move money between
its two accounts — one request at a time, so when the server dies each
worker has at most one request whose outcome it never heard. After every
restart that request is looked up and must be either wholly there or wholly
absent; at the end every acknowledged effect must be there, `paymux ledger
check` (the real CLI) must be clean and every paid order's notification must
have reached the merchant with a valid signature.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from paymux.dialects.vpay.client import VpayClient, VpayError
from tests.notify.receiver import Receiver
from tests.processes import paymux_env, run_cli, serve

KILLS = 10
WORKERS = 3
TOKEN = "crash-" + secrets.token_hex(8)
REFUND = 100
MOVE = 7
STATUS_OF = {(False, 0): 0, (True, 0): 1, (True, REFUND): 3}  # vpay status codes


@dataclass
class Order:
    amount: int
    paid: bool = False
    refunded: int = 0


@dataclass
class Worker:
    """One merchant's integration and its model of what paymux must hold."""

    index: int
    app_id: str
    secret: str
    accounts: tuple[str, str] = ("", "")
    balances: list[int] = field(default_factory=lambda: [0, 0])
    orders: dict[str, Order] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)  # created without an answer, never committed
    in_flight: tuple[str, str] | None = None  # (operation, merchant order no) without an answer
    acknowledged: int = 0
    errors: list[str] = field(default_factory=list)

    def client(self, base_url: str) -> VpayClient:
        return VpayClient(base_url, self.app_id, self.secret, timeout=30)

    def run(self, client: VpayClient, admin: httpx.Client, url: str) -> None:
        """Requests until the server dies under them; a refusal is a bug, not a crash."""
        try:
            while True:
                no = f"W{self.index}-{len(self.orders) + len(self.absent)}"
                created = self._do("create", no, client.create_order, no, 1000, notify_url=url)
                self.orders[no] = Order(1000)
                order_id = created["order_id"]
                self._do("pay", no, _sandbox_pay, admin, order_id)
                self.orders[no].paid = True
                self._do("refund", no, client.refund, f"R-{no}", REFUND, order_id=order_id)
                self.orders[no].refunded = REFUND
                self._do("transfer", no, client.transfer, *self.accounts, MOVE, signed=True)
                self.balances[0] -= MOVE
                self.balances[1] += MOVE
        except (httpx.TransportError, ConnectionError):
            return  # the server died: `in_flight` holds what was asked and never answered
        except VpayError as exc:
            self.errors.append(f"{self.in_flight}: {exc} ({exc.status})")

    def _do(self, operation: str, no: str, call: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        self.in_flight = (operation, no)
        result = call(*args, **kw)
        self.in_flight = None
        self.acknowledged += 1
        return result

    def resolve(self, client: VpayClient) -> None:
        """Decide the unanswered request from what paymux holds: all of it, or none of it."""
        if self.in_flight is None:
            return
        operation, no = self.in_flight
        self.in_flight = None
        if operation == "create":
            try:
                order = client.query_order(merchant_order_id=no)
            except VpayError as exc:
                assert exc.code == "ORDER.NOT_FOUND", exc
                self.absent.add(no)
                return
            assert order["amount"] == 1000 and order["status"] == 0, order
            self.orders[no] = Order(1000)
        elif operation == "pay":
            status = client.query_order(merchant_order_id=no)["status"]
            assert status in (0, 1), (no, status)
            self.orders[no].paid = status == 1
        elif operation == "refund":
            refunded = client.query_order(merchant_order_id=no)["refunded_amount"]
            assert refunded in (0, REFUND), (no, refunded)
            self.orders[no].refunded = refunded
        else:
            source, target = (client.account_info(a, signed=True) for a in self.accounts)
            moved = self.balances[0] - source["balance"]
            arrived = target["balance"] - self.balances[1]
            assert moved == arrived and moved in (0, MOVE), (moved, arrived)  # never half a move
            self.balances[0] -= moved
            self.balances[1] += moved

    def check(self, client: VpayClient) -> list[str]:
        """Every order and balance as the model says; the order ids that were paid."""
        paid = []
        for no, model in self.orders.items():
            order = client.query_order(merchant_order_id=no)
            expected = (model.amount, STATUS_OF[(model.paid, model.refunded)], model.refunded)
            assert (order["amount"], order["status"], order["refunded_amount"]) == expected, no
            if model.paid:
                paid.append(order["order_id"])
        for no in self.absent:
            try:
                client.query_order(merchant_order_id=no)
            except VpayError as exc:
                assert exc.code == "ORDER.NOT_FOUND", exc
            else:
                raise AssertionError(f"{no} was never committed but exists")
        for account, balance in zip(self.accounts, self.balances, strict=True):
            assert client.account_info(account, signed=True)["balance"] == balance, account
        return paid


def _sandbox_pay(admin: httpx.Client, order_id: str) -> None:
    response = admin.post(f"/sandbox/v1/orders/{order_id}/pay")
    if response.status_code != 200:
        raise VpayError("SANDBOX", response.text, response.status_code)


def _setup(base_url: str, admin: httpx.Client) -> list[Worker]:
    workers = []
    for index in range(WORKERS):
        created = admin.post("/admin/v1/merchants", json={"name": f"crash {index}"})
        assert created.status_code == 201, created.text
        vpay = created.json()["vpay"]
        worker = Worker(index, vpay["app_id"], vpay["secret_key"])
        client = worker.client(base_url)
        source, target = (client.create_account(signed=True)["account_id"] for _ in range(2))
        client.recharge(source, 1_000_000, signed=True)
        worker.accounts, worker.balances = (source, target), [1_000_000, 0]
        workers.append(worker)
    return workers


def test_sigkill_under_mixed_load_loses_and_half_writes_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("PAYMUX_CRASH_SEED", secrets.randbelow(10**6)))
    rng = random.Random(seed)
    env = paymux_env(
        tmp_path / "data",
        PAYMUX_ADMIN_TOKEN=TOKEN,
        PAYMUX_NOTIFY_TIMEOUT_S="2",
        PAYMUX_NOTIFY_LEASE_S="3",  # rows claimed by a killed process are due again soon
    )
    log = tmp_path / "serve.log"
    workers: list[Worker] = []
    with Receiver() as receiver:
        for round_no in range(KILLS + 1):
            with (
                serve(env, log) as server,
                httpx.Client(
                    base_url=server.base_url,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=30,
                ) as admin,
            ):
                if round_no == 0:
                    workers = _setup(server.base_url, admin)
                for worker in workers:
                    worker.resolve(worker.client(server.base_url))
                if round_no == KILLS:
                    _final_checks(server.base_url, admin, workers, receiver, seed)
                    break
                threads = [
                    threading.Thread(
                        target=worker.run,
                        args=(worker.client(server.base_url), admin, receiver.url()),
                        daemon=True,
                    )
                    for worker in workers
                ]
                for thread in threads:
                    thread.start()
                time.sleep(rng.uniform(0.2, 1.5))
                server.kill()
                for thread in threads:
                    thread.join(30)
                    assert not thread.is_alive(), f"a worker hung (seed {seed})"
                assert not [e for w in workers for e in w.errors], (seed, log.read_text()[-3000:])

    checked = run_cli(env, "ledger", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ledger clean" in checked.stdout


def _final_checks(
    base_url: str, admin: httpx.Client, workers: list[Worker], receiver: Receiver, seed: int
) -> None:
    acknowledged = sum(w.acknowledged for w in workers)
    assert acknowledged >= 4 * KILLS, f"too little load to mean anything: {acknowledged}"
    paid: dict[str, Worker] = {}
    for worker in workers:
        for order_id in worker.check(worker.client(base_url)):
            paid[order_id] = worker

    def notified() -> set[str]:
        """Paid orders whose payment notification (not a refund's) arrived signed with their
        merchant's secret."""
        found = set()
        for request in list(receiver.requests):
            fields = msgspec.json.decode(request.body)
            owner = paid.get(fields.get("order_id", ""))
            if owner is not None and "refund_id" not in fields:
                found.add(owner.client(base_url).verify_notification(request.body)["order_id"])
        return found

    rows: dict[str, dict[str, Any]] = {}
    for worker in workers:
        rows.update(
            (row["ref"], row)
            for row in _notifications(admin, worker.app_id)
            if row["event"] == "order.paid"
        )
    # A paid order and its notification row commit together, or neither does.
    assert set(rows) == set(paid), (
        seed,
        {"paid without a row": set(paid) - set(rows), "row but not paid": set(rows) - set(paid)},
    )
    # Rows leased by a killed process are due again when the lease runs out.
    deadline = time.monotonic() + 30
    while missing := set(paid) - notified():
        detail = [admin.get(f"/admin/v1/notifications/{rows[o]['id']}").json() for o in missing]
        assert time.monotonic() < deadline, (seed, detail)
        time.sleep(0.1)


def _notifications(admin: httpx.Client, merchant_id: str) -> list[dict[str, Any]]:
    """Every notification row of a merchant, page by page: an unloaded machine makes more
    than one page's worth (1,000) in the test's ten rounds."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"merchant_id": merchant_id, "limit": 1000}
    while True:
        listed = admin.get("/admin/v1/notifications", params=params)
        assert listed.status_code == 200, listed.text
        page = listed.json()
        found += page["notifications"]
        if page["next_before_id"] is None:
            return found
        params["before_id"] = page["next_before_id"]
