"""Bad account requests: each gets its vpay code and moves no money."""

from __future__ import annotations

import pytest

from paymux.dialects.vpay.client import VpayClient
from tests.vpay.conftest import expect, fails, send, unchanged


def two_accounts(client: VpayClient, funds: int = 1000) -> tuple[str, str]:
    a, b = client.create_account()["account_id"], client.create_account()["account_id"]
    client.recharge(a, funds)
    return a, b


def test_transfer_to_self(server, shared_vpay):
    a, _ = two_accounts(shared_vpay)
    with unchanged(server):
        fails("ACCOUNT.SAME_ACCOUNT", shared_vpay.transfer, a, a, 100)


def test_transfer_and_withdraw_over_balance(server, shared_vpay):
    a, b = two_accounts(shared_vpay, 1000)
    with unchanged(server):
        fails("ACCOUNT.INSUFFICIENT_BALANCE", shared_vpay.transfer, a, b, 1001)
        fails("ACCOUNT.INSUFFICIENT_BALANCE", shared_vpay.withdraw, a, 1001)
        fails("ACCOUNT.INSUFFICIENT_BALANCE", shared_vpay.withdraw, b, 1)
    shared_vpay.withdraw(a, 1000)
    assert shared_vpay.account_info(a)["balance"] == 0


def test_transfer_across_currencies(server, shared_vpay):
    a, _ = two_accounts(shared_vpay)
    usdt = shared_vpay.create_account(currency="USDT")["account_id"]
    with unchanged(server):
        fails("ACCOUNT.CURRENCY_MISMATCH", shared_vpay.transfer, a, usdt, 100)


def test_unknown_account(server, shared_vpay):
    a, _ = two_accounts(shared_vpay)
    with unchanged(server):
        fails("ACCOUNT.NOT_FOUND", shared_vpay.account_info, "Anosuchaccount")
        fails("ACCOUNT.NOT_FOUND", shared_vpay.transactions, "Anosuchaccount")
        fails("ACCOUNT.NOT_FOUND", shared_vpay.recharge, "Anosuchaccount", 100)
        fails("ACCOUNT.NOT_FOUND", shared_vpay.withdraw, "Anosuchaccount", 100)
        fails("ACCOUNT.NOT_FOUND", shared_vpay.transfer, a, "Anosuchaccount", 100)
        fails("ACCOUNT.NOT_FOUND", shared_vpay.transfer, "Anosuchaccount", a, 100)


@pytest.mark.parametrize("amount", [0, -1, 1.5, 10.0, "abc", "-1", True, 10**12 + 1], ids=repr)
def test_invalid_amount(server, shared_vpay, amount):
    a, b = two_accounts(shared_vpay)
    with unchanged(server):
        fails("ORDER.INVALID_AMOUNT", shared_vpay.recharge, a, amount)
        fails("ORDER.INVALID_AMOUNT", shared_vpay.withdraw, a, amount)
        fails("ORDER.INVALID_AMOUNT", shared_vpay.transfer, a, b, amount)


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/accounts/recharge", {"amount": 100}, "PAYMENT.MISSING_PARAM"),
        ("/accounts/recharge", {"account_id": "A1"}, "PAYMENT.MISSING_PARAM"),
        ("/accounts/withdraw", {"account_id": "", "amount": 100}, "PAYMENT.MISSING_PARAM"),
        ("/accounts/transfer", {"to_account": "A1", "amount": 1}, "PAYMENT.MISSING_PARAM"),
        ("/accounts/transfer", {"from_account": "A1", "amount": 1}, "PAYMENT.MISSING_PARAM"),
        ("/accounts/recharge", {"account_id": "A" * 33, "amount": 1}, "ACCOUNT.INVALID_PARAMS"),
        ("/accounts/recharge", {"account_id": "A 1", "amount": 1}, "ACCOUNT.INVALID_PARAMS"),
        ("/accounts/recharge", {"account_id": 17, "amount": 1}, "ACCOUNT.INVALID_PARAMS"),
        ("/accounts/recharge", {"account_id": "A1", "amount": 1, "x": 1}, "ACCOUNT.INVALID_PARAMS"),
        ("/accounts", {"currency": "XYZ"}, "ACCOUNT.INVALID_PARAMS"),
        ("/accounts", {"owner": "me"}, "ACCOUNT.INVALID_PARAMS"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_invalid_fields(server, shared_vpay, path, body, code):
    with unchanged(server):
        expect(send(shared_vpay, path, body), code)


def test_malformed_and_mistyped_bodies(server, shared_vpay):
    a, b = two_accounts(shared_vpay)
    with unchanged(server):
        expect(
            send(shared_vpay, "/accounts/transfer", b'{"from_account":'), "PAYMENT.MISSING_PARAM"
        )
        expect(
            send(shared_vpay, "/accounts", b'{"currency": "CNY"}', content_type="text/plain"),
            "PAYMENT.UNSUPPORTED_MEDIA_TYPE",
        )
        expect(
            send(
                shared_vpay,
                "/accounts/transfer",
                f"from_account={a}&to_account={b}&amount=1".encode(),
                content_type="application/x-www-form-urlencoded",
            ),
            "PAYMENT.UNSUPPORTED_MEDIA_TYPE",
        )


@pytest.mark.parametrize(
    "params",
    [{"type": "6"}, {"type": "pay"}, {"page": "0"}, {"page_size": "1000"}, {"start_time": "x"}],
    ids=lambda params: "&".join(f"{k}={v}" for k, v in params.items()),
)
def test_invalid_transaction_filters(shared_vpay, params):
    a, _ = two_accounts(shared_vpay)
    fails(
        "ACCOUNT.INVALID_PARAMS",
        shared_vpay.request,
        "GET",
        f"/accounts/{a}/transactions",
        params,
        signed=False,
    )
