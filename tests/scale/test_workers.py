"""`paymux serve --workers N` (`paymux/workers.py`): a listening socket per worker, so the
kernel spreads connections; a worker that dies is replaced; a taken port is one clear
error; stopping serve stops its workers."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.harness import PG_URL, free_port, pg_schema
from tests.processes import Process, paymux_env, run_cli, serve

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PAYMUX_TEST_DATABASE_URL")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with pg_schema() as database_url:
        env = paymux_env(
            tmp_path_factory.mktemp("workers"),
            PAYMUX_DATABASE_URL=database_url,
            PAYMUX_ADMIN_TOKEN="w-" + secrets.token_hex(8),
            PAYMUX_MASTER_KEY=secrets.token_hex(16),
        )
        assert run_cli(env, "db", "upgrade").returncode == 0
        yield env


def workers_of(server: Process) -> list[int]:
    """The serving processes under `paymux serve` (not multiprocessing's resource tracker)."""
    found = []
    for pid in _children(server.proc.pid):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"multiprocessing.spawn" in cmdline and b"resource_tracker" not in cmdline:
                found.append(pid)
    return found


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def sockets_on(port: int, state: str) -> set[int]:
    """Inodes of the TCP sockets on local `port` in `state` (0A listening, 01 established)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    inodes.add(int(fields[9]))
    return inodes


def held_by(pid: int, inodes: set[int]) -> set[int]:
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                held.add(int(target[8:-1]))
    return held & inodes


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def port_of(server: Process) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def test_each_worker_listens_on_its_own_socket_and_connections_spread(env, tmp_path):
    with serve(env, tmp_path / "out.log", "--workers", "2") as server:
        wait_for(lambda: len(workers_of(server)) == 2)
        port = port_of(server)
        listening = sockets_on(port, "0A")
        workers = workers_of(server)
        owned = [held_by(pid, listening) for pid in workers]
        assert len(listening) == 2 and all(len(mine) == 1 for mine in owned), owned
        assert owned[0] != owned[1]

        clients = [httpx.Client(base_url=server.base_url) for _ in range(32)]
        with ThreadPoolExecutor(32) as pool:  # a burst, as a load test or a pool opens them
            statuses = list(pool.map(lambda c: c.get("/api/health").status_code, clients))
        assert set(statuses) == {200}, statuses
        established = sockets_on(port, "01")
        per_worker = [len(held_by(pid, established)) for pid in workers]
        for client in clients:
            client.close()
    assert sum(per_worker) == 32, per_worker
    assert min(per_worker) >= 4, per_worker  # by hash: below 4 of 32 is a 1-in-10⁶ draw


def test_a_worker_that_dies_is_replaced_and_stopping_serve_stops_the_workers(env, tmp_path):
    with serve(env, tmp_path / "out.log", "--workers", "2") as server:
        wait_for(lambda: len(workers_of(server)) == 2)
        first = workers_of(server)
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: len(workers_of(server)) == 2 and first[0] not in workers_of(server))
        wait_for(lambda: all(_probe(server.base_url) == 200 for _ in range(8)))
        workers = workers_of(server)
    for pid in workers:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists() or _zombie(pid), timeout=20)


def _probe(base_url: str) -> int:
    try:
        return httpx.get(base_url + "/api/health", timeout=5).status_code
    except httpx.HTTPError:
        return 503


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return True


def test_a_port_in_use_is_one_clear_error(env, tmp_path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = run_cli(env, "serve", "--port", str(port), "--workers", "2")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
