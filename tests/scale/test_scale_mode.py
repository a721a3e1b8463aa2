"""Scale mode as deployed: two `paymux serve` and two `paymux worker` processes on PostgreSQL
and Redis behave as one platform.

A nonce used on one server is refused on the other, a merchant's rate limit is
counted across both, and every notification — written by either server — is
delivered by exactly one worker, once, while both workers take part. The
servers deliver nothing themselves (`PAYMUX_NOTIFY_EMBEDDED=0`).
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from paymux.dialects.vpay.client import VpayClient, VpayError
from tests.harness import PG_URL, REDIS_URL, pg_schema
from tests.notify.conftest import start_paymux, wait_for_log
from tests.notify.receiver import Receiver
from tests.processes import Process, paymux_env, run_cli, serve

pytestmark = pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="needs PAYMUX_TEST_DATABASE_URL and PAYMUX_TEST_REDIS_URL"
)

ORDERS = 200


@dataclass
class Platform:
    servers: tuple[Process, Process]
    workers: list[subprocess.Popen[bytes]]
    worker_logs: list[Path]
    receiver: Receiver
    token: str

    def admin(self, server: int, method: str, path: str, body: object = None) -> httpx.Response:
        return httpx.request(
            method,
            self.servers[server].base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def clients(self, name: str) -> tuple[VpayClient, VpayClient, str]:
        """One merchant's vpay client on each server, and the merchant id."""
        created = self.admin(0, "POST", "/admin/v1/merchants", {"name": name})
        assert created.status_code == 201, created.text
        merchant = created.json()
        creds = merchant["vpay"]
        a, b = (VpayClient(s.base_url, creds["app_id"], creds["secret_key"]) for s in self.servers)
        return a, b, merchant["merchant_id"]

    def stop_workers(self) -> list[int]:
        """SIGTERM both workers; returns how many notifications each delivered."""
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        assert [worker.wait(30) for worker in self.workers] == [0, 0]
        return [
            json.loads(line)["delivered"]
            for log in self.worker_logs
            for line in log.read_text().splitlines()
            if '"worker_stopped"' in line
        ]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("scale-mode")
    token = "scale-" + secrets.token_hex(8)
    with pg_schema() as database_url, Receiver(delay_s=0.01) as receiver:
        shared = {
            "PAYMUX_DATABASE_URL": database_url,
            "PAYMUX_REDIS_URL": REDIS_URL,
            "PAYMUX_REDIS_PREFIX": f"t{secrets.token_hex(4)}:",
            "PAYMUX_ADMIN_TOKEN": token,
            "PAYMUX_MASTER_KEY": secrets.token_hex(16),
        }
        servers_env = {**shared, "PAYMUX_NOTIFY_EMBEDDED": "0"}
        upgraded = run_cli(paymux_env(tmp / "cli", **shared), "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        logs = [tmp / f"worker-{n}.log" for n in (1, 2)]
        with (
            serve(paymux_env(tmp / "a", **servers_env), tmp / "a.log") as a,
            serve(paymux_env(tmp / "b", **servers_env), tmp / "b.log") as b,
        ):
            workers = [
                start_paymux(
                    ["worker", "--concurrency", "16"],
                    {**shared, "PAYMUX_DATA_DIR": str(tmp / f"w{n}")},
                    log,
                )
                for n, log in enumerate(logs)
            ]
            try:
                for worker, log in zip(workers, logs, strict=True):
                    wait_for_log(log, "worker_started", worker)
                yield Platform((a, b), workers, logs, receiver, token)
            finally:
                for worker in workers:
                    if worker.poll() is None:
                        worker.kill()
                        worker.wait()


def test_a_nonce_used_on_one_server_is_refused_on_the_other(platform: Platform) -> None:
    a, b, _ = platform.clients("nonces")
    for first, second in ((a, b), (b, a)):
        params = first.sign_params(
            {"merchant_order_id": f"N-{secrets.token_hex(4)}", "amount": 100, "channel": "QR_CODE"}
        )
        first.unwrap(first.http.post(first.base + "/orders/create", json=params))
        with pytest.raises(VpayError) as replay:
            second.unwrap(second.http.post(second.base + "/orders/create", json=params))
        assert replay.value.code == "PAYMENT.DUPLICATE_REQUEST"


def test_a_rate_limit_is_counted_across_both_servers(platform: Platform) -> None:
    a, b, merchant_id = platform.clients("limits")
    limited = platform.admin(
        0, "POST", f"/admin/v1/merchants/{merchant_id}", {"rate_limit_per_s": 5}
    )
    assert limited.status_code == 200, limited.text
    outcomes = []
    for i in range(20):  # alternating; well inside two or three one-second windows
        try:
            (a, b)[i % 2].merchant_info()
            outcomes.append("ok")
        except VpayError as exc:
            outcomes.append(exc.code)
    assert set(outcomes) == {"ok", "PAYMENT.RATE_LIMIT_EXCEEDED"}, outcomes
    assert outcomes.count("ok") <= 15, outcomes  # a limit kept per server would admit all 20


def test_each_notification_is_delivered_by_exactly_one_worker(platform: Platform) -> None:
    a, b, _ = platform.clients("notifications")
    url = platform.receiver.url("/scale")

    def create_and_pay(i: int) -> str:
        client, server = (a, 0) if i % 2 else (b, 1)  # written by both servers
        order = client.create_order(f"S-{i}", 100 + i, "QR_CODE", notify_url=url)["order_id"]
        paid = platform.admin(server, "POST", f"/sandbox/v1/orders/{order}/pay")
        assert paid.status_code == 200, paid.text
        return order

    with ThreadPoolExecutor(8) as pool:
        paid = set(pool.map(create_and_pay, range(ORDERS)))
    platform.receiver.wait_for(lambda: len(platform.receiver.bodies("/scale")) >= ORDERS, 60)
    delivered = platform.stop_workers()  # nothing still in flight can arrive after this

    received = Counter(
        a.verify_notification(body)["order_id"] for body in platform.receiver.bodies("/scale")
    )
    assert set(received) == paid
    assert set(received.values()) == {1}, [o for o, n in received.items() if n > 1]
    assert sum(delivered) == ORDERS and min(delivered) > 0, delivered
