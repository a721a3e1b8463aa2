"""The vpay happy path end to end, over real HTTP with the merchant SDK."""

from paymux.dialects.vpay.client import VpayClient


def test_create_pay_query_refund(server, merchant):
    client = VpayClient(server.base_url, merchant["vpay"]["app_id"], merchant["vpay"]["secret_key"])
    order = client.create_order("SMOKE-1", 10000, "QR_CODE")
    assert order["status"] == 0 and order["pay_url"].endswith(order["order_id"])
    assert server.sandbox_pay(order["order_id"]).status_code == 200
    assert client.query_order(merchant_order_id="SMOKE-1")["status"] == 1
    refund = client.refund("R-1", 4000, order_id=order["order_id"])
    assert refund["status"] == 3 and refund["refunded_amount"] == 4000
    server.assert_ledger_clean()
