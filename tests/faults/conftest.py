"""Fault-test helpers: private PostgreSQL clusters and Redis servers, and one merchant speaking
every dialect through its SDK with each reply's HTTP status and the dialect's own error code.

The shared PostgreSQL cluster and Redis of the machine are used by other test
runs at the same time, so a test that stops a database stops one of its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymux.dialects.gateway.client import GatewayClient, GatewayError
from paymux.dialects.partner.client import PartnerClient, PartnerError
from paymux.dialects.paymodule.client import PaymoduleClient, PaymoduleError
from paymux.dialects.skillpay.client import SkillpayClient, SkillpayError
from paymux.dialects.vpay.client import VpayClient, VpayError
from tests.harness import free_port

DATA = Path(__file__).parent.parent / "data"


# -- a PostgreSQL cluster of the test's own -------------------------------------------------


@dataclass
class Cluster:
    version: str
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, action: str) -> None:
        """`pg_ctlcluster VERSION NAME start|stop|restart` (stop is a fast shutdown)."""
        subprocess.run(
            ["pg_ctlcluster", self.version, self.name, action],
            check=True,
            capture_output=True,
            timeout=60,
        )


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A new cluster on a free port with trust auth, dropped at the end; skips where impossible."""
    if shutil.which("pg_createcluster") is None or not Path("/usr/lib/postgresql").is_dir():
        pytest.skip("needs Debian's pg_createcluster")
    if os.geteuid() != 0:
        pytest.skip("pg_createcluster needs root")
    version = max(os.listdir("/usr/lib/postgresql"), key=int)
    cluster = Cluster(version, "faults" + secrets.token_hex(3), free_port())
    subprocess.run(
        [
            *("pg_createcluster", version, cluster.name, "-p", str(cluster.port)),
            *("--start-conf", "manual", "--", "--auth=trust"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        cluster.ctl("start")
        yield cluster
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", version, cluster.name], capture_output=True, timeout=60
        )


# -- a Redis server of the test's own -------------------------------------------------------


@dataclass
class RedisServer:
    """`redis-server` on a free port, with an fsync'd append-only file so that a restart
    remembers the nonces it held, as a deployment's Redis must (docs/operations.md)."""

    directory: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("needs redis-server")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            assert self.proc.poll() is None and time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: Redis is gone at once, as when its host dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


# -- one merchant, every dialect ------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A reply as a merchant sees it: HTTP status and the dialect's error code ("" for success)."""

    status: int
    code: str


# What "the platform is unavailable, try again" looks like in each dialect.
UNAVAILABLE = {
    "vpay": Outcome(503, "SYSTEM.UNAVAILABLE"),
    "partner": Outcome(503, "9999"),
    "gateway": Outcome(503, "服务暂不可用"),
    "paymodule": Outcome(503, "503"),
    "skillpay": Outcome(503, "SYSTEM_UNAVAILABLE"),
}


def code_of(exc: Exception) -> str:
    """The dialect's own error code in any SDK's refusal."""
    if isinstance(exc, VpayError | PartnerError):
        return exc.code
    if isinstance(exc, GatewayError):
        return str(exc.body.get("message", "")).split(":", 1)[0]
    if isinstance(exc, PaymoduleError):
        return str(exc.code)
    if isinstance(exc, SkillpayError):
        return exc.err_code
    raise exc


class Integrations:
    """A merchant with credentials for every dialect (and a registered skill), each SDK
    sharing one HTTP client whose hook records the last reply's status."""

    def __init__(self, base_url: str, admin: httpx.Client, name: str = "faults") -> None:
        self.status = 0
        self.http = httpx.Client(timeout=30, event_hooks={"response": [self._record]})
        created = admin.post("/admin/v1/merchants", json={"name": name})
        assert created.status_code == 201, created.text
        creds = self.credentials = created.json()
        self.merchant_id = creds["merchant_id"]
        skill = admin.post(
            "/admin/v1/skills",
            json={
                "merchant_id": self.merchant_id,
                "public_key": (DATA / "tsk-test-public.pem").read_text(),
                "create_order_url": "https://skill.example/create-order",
                "ship_url": "https://skill.example/ship",
                "refund_notify_url": "https://skill.example/refund-notify",
            },
        )
        assert skill.status_code == 201, skill.text
        platform_key = httpx.get(base_url + "/paycgi/platform-key").text
        http = self.http
        self.vpay = VpayClient(
            base_url, creds["vpay"]["app_id"], creds["vpay"]["secret_key"], http=http
        )
        self.partner = PartnerClient(
            base_url, creds["partner"]["apiKey"], creds["partner"]["appSecret"], http=http
        )
        self.gateway = GatewayClient(
            base_url, creds["gateway"]["appid"], creds["gateway"]["secret"], http=http
        )
        self.paymodule = PaymoduleClient(base_url, creds["paymodule"]["apiKey"], http=http)
        self.skillpay = SkillpayClient(
            base_url,
            skill.json()["skillId"],
            (DATA / "tsk-test-private.pem").read_bytes(),
            platform_key,
            http=http,
        )

    def _record(self, response: httpx.Response) -> None:
        self.status = response.status_code

    def probes(self) -> dict[str, Callable[[], Any]]:
        """One authenticated call per dialect that needs the database (and the nonce store)."""
        return {
            "vpay": lambda: self.vpay.create_order("P-" + secrets.token_hex(6), 100),
            "partner": lambda: self.partner.query_payment("no-such-order"),
            "gateway": lambda: self.gateway.check_order("no-such-order"),
            "paymodule": lambda: self.paymodule.get_order(1),
            "skillpay": lambda: self.skillpay.order_query(trade_no="no-such-order"),
        }

    def outcomes(self) -> dict[str, Outcome]:
        """Every probe's outcome; a probe that takes over 5 s fails the test (fail fast)."""
        result = {}
        for dialect, probe in self.probes().items():
            started = time.monotonic()
            try:
                probe()
                code = ""
            except Exception as exc:  # each SDK's own error type
                code = code_of(exc)
            assert time.monotonic() - started < 5, f"{dialect} took too long to answer"
            result[dialect] = Outcome(self.status, code)
        return result

    def wait_until_available(self, timeout: float = 30) -> dict[str, Outcome]:
        """Probe every dialect until none answers 503 (the outage is over); their outcomes."""
        deadline = time.monotonic() + timeout
        while True:
            outcomes = self.outcomes()
            if all(outcome.status != 503 for outcome in outcomes.values()):
                return outcomes
            assert time.monotonic() < deadline, outcomes
            time.sleep(0.2)
