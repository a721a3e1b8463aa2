"""Start paymux and a bare baseline, load each with wrk, and write docs/performance.md.

    make bench                    # or: .venv/bin/python -m bench.run --runs 3 --seconds 10

Scenarios are measured in one run on one machine: paymux's signed vpay
create-order (durable SQLite, one worker) against the same stack's bare POST
echo. The medians of `--runs` repetitions are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from paymux.dialects.vpay.client import VpayClient

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).parent / "replay.lua"
VENV_BIN = Path(sys.executable).parent


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mb: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, connections: int, seconds: int, bodies: Path | None, pid: int, name: str
) -> Result:
    env = {**os.environ, "WRK_THREADS": "1"}
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if bodies is not None:
        env["BODIES"] = str(bodies)
        cmd[1:1] = ["-s", str(LUA)]
    peak = 0.0
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    while proc.poll() is None:
        peak = max(peak, rss_mb(pid))
        time.sleep(0.5)
    out = proc.stdout.read() if proc.stdout else ""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return Result(name, rps, p50, p99, errors, peak)


def signed_bodies(client: VpayClient, path: Path, count: int) -> None:
    run = secrets.token_hex(4)
    with path.open("w") as out:
        for i in range(count):
            params = client.sign_params(
                {
                    "merchant_order_id": f"B{run}{i}",
                    "amount": 100 + i % 900,
                    "channel": "QR_CODE",
                    "product_desc": "bench order",
                }
            )
            out.write(json.dumps(params, separators=(",", ":")) + "\n")


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def bench_create_order(args: argparse.Namespace, work: Path) -> list[Result]:
    port = free_port()
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "PAYMUX_DATA_DIR": str(work / "paymux-data"),
        "PAYMUX_ADMIN_TOKEN": token,
        "PAYMUX_LOG_LEVEL": "WARNING",
    }
    env.pop("PAYMUX_DATABASE_URL", None)
    server = start([str(VENV_BIN / "paymux"), "serve", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/api/v1/nothing")
        merchant = httpx.post(
            base + "/admin/v1/merchants",
            json={"name": "bench"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        client = VpayClient(base, merchant["vpay"]["app_id"], merchant["vpay"]["secret_key"])
        results = []
        for run in range(args.runs):
            bodies = work / f"bodies-{run}.jsonl"
            signed_bodies(client, bodies, args.bodies)
            results.append(
                wrk(
                    base + "/api/v1/orders/create",
                    args.connections,
                    args.seconds,
                    bodies,
                    server.pid,
                    "vpay signed create-order",
                )
            )
        return results
    finally:
        stop(server)


def bench_baseline(args: argparse.Namespace, work: Path) -> list[Result]:
    port = free_port()
    server = start(
        [
            str(VENV_BIN / "uvicorn"),
            "bench.hello:app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        dict(os.environ),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/hello")
        body = work / "echo.jsonl"
        signed = {
            "app_id": "M" * 19,
            "merchant_order_id": "B1",
            "amount": 100,
            "channel": "QR_CODE",
            "product_desc": "bench order",
            "nonce_str": "x" * 16,
            "timestamp": "20260101000000",
            "sign": "A" * 64,
        }
        body.write_text(json.dumps(signed) + "\n")
        return [
            wrk(
                base + "/echo",
                args.connections,
                args.seconds,
                body,
                server.pid,
                "bare POST echo (same stack)",
            )
            for _ in range(args.runs)
        ]
    finally:
        stop(server)


def median(results: list[Result]) -> Result:
    return Result(
        results[0].name,
        statistics.median(r.rps for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
        max(r.rss_mb for r in results),
    )


def machine() -> str:
    cpu = "unknown cpu"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bodies", type=int, default=60_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        baseline = median(bench_baseline(args, work))
        paymux = median(bench_create_order(args, work))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(
        f"machine: {machine()}  commit: {commit}  connections: {args.connections}  "
        f"runs: {args.runs} x {args.seconds}s (medians)"
    )
    print("| scenario | req/s | p50 ms | p99 ms | non-2xx | peak RSS MB | ratio to baseline |")
    print("|---|---|---|---|---|---|---|")
    for result in (baseline, paymux):
        print(
            f"| {result.name} | {result.rps:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} "
            f"| {result.errors} | {result.rss_mb:.0f} | {result.rps / baseline.rps:.2f} |"
        )


if __name__ == "__main__":
    main()
