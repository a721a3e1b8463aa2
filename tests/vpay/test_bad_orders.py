"""Bad order requests: each gets its vpay code and leaves orders, refunds and money as they were."""

from __future__ import annotations

from typing import Any

import pytest

from paymux.dialects.vpay.client import VpayClient
from paymux.signing import vpay as signing
from tests.vpay.conftest import expect, fails, new_client, send, unchanged

GOOD = {"merchant_order_id": "GOOD-1", "amount": 1000, "channel": "QR_CODE"}


def create_refused(server, client: VpayClient, code: str, **changes: Any) -> None:
    """A create-order whose parameters differ from GOOD by `changes` (None removes one)."""
    params = {**GOOD, **changes}
    params = {k: v for k, v in params.items() if v is not None}
    with unchanged(server):
        expect(send(client, "/orders/create", client.sign_params(params)), code)
    fails("ORDER.NOT_FOUND", client.query_order, merchant_order_id=GOOD["merchant_order_id"])


def paid_order(server, client: VpayClient, merchant_order_id: str, amount: int = 1000) -> str:
    order_id = client.create_order(merchant_order_id, amount)["order_id"]
    assert server.sandbox_pay(order_id).status_code == 200
    return order_id


# -- create ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["merchant_order_id", "amount", "channel"])
def test_create_missing_field(server, shared_vpay, missing):
    create_refused(server, shared_vpay, "PAYMENT.MISSING_PARAM", **{missing: None})


@pytest.mark.parametrize(
    "changes",
    [
        {"merchant_order_id": "M" * 65},
        {"merchant_order_id": "has space"},
        {"merchant_order_id": "订单1"},
        {"merchant_order_id": 12345},
        {"product_desc": "d" * 257},
        {"product_desc": "line\nbreak"},
        {"product_desc": 5},
        {"notify_url": "ftp://example.com/notify"},
        {"notify_url": "not a url"},
        {"notify_url": "https://example.com/" + "n" * 500},
        {"notify_url": "https://user:pw@example.com/notify"},
        {"currency": "XYZ"},
        {"currency": "CNYCNYCNY"},
        {"channel": "BITCOIN"},
        {"channel": "qr_code"},
        {"channel": 1},
        {"unknown_field": "x"},
    ],
    ids=lambda changes: next(iter(changes)) + ":" + repr(next(iter(changes.values())))[:20],
)
def test_create_invalid_field(server, shared_vpay, changes):
    create_refused(server, shared_vpay, "ORDER.INVALID_PARAMS", **changes)


@pytest.mark.parametrize(
    "amount",
    [0, -1, -1000, 1.5, 100.0, "abc", "1.5", "-5", " 5", "１２", True, 10**12 + 1, 10**20],
    ids=repr,
)
def test_create_invalid_amount(server, shared_vpay, amount):
    create_refused(server, shared_vpay, "ORDER.INVALID_AMOUNT", amount=amount)


def test_create_null_amount_is_missing(server, shared_vpay):
    params = shared_vpay.sign_params(GOOD)
    params["amount"] = None  # a JSON null signs as the empty string
    params["sign"] = signing.sign(params, shared_vpay.secret_key)
    with unchanged(server):
        expect(send(shared_vpay, "/orders/create", params), "PAYMENT.MISSING_PARAM")


def test_create_largest_amount_is_accepted(vpay):
    assert vpay.create_order("MAX-1", 10**12)["amount"] == 10**12


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 1001},
        {"channel": "ALIPAY"},
        {"currency": "USDT"},
        {"product_desc": "other"},
        {"notify_url": "https://merchant.example.com/notify"},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_duplicate_merchant_order_id_with_other_params(server, vpay, changes):
    original = vpay.create_order("DUP-1", 1000)
    with unchanged(server):
        error = fails(
            "ORDER.INVALID_PARAMS",
            vpay.request,
            "POST",
            "/orders/create",
            {"merchant_order_id": "DUP-1", "amount": 1000, "channel": "QR_CODE", **changes},
        )
    assert "DUP-1" in error.message and "different parameters" in error.message
    assert vpay.query_order(merchant_order_id="DUP-1") == original


# -- query, close, pay ----------------------------------------------------------------------------


def test_another_merchants_order(server, vpay):
    other = new_client(server)
    order = other.create_order("THEIRS-1", 500)
    with unchanged(server):
        fails("ORDER.ACCESS_DENIED", vpay.query_order, order_id=order["order_id"])
        fails("ORDER.ACCESS_DENIED", vpay.close_order, order_id=order["order_id"])
        # Merchant order numbers are per merchant: someone else's is simply not found.
        fails("ORDER.NOT_FOUND", vpay.query_order, merchant_order_id="THEIRS-1")
    assert server.sandbox_pay(order["order_id"]).status_code == 200
    with unchanged(server):
        fails("ORDER.ACCESS_DENIED", vpay.refund, "STEAL-1", 100, order_id=order["order_id"])
    assert other.query_order(order_id=order["order_id"])["status"] == 1


def test_query_needs_a_known_order(server, vpay):
    order = vpay.create_order("KNOWN-1", 100)
    fails("ORDER.NOT_FOUND", vpay.query_order, order_id="1234567890")
    fails("ORDER.NOT_FOUND", vpay.query_order, merchant_order_id="NOPE")
    fails("PAYMENT.MISSING_PARAM", vpay.query_order)
    fails(
        "ORDER.INVALID_PARAMS",
        vpay.query_order,
        order_id=order["order_id"],
        merchant_order_id="OTHER",
    )
    fails("ORDER.INVALID_PARAMS", vpay.query_order, order_id="x" * 65)


def test_close_of_a_paid_order(server, vpay):
    order_id = paid_order(server, vpay, "CLOSE-PAID")
    with unchanged(server):
        fails("ORDER.INVALID_STATUS", vpay.close_order, order_id=order_id)
    assert vpay.query_order(order_id=order_id)["status"] == 1


def test_close_twice(server, vpay):
    order_id = vpay.create_order("CLOSE-2", 100)["order_id"]
    vpay.close_order(order_id=order_id)
    with unchanged(server):
        fails("ORDER.INVALID_STATUS", vpay.close_order, order_id=order_id)


def test_pay_of_a_closed_order(server, vpay):
    payer = vpay.create_account()["account_id"]
    payee = vpay.create_account()["account_id"]
    vpay.recharge(payer, 5000)
    order_id = vpay.create_order("PAY-CLOSED", 1000)["order_id"]
    vpay.close_order(order_id=order_id)
    with unchanged(server):
        fails("ORDER.INVALID_STATUS", vpay.pay_order, order_id, payer, payee)
    assert vpay.query_order(order_id=order_id)["status"] == 2
    assert vpay.account_info(payer)["balance"] == 5000


def test_pay_twice(server, vpay):
    payer, payee = vpay.create_account()["account_id"], vpay.create_account()["account_id"]
    vpay.recharge(payer, 5000)
    order_id = vpay.create_order("PAY-TWICE", 1000)["order_id"]
    vpay.pay_order(order_id, payer, payee)
    with unchanged(server):
        fails("ORDER.INVALID_STATUS", vpay.pay_order, order_id, payer, payee)
    assert vpay.account_info(payer)["balance"] == 4000


def test_pay_refusals(server, vpay):
    poor, payee = vpay.create_account()["account_id"], vpay.create_account()["account_id"]
    usdt = vpay.create_account(currency="USDT")["account_id"]
    vpay.recharge(poor, 999)
    vpay.recharge(usdt, 5000)
    order_id = vpay.create_order("PAY-BAD", 1000)["order_id"]
    with unchanged(server):
        fails("ACCOUNT.INSUFFICIENT_BALANCE", vpay.pay_order, order_id, poor, payee)
        fails("ACCOUNT.CURRENCY_MISMATCH", vpay.pay_order, order_id, usdt, payee)
        fails("ACCOUNT.SAME_ACCOUNT", vpay.pay_order, order_id, poor, poor)
        fails("ACCOUNT.NOT_FOUND", vpay.pay_order, order_id, "Anosuch", payee)
        fails("ACCOUNT.NOT_FOUND", vpay.pay_order, order_id, poor, "Anosuch")
        fails("ORDER.NOT_FOUND", vpay.pay_order, "1234567890", poor, payee)
        for body in (
            {"order_id": order_id, "from_account": poor},
            {"order_id": order_id, "to_account": payee},
            {"from_account": poor, "to_account": payee},
        ):
            expect(send(vpay, "/orders/pay", body), "PAYMENT.MISSING_PARAM")
        body = {"order_id": order_id, "from_account": poor, "to_account": payee, "x": 1}
        expect(send(vpay, "/orders/pay", body), "ORDER.INVALID_PARAMS")
    assert vpay.query_order(order_id=order_id)["status"] == 0


# -- refund ---------------------------------------------------------------------------------------


def test_refund_over_the_remaining_amount(server, vpay):
    order_id = paid_order(server, vpay, "REF-OVER")
    with unchanged(server):
        fails("REFUND.EXCEEDS_AMOUNT", vpay.refund, "RO-0", 1001, order_id=order_id)
    vpay.refund("RO-1", 600, order_id=order_id)
    with unchanged(server):
        error = fails("REFUND.EXCEEDS_AMOUNT", vpay.refund, "RO-2", 401, order_id=order_id)
    assert "400" in error.message
    vpay.refund("RO-3", 400, order_id=order_id)
    with unchanged(server):
        fails("ORDER.INVALID_STATUS", vpay.refund, "RO-4", 1, order_id=order_id)
    assert vpay.query_order(order_id=order_id)["refunded_amount"] == 1000


def test_refund_of_an_unpaid_or_closed_order(server, vpay):
    order_id = vpay.create_order("REF-UNPAID", 1000)["order_id"]
    with unchanged(server):
        fails("ORDER.INVALID_STATUS", vpay.refund, "RU-1", 100, order_id=order_id)
    vpay.close_order(order_id=order_id)
    with unchanged(server):
        fails("ORDER.INVALID_STATUS", vpay.refund, "RU-2", 100, order_id=order_id)
        fails("ORDER.NOT_FOUND", vpay.refund, "RU-3", 100, merchant_order_id="NOPE")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": 0}, "ORDER.INVALID_AMOUNT"),
        ({"amount": -5}, "ORDER.INVALID_AMOUNT"),
        ({"amount": 1.5}, "ORDER.INVALID_AMOUNT"),
        ({"amount": "abc"}, "ORDER.INVALID_AMOUNT"),
        ({"amount": None}, "PAYMENT.MISSING_PARAM"),
        ({"merchant_refund_id": None}, "PAYMENT.MISSING_PARAM"),
        ({"merchant_refund_id": "R" * 65}, "ORDER.INVALID_PARAMS"),
        ({"reason": "r" * 257}, "ORDER.INVALID_PARAMS"),
        ({"notify_url": "gopher://x"}, "ORDER.INVALID_PARAMS"),
        ({"order_id": None}, "PAYMENT.MISSING_PARAM"),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_refund_invalid_field(server, vpay, changes, code):
    order_id = paid_order(server, vpay, "REF-BAD")
    params = {"order_id": order_id, "merchant_refund_id": "RB-1", "amount": 100, **changes}
    with unchanged(server):
        fails(code, vpay.request, "POST", "/orders/refund", params)
    assert vpay.query_order(order_id=order_id)["status"] == 1


# -- list -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"status": "5"},
        {"status": "-1"},
        {"status": "paid"},
        {"page": "0"},
        {"page_size": "101"},
        {"start_time": "yesterday"},
        {"end_time": "2023-13-01"},
        {"merchant_order_id": "x"},
    ],
    ids=lambda params: "&".join(f"{k}={v}" for k, v in params.items()),
)
def test_list_invalid_filter(shared_vpay, params):
    fails("ORDER.INVALID_PARAMS", shared_vpay.request, "GET", "/orders/list", params)


def test_unchanged_notices_a_write(server, vpay):
    """The "nothing changed" check used above can fail."""
    with pytest.raises(AssertionError, match="orders changed"), unchanged(server):
        vpay.create_order("WRITE-1", 100)
