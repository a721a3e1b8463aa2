"""PostgreSQL stopped and started again under load, on a private cluster.

While it is down every dialect answers at once with its own "unavailable,
try again" (HTTP 503); once it is back every dialect works again, and every
write that was acknowledged — before, during or after — is there. The
notification dispatcher, which keeps trying the database meanwhile, logs the
outage once with its traceback and once more when it is over.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from paymux.dialects.vpay.client import VpayClient, VpayError
from tests.faults.conftest import UNAVAILABLE, Integrations, private_cluster
from tests.processes import paymux_env, serve

TOKEN = "faults-" + secrets.token_hex(8)
# Long enough for the dispatcher's loops to fail several times (they try every second).
OUTAGE_S = 4.0


class Load:
    """Orders created back to back from a thread; each acknowledged one is remembered."""

    def __init__(self, client: VpayClient) -> None:
        self.client = client
        self.acknowledged: list[str] = []
        self.refusals: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            no = "L-" + secrets.token_hex(8)
            try:
                self.client.create_order(no, 100)
            except VpayError as exc:
                self.refusals[exc.code] = self.refusals.get(exc.code, 0) + 1
                time.sleep(0.05)
                continue
            self.acknowledged.append(no)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(30)


def test_postgres_down_is_a_503_in_every_dialect_and_loses_no_write(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        env = paymux_env(
            tmp_path / "data", PAYMUX_DATABASE_URL=cluster.url, PAYMUX_ADMIN_TOKEN=TOKEN
        )
        with (
            serve(env, tmp_path / "serve.log") as server,
            httpx.Client(
                base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}
            ) as admin,
        ):
            integrations = Integrations(server.base_url, admin)
            before = integrations.outcomes()
            assert all(o.status < 500 for o in before.values()), before
            vpay = integrations.credentials["vpay"]
            load_client = VpayClient(server.base_url, vpay["app_id"], vpay["secret_key"])
            with Load(load_client) as load:
                time.sleep(0.5)
                cluster.ctl("stop")
                down = integrations.outcomes()
                assert down == UNAVAILABLE, down
                time.sleep(OUTAGE_S)  # the load keeps knocking
                cluster.ctl("start")
                after = integrations.wait_until_available()
                assert after.keys() == before.keys()
                time.sleep(0.5)
            recovered = _wait_for_event(tmp_path / "serve.log", "notify_db_recovered")
            assert set(load.refusals) <= {"SYSTEM.UNAVAILABLE"}, load.refusals
            assert load.refusals, "the load never met the outage"
            assert len(load.acknowledged) > 5, load.acknowledged
            for no in load.acknowledged:  # no acknowledged write was lost
                assert load_client.query_order(merchant_order_id=no)["amount"] == 100
            # No request took the unexpected-error path (a 500 with a logged stack trace).
            assert "unhandled_error" not in (tmp_path / "serve.log").read_text()
            # The dispatcher's loops failed every second or so, but logged one traceback.
            tracebacks = [e for e in _events(tmp_path / "serve.log") if "exception" in e]
            assert len(tracebacks) == 1, [e["event"] for e in tracebacks]
            assert tracebacks[0]["event"] in DISPATCHER_FAILURES, tracebacks[0]
            assert recovered["failures"] >= 2 and recovered["down_s"] >= OUTAGE_S / 2, recovered


DISPATCHER_FAILURES = {
    "notify_claim_failed",
    "notify_clock_read_failed",
    "notify_record_failed",
    "job_failed",
}


def _events(log: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a `paymux serve` output (other lines are the start banner)."""
    events = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def _wait_for_event(log: Path, name: str, timeout: float = 20) -> dict[str, Any]:
    """The first log line of event `name`, once it has been written; it must be the only one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in _events(log) if e.get("event") == name]
        if found:
            assert len(found) == 1, found
            return found[0]
        assert time.monotonic() < deadline, f"no {name} in {log}"
        time.sleep(0.1)
