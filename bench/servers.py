"""The processes a benchmark loads: `paymux serve` on SQLite or PostgreSQL, and the bare baseline.

Each server is a real OS process started the way an operator starts it, so the
load generator, the server and the database never share an interpreter. Setup
data (orders to pay, accounts to move money between) is written through the
services from this process, straight into the server's database: it is
preparation, not what is measured, and going through HTTP would only be slower.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from paymux.config import Settings
from paymux.context import Context, build_context
from paymux.http_protocol import PROTOCOL
from tests.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_URL = os.environ.get("PAYMUX_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("PAYMUX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BENCH_DB = "paymux_bench"


@dataclass(frozen=True)
class Config:
    """Where and how paymux runs: the backend and the number of server processes."""

    key: str
    backend: str  # sqlite | postgresql
    workers: int

    @property
    def label(self) -> str:
        store = "SQLite (embedded)" if self.backend == "sqlite" else "PostgreSQL + Redis"
        return f"{store}, {self.workers} worker{'s' if self.workers > 1 else ''}"


CONFIGS = {
    c.key: c
    for c in (
        Config("sqlite", "sqlite", 1),
        Config("pg1", "postgresql", 1),
        Config("pg2", "postgresql", 2),
    )
}


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in task.read_text().split()]
    return found


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.1)


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Server:
    """A running server: where it listens and which processes serve requests."""

    base_url: str
    proc: subprocess.Popen[bytes]
    workers: int

    def worker_pids(self) -> list[int]:
        """The processes that handle requests (uvicorn's children when there are several)."""
        if self.workers == 1:
            return [self.proc.pid]
        return children(self.proc.pid)


@contextlib.contextmanager
def baseline(workers: int, work: Path) -> Iterator[Server]:
    """The bare stack (Litestar + msgspec on uvicorn, `bench/hello.py`) with as many workers."""
    port = free_port()
    cmd = [str(VENV_BIN / "uvicorn"), "bench.hello:app", "--port", str(port)]
    cmd += ["--http", PROTOCOL, "--no-access-log", "--log-level", "warning"]
    if workers > 1:  # behind the same supervisor as `paymux serve --workers N`
        serve = f"serve('bench.hello:app', host='127.0.0.1', port={port}, workers={workers})"
        cmd = [str(VENV_BIN / "python"), "-c", f"from paymux.workers import serve; {serve}"]
    with process(cmd, dict(os.environ), work / f"baseline-{workers}.log") as proc:
        server = Server(f"http://127.0.0.1:{port}", proc, workers)
        wait_http(server.base_url + "/hello", proc)
        while len(server.worker_pids()) < workers:
            time.sleep(0.1)
        yield server


def fresh_pg_database() -> str:
    """Drop and create the benchmark's own database; returns its URL."""
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    return f"{PG_URL}/{BENCH_DB}"


@dataclass
class Paymux(Server):
    token: str
    settings: Settings
    config: Config

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method,
            self.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def new_merchant(self, name: str) -> dict[str, Any]:
        """A merchant with credentials for every dialect and no rate limit."""
        return self.admin("POST", "/admin/v1/merchants", {"name": name})

    @contextlib.contextmanager
    def context(self) -> Iterator[Context]:
        """Direct access to the server's database through the services, for setup."""
        ctx = build_context(self.settings, migrate=False, single_process=False)
        try:
            yield ctx
        finally:
            ctx.close()


@contextlib.contextmanager
def paymux(config: Config, work: Path) -> Iterator[Paymux]:
    """`paymux serve` in `config`, on a fresh database, with durable commits."""
    port = free_port()
    token = secrets.token_hex(16)
    data_dir = work / f"paymux-{config.key}"
    database_url = fresh_pg_database() if config.backend == "postgresql" else ""
    redis_url = REDIS_URL if config.backend == "postgresql" else ""
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"bench{secrets.token_hex(4)}:",
        admin_token=token,
        master_key=secrets.token_hex(32),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMUX_")}
    env.update(
        PAYMUX_DATA_DIR=str(data_dir),
        PAYMUX_DATABASE_URL=database_url,
        PAYMUX_REDIS_URL=redis_url,
        PAYMUX_REDIS_PREFIX=settings.redis_prefix,
        PAYMUX_ADMIN_TOKEN=token,
        PAYMUX_MASTER_KEY=settings.master_key,
        PAYMUX_LOG_LEVEL="WARNING",
    )
    cmd = [str(VENV_BIN / "paymux"), "serve", "--port", str(port)]
    cmd += ["--workers", str(config.workers)]
    with process(cmd, env, work / f"paymux-{config.key}.log") as proc:
        server = Paymux(f"http://127.0.0.1:{port}", proc, config.workers, token, settings, config)
        wait_http(server.base_url + "/api/v1/health-probe", proc)
        while len(server.worker_pids()) < config.workers:
            time.sleep(0.1)
        yield server
