"""Refunds (the endpoints the ruling adds): partial and several, never more than was paid,
not even under concurrency; query by either number; the completion notification."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from paymux.dialects.partner.client import PartnerClient, PartnerError, wallet_url
from tests.partner.conftest import H5, User, onboard, other_partner


def paid_order(server, partner: PartnerClient, user: User, order_no: str, amount: str, **kw) -> str:
    """An order the user paid in the wallet; returns paymux's order no."""
    pay = partner.create_payment(order_no, amount, openid=user.openid, **kw)
    page = user.browser.get(wallet_url(partner.pay_link(pay, H5), server.base_url))
    assert user.browser.submit(page, "/wallet/pay").status_code == 303
    return pay["orderNo"]


def test_partial_refunds_up_to_the_paid_amount(server, partner, notify_endpoint):
    user = onboard(server, partner)
    order_no = paid_order(server, partner, user, "P-REF-1", "10.00")
    first = partner.refund(
        "P-REF-1", "R-1", "3.00", reason="size", notify_url=notify_endpoint.url("/notify")
    )
    assert (first["status"], first["amount"], first["refundedAmount"]) == (
        "SUCCESS",
        "3.00",
        "3.00",
    )
    assert first["orderNo"] == order_no and first["partnerRefundNo"] == "R-1"
    second = partner.refund(order_no, "R-2", "7.00", notify_url=notify_endpoint.url("/r2"))
    assert second["refundedAmount"] == "10.00"
    with pytest.raises(PartnerError) as over:
        partner.refund("P-REF-1", "R-3", "0.01")
    assert over.value.code == "2003"
    # the payment itself stays a successful payment; its refunds are reported apart
    order = partner.query_payment("P-REF-1")
    assert order["status"] == "SUCCESS" and order["refundedAmount"] == "10.00"
    assert partner.query_refund("R-1") == partner.query_refund(first["refundNo"])
    with pytest.raises(PartnerError) as missing:
        partner.query_refund("R-3")
    assert missing.value.code == "5002"
    (body,) = notify_endpoint.bodies_at("/notify")
    note = partner.verify_notification(body)
    assert note["notifyType"] == "refund" and note["status"] == "SUCCESS"
    assert (note["refundNo"], note["partnerRefundNo"]) == (first["refundNo"], "R-1")
    assert (note["orderNo"], note["partnerOrderNo"], note["amount"]) == (
        order_no,
        "P-REF-1",
        "3.00",
    )
    notify_endpoint.wait_count("/r2")
    assert 'id="balance-USDT">100.00' in user.browser.get("/wallet").text
    server.assert_ledger_clean()


def test_refund_is_idempotent_per_refund_no(server, partner):
    user = onboard(server, partner)
    paid_order(server, partner, user, "P-REF-2", "5.00")
    first = partner.refund("P-REF-2", "R-IDEM", "1.00", reason="x")
    assert partner.refund("P-REF-2", "R-IDEM", "1.00", reason="x") == first
    with pytest.raises(PartnerError) as exists:
        partner.refund("P-REF-2", "R-IDEM", "2.00", reason="x")
    assert exists.value.code == "5001"
    assert partner.query_payment("P-REF-2")["refundedAmount"] == "1.00"


def test_refunds_of_unpaid_unknown_or_foreign_orders(server, partner):
    partner.create_payment("P-REF-UNPAID", "1.00")
    with pytest.raises(PartnerError) as unpaid:
        partner.refund("P-REF-UNPAID", "R-U", "1.00")
    assert unpaid.value.code == "2003"
    other = other_partner(server, "refund stranger")
    foreign = other.create_payment("P-REF-FOREIGN", "1.00")
    for number in ("P-REF-NONE", foreign["orderNo"]):
        with pytest.raises(PartnerError) as missing:
            partner.refund(number, "R-X", "1.00")
        assert missing.value.code == "5002"
    with pytest.raises(PartnerError) as precise:
        partner.refund("P-REF-UNPAID", "R-P", "0.001")
    assert precise.value.code == "1001"


def test_concurrent_refunds_never_exceed_the_paid_amount(server, partner):
    user = onboard(server, partner)
    paid_order(server, partner, user, "P-REF-RACE", "10.00")

    def refund(i: int) -> str:
        try:
            return partner.refund("P-REF-RACE", f"R-RACE-{i}", "1.00")["status"]
        except PartnerError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(refund, range(14)))
    assert outcomes.count("SUCCESS") == 10 and outcomes.count("2003") == 4
    assert partner.query_payment("P-REF-RACE")["refundedAmount"] == "10.00"
    assert 'id="balance-USDT">100.00' in user.browser.get("/wallet").text
    server.assert_ledger_clean()
