"""Account endpoints: create, info, recharge, withdraw, transfer, transactions."""

from __future__ import annotations

from datetime import UTC, timedelta

from tests.vpay.conftest import fails, new_client, send


def test_create_and_info(vpay):
    created = vpay.create_account()
    assert created["account_id"].startswith("A")
    assert (created["balance"], created["frozen_balance"], created["currency"]) == (0, 0, "CNY")
    assert created["create_time"].endswith("Z")
    assert vpay.account_info(created["account_id"]) == created
    usdt = vpay.create_account(currency="USDT")
    assert usdt["currency"] == "USDT"


def test_create_accepts_an_empty_object(vpay):
    response = send(vpay, "/accounts", {})
    assert response.status_code == 200 and response.json()["data"]["balance"] == 0


def test_recharge_withdraw_transfer(server, vpay):
    a, b = vpay.create_account()["account_id"], vpay.create_account()["account_id"]
    recharged = vpay.recharge(a, 10000)
    assert (recharged["account_id"], recharged["amount"], recharged["balance"]) == (a, 10000, 10000)
    assert recharged["transaction_id"] and recharged["recharge_time"].endswith("Z")
    withdrawn = vpay.withdraw(a, 2500)
    assert (withdrawn["amount"], withdrawn["balance"]) == (2500, 7500)
    assert withdrawn["withdraw_time"].endswith("Z")
    moved = vpay.transfer(a, b, 1500)
    assert (moved["from_account_id"], moved["to_account_id"], moved["amount"]) == (a, b, 1500)
    assert moved["transaction_id"] and moved["transfer_time"].endswith("Z")
    assert vpay.account_info(a)["balance"] == 6000
    assert vpay.account_info(b)["balance"] == 1500
    server.assert_ledger_clean()


def test_transactions_filter_paginate_and_sign(server, vpay):
    a, b = vpay.create_account()["account_id"], vpay.create_account()["account_id"]
    vpay.recharge(a, 10000)  # type 3, income
    vpay.withdraw(a, 1000)  # type 4, expense
    vpay.transfer(a, b, 2050)  # type 5, expense for a, income for b
    order = vpay.create_order("TX-1", 300)
    vpay.pay_order(order["order_id"], a, b)  # type 1, expense
    vpay.refund("TX-R1", 100, order_id=order["order_id"])  # type 2, income
    history = vpay.transactions(a)
    assert (history["total"], history["current_page"], history["page_size"]) == (5, 1, 10)
    lines = history["data"]
    assert [line["type"] for line in lines] == [2, 1, 5, 4, 3]  # newest first
    assert [line["is_income"] for line in lines] == [True, False, False, False, True]
    assert [line["amount"] for line in lines] == [100, 300, 2050, 1000, 10000]
    assert [line["amount_display"] for line in lines] == [
        "+1.00",
        "-3.00",
        "-20.50",
        "-10.00",
        "+100.00",
    ]
    assert lines[0]["order_id"] == lines[1]["order_id"] == order["order_id"]
    assert lines[2]["order_id"] is None
    assert all(line["create_time"].endswith("Z") and line["transaction_id"] for line in lines)
    transfers = vpay.transactions(b, type=5)["data"]
    assert len(transfers) == 1 and transfers[0]["is_income"] and transfers[0]["amount"] == 2050
    assert transfers[0]["transaction_id"] == lines[2]["transaction_id"]
    assert [line["type"] for line in vpay.transactions(a, type=3)["data"]] == [3]
    page = vpay.transactions(a, page=2, page_size=2)
    assert page["total_pages"] == 3 and [x["type"] for x in page["data"]] == [5, 4]
    now = server.ctx.env.clock.now().replace(tzinfo=UTC).astimezone(vpay.tz)
    fmt = "%Y%m%d%H%M%S"
    window = {
        "start_time": (now - timedelta(minutes=1)).strftime(fmt),
        "end_time": (now + timedelta(minutes=1)).strftime(fmt),
    }
    assert vpay.transactions(a, **window)["total"] == 5
    later = (now + timedelta(minutes=1)).strftime(fmt)
    assert vpay.transactions(a, start_time=later)["total"] == 0
    assert vpay.transactions(a, end_time=(now - timedelta(minutes=1)).strftime(fmt))["total"] == 0


def test_signed_calls_own_their_accounts(server, vpay):
    """With app_id (optional in sandbox mode) an account belongs to the signing merchant."""
    mine = vpay.create_account(signed=True)["account_id"]
    vpay.recharge(mine, 500, signed=True)
    assert vpay.account_info(mine, signed=True)["balance"] == 500
    other = new_client(server)
    fails("ACCOUNT.ACCESS_DENIED", other.account_info, mine, signed=True)
    fails("ACCOUNT.ACCESS_DENIED", other.withdraw, mine, 100, signed=True)
    fails("ACCOUNT.ACCESS_DENIED", other.transactions, mine, signed=True)
    theirs = other.create_account(signed=True)["account_id"]
    fails("ACCOUNT.ACCESS_DENIED", other.transfer, mine, theirs, 100, signed=True)
    fails("ACCOUNT.ACCESS_DENIED", vpay.transfer, mine, theirs, 100, signed=True)
    assert vpay.account_info(mine)["balance"] == 500
