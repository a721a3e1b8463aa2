"""Production mode: sandbox-only endpoints are refused, account endpoints need a signature and
an account belongs to the merchant that created it, notify URLs must be public."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.harness import BACKENDS, Server, run_server
from tests.vpay.conftest import expect, fails, new_client, send, unchanged


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("prod"), request.param, mode="production") as srv:
        yield srv


def test_sandbox_only_endpoints_are_refused(server, vpay):
    order = vpay.create_order("PROD-1", 100)
    a = vpay.create_account(signed=True)["account_id"]
    b = vpay.create_account(signed=True)["account_id"]
    vpay.recharge(a, 1000, signed=True)
    with unchanged(server):
        expect(
            httpx.post(server.base_url + "/api/v1/merchants", json={"merchant_name": "x"}),
            "PAYMENT.SANDBOX_ONLY",
        )
        body = {"order_id": order["order_id"], "from_account": a, "to_account": b}
        expect(send(vpay, "/orders/pay", body), "PAYMENT.SANDBOX_ONLY")
        for refused in (
            server.sandbox_pay(order["order_id"]),
            server.sandbox_fail(order["order_id"]),
        ):
            assert refused.status_code == 404, refused.text
            assert refused.json()["error"]["code"] == "sandbox_only"
    assert vpay.query_order(order_id=order["order_id"])["status"] == 0


def test_account_endpoints_need_a_signature(server, vpay):
    mine = vpay.create_account(signed=True)["account_id"]
    with unchanged(server):
        fails("PAYMENT.MISSING_PARAM", vpay.create_account)
        expect(vpay.http.post(vpay.base + "/accounts"), "PAYMENT.MISSING_PARAM")
        fails("PAYMENT.MISSING_PARAM", vpay.account_info, mine)
        fails("PAYMENT.MISSING_PARAM", vpay.recharge, mine, 100)
        fails("PAYMENT.MISSING_PARAM", vpay.withdraw, mine, 100)
        fails("PAYMENT.MISSING_PARAM", vpay.transactions, mine)
        params = vpay.sign_params({"account_id": mine, "amount": 100})
        params["sign"] = "0" * 64
        expect(send(vpay, "/accounts/recharge", params), "PAYMENT.INVALID_SIGN")


def test_accounts_belong_to_their_merchant(server, vpay):
    mine = vpay.create_account(signed=True)["account_id"]
    other = new_client(server)
    theirs = other.create_account(signed=True)["account_id"]
    vpay.recharge(mine, 1000, signed=True)
    other.recharge(theirs, 1000, signed=True)
    with unchanged(server):
        fails("ACCOUNT.ACCESS_DENIED", other.account_info, mine, signed=True)
        fails("ACCOUNT.ACCESS_DENIED", other.transactions, mine, signed=True)
        fails("ACCOUNT.ACCESS_DENIED", other.recharge, mine, 100, signed=True)
        fails("ACCOUNT.ACCESS_DENIED", other.withdraw, mine, 100, signed=True)
        fails("ACCOUNT.ACCESS_DENIED", other.transfer, mine, theirs, 100, signed=True)
        fails("ACCOUNT.ACCESS_DENIED", vpay.transfer, mine, theirs, 100, signed=True)
    second = vpay.create_account(signed=True)["account_id"]
    vpay.transfer(mine, second, 400, signed=True)
    vpay.withdraw(second, 100, signed=True)
    assert vpay.account_info(mine, signed=True)["balance"] == 600
    assert vpay.account_info(second, signed=True)["balance"] == 300
    assert vpay.transactions(second, signed=True)["total"] == 2
    server.assert_ledger_clean()


def test_private_notify_urls_are_refused(server, vpay):
    with unchanged(server):
        for url in ("http://127.0.0.1:8080/notify", "http://10.0.0.5/notify", "http://localhost/n"):
            fails("ORDER.INVALID_PARAMS", vpay.create_order, "PRIV-1", 100, notify_url=url)
    assert vpay.create_order("PUB-1", 100, notify_url="https://merchant.example.com/n")


def test_search_still_works_with_the_admin_token(server, vpay):
    found = vpay.search_merchants("vpay merchant", page_size=100)
    assert vpay.app_id in [m["merchant_id"] for m in found["data"]]
