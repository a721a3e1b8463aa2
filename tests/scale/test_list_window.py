"""An order list answers from the newest LIST_WINDOW matching orders (services/orders.py).

Counting and paging a merchant's whole history cost one index entry per order on
every call; the window keeps a list as cheap with millions of orders as with a
few. The window is made small here so that a handful of orders reach it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paymux.dialects.vpay.client import VpayClient
from paymux.services import orders
from tests.harness import BACKENDS, Server, run_server

WINDOW = 5


@pytest.fixture(params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    monkeypatch.setattr(orders, "LIST_WINDOW", WINDOW)
    with run_server(tmp_path, request.param) as server:
        yield server


def test_the_total_counts_up_to_the_window_and_pages_stop_there(server: Server) -> None:
    creds = server.create_merchant()["vpay"]
    vpay = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    created = [vpay.create_order(f"W-{i}", 100 + i, "QR_CODE")["order_id"] for i in range(7)]
    assert vpay.list_orders(page_size=2)["total"] == WINDOW
    pages = [vpay.list_orders(page=page, page_size=2) for page in (1, 2, 3, 4)]
    assert [p["total_pages"] for p in pages] == [3, 3, 3, 3]
    listed = [o["order_id"] for p in pages for o in p["data"]]
    assert listed == created[::-1][:WINDOW]  # the newest first, as many as the window holds
    server.sandbox_pay(created[0])
    assert vpay.list_orders(status=1)["total"] == 1  # below the window: exact and fresh
    assert vpay.list_orders(status=0)["total"] == WINDOW  # 6 pending, capped
