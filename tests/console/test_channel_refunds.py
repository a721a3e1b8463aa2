"""Console refunds of orders paid through WeChat Pay and Alipay, against the local channel fakes.

The order is paid the way a payer pays it (the fake channel's notice), the
refund is made by an operator over HTTP, and the outcome is read back from the
services and the ledger: the merchant's settlement balance moves only once the
channel has returned the money, and the ledger check stays clean throughout.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest

from paymux.channels import base
from paymux.core.models import Account, Order, Refund
from paymux.dialects.paymodule.client import PaymoduleClient
from paymux.dialects.vpay.client import VpayClient, VpayError
from paymux.services import audit, channel_refunds, ledger, orders, refunds
from tests.channels.conftest import client_for, configure
from tests.channels.fakes import FakeAlipay, FakeWechatPay
from tests.console.conftest import ConsoleClient, add_operator
from tests.harness import Server

KEY = re.compile(r'name="key" value="([0-9a-f]{16})"')
DEAD = "http://127.0.0.1:9/cb"  # paymodule orders need a callback; nothing listens there


@pytest.fixture(scope="module")
def console(server: Server) -> ConsoleClient:
    client = ConsoleClient(server)
    assert client.sign_in(add_operator(server, "admin")).status_code == 303
    return client


@dataclass
class Shop:
    """A merchant selling through one live channel, with a paid order to refund."""

    server: Server
    merchant: dict[str, Any]
    pm: PaymoduleClient
    order_no: str

    @property
    def merchant_id(self) -> str:
        return self.merchant["merchant_id"]

    def order(self) -> Order:
        return self.server.ctx.store.read_sync(orders.get_by_no, self.order_no)

    def refunds(self) -> list[Refund]:
        return self.server.ctx.store.read_sync(refunds.order_refunds, self.order().id)

    def settlement(self) -> Account:
        account_id = ledger.settlement_account_id(self.merchant_id, "CNY")
        return self.server.ctx.store.read_sync(ledger.get_account, account_id)


def _shop(server: Server, channel: str, config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    merchant = server.create_merchant(f"{channel} shop")
    configure(server, merchant["merchant_id"], channel, config)
    return merchant, client_for(server, merchant)


def wechat_shop(server: Server, wx: FakeWechatPay, amount: int = 2500) -> Shop:
    merchant, pm = _shop(server, "wechatpay", wx.config())
    created = pm.wechat_native("WX" + secrets.token_hex(6), amount, "t", callback_url=DEAD)
    order_no = str(created["orderId"])
    assert wx.pay_and_notify(order_no).status_code == 204
    shop = Shop(server, merchant, pm, order_no)
    assert shop.order().status == "PAID"
    return shop


def alipay_shop(server: Server, ali: FakeAlipay, amount: int = 2500) -> Shop:
    merchant, pm = _shop(server, "alipay", ali.config())
    created = pm.alipay_precreate("ALI" + secrets.token_hex(6), amount, "t", callback_url=DEAD)
    order_no = str(created["orderId"])
    assert ali.pay_and_notify(order_no).text == "success"
    shop = Shop(server, merchant, pm, order_no)
    assert shop.order().status == "PAID"
    return shop


def refund_form(console: ConsoleClient, order_no: str, amount: str) -> dict[str, str]:
    page = console.get(f"/console/orders/{order_no}")
    assert page.status_code == 200, page.text
    key = KEY.search(page.text)
    assert key, page.text
    return {"amount": amount, "reason": "damaged", "key": key.group(1), "currency": "CNY"}


def refund(console: ConsoleClient, order_no: str, amount: str) -> dict[str, str]:
    form = refund_form(console, order_no, amount)
    done = console.post(f"/console/orders/{order_no}/refund", form)
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith("done=refunded")
    return form


def test_wechat_refund_accepted_then_finished_by_its_notice(
    server: Server, console: ConsoleClient, wx: FakeWechatPay
) -> None:
    shop = wechat_shop(server, wx)
    before = shop.settlement()
    form = refund(console, shop.order_no, "10.00")
    (made,) = shop.refunds()
    assert made.status == "PROCESSING" and made.merchant_refund_no == f"console-{form['key']}"
    order = shop.order()
    assert order.status == "PARTIALLY_REFUNDED" and order.refunded_amount == 1000
    held = shop.settlement()
    assert held.balance == before.balance and held.frozen == before.frozen + 1000
    (call,) = [s for s in wx.seen if s.path == "/v3/refund/domestic/refunds"]
    sent = json.loads(call.body)
    assert call.signature_ok and sent["out_trade_no"] == shop.order_no
    assert sent["out_refund_no"] == made.refund_no
    assert sent["amount"] == {"refund": 1000, "total": 2500, "currency": "CNY"}
    assert sent["notify_url"] == f"{server.base_url}/channels/wechatpay/notify/{shop.merchant_id}"
    page = console.get(f"/console/orders/{shop.order_no}")
    assert "PROCESSING" in page.text and "waiting for wechatpay" in page.text
    server.assert_ledger_clean()

    again = console.post(f"/console/orders/{shop.order_no}/refund", form)  # a double submit
    assert again.status_code == 303 and len(shop.refunds()) == 1
    assert wx.finish_refund(made.refund_no).status_code == 204
    (done,) = shop.refunds()
    assert done.status == "SUCCEEDED" and done.extra["channel_refund_no"].startswith("50300")
    after = shop.settlement()
    assert after.balance == before.balance - 1000 and after.frozen == before.frozen
    assert shop.order().refunded_amount == 1000
    assert wx.finish_refund(made.refund_no).status_code == 204  # repeated: nothing moves twice
    assert shop.settlement() == after
    *_, entry = server.ctx.store.read_sync(  # the first submit (the double one is logged too)
        audit.list_entries, audit.AuditFilter(action="order.refund", target_id=shop.order_no)
    )
    assert entry.before["refunded_amount"] == 0 and entry.after["refunded_amount"] == 1000
    assert "SUCCEEDED" in console.get(f"/console/orders/{shop.order_no}").text
    server.assert_ledger_clean()


def test_wechat_refund_succeeding_at_once_refunds_the_whole_order(
    server: Server, console: ConsoleClient, wx: FakeWechatPay
) -> None:
    shop = wechat_shop(server, wx, amount=800)
    before = shop.settlement()
    wx.refund_status = "SUCCESS"
    refund(console, shop.order_no, "8.00")
    (done,) = shop.refunds()
    assert done.status == "SUCCEEDED" and shop.order().status == "REFUNDED"
    after = shop.settlement()
    assert after.balance == before.balance - 800 and after.frozen == before.frozen
    page = console.get(f"/console/orders/{shop.order_no}")
    assert "Refund amount" not in page.text  # nothing left to refund
    server.assert_ledger_clean()


def test_a_refund_wechat_pay_cannot_complete_is_failed_and_released(
    server: Server, console: ConsoleClient, wx: FakeWechatPay
) -> None:
    shop = wechat_shop(server, wx)
    before = shop.settlement()
    refund(console, shop.order_no, "25.00")
    (made,) = shop.refunds()
    assert shop.order().status == "REFUNDED" and shop.settlement().frozen == before.frozen + 2500
    assert wx.finish_refund(made.refund_no, "ABNORMAL").status_code == 204
    (failed,) = shop.refunds()
    assert failed.status == "FAILED" and failed.extra["channel_message"] == "ABNORMAL"
    order = shop.order()
    assert order.status == "PAID" and order.refunded_amount == 0
    assert shop.settlement() == before
    server.assert_ledger_clean()
    wx.refund_status = "SUCCESS"
    refund(console, shop.order_no, "5.00")  # refundable again
    assert [r.status for r in shop.refunds()] == ["FAILED", "SUCCEEDED"]
    assert shop.settlement().balance == before.balance - 500
    server.assert_ledger_clean()


def test_a_timed_out_refund_is_finished_by_the_job(
    server: Server, console: ConsoleClient, wx: FakeWechatPay, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = wechat_shop(server, wx)
    before = shop.settlement()
    monkeypatch.setattr(base, "TIMEOUT_S", 0.5)
    wx.refund_delay_s = 1.5  # WeChat Pay takes the refund but answers too late
    refund(console, shop.order_no, "3.00")
    (made,) = shop.refunds()
    assert made.status == "PROCESSING" and "cannot reach" in made.extra["channel_message"]
    assert wx.refunds[made.refund_no]["status"] == "PROCESSING"
    assert shop.settlement().frozen == before.frozen + 300
    wx.refund_delay_s = 0
    wx.refunds[made.refund_no]["status"] = "SUCCESS"  # done; its notice is lost
    server.advance_clock(50)
    assert shop.refunds()[0].status == "PROCESSING"  # not due yet
    server.advance_clock(11)
    (done,) = shop.refunds()
    assert done.status == "SUCCEEDED"
    assert shop.settlement().balance == before.balance - 300
    assert len([s for s in wx.seen if s.path == "/v3/refund/domestic/refunds"]) == 1
    server.assert_ledger_clean()


def test_a_refund_the_channel_never_received_is_sent_again(
    server: Server, console: ConsoleClient, wx: FakeWechatPay
) -> None:
    shop = wechat_shop(server, wx)
    before = shop.settlement()
    wx.fail_next = (500, {"code": "SYSTEM_ERROR", "message": "系统错误"})
    refund(console, shop.order_no, "4.00")
    (made,) = shop.refunds()
    assert made.status == "PROCESSING" and made.refund_no not in wx.refunds
    assert "SYSTEM_ERROR" in made.extra["channel_message"]
    server.advance_clock(61)  # the job asks, WeChat Pay knows no such refund: sent again
    assert wx.refunds[made.refund_no]["amount"]["refund"] == 400
    assert shop.refunds()[0].status == "PROCESSING"
    assert wx.finish_refund(made.refund_no).status_code == 204
    assert shop.refunds()[0].status == "SUCCEEDED"
    assert shop.settlement().balance == before.balance - 400
    server.assert_ledger_clean()


def test_a_crash_before_the_channel_call_is_finished_by_the_job(
    server: Server, wx: FakeWechatPay
) -> None:
    shop = wechat_shop(server, wx)
    before = shop.settlement()
    # Step 1 committed, then the process died before asking WeChat Pay.
    made = server.ctx.store.write_sync(
        channel_refunds.open_refund, shop.order_no, "crash-1", 600, "crash"
    )
    assert made.status == "PROCESSING" and not wx.refunds
    wx.refund_status = "SUCCESS"
    server.advance_clock(61)
    (done,) = shop.refunds()
    assert done.status == "SUCCEEDED" and wx.refunds[made.refund_no]["status"] == "SUCCESS"
    assert shop.settlement().balance == before.balance - 600
    server.assert_ledger_clean()


def test_alipay_refunds_synchronously_and_a_refusal_fails_the_refund(
    server: Server, console: ConsoleClient, ali: FakeAlipay
) -> None:
    shop = alipay_shop(server, ali)
    before = shop.settlement()
    refund(console, shop.order_no, "12.34")
    (done,) = shop.refunds()
    assert done.status == "SUCCEEDED"
    assert ali.trades[shop.order_no].refunds == {done.refund_no: "12.34"}
    call = ali.seen[-1]
    params = dict(parse_qsl(call.body.decode()))
    assert call.signature_ok and params["method"] == "alipay.trade.refund"
    assert json.loads(params["biz_content"])["out_trade_no"] == shop.order_no
    assert shop.settlement().balance == before.balance - 1234
    server.assert_ledger_clean()

    ali.fail_next = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.SELLER_BALANCE_NOT_ENOUGH",
        "sub_msg": "卖家余额不足",
    }
    refund(console, shop.order_no, "1.00")
    failed = shop.refunds()[-1]
    assert failed.status == "FAILED" and failed.extra["channel_message"] == "卖家余额不足"
    order = shop.order()
    assert order.status == "PARTIALLY_REFUNDED" and order.refunded_amount == 1234
    after = shop.settlement()
    assert after.balance == before.balance - 1234 and after.frozen == before.frozen
    assert "卖家余额不足" in console.get(f"/console/orders/{shop.order_no}").text
    server.assert_ledger_clean()


def test_a_merchant_api_refund_of_a_live_channel_order_is_refused(
    server: Server, wx: FakeWechatPay
) -> None:
    """vpay's refund API moves ledger money at once, so it must not reach an order whose money
    the channel holds: only the channel-first refund may (a merchant has every dialect's keys)."""
    shop = wechat_shop(server, wx, amount=900)
    balance = shop.settlement().balance
    creds = shop.merchant["vpay"]
    vpay = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    with pytest.raises(VpayError) as refused:
        vpay.refund("API-R1", 100, order_id=shop.order_no)
    assert refused.value.code == "ORDER.INVALID_STATUS", refused.value
    assert "wechatpay" in refused.value.message
    assert shop.refunds() == [] and shop.order().status == "PAID"
    assert shop.settlement().balance == balance and wx.refunds == {}
    server.assert_ledger_clean()


def test_a_refund_wechat_pay_refuses_for_good_fails_at_once(
    server: Server, console: ConsoleClient, wx: FakeWechatPay
) -> None:
    """A 4xx business refusal (the merchant's WeChat Pay balance is short) is an answer, not
    an outage: the refund fails with the reason and the hold goes back, rather than waiting
    for checks that cannot change it. A rate limit is not a refusal: the job asks again."""
    shop = wechat_shop(server, wx)
    before = shop.settlement()
    wx.fail_next = (403, {"code": "NOT_ENOUGH", "message": "基本账户余额不足"})
    refund(console, shop.order_no, "10.00")
    (failed,) = shop.refunds()
    assert failed.status == "FAILED" and "NOT_ENOUGH" in failed.extra["channel_message"]
    assert shop.order().status == "PAID" and shop.settlement() == before
    server.assert_ledger_clean()
    wx.fail_next = (429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"})
    refund(console, shop.order_no, "10.00")
    waiting = shop.refunds()[-1]
    assert waiting.status == "PROCESSING"
    assert "FREQUENCY_LIMITED" in waiting.extra["channel_message"]
    server.assert_ledger_clean()
