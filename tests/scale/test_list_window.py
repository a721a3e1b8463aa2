"""Lists answer from the newest LIST_WINDOW matching rows (services/paging.py): a merchant's
orders and an account's transactions.

Counting and paging a whole history cost one index entry per row on every call;
the window keeps a list as cheap with millions of rows as with a few. The window
is made small here so that a handful of orders or movements reach it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paymux.dialects.vpay.client import VpayClient
from paymux.services import paging
from tests.harness import BACKENDS, Server, run_server

WINDOW = 5


@pytest.fixture(params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    monkeypatch.setattr(paging, "LIST_WINDOW", WINDOW)
    with run_server(tmp_path, request.param) as server:
        yield server


@pytest.fixture
def vpay(server: Server) -> VpayClient:
    creds = server.create_merchant()["vpay"]
    return VpayClient(server.base_url, creds["app_id"], creds["secret_key"])


def test_the_total_counts_up_to_the_window_and_pages_stop_there(
    server: Server, vpay: VpayClient
) -> None:
    created = [vpay.create_order(f"W-{i}", 100 + i, "QR_CODE")["order_id"] for i in range(7)]
    assert vpay.list_orders(page_size=2)["total"] == WINDOW
    pages = [vpay.list_orders(page=page, page_size=2) for page in (1, 2, 3, 4)]
    assert [p["total_pages"] for p in pages] == [3, 3, 3, 3]
    listed = [o["order_id"] for p in pages for o in p["data"]]
    assert listed == created[::-1][:WINDOW]  # the newest first, as many as the window holds
    server.sandbox_pay(created[0])
    assert vpay.list_orders(status=1)["total"] == 1  # below the window: exact and fresh
    assert vpay.list_orders(status=0)["total"] == WINDOW  # 6 pending, capped


def test_account_transactions_are_windowed_like_orders(vpay: VpayClient) -> None:
    account = vpay.create_account(signed=True)["account_id"]
    moves = [vpay.recharge(account, 1000 + i, signed=True)["transaction_id"] for i in range(7)]
    moves.append(vpay.withdraw(account, 10, signed=True)["transaction_id"])

    pages = [vpay.transactions(account, page=p, page_size=2, signed=True) for p in (1, 2, 3, 4)]
    assert [(p["total"], p["total_pages"]) for p in pages] == [(WINDOW, 3)] * 4
    listed = [line["transaction_id"] for p in pages for line in p["data"]]
    assert listed == moves[::-1][:WINDOW]  # the newest first, the last page cut at the window
    assert pages[3]["data"] == []  # past the window, as past the last page

    withdrawals = vpay.transactions(account, type=4, signed=True)  # below the window: exact
    assert (withdrawals["total"], len(withdrawals["data"])) == (1, 1)
    assert vpay.transactions(account, type=3, signed=True)["total"] == WINDOW  # 7, capped
    vpay.recharge(account, 1, signed=True)
    latest = vpay.transactions(account, page_size=1, signed=True)
    assert latest["total"] == WINDOW and latest["data"][0]["amount"] == 1  # still the newest
