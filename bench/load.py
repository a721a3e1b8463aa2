"""The load generator: wrk replaying a file of pre-built, pre-signed requests.

Signing happens before a run, in this process, so the load generator costs the
server nothing extra and every request is distinct (its own order number and
nonce): each is real work, never a replay the server could refuse early.

The file holds one request per line: method, path, headers and body separated
by tabs, headers separated by the unit separator (0x1f). `replay.lua` reads it.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.servers import cpu_seconds, rss_mb

LUA = Path(__file__).with_name("replay.lua")


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        headers = "\x1f".join(f"{k}: {v}" for k, v in self.headers.items())
        line = f"{self.method}\t{self.path}\t{headers}\t{self.body}"
        if "\n" in line or line.count("\t") != 3:
            raise ValueError("a request line may hold no newline and no tab of its own")
        return line

    def send(self, base_url: str) -> httpx.Response:
        return httpx.request(
            self.method,
            base_url + self.path,
            content=self.body.encode() or None,
            headers=self.headers,
            timeout=30,
        )


def write_requests(path: Path, requests: Iterable[Request]) -> int:
    count = 0
    with path.open("w") as out:
        for request in requests:
            out.write(request.line() + "\n")
            count += 1
    return count


@dataclass(frozen=True, slots=True)
class Sample:
    """One wrk run: throughput, latency percentiles, failures, peak RSS of one worker, and the
    servers' CPU time per request — the figure least disturbed by a busy machine.

    `repeated` counts requests sent a second time because the run outlasted its file (they
    are refused, so such a run measures refusals); `failures` maps each non-2xx status to its
    count and the first body answered with it (recorded runs only).
    """

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    rss_mb: float
    cpu_ms: float
    repeated: int = 0
    failures: dict[int, tuple[int, str]] = field(default_factory=dict)

    def problems(self) -> str:
        """What went wrong in this run, in words ("" when every request was answered 2xx)."""
        said = [f"{self.errors} non-2xx answers or socket errors"] if self.errors else []
        said += [f"HTTP {s} ×{n}: {body}" for s, (n, body) in sorted(self.failures.items())]
        if self.repeated:
            said.append(f"the run outlasted its file: {self.repeated} requests sent twice")
        return "; ".join(said)


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _field(pattern: str, out: str) -> str:
    match = re.search(pattern, out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk output without {pattern!r}:\n{out}")
    return match.group(1)


def wrk(
    base_url: str,
    requests: Path,
    *,
    connections: int,
    seconds: float,
    pids: Callable[[], list[int]],
    record: bool = False,
) -> Sample:
    """Replay `requests` with wrk (one thread) and sample the servers' RSS meanwhile; with
    `record`, non-2xx answers are collected by status (see replay.lua)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    cmd += ["-s", str(LUA), base_url, "--", str(requests)]
    servers = pids()
    cpu_before = sum(cpu_seconds(pid) for pid in servers)
    env = {**os.environ, "PAYMUX_BENCH_RECORD": "1" if record else "0"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    peak = 0.0
    while proc.poll() is None:
        peak = max([peak, *(rss_mb(pid) for pid in servers)])
        time.sleep(0.25)
    cpu = sum(cpu_seconds(pid) for pid in servers) - cpu_before
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    requests = int(_field(r"(\d+) requests in", out))
    repeated = sum(int(n) for n in re.findall(r"^replay: repeated (\d+)$", out, re.MULTILINE))
    failures: dict[int, tuple[int, str]] = {}
    for status, count, body in re.findall(r"^replay: status (\d+) (\d+) (.*)$", out, re.M):
        seen = failures.get(int(status), (0, body))
        failures[int(status)] = (seen[0] + int(count), seen[1])
    return Sample(
        rps=float(_field(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_field(r"^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_field(r"^\s+99%\s+(\S+)", out)),
        errors=errors,
        requests=requests,
        rss_mb=peak,
        cpu_ms=1000 * cpu / max(requests, 1),
        repeated=repeated,
        failures=failures,
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians over repeated runs (peak RSS: the largest seen, errors: the total)."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mb: float
    cpu_ms: float
    runs: int

    @classmethod
    def of(cls, samples: list[Sample]) -> Summary:
        return cls(
            rps=statistics.median(s.rps for s in samples),
            p50_ms=statistics.median(s.p50_ms for s in samples),
            p99_ms=statistics.median(s.p99_ms for s in samples),
            errors=sum(s.errors for s in samples),
            rss_mb=max(s.rss_mb for s in samples),
            cpu_ms=statistics.median(s.cpu_ms for s in samples),
            runs=len(samples),
        )
