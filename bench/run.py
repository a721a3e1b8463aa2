"""The benchmark suite: start paymux, load each scenario with wrk, write docs/performance.md.

    make bench                                   # everything, medians of 3 runs × 6 s
    .venv/bin/python -m bench.run --quick        # 1 run × 3 s, printed, docs untouched
    .venv/bin/python -m bench.run --scenario vpay-create --scenario pay --config sqlite

Each configuration (SQLite embedded, PostgreSQL + Redis with one and with two
workers) gets a fresh database and its own `paymux serve`, next to the bare
baseline (`bench/hello.py`) with as many workers. Every run round loads the
baseline first and then each scenario, so a ratio compares numbers measured
minutes apart on the same, shared machine. wrk runs in its own process with
64 connections; requests are built and signed before each run (`bench/load.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.load import Request, Sample, Summary, write_requests, wrk
from bench.scenarios import SCENARIOS, Scenario
from bench.servers import CONFIGS, ROOT, Config, Server, baseline, paymux

DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
ECHO = Request(
    "POST",
    "/echo",
    json.dumps(
        {
            "app_id": "M" * 19,
            "merchant_order_id": "B1",
            "amount": 100,
            "channel": "QR_CODE",
            "product_desc": "bench order",
            "nonce_str": "x" * 16,
            "timestamp": "20260101000000",
            "sign": "A" * 64,
        }
    ),
    {"Content-Type": "application/json"},
)
CHECKED = 3  # requests of each run sent one by one first, to see that they succeed
RESIZES = 2  # times a run that outlasted its file is repeated with a larger one


@dataclass
class Row:
    title: str
    config: Config
    summary: Summary
    baseline: Summary | None
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # runs with non-2xx answers


class Bench:
    """Runs scenarios against servers and collects what the report needs (also used by
    bench/growth.py), noting the machine's load average before every run."""

    def __init__(self, args: argparse.Namespace, work: Path, report: Report) -> None:
        self.args = args
        self.work = work
        self.report = report

    def load(
        self, server: Server, requests: Path, seconds: float, *, record: bool = False
    ) -> Sample:
        self.report.loads.append(os.getloadavg()[0])
        return wrk(
            server.base_url,
            requests,
            connections=self.args.connections,
            seconds=seconds,
            pids=server.worker_pids,
            record=record,
        )

    def run_scenario(self, scenario: Scenario, earlier: list[Sample]) -> Sample:
        """One measured run (the first after a warm-up). Its requests are sized for twice the
        best rate seen so far: a run that outlasts its file would replay refused requests."""
        rate = min(scenario.max_rate, 2 * max((s.rps for s in earlier), default=1e9))
        if not earlier:  # warm-up: connection pools, caches, the first pages of the tables
            self.load_once(scenario, rate, 1.0)
        return self.load_once(scenario, rate, self.args.seconds)

    def load_once(self, scenario: Scenario, rate: float, seconds: float) -> Sample:
        """One run from a file of requests sized for `rate` per second.

        A run that outlasts its file sends requests again, and the server refuses them
        (replayed nonce, order already paid): it measured refusals, so it is repeated with
        a file sized for twice the rate it reached. A run with any other non-2xx answer is
        recorded as a failure (`Report.failures`, printed with what the server answered), so
        a table can never count refusals as throughput without saying so.
        """
        for _ in range(RESIZES):
            sample = self.replay(scenario, rate, seconds)
            if not sample.repeated:
                break
            print(f"  {scenario.key}: {sample.problems()}; again with a larger file")
            rate = 2 * max(rate, sample.rps)
        else:
            sample = self.replay(scenario, rate, seconds)
        if sample.problems():
            failure = f"{scenario.server.config.label}, {scenario.title}: {sample.problems()}"
            print(f"  FAILED {failure}")
            self.report.failures.append(failure)
        return sample

    def replay(self, scenario: Scenario, rate: float, seconds: float) -> Sample:
        built = time.monotonic()
        requests = list(scenario.requests(int(rate * seconds) + 200))
        for request in requests[:CHECKED]:
            response = request.send(scenario.server.base_url)
            if not scenario.succeeded(response):
                raise SystemExit(f"{scenario.key}: {response.status_code} {response.text[:300]}")
        path = self.work / f"{scenario.key}.requests"
        write_requests(path, requests[CHECKED:])
        del requests
        oldest = time.monotonic() - built + seconds
        if scenario.valid_s is not None and oldest > scenario.valid_s:
            raise SystemExit(
                f"{scenario.key}: building the requests took {oldest - seconds:.0f} s, so a "
                f"request could be {oldest:.0f} s old when sent, more than the "
                f"{scenario.valid_s:g} s a signed request is accepted for; lower "
                f"{type(scenario).__name__}.max_rate or run on a less busy machine"
            )
        with self.profiled(scenario, seconds):
            return self.load(scenario.server, path, seconds, record=True)

    @contextlib.contextmanager
    def profiled(self, scenario: Scenario, seconds: float) -> Iterator[None]:
        """With --profile DIR: py-spy samples the GIL holder of every server process during
        the run (`--gil --threads`, raw collapsed stacks, one file per scenario and process)."""
        if self.args.profile is None or seconds < self.args.seconds:
            yield
            return
        self.args.profile.mkdir(parents=True, exist_ok=True)
        spies = []
        for pid in scenario.server.worker_pids():
            out = self.args.profile / f"{scenario.server.config.key}-{scenario.key}-{pid}.txt"
            cmd = [self.args.py_spy, "record", "--gil", "--threads", "--rate", "250"]
            cmd += ["--format", "raw", "--duration", f"{seconds:g}", "-o", str(out)]
            cmd += ["--pid", str(pid)]
            quiet = subprocess.DEVNULL
            spies.append(subprocess.Popen(cmd, stdout=quiet, stderr=quiet))
        try:
            yield
        finally:
            for spy in spies:
                spy.wait()

    def config(self, config: Config, chosen: list[type[Scenario]]) -> None:
        echo = self.work / "echo.requests"
        write_requests(echo, [ECHO])
        with baseline(config.workers, self.work) as base, paymux(config, self.work) as server:
            scenarios = [cls(server) for cls in chosen if config.key in cls.configs]
            for scenario in scenarios:
                scenario.prepare()
            base_samples: list[Sample] = []
            samples: dict[str, list[Sample]] = {s.key: [] for s in scenarios}
            for round_no in range(self.args.runs):
                base_samples.append(self.load(base, echo, self.args.seconds))
                print(f"  {config.key} round {round_no + 1}: baseline {base_samples[-1].rps:,.0f}")
                for scenario in scenarios:
                    runs = samples[scenario.key]
                    runs.append(self.run_scenario(scenario, runs))
                    print(f"  {config.key} round {round_no + 1}: {scenario.key} {runs[-1]}")
            base_summary = Summary.of(base_samples)
            self.report.rows.append(
                Row("bare POST echo (same stack)", config, base_summary, base_summary)
            )
            check = server.admin("GET", "/admin/v1/ledger/check")
            for scenario in scenarios:
                note = ""
                if scenario.moves_money:
                    note = "ledger clean" if check["clean"] else "LEDGER NOT CLEAN"
                summary = Summary.of(samples[scenario.key])
                self.report.rows.append(Row(scenario.title, config, summary, base_summary, note))
            if not check["clean"]:
                self.report.notes.append(f"{config.label}: ledger check: {check['problems']}")

    def notifications(self) -> None:
        """Delivery throughput and pay → received latency, with `bench/notify_latency.py`."""
        from bench.notify_latency import latency, throughput
        from tests.notify.receiver import Receiver

        with Receiver() as receiver:
            delays = sorted(latency(self.args.notify_payments, self.work, receiver))
            runs = [
                throughput(self.args.notify_rows, self.work, receiver)
                for _ in range(self.args.runs)
            ]
        summary = Summary(
            rps=statistics.median(rate for rate, _ in runs),
            p50_ms=delays[len(delays) // 2],
            p99_ms=delays[min(len(delays) - 1, int(0.99 * len(delays)))],
            errors=0,
            rss_mb=0.0,
            cpu_ms=statistics.median(cpu for _, cpu in runs),
            runs=len(runs),
        )
        title = (
            f"notification delivery, one `paymux worker`, {self.args.notify_rows:,} due rows "
            f"(p50/p99: pay → received over {len(delays)} payments, embedded)"
        )
        self.report.rows.append(Row(title, CONFIGS["sqlite"], summary, None))


def machine() -> str:
    cpu = "unknown cpu"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f", {int(line.split()[1]) / 1024**2:.0f} GiB"
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}"


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "paymux", "bench")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def render(report: Report, args: argparse.Namespace, started: datetime) -> str:
    loads = report.loads or [0.0]
    lines = [
        BEGIN,
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `{args.command}`: machine {machine()}; "
        f"commit {commit()}; wrk 1 thread, {args.connections} connections; medians of "
        f"{args.runs} runs × {args.seconds:g} s; durable commits (SQLite `synchronous=FULL`, "
        "PostgreSQL `synchronous_commit=on`); log level WARNING. The machine was shared: "
        f"1-minute load average {min(loads):.1f}–{max(loads):.1f} "
        f"(median {sorted(loads)[len(loads) // 2]:.1f}) across the runs.",
        "",
        "| scenario | store, server processes | req/s | p50 ms | p99 ms | non-2xx "
        "| peak RSS MB / worker | server CPU µs / request | × baseline | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in report.rows:
        s = row.summary
        ratio = f"{s.rps / row.baseline.rps:.2f}" if row.baseline else "—"
        rss = f"{s.rss_mb:.0f}" if s.rss_mb else "—"
        cpu = f"{1000 * s.cpu_ms:,.0f}" if s.cpu_ms else "—"
        lines.append(
            f"| {row.title} | {row.config.label} | {s.rps:,.0f} | {s.p50_ms:.1f} "
            f"| {s.p99_ms:.1f} | {s.errors} | {rss} | {cpu} | {ratio} | {row.note} |"
        )
    lines += ["", *report.notes, END] if report.notes else ["", END]
    return "\n".join(lines)


def write_section(begin: str, end: str, section: str) -> None:
    """Replace the generated section of docs/performance.md (between the markers)."""
    text = DOC.read_text()
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < 0:
        raise SystemExit(f"{DOC} has no {begin} … {end} section to replace")
    DOC.write_text(text[:start] + section + text[stop + len(end) :])
    print(f"written to {DOC.relative_to(ROOT)}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 run × 3 s; docs untouched")
    names = [s.key for s in SCENARIOS] + ["notify"]
    parser.add_argument("--scenario", action="append", choices=names, help="repeatable")
    parser.add_argument("--config", action="append", choices=list(CONFIGS), help="repeatable")
    parser.add_argument(
        "--profile", type=Path, help="write py-spy profiles of the measured runs into this dir"
    )
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy to use with --profile")
    parser.add_argument("--notify-rows", type=int, default=10_000)
    parser.add_argument("--notify-payments", type=int, default=300)
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write docs/performance.md (default: only for a full run)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.seconds = 1, 3
    if args.write is None:
        args.write = not (args.quick or args.scenario or args.config)
    args.command = "make bench" if args.write and len(sys.argv) == 1 else " ".join(sys.argv)
    return args


def main() -> None:
    args = parse()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    chosen = [s for s in SCENARIOS if args.scenario is None or s.key in args.scenario]
    configs = [CONFIGS[k] for k in args.config or CONFIGS]
    started = datetime.now(UTC)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="paymux-bench-") as tmp:
        bench = Bench(args, Path(tmp), report)
        for config in configs:
            if any(config.key in s.configs for s in chosen):
                print(f"{config.label}:")
                bench.config(config, chosen)
        if args.scenario is None or "notify" in args.scenario:
            print("notifications:")
            bench.notifications()
    report.notes += [f"Non-2xx answers: {failure}." for failure in report.failures]
    table = render(report, args, started)
    print(table)
    if args.write:
        write_section(BEGIN, END, table)
    if report.failures:
        sys.exit("runs with non-2xx answers:\n" + "\n".join(report.failures))


if __name__ == "__main__":
    main()
