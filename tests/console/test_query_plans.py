"""The order list stays fast on big tables: every page is an index range scan, never a sort.

The databases themselves are asked (EXPLAIN) how they run the exact statement
the console sends, with and without a page cursor. docs/console.md has the
timings measured with a million orders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event

from paymux.services import console_queries as q
from tests.harness import Server

CASES = [
    (q.OrderFilter(), "ix_orders_created"),
    (q.OrderFilter(status="PAID"), "ix_orders_status_created"),
    (q.OrderFilter(merchant_id="Mxyz"), "ix_orders_merchant_time"),
    (q.OrderFilter(since=datetime(2026, 1, 1), until=datetime(2026, 2, 1)), "ix_orders_created"),
    (q.OrderFilter(dialect="vpay", min_amount=100), "ix_orders_created"),
]


def _statement(server: Server, flt: q.OrderFilter, after: q.Cursor | None) -> tuple[str, Any]:
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if "ORDER BY orders.created_at DESC" in statement:  # not the timed jobs on this engine
            captured.append((statement, params))

    engine = server.ctx.store.read_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        server.ctx.store.read_sync(q.list_orders, flt, after, 50)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return captured[-1]


def _plan(server: Server, statement: str, params: Any, *, in_order: bool = True) -> str:
    with server.ctx.store.read_engine.connect() as conn:
        if server.ctx.store.sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            return "\n".join(str(r[-1]) for r in rows)
        # Tiny test tables make a scan and a sort look cheapest; the question is
        # whether an index can serve the page in order, so take those options away
        # (a Sort left in the plan then means no index can).
        off = (
            ("enable_seqscan", "enable_bitmapscan", "enable_sort")
            if in_order
            else ("enable_seqscan",)
        )
        for setting in off:
            conn.exec_driver_sql(f"SET {setting} = off")
        return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))


@pytest.mark.parametrize(("flt", "index"), CASES)
def test_order_pages_ride_an_index_in_order(server: Server, flt: q.OrderFilter, index: str) -> None:
    for after in (None, q.Cursor(datetime(2026, 6, 1), 12345)):
        plan = _plan(server, *_statement(server, flt, after))
        assert index in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_order_number_search_uses_the_number_indexes(server: Server) -> None:
    # A number matches a row or two: finding them by index matters, sorting them does not.
    plan = _plan(server, *_statement(server, q.OrderFilter(number="C-123"), None), in_order=False)
    assert "ix_orders_merchant_order_no" in plan, plan
    assert "order_no" in plan.replace("ix_orders_merchant_order_no", ""), plan
