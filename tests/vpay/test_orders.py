"""Order endpoints: create, query, close, pay (sandbox), list, refund — the happy paths."""

from __future__ import annotations

from datetime import UTC, timedelta

import httpx
import pytest

from paymux.dialects.vpay.client import VpayClient
from paymux.services.ledger import get_account
from tests.vpay.conftest import fails, new_client


def funded_account(client: VpayClient, amount: int) -> str:
    account = client.create_account()["account_id"]
    if amount:
        client.recharge(account, amount)
    return account


def balance(client: VpayClient, account: str) -> int:
    return client.account_info(account)["balance"]


@pytest.mark.parametrize("channel", ["QR_CODE", "ALIPAY", "WECHAT_PAY"])
def test_create_order(server, vpay, channel):
    order = vpay.create_order("C-" + channel, 10000, channel, product_desc="测试商品")
    assert order["merchant_order_id"] == "C-" + channel
    assert order["order_id"].isdigit()
    assert (order["amount"], order["currency"], order["status"]) == (10000, "CNY", 0)
    assert order["pay_type"] == order["channel"] == channel
    assert order["create_time"].endswith("Z") and order["pay_time"] is None
    assert order["pay_url"] == f"{server.base_url}/cashier/{order['order_id']}"
    page = httpx.get(order["pay_url"])
    assert page.status_code == 200 and order["order_id"] in page.text


def test_create_reply_code(vpay):
    params = vpay.sign_params({"merchant_order_id": "RC-1", "amount": 1, "channel": "QR_CODE"})
    body = vpay.http.post(vpay.base + "/orders/create", json=params).json()
    assert body["code"] == "ORDER.CREATE_SUCCESS"
    assert body["localized_msg"]["en_US"] == "Order created successfully"


def test_create_in_usdt_and_with_an_amount_string(vpay):
    assert vpay.create_order("U-1", 250, currency="USDT")["currency"] == "USDT"
    # Digits in a string are accepted as minor units and signed as sent.
    assert vpay.create_order("S-1", "1200")["amount"] == 1200  # type: ignore[arg-type]


def test_identical_retry_returns_the_same_order(vpay):
    first = vpay.create_order("IDEM-1", 500, "ALIPAY", product_desc="x")
    again = vpay.create_order("IDEM-1", 500, "ALIPAY", product_desc="x")
    assert again["order_id"] == first["order_id"]
    assert vpay.list_orders()["total"] == 1


def test_query_by_either_id(vpay):
    order = vpay.create_order("Q-1", 700)
    by_id = vpay.query_order(order_id=order["order_id"])
    by_merchant = vpay.query_order(merchant_order_id="Q-1")
    both = vpay.query_order(order_id=order["order_id"], merchant_order_id="Q-1")
    assert by_id == by_merchant == both
    assert by_id["merchant_id"] == vpay.app_id
    assert (by_id["channel"], by_id["status"], by_id["amount"]) == ("QR_CODE", 0, 700)


def test_close_pending_order(vpay):
    order = vpay.create_order("CL-1", 100)
    closed = vpay.close_order(merchant_order_id="CL-1")
    assert closed == {"order_id": order["order_id"], "merchant_order_id": "CL-1", "status": 2}
    assert vpay.query_order(order_id=order["order_id"])["status"] == 2


def test_pay_moves_money_between_accounts(vpay):
    payer, payee = funded_account(vpay, 5000), funded_account(vpay, 0)
    order = vpay.create_order("P-1", 1200)
    paid = vpay.pay_order(order["order_id"], payer, payee)
    assert paid["order_id"] == order["order_id"]
    assert (paid["amount"], paid["currency"], paid["status"]) == (1200, "CNY", 1)
    assert paid["transaction_id"] and paid["pay_time"].endswith("Z")
    assert (balance(vpay, payer), balance(vpay, payee)) == (3800, 1200)
    queried = vpay.query_order(order_id=order["order_id"])
    assert queried["status"] == 1 and queried["pay_time"] == paid["pay_time"]
    line = vpay.transactions(payer, type=1)["data"][0]
    assert line["transaction_id"] == paid["transaction_id"]
    assert (line["order_id"], line["amount"], line["is_income"]) == (order["order_id"], 1200, False)
    assert line["amount_display"] == "-12.00"


def test_list_filters_by_status_and_paginates(server, vpay):
    ids = [vpay.create_order(f"L-{i}", 100 + i)["order_id"] for i in range(5)]
    vpay.close_order(order_id=ids[0])
    assert server.sandbox_pay(ids[1]).status_code == 200
    everything = vpay.list_orders()
    assert (everything["total"], everything["current_page"], everything["page_size"]) == (5, 1, 10)
    assert [o["order_id"] for o in everything["data"]] == ids[::-1]  # newest first
    assert [o["order_id"] for o in vpay.list_orders(status=2)["data"]] == [ids[0]]
    assert [o["order_id"] for o in vpay.list_orders(status=1)["data"]] == [ids[1]]
    assert vpay.list_orders(status=0)["total"] == 3
    assert vpay.list_orders(status=4)["total"] == 0
    page1 = vpay.list_orders(page=1, page_size=2)
    page3 = vpay.list_orders(page=3, page_size=2)
    assert page1["total_pages"] == 3 and len(page1["data"]) == 2
    assert [o["order_id"] for o in page3["data"]] == [ids[0]]
    assert vpay.list_orders(page=4, page_size=2)["data"] == []
    # Another merchant's list is its own.
    assert new_client(server).list_orders()["total"] == 0


def test_list_by_time_range(server, vpay):
    vpay.create_order("T-1", 100)
    now = server.ctx.env.clock.now()  # naive UTC

    def local(delta_s: int) -> str:
        moment = (now + timedelta(seconds=delta_s)).replace(tzinfo=UTC)
        return moment.astimezone(vpay.tz).strftime("%Y%m%d%H%M%S")

    assert vpay.list_orders(start_time=local(-60), end_time=local(60))["total"] == 1
    assert vpay.list_orders(start_time=local(60))["total"] == 0
    assert vpay.list_orders(end_time=local(-60))["total"] == 0
    iso = (now - timedelta(seconds=60)).isoformat() + "+00:00"
    assert vpay.list_orders(start_time=iso)["total"] == 1


def test_partial_and_multiple_refunds(server, vpay):
    payer, payee = funded_account(vpay, 10000), funded_account(vpay, 0)
    order = vpay.create_order("R-1", 1000)
    vpay.pay_order(order["order_id"], payer, payee)
    first = vpay.refund("RF-1", 300, order_id=order["order_id"], reason="破损")
    assert (first["amount"], first["refunded_amount"], first["status"]) == (300, 300, 3)
    assert first["refund_status"] == "SUCCEEDED" and first["refund_id"].isdigit()
    assert first["merchant_refund_id"] == "RF-1" and first["order_id"] == order["order_id"]
    second = vpay.refund("RF-2", 200, merchant_order_id="R-1")
    assert (second["refunded_amount"], second["status"]) == (500, 3)
    assert vpay.query_order(order_id=order["order_id"])["status"] == 3
    last = vpay.refund("RF-3", 500, order_id=order["order_id"])
    assert (last["refunded_amount"], last["status"]) == (1000, 4)
    assert vpay.query_order(order_id=order["order_id"])["status"] == 4
    # The money went back from the payee to the payer.
    assert (balance(vpay, payer), balance(vpay, payee)) == (10000, 0)
    refunds = vpay.transactions(payer, type=2)
    assert refunds["total"] == 3 and all(line["is_income"] for line in refunds["data"])
    server.assert_ledger_clean()


def test_refund_retry_returns_the_same_refund(server, vpay):
    order = vpay.create_order("RR-1", 800)
    server.sandbox_pay(order["order_id"])
    first = vpay.refund("RR-R1", 100, order_id=order["order_id"])
    again = vpay.refund("RR-R1", 100, order_id=order["order_id"])
    assert again["refund_id"] == first["refund_id"]
    assert again["refunded_amount"] == 100
    changed = fails("ORDER.INVALID_PARAMS", vpay.refund, "RR-R1", 150, order_id=order["order_id"])
    assert "RR-R1" in changed.message
    assert vpay.query_order(order_id=order["order_id"])["status"] == 3


def test_refund_of_a_channel_payment_returns_money_to_the_world(server, vpay):
    order = vpay.create_order("W-1", 900)
    assert server.sandbox_pay(order["order_id"]).status_code == 200
    settlement = f"S:{vpay.app_id}:CNY"
    before = server.ctx.store.read_sync(_balance_of, settlement)
    vpay.refund("W-R1", 900, order_id=order["order_id"])
    assert server.ctx.store.read_sync(_balance_of, settlement) == before - 900
    server.assert_ledger_clean()


def _balance_of(uow, account_id: str) -> int:
    return get_account(uow, account_id).balance
