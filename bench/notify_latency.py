"""Notifications: pay → merchant receives latency, and delivery throughput (issue 3).

    .venv/bin/python -m bench.notify_latency                 # 1,000 payments, 10,000 rows
    .venv/bin/python -m bench.notify_latency --payments 1000 --rows 10000 --runs 3

Latency: `paymux serve` (embedded SQLite, `synchronous=FULL`, dispatcher
in-process) runs as its own process; this process is the merchant (a raw
asyncio HTTP receiver on loopback) and pays 1,000 vpay orders one after the
other through the sandbox API. Each sample is from just before the pay request
is sent to the moment the receiver has read the whole notification.

Throughput: `--rows` due vpay notifications (signed by the vpay notifier,
written by the outbox service, one commit) in a fresh SQLite database, then one
`paymux worker` process delivers them to the same receiver. Reported as rows
per second from the first to the last receipt (worker start-up excluded), and
the median over `--runs`.

Results are written into docs/performance.md by hand (section "Notifications").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.servers import cpu_seconds
from paymux.app import register_notifiers
from paymux.config import Settings
from paymux.context import build_context
from paymux.dialects.vpay.client import VpayClient
from paymux.services import merchants
from tests.harness import free_port
from tests.notify.conftest import due_vpay_notifications
from tests.notify.receiver import Receiver

PAYMUX = str(Path(sys.executable).with_name("paymux"))


@contextlib.contextmanager
def paymux(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`paymux <args>` as its own process; its output goes to `log` (shown if it fails)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PAYMUX, *args],
            env={**os.environ, "PAYMUX_LOG_LEVEL": "WARNING", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    except BaseException:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(payments: int, work: Path, receiver: Receiver) -> list[float]:
    port, token = free_port(), secrets.token_urlsafe(16)
    env = {"PAYMUX_DATA_DIR": str(work / "latency"), "PAYMUX_ADMIN_TOKEN": token}
    env["PAYMUX_DATABASE_URL"] = ""
    base = f"http://127.0.0.1:{port}"
    with (
        paymux(["serve", "--port", str(port)], env, work / "serve.log"),
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as admin,
    ):
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if admin.get("/metrics").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("paymux serve did not come up")
            time.sleep(0.1)
        creds = admin.post("/admin/v1/merchants", json={"name": "bench"}).json()["vpay"]
        client = VpayClient(base, creds["app_id"], creds["secret_key"])
        order_ids = [
            client.create_order(f"B-{i}", 100, "QR_CODE", notify_url=receiver.url())["order_id"]
            for i in range(payments)
        ]
        samples = []
        for n, order_id in enumerate(order_ids, start=1):
            sent = time.perf_counter()
            assert admin.post(f"/sandbox/v1/orders/{order_id}/pay").status_code == 200
            while len(receiver.requests) < n:
                time.sleep(0.0002)
            samples.append((receiver.requests[n - 1].at - sent) * 1000)
    return samples


def throughput(rows: int, work: Path, receiver: Receiver) -> tuple[float, float]:
    """(rows/s from first to last receipt, worker CPU ms per row over the same span)."""
    receiver.requests.clear()
    data_dir = work / f"throughput-{secrets.token_hex(4)}"
    ctx = build_context(Settings(data_dir=data_dir))
    register_notifiers(ctx)
    merchant_id = ctx.store.write_sync(merchants.create_merchant, "bench").merchant.id
    ctx.store.write_sync(due_vpay_notifications, merchant_id, receiver.url(), rows)
    ctx.close()
    env = {"PAYMUX_DATA_DIR": str(data_dir), "PAYMUX_DATABASE_URL": ""}
    with paymux(["worker"], env, data_dir / "worker.log") as worker:
        receiver.wait_for(lambda: len(receiver.requests) >= 1, timeout=60)
        cpu_first = cpu_seconds(worker.pid)
        receiver.wait_for(lambda: len(receiver.requests) >= rows, timeout=600)
        cpu_last = cpu_seconds(worker.pid)
    first, last = receiver.requests[0].at, receiver.requests[rows - 1].at
    return (rows - 1) / (last - first), (cpu_last - cpu_first) * 1000 / (rows - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp, Receiver() as receiver:
        work = Path(tmp)
        samples = latency(args.payments, work, receiver)
        print(
            f"pay → received over {len(samples)} payments: "
            f"p50 {percentile(samples, 0.50):.2f} ms, p90 {percentile(samples, 0.90):.2f} ms, "
            f"p99 {percentile(samples, 0.99):.2f} ms, max {max(samples):.2f} ms"
        )
        runs = [throughput(args.rows, work, receiver) for _ in range(args.runs)]
        rates = [rate for rate, _ in runs]
        cpu_ms = statistics.median(cpu for _, cpu in runs)
        print(
            f"delivery throughput, {args.rows} rows, one worker: "
            f"median {statistics.median(rates):,.0f}/s (runs: "
            + ", ".join(f"{r:,.0f}" for r in rates)
            + f"); worker CPU {cpu_ms:.3f} ms per delivery"
            f" (= {1000 / cpu_ms:,.0f}/s on one free core)"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
