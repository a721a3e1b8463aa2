"""paymux as real OS processes (`paymux serve`, `paymux worker`), for multi-process tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness import free_port

PAYMUX = str(Path(sys.executable).parent / "paymux")


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def paymux_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a paymux process (docs/operations.md's contract)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMUX_")}
    env.update(PAYMUX_DATA_DIR=str(data_dir), PAYMUX_LOG_LEVEL="WARNING", **extra)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PAYMUX, *args], env=env, capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def serve(
    env: dict[str, str], log: Path, *args: str, errors: Path | None = None
) -> Iterator[Process]:
    """`paymux serve` on a free port; waits until it answers, terminates it at the end.

    Its output goes to `log`; its stderr (the JSON logs) to `errors` when given.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out, (errors or log).open("ab") as err:
        proc = subprocess.Popen(
            [PAYMUX, "serve", "--port", str(port), *args],
            env={**env, "PAYMUX_PUBLIC_URL": base_url},
            stdout=out,
            stderr=err if errors else subprocess.STDOUT,
        )
    process = Process(proc, base_url, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"paymux serve exited early:\n{log.read_text()[-3000:]}")
            try:
                httpx.get(base_url + "/api/v1/health-probe", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("paymux serve did not start") from None
                time.sleep(0.1)
        yield process
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
