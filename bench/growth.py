"""Cost as the data grows: vpay create, query and list with 0, 1 M and 5 M orders stored.

    make bench-growth                      # = .venv/bin/python -m bench.growth
    .venv/bin/python -m bench.growth --sizes 0,200000 --backend sqlite   # a quicker look

Every stored order belongs to the merchant being measured: the worst case for
its list, whose `total` counts them. The orders are bulk-loaded straight into
the table between measurements (executemany on SQLite, COPY on PostgreSQL, in
the shape `create_order` writes); that is setup, not what is measured. On
PostgreSQL the table is then vacuumed and analysed, as autovacuum would have
done to a table that grew over months; SQLite gets no statistics, as paymux
never gathers any. Each operation is loaded with wrk like `bench/run.py` does,
and the SQL behind query and list is captured and explained at every size, so
the table shows which index answers it and what it costs.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

from bench.load import Summary
from bench.run import Bench, Report, commit, machine, write_section
from bench.scenarios import Vpay, VpayCreate, VpayList, VpayQuery
from bench.servers import CONFIGS, Config, Paymux, paymux
from paymux.services import orders
from paymux.store import tables as t

BEGIN, END = "<!-- bench:growth:begin -->", "<!-- bench:growth:end -->"
COLUMNS = [c.name for c in t.orders.columns if c.name != "id"]
# What orders older than their two-hour expiry end up as: none is still pending (the
# expiry job would be closing them all at once, which is not what a grown database sees).
STATUSES = ["PAID"] * 6 + ["CLOSED", "EXPIRED", "EXPIRED", "REFUNDED"]
CHUNK = 100_000
SPAN = timedelta(days=180)  # the bulk orders' creation times spread over half a year


def order_no(i: int) -> str:
    return f"B{i:018d}"


class BulkNumbers(Sequence[str]):
    """The platform numbers of the first `size` bulk orders, without holding them."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: Any) -> Any:
        return order_no(i)


def bulk_rows(merchant_id: str, start: int, end: int, total: int) -> Iterator[dict[str, Any]]:
    """Orders `start`…`end - 1` of `total`, oldest first, as `create_order` and payment leave
    them (six in ten paid)."""
    first = datetime.now(UTC).replace(tzinfo=None) - SPAN
    step = SPAN / max(total, 1)
    for i in range(start, end):
        created = first + i * step
        status = STATUSES[i % len(STATUSES)]
        yield {
            "order_no": order_no(i),
            "merchant_id": merchant_id,
            "merchant_order_no": f"bulk-{i}",
            "dialect": "vpay",
            "channel": "sandbox",
            "amount": 100 + i % 900,
            "currency": "CNY",
            "subject": "",
            "description": "bulk order",
            "status": status,
            "refunded_amount": 100 + i % 900 if status == "REFUNDED" else 0,
            "notify_url": "",
            "return_url": "",
            "attach": "",
            "payer": "",
            "payer_account_id": "world:CNY" if status in ("PAID", "REFUNDED") else None,
            "payee_account_id": f"S:{merchant_id}:CNY",
            "request_digest": f"{i:064x}",
            "extra": {"pay_type": "QR_CODE"},
            "created_at": created,
            "expire_at": created + timedelta(hours=2),
            "paid_at": created + timedelta(minutes=1) if status in ("PAID", "REFUNDED") else None,
            "closed_at": created + timedelta(hours=2) if status in ("CLOSED", "EXPIRED") else None,
        }


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy stores on SQLite for this value (see paymux.store.sql.Prepared)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def load(server: Paymux, merchant_id: str, start: int, end: int, total: int) -> None:
    rows = bulk_rows(merchant_id, start, end, total)
    if server.config.backend == "sqlite":
        db = sqlite3.connect(server.settings.sqlite_path, timeout=60, isolation_level=None)
        sql = f"INSERT INTO orders ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        while True:
            chunk = [[_sqlite_value(r[c]) for c in COLUMNS] for r in _take(rows, CHUNK)]
            if not chunk:
                break
            db.execute("BEGIN IMMEDIATE")
            db.executemany(sql, chunk)
            db.execute("COMMIT")
        db.close()
        return
    with psycopg.connect(server.settings.database_url) as db:
        copy_sql = f"COPY orders ({', '.join(COLUMNS)}) FROM STDIN"
        with db.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c == "extra" else row[c] for c in COLUMNS])
        db.commit()
        db.autocommit = True
        db.execute("VACUUM ANALYZE orders")


def _take(rows: Iterator[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return [row for _, row in zip(range(n), rows, strict=False)]


def explain(server: Paymux, merchant_id: str, some_order: str) -> list[tuple[str, str, float]]:
    """(operation, statement → plan, ms) for each SELECT behind a query and a list."""
    sqlite = server.config.backend == "sqlite"
    statements: list[tuple[str, Any]] = []
    actions = {
        "query by order_id": lambda uow: orders.find_order(uow, merchant_id, order_no=some_order),
        "list, first page": lambda uow: orders.list_orders(
            uow, merchant_id, statuses=None, start=None, end=None, page=1, page_size=10
        ),
        "list paid, first page": lambda uow: orders.list_orders(
            uow, merchant_id, statuses=["PAID"], start=None, end=None, page=1, page_size=10
        ),
    }

    def traced(uow: Any, action: Any) -> None:
        if not sqlite:  # the engine's listener below sees them
            action(uow)
            return
        raw = uow.conn.connection.driver_connection  # Prepared statements bypass SQLAlchemy
        raw.set_trace_callback(lambda sql: statements.append((sql, ())))
        try:
            action(uow)
        finally:
            raw.set_trace_callback(None)

    found: list[tuple[str, str, float]] = []
    with server.context() as ctx:
        engine = ctx.store.read_engine
        if not sqlite:
            event.listen(
                engine,
                "before_cursor_execute",
                lambda _c, _cur, sql, params, _ctx, _many: statements.append((sql, params)),
            )
        for name, action in actions.items():
            statements.clear()
            ctx.store.read_sync(traced, action)
            for sql, params in list(statements):
                if sql.lstrip().upper().startswith("SELECT"):
                    found.append((name, *_plan(engine, sql, params, sqlite)))
    return found


def _plan(engine: Any, sql: str, params: Any, sqlite: bool) -> tuple[str, float]:
    with engine.connect() as conn:
        started = time.perf_counter()
        conn.exec_driver_sql(sql, params).fetchall()
        ms = (time.perf_counter() - started) * 1000
        if sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).fetchall()
            plan = "; ".join(str(r[-1]) for r in rows)
        else:
            rows = conn.exec_driver_sql("EXPLAIN " + sql, params).fetchall()
            nodes = [line for (line,) in rows if "->" in line or not line.startswith(" ")]
            plan = "; ".join(
                line.strip().removeprefix("->").split("(cost")[0].strip() for line in nodes
            )
    return f"`{' '.join(sql.split())[:160]}` → {plan}", ms


Plans = list[list[tuple[str, str, float]]]


def measure(
    args: argparse.Namespace, config: Config, work: Path
) -> tuple[dict[str, list[Summary]], Plans]:
    bench = Bench(args, work, Report())
    results: dict[str, list[Summary]] = {}
    plans = []
    with paymux(config, work) as server:
        create = VpayCreate(server)
        create.prepare()
        query, listing, paid = VpayQuery(server), VpayList(server), VpayList(server)
        paid.status = 1
        paid.title = "vpay signed order list, paid only, first page"
        for scenario in (query, listing, paid):
            _share(scenario, create)
        query.order_nos = query.orders(create.merchant_id, "vpay", 1000, pay=False)
        stored = 0
        for size in args.sizes:
            print(f"{config.label}: loading orders {stored:,} → {size:,}", flush=True)
            load(server, create.merchant_id, stored, size, max(args.sizes))
            stored = size
            if size:
                query.order_nos = BulkNumbers(size)
            for scenario in (create, query, listing, paid):
                samples = [
                    bench.load_once(scenario, scenario.max_rate, args.seconds)
                    for _ in range(args.runs)
                ]
                results.setdefault(scenario.title, []).append(Summary.of(samples))
                print(f"  {size:,} {scenario.key}: {results[scenario.title][-1]}", flush=True)
            some = random.choice(query.order_nos)
            plans.append(explain(server, create.merchant_id, some))
    return results, plans


def _share(scenario: Vpay, first: Vpay) -> None:
    scenario.merchant_id, scenario.client = first.merchant_id, first.client


def render(args: argparse.Namespace, tables: dict[str, Any], started: datetime) -> str:
    sizes = [f"{s:,}" for s in args.sizes]
    lines = [
        BEGIN,
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `{args.command}`: machine {machine()}; "
        f"commit {commit()}; wrk 1 thread, {args.connections} connections, medians of "
        f"{args.runs} runs × {args.seconds:g} s at each size; every stored order belongs to "
        "the measured merchant.",
    ]
    for label, (results, plans) in tables.items():
        lines += [
            "",
            f"**{label}** — req/s (p99 ms):",
            "",
            "| operation | " + " | ".join(f"{s} orders" for s in sizes) + " | last ÷ first |",
            "|---|" + "---:|" * (len(sizes) + 1),
        ]
        for title, summaries in results.items():
            cells = [f"{s.rps:,.0f} ({s.p99_ms:.0f})" for s in summaries]
            ratio = summaries[-1].rps / summaries[0].rps if summaries[0].rps else 0
            lines.append(f"| {title} | " + " | ".join(cells) + f" | {ratio:.2f} |")
        lines += ["", f"Plans and single-run times at {sizes[-1]} orders:", ""]
        lines += [f"- {name}: {plan} ({ms:.1f} ms)" for name, plan, ms in plans[-1]]
    lines += ["", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,1000000,5000000")
    parser.add_argument("--backend", action="append", choices=["sqlite", "pg1"])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--profile", type=Path, help="py-spy profiles of the runs, as bench.run")
    parser.add_argument("--py-spy", default="py-spy")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if args.write is None:
        args.write = len(sys.argv) == 1
    args.command = "make bench-growth" if args.write and len(sys.argv) == 1 else " ".join(sys.argv)
    started = datetime.now(UTC)
    tables = {}
    with tempfile.TemporaryDirectory(prefix="paymux-growth-") as tmp:
        for key in args.backend or ["sqlite", "pg1"]:
            config = CONFIGS[key]
            tables[config.label] = measure(args, config, Path(tmp))
    section = render(args, tables, started)
    print(section)
    if args.write:
        write_section(BEGIN, END, section)


if __name__ == "__main__":
    main()
