"""The WeChat Pay v3 connector end to end against the local fake, through paymodule's API."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from paymux.dialects.paymodule.client import PaymoduleError
from paymux.services import reconcile
from tests.channels.conftest import client_for, configure, mismatches
from tests.channels.fakes import FakeWechatPay, new_key
from tests.harness import Server
from tests.paymodule.conftest import decode_qr, outbox, row_counts


def _biz() -> str:
    return "WX" + secrets.token_hex(6).upper()


@pytest.fixture
def live(server: Server, wx: FakeWechatPay):
    merchant = server.create_merchant("wechat shop")
    configure(server, merchant["merchant_id"], "wechatpay", wx.config())
    return merchant, client_for(server, merchant)


def test_credentials_are_validated_and_never_shown(server: Server, wx: FakeWechatPay):
    merchant = server.create_merchant()
    path = f"/admin/v1/merchants/{merchant['merchant_id']}/channels/wechatpay"
    bad = [
        {**wx.config(), "apiv3_key": "short"},
        {**wx.config(), "private_key": "not a key"},
        {**wx.config(), "platform_keys": {}},
        {k: v for k, v in wx.config().items() if k != "mchid"},
    ]
    for config in bad:
        response = server.admin("PUT", path, config)
        assert response.status_code == 400, response.text
    assert server.admin("GET", path.rsplit("/", 1)[0]).json() == {"channels": []}
    shown = configure(server, merchant["merchant_id"], "wechatpay", wx.config())
    assert shown["account"] == wx.mchid and shown["enabled"] is True
    assert "apiv3_key" in shown["fields"] and wx.apiv3_key not in json.dumps(shown)
    assert server.admin("PUT", path.replace("wechatpay", "paypal"), {}).status_code == 404


def test_native_payment_is_signed_verified_and_paid_by_notice(
    server: Server, live, wx: FakeWechatPay, shop
):
    merchant, pm = live
    created = pm.wechat_native(_biz(), 2500, "商品订单支付", callback_url=shop.url("/cb"))
    order_no = str(created["orderId"])
    assert created["status"] == "PENDING"
    assert decode_qr(created["qrBase64"]) == f"weixin://wxpay/bizpayurl?pr={order_no}"
    (call,) = wx.seen
    assert call.signature_ok and call.path == "/v3/pay/transactions/native"
    sent = json.loads(call.body)
    assert sent["amount"] == {"total": 2500, "currency": "CNY"}
    assert sent["out_trade_no"] == order_no and sent["description"] == "商品订单支付"
    assert sent["notify_url"] == (
        f"{server.base_url}/channels/wechatpay/notify/{merchant['merchant_id']}"
    )
    assert sent["time_expire"].endswith("+08:00")

    reply = wx.pay_and_notify(order_no)
    assert reply.status_code == 204, reply.text
    order = pm.get_order(created["orderId"])
    trade = wx.trades[order_no]
    assert order["status"] == "SUCCEEDED" and order["channelTradeNo"] == trade.transaction_id
    latest = pm.latest_transaction(created["orderId"])
    assert latest["status"] == "SUCCEEDED" and latest["channelTradeNo"] == trade.transaction_id
    shop.wait_for(lambda: len(shop.bodies("/cb")) == 1)
    (got,) = [r for r in shop.requests if r.path == "/cb"]
    fields = pm.verify_callback(got.body, got.headers)
    assert fields["channelTradeNo"] == trade.transaction_id and fields["channel"] == "WECHAT"

    again = wx.notice(trade.body["notify_url"], "TRANSACTION.SUCCESS", wx._transaction(trade))
    assert again.status_code == 204  # a repeated notice is acknowledged and changes nothing
    assert len(outbox(server, merchant["merchant_id"])) == 1
    server.assert_ledger_clean()


def test_forged_or_unreadable_notices_change_nothing(server: Server, live, wx: FakeWechatPay):
    merchant, pm = live
    created = pm.wechat_native(_biz(), 100, "t", callback_url="http://127.0.0.1:9/cb")
    order_no = str(created["orderId"])
    trade = wx.pay(order_no)
    url, resource = trade.body["notify_url"], wx._transaction(trade)
    before = row_counts(server)
    forged = [
        wx.notice(url, "TRANSACTION.SUCCESS", resource, signer=new_key()),
        wx.notice(url, "TRANSACTION.SUCCESS", resource, key=secrets.token_hex(16)),
        wx.notice(url, "TRANSACTION.SUCCESS", resource, timestamp=int(time.time()) - 600),
        wx.notice(url.replace(merchant["merchant_id"], "Mnobody"), "TRANSACTION.SUCCESS", resource),
    ]
    for reply in forged:
        assert reply.status_code == 400, reply.text
        assert reply.json()["code"] == "FAIL"
    assert pm.get_order(created["orderId"])["status"] == "PENDING"
    assert row_counts(server) == before


def test_channel_refusal_is_a_500_and_a_retry_opens_the_payment(
    server: Server, live, wx: FakeWechatPay
):
    _, pm = live
    biz = _biz()
    wx.fail_next = (400, {"code": "PARAM_ERROR", "message": "appid和mch_id不匹配"})
    with pytest.raises(PaymoduleError) as exc:
        pm.wechat_native(biz, 100, "t", callback_url="http://127.0.0.1:9/cb")
    assert exc.value.code == 500 and exc.value.status == 500
    assert exc.value.msg.startswith("支付创建失败: 微信下单失败: WeChat Pay PARAM_ERROR")
    retried = pm.wechat_native(biz, 100, "t", callback_url="http://127.0.0.1:9/cb")
    assert retried["status"] == "PENDING"
    assert decode_qr(retried["qrBase64"]).startswith("weixin://wxpay/bizpayurl")


def test_a_reply_without_a_valid_platform_signature_is_refused(
    server: Server, live, wx: FakeWechatPay
):
    _, pm = live
    wx.bad_reply_signature = True
    with pytest.raises(PaymoduleError) as exc:
        pm.wechat_native(_biz(), 100, "t", callback_url="http://127.0.0.1:9/cb")
    assert exc.value.code == 500 and "Wechatpay-Signature does not verify" in exc.value.msg


def test_payment_after_expiry_is_recorded_and_refunded(fresh_server: Server, wx: FakeWechatPay):
    merchant = fresh_server.create_merchant()
    configure(fresh_server, merchant["merchant_id"], "wechatpay", wx.config())
    pm = client_for(fresh_server, merchant)
    created = pm.wechat_native(_biz(), 880, "t", callback_url="http://127.0.0.1:9/cb")
    order_no = str(created["orderId"])
    fresh_server.advance_clock(2 * 3600 + 1)
    assert pm.get_order(created["orderId"])["status"] == "EXPIRED"
    assert wx.trades[order_no].state == "CLOSED"  # the reconcile job closed it at the channel

    trade = wx.pay(order_no)  # the channel took the money anyway
    reply = wx.notice(trade.body["notify_url"], "TRANSACTION.SUCCESS", wx._transaction(trade))
    assert reply.status_code == 204
    assert pm.get_order(created["orderId"])["status"] == "EXPIRED"
    (mismatch,) = mismatches(fresh_server, merchant["merchant_id"])
    assert mismatch["kind"] == "PAID_AFTER_CLOSE" and mismatch["order_no"] == order_no
    assert mismatch["channel_trade_no"] == trade.transaction_id and mismatch["amount"] == 880
    assert mismatch["refund"]["status"] == "PROCESSING"
    refund_no = mismatch["refund"]["refund_no"]
    assert wx.refunds[refund_no]["amount"]["refund"] == 880

    assert wx.finish_refund(refund_no).status_code == 204
    (mismatch,) = mismatches(fresh_server, merchant["merchant_id"])
    assert mismatch["refund"]["status"] == "SUCCEEDED" and mismatch["resolved_at"] is None
    resolved = fresh_server.admin(
        "POST", f"/admin/v1/channel-mismatches/{mismatch['id']}/resolve", {"resolution": "ok"}
    )
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]
    open_ones = fresh_server.admin("GET", "/admin/v1/channel-mismatches").json()["mismatches"]
    assert all(m["id"] != mismatch["id"] for m in open_ones)
    assert outbox(fresh_server, merchant["merchant_id"]) == []  # the merchant was never paid
    fresh_server.assert_ledger_clean()


def test_a_lost_notice_is_found_by_the_reconcile_job(fresh_server: Server, wx: FakeWechatPay):
    merchant = fresh_server.create_merchant()
    configure(fresh_server, merchant["merchant_id"], "wechatpay", wx.config())
    pm = client_for(fresh_server, merchant)
    paid = pm.wechat_native(_biz(), 300, "t", callback_url="http://127.0.0.1:9/cb")
    unpaid = pm.wechat_native(_biz(), 400, "t", callback_url="http://127.0.0.1:9/cb")
    wx.pay(str(paid["orderId"]))  # paid, but the notice never arrives
    fresh_server.advance_clock(59)
    assert pm.get_order(paid["orderId"])["status"] == "PENDING"
    fresh_server.advance_clock(2)
    order = pm.get_order(paid["orderId"])
    assert order["status"] == "SUCCEEDED"
    assert order["channelTradeNo"] == wx.trades[str(paid["orderId"])].transaction_id
    queries = [s for s in wx.seen if s.method == "GET"]
    assert all(s.signature_ok for s in queries) and len(queries) == 2
    # the unpaid one is asked again shortly before it expires, then closed after
    fresh_server.advance_clock(2 * 3600 - 200)
    assert wx.trades[str(unpaid["orderId"])].state == "NOTPAY"
    fresh_server.advance_clock(200)
    assert pm.get_order(unpaid["orderId"])["status"] == "EXPIRED"
    assert wx.trades[str(unpaid["orderId"])].state == "CLOSED"
    assert pm.latest_transaction(unpaid["orderId"])["status"] == "EXPIRED"
    assert mismatches(fresh_server, merchant["merchant_id"]) == []


def test_reconcile_survives_an_unreachable_channel(fresh_server: Server, wx: FakeWechatPay):
    import asyncio

    merchant = fresh_server.create_merchant()
    configure(fresh_server, merchant["merchant_id"], "wechatpay", wx.config())
    pm = client_for(fresh_server, merchant)
    created = pm.wechat_native(_biz(), 300, "t", callback_url="http://127.0.0.1:9/cb")
    wx.close()  # WeChat Pay is down
    fresh_server.advance_clock(61)
    assert pm.get_order(created["orderId"])["status"] == "PENDING"
    assert asyncio.run(reconcile.reconcile(fresh_server.ctx.store)) == 0  # retried later


def test_a_payment_of_another_amount_is_not_applied(server: Server, live, wx: FakeWechatPay):
    merchant, pm = live
    created = pm.wechat_native(_biz(), 1000, "t", callback_url="http://127.0.0.1:9/cb")
    trade = wx.pay(str(created["orderId"]), amount=1)
    reply = wx.notice(trade.body["notify_url"], "TRANSACTION.SUCCESS", wx._transaction(trade))
    assert reply.status_code == 204
    assert pm.get_order(created["orderId"])["status"] == "PENDING"
    (mismatch,) = mismatches(server, merchant["merchant_id"])
    assert mismatch["kind"] == "AMOUNT_MISMATCH" and mismatch["amount"] == 1
    assert mismatch["refund"]["status"] == "PROCESSING"
    assert wx.refunds[mismatch["refund"]["refund_no"]]["amount"]["refund"] == 1
    wx.refunds[mismatch["refund"]["refund_no"]]["status"] = "SUCCESS"  # its notice is lost
    server.advance_clock(61)  # the reconcile job asks
    (mismatch,) = mismatches(server, merchant["merchant_id"])
    assert mismatch["refund"]["status"] == "SUCCEEDED"
