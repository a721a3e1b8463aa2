"""Payments into one hot merchant account: pending postings, folded, never wrong.

Credits to a merchant's settlement account are journaled as pending (no row
lock per payment); refunds debit it after folding what is pending. Whatever
interleaving, the balance read is exact and the ledger check stays clean.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from paymux.dialects.vpay.client import VpayClient, VpayError
from paymux.store import tables as t


def pending_count(server, account_id: str) -> int:
    def count(uow):
        p = t.postings.c
        return uow.conn.execute(
            select(func.count()).where(p.account_id == account_id, p.pending.is_(True))
        ).scalar_one()

    return server.ctx.store.read_sync(count)


def test_concurrent_payments_and_refunds_into_one_merchant(server, merchant):
    creds = merchant["vpay"]
    client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    settlement = f"S:{merchant['merchant_id']}:CNY"
    orders = [client.create_order(f"HOT-{i}", 1000 + i, "QR_CODE")["order_id"] for i in range(60)]

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda no: server.sandbox_pay(no).status_code, orders))
    assert statuses == [200] * len(orders)
    paid = sum(1000 + i for i in range(60))
    assert client.account_info(settlement)["balance"] == paid

    def refund(i: int) -> int:
        try:
            return client.refund(f"HOT-R{i}", 500, order_id=orders[i])["amount"]
        except VpayError:
            return 0

    with ThreadPoolExecutor(16) as pool:
        refunded = sum(pool.map(refund, range(60)))
    assert refunded == 60 * 500
    assert client.account_info(settlement)["balance"] == paid - refunded
    server.assert_ledger_clean()


def test_a_checked_debit_folds_pending_credits_first(server, merchant):
    """A refund needs the pending credits of the payment it refunds to be folded in."""
    creds = merchant["vpay"]
    client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    settlement = f"S:{merchant['merchant_id']}:CNY"
    order = client.create_order("FOLD-1", 5000, "QR_CODE")
    assert server.sandbox_pay(order["order_id"]).status_code == 200
    # The job may already have folded it; both states must read the same balance.
    assert client.account_info(settlement)["balance"] == 5000
    refund = client.refund("FOLD-R1", 5000, order_id=order["order_id"])
    assert refund["status"] == 4
    assert pending_count(server, settlement) == 0
    assert client.account_info(settlement)["balance"] == 0
    with pytest.raises(VpayError) as more:
        client.refund("FOLD-R2", 1, order_id=order["order_id"])
    assert more.value.code == "ORDER.INVALID_STATUS"
    server.assert_ledger_clean()


def test_the_ledger_check_is_clean_while_money_moves(server, merchant):
    """The check reads balances, postings and holds as of one moment: run while transfers
    and payments commit, it must never report a difference that no commit left."""
    creds = merchant["vpay"]
    client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    accounts = [client.create_account()["account_id"] for _ in range(4)]
    for account in accounts:
        client.recharge(account, 1_000_000)
    orders = [client.create_order(f"MOVE-{i}", 100, "QR_CODE")["order_id"] for i in range(40)]

    def move(i: int) -> None:
        client.transfer(accounts[i % 4], accounts[(i + 1) % 4], 1 + i % 7)
        if i % 10 == 0:
            assert server.sandbox_pay(orders[i // 10]).status_code == 200

    checks: list[dict] = []
    with ThreadPoolExecutor(12) as pool:
        moving = [pool.submit(move, i) for i in range(400)]
        while not all(f.done() for f in moving):
            checked = server.admin("GET", "/admin/v1/ledger/check")
            assert checked.status_code == 200, checked.text
            checks.append(checked.json())
        for future in moving:
            future.result()
    assert len(checks) >= 3, "too few checks ran while money moved to mean anything"
    assert [c for c in checks if not c["clean"]] == []
    server.assert_ledger_clean()


def test_an_account_whose_making_was_undone_is_made_again(server):
    """A payment that fails after making the settlement account undoes that too; the
    process must not remember the account as made (it skips the insert for those)."""
    merchant = server.create_merchant("undone")
    creds = merchant["vpay"]
    client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    settlement = f"S:{merchant['merchant_id']}:USD"  # CNY's and USDT's come with the merchant
    failed = client.create_order("UNDO-1", 700, "QR_CODE", currency="USD")["order_id"]
    later = client.create_order("UNDO-2", 700, "QR_CODE", currency="USD")["order_id"]
    assert server.sandbox_fail(failed).status_code == 200
    assert server.sandbox_pay(failed).status_code == 409
    with pytest.raises(VpayError) as missing:
        client.account_info(settlement)
    assert missing.value.code == "ACCOUNT.NOT_FOUND"
    assert server.sandbox_pay(later).status_code == 200
    assert client.account_info(settlement)["balance"] == 700
    server.assert_ledger_clean()
