"""Racing pays of one order: exactly one moves money.

A pay writes its journal entry before the compare-and-set on the order's status
(services/orders.py), so every loser of a race has written an entry that its
transaction must take back: the money, the journal and the order must show one
payment only.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from paymux.core.ledger import split_fee
from paymux.dialects.vpay.client import VpayClient, VpayError

FEE_BP = 60


def _client(server, merchant) -> VpayClient:
    """A vpay client of `merchant`, which pays a fee (so each pay posts to three accounts)."""
    server.update_merchant(merchant["merchant_id"], fee_rate_bp=FEE_BP)
    creds = merchant["vpay"]
    return VpayClient(
        server.base_url, creds["app_id"], creds["secret_key"], admin_token=server.admin_token
    )


def test_concurrent_sandbox_pays_and_a_close_of_one_order_settle_once(server, merchant):
    client = _client(server, merchant)
    settlement = f"S:{merchant['merchant_id']}:CNY"
    before = client.account_info(settlement)["balance"]
    order = client.create_order("RACE-PAY-1", 10_000, "QR_CODE")["order_id"]

    def attempt(i: int) -> str:
        if i == 7:
            try:
                client.close_order(order_id=order)
            except VpayError as exc:
                return exc.code
            return "closed"
        return str(server.sandbox_pay(order).status_code)

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(24)))
    final = client.query_order(order_id=order)["status"]
    if "closed" in outcomes:
        assert outcomes.count("200") == 0, outcomes
        assert client.account_info(settlement)["balance"] == before
    else:
        assert outcomes.count("200") == 1, outcomes
        assert final == 1
        paid = client.account_info(settlement)["balance"] - before
        assert paid == 10_000 - split_fee(10_000, FEE_BP)
    assert outcomes.count("409") == 23 - ("closed" not in outcomes), outcomes
    server.assert_ledger_clean()


def test_concurrent_wallet_pays_of_one_order_debit_the_wallet_once(server, merchant):
    client = _client(server, merchant)
    wallets = [client.create_account()["account_id"] for _ in range(3)]
    for wallet in wallets:
        client.recharge(wallet, 5_000)
    payee = client.create_account()["account_id"]
    order = client.create_order("RACE-PAY-2", 4_000, "QR_CODE")["order_id"]

    def attempt(i: int) -> str:
        try:
            client.pay_order(order, wallets[i % 3], payee)
        except VpayError as exc:
            return exc.code
        return "paid"

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    assert outcomes.count("paid") == 1, outcomes
    assert set(outcomes) == {"paid", "ORDER.INVALID_STATUS"}, outcomes
    balances = sorted(client.account_info(w)["balance"] for w in wallets)
    assert balances == [1_000, 5_000, 5_000]
    fee = split_fee(4_000, FEE_BP)
    assert client.account_info(payee)["balance"] == 4_000 - fee
    # A wallet too poor to pay a paid order hears that the order is paid.
    poor = client.create_account()["account_id"]
    try:
        client.pay_order(order, poor, payee)
    except VpayError as exc:
        assert exc.code == "ORDER.INVALID_STATUS"
    else:
        raise AssertionError("a paid order was paid again")
    server.assert_ledger_clean()
