"""The Alipay precreate connector end to end against the local fake, through paymodule's API."""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qsl

import pytest

from paymux.dialects.paymodule.client import PaymoduleError
from tests.channels.conftest import client_for, configure, mismatches
from tests.channels.fakes import FakeAlipay, new_key
from tests.harness import Server
from tests.paymodule.conftest import decode_qr, outbox, row_counts


def _biz() -> str:
    return "ALI" + secrets.token_hex(6).upper()


@pytest.fixture
def live(server: Server, ali: FakeAlipay):
    merchant = server.create_merchant("alipay shop")
    configure(server, merchant["merchant_id"], "alipay", ali.config())
    return merchant, client_for(server, merchant)


def test_precreate_is_signed_and_paid_by_notice(server: Server, live, ali: FakeAlipay, shop):
    merchant, pm = live
    created = pm.alipay_precreate(
        _biz(), 8888, "Iphone6 16G", description="购买商品B×1", callback_url=shop.url("/cb")
    )
    order_no = str(created["orderId"])
    assert decode_qr(created["qrBase64"]) == f"https://qr.alipay.com/bax{order_no}"
    (call,) = ali.seen
    assert call.signature_ok
    params = dict(parse_qsl(call.body.decode()))
    assert params["method"] == "alipay.trade.precreate" and params["sign_type"] == "RSA2"
    assert params["notify_url"].endswith(f"/channels/alipay/notify/{merchant['merchant_id']}")
    biz = json.loads(params["biz_content"])
    assert biz["total_amount"] == "88.88" and biz["out_trade_no"] == order_no
    assert biz["subject"] == "Iphone6 16G" and biz["body"] == "购买商品B×1"

    reply = ali.pay_and_notify(order_no)
    assert reply.status_code == 200 and reply.text == "success"
    order = pm.get_order(created["orderId"])
    assert order["status"] == "SUCCEEDED"
    assert order["channelTradeNo"] == ali.trades[order_no].trade_no
    shop.wait_for(lambda: len(shop.bodies("/cb")) == 1)
    (got,) = [r for r in shop.requests if r.path == "/cb"]
    assert pm.verify_callback(got.body, got.headers)["channel"] == "ALIPAY"
    assert ali.notice(ali.trades[order_no]).text == "success"  # repeated: no second payment
    assert len(outbox(server, merchant["merchant_id"])) == 1
    server.assert_ledger_clean()


def test_forged_notices_change_nothing(server: Server, live, ali: FakeAlipay):
    _, pm = live
    created = pm.alipay_precreate(_biz(), 100, "t", callback_url="http://127.0.0.1:9/cb")
    trade = ali.pay(str(created["orderId"]))
    before = row_counts(server)
    for reply in (
        ali.notice(trade, signer=new_key()),
        ali.notice(trade, tamper={"total_amount": "0.01"}),
        ali.notice(trade, app_id="2021999999999999"),
    ):
        assert reply.status_code == 400 and reply.text == "fail"
    assert pm.get_order(created["orderId"])["status"] == "PENDING"
    assert row_counts(server) == before


def test_business_failure_is_a_500_with_alipay_s_reason(server: Server, live, ali: FakeAlipay):
    _, pm = live
    ali.fail_next = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.ACCESS_FORBIDDEN",
        "sub_msg": "无权限使用接口",
    }
    with pytest.raises(PaymoduleError) as exc:
        pm.alipay_precreate(_biz(), 100, "t", callback_url="http://127.0.0.1:9/cb")
    assert exc.value.code == 500
    assert exc.value.msg.startswith("支付创建失败: 支付宝下单失败:")
    assert "ACQ.ACCESS_FORBIDDEN" in exc.value.msg


def test_a_request_signed_with_the_wrong_key_is_refused_by_the_channel(
    server: Server, ali: FakeAlipay
):
    merchant = server.create_merchant()
    other = FakeAlipay()
    path = f"/admin/v1/merchants/{merchant['merchant_id']}/channels/alipay"
    assert server.admin("PUT", path, {**ali.config(), "private_key": ""}).status_code == 400
    config = {**ali.config(), "private_key": other.config()["private_key"]}
    other.close()
    configure(server, merchant["merchant_id"], "alipay", config)
    with pytest.raises(PaymoduleError) as exc:
        client_for(server, merchant).alipay_precreate(
            _biz(), 100, "t", callback_url="http://127.0.0.1:9/cb"
        )
    assert exc.value.code == 500 and "isv.invalid-signature" in exc.value.msg
    assert not ali.seen[-1].signature_ok


def test_late_payment_is_refunded_at_once(fresh_server: Server, ali: FakeAlipay):
    merchant = fresh_server.create_merchant()
    configure(fresh_server, merchant["merchant_id"], "alipay", ali.config())
    pm = client_for(fresh_server, merchant)
    created = pm.alipay_precreate(_biz(), 1234, "t", callback_url="http://127.0.0.1:9/cb")
    order_no = str(created["orderId"])
    fresh_server.advance_clock(2 * 3600 + 1)
    assert pm.get_order(created["orderId"])["status"] == "EXPIRED"
    assert ali.pay_and_notify(order_no).text == "success"
    assert pm.get_order(created["orderId"])["status"] == "EXPIRED"
    (mismatch,) = mismatches(fresh_server, merchant["merchant_id"])
    assert mismatch["kind"] == "PAID_AFTER_CLOSE"
    assert mismatch["refund"]["status"] == "SUCCEEDED"  # Alipay refunds synchronously
    assert ali.trades[order_no].refunds == {mismatch["refund"]["refund_no"]: "12.34"}
    fresh_server.assert_ledger_clean()


def test_lost_notice_found_by_query_and_unscanned_trade_is_left_alone(
    fresh_server: Server, ali: FakeAlipay
):
    merchant = fresh_server.create_merchant()
    configure(fresh_server, merchant["merchant_id"], "alipay", ali.config())
    pm = client_for(fresh_server, merchant)
    paid = pm.alipay_precreate(_biz(), 300, "t", callback_url="http://127.0.0.1:9/cb")
    unscanned = pm.alipay_precreate(_biz(), 300, "t", callback_url="http://127.0.0.1:9/cb")
    ali.pay(str(paid["orderId"]))
    fresh_server.advance_clock(61)
    assert pm.get_order(paid["orderId"])["status"] == "SUCCEEDED"
    assert pm.get_order(unscanned["orderId"])["status"] == "PENDING"  # ACQ.TRADE_NOT_EXIST
    fresh_server.advance_clock(2 * 3600)
    assert pm.get_order(unscanned["orderId"])["status"] == "EXPIRED"
    assert pm.latest_transaction(unscanned["orderId"])["status"] == "EXPIRED"
