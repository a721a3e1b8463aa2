"""paymodule over real HTTP with the merchant SDK, on the sandbox channel (the default)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest

from paymux.demo import ensure_demo
from paymux.dialects.paymodule.client import PaymoduleClient, PaymoduleError
from tests.harness import Server, run_server
from tests.notify.receiver import Receiver
from tests.paymodule.conftest import decode_qr, outbox

TIME = "%Y-%m-%d %H:%M:%S"


def _biz() -> str:
    return "ORDER" + secrets.token_hex(6).upper()


def test_wechat_native_returns_a_pending_qr_of_the_hosted_cashier(server: Server, pm, shop):
    created = pm.wechat_native(
        _biz(), 10000, "商品订单支付", description="购买商品A×1", callback_url=shop.url()
    )
    assert isinstance(created["orderId"], int) and 0 < created["orderId"] < 2**63
    assert isinstance(created["transactionId"], int) and created["transactionId"] > 0
    assert created["status"] == "PENDING"
    assert decode_qr(created["qrBase64"]) == f"{server.base_url}/cashier/{created['orderId']}"
    order = pm.get_order(created["orderId"])
    assert order["channel"] == "WECHAT" and order["currency"] == "CNY"
    assert order["status"] == "PENDING" and order["paidAt"] is None
    made = datetime.strptime(order["createdAt"], TIME)
    assert datetime.strptime(created["expireAt"], TIME) - made == timedelta(hours=2)
    assert order["expireAt"] == created["expireAt"]
    latest = pm.latest_transaction(created["orderId"])
    assert latest["id"] == created["transactionId"] and latest["orderId"] == created["orderId"]
    assert latest["channel"] == "WECHAT" and latest["clientType"] == "NATIVE"
    assert latest["status"] == "PENDING" and latest["qrBase64"] == created["qrBase64"]


def test_alipay_precreate_and_payment_callback(server: Server, merchant, pm, shop: Receiver):
    biz = _biz()
    created = pm.alipay_precreate(biz, 1999, "咖啡", callback_url=shop.url("/notify"))
    assert decode_qr(created["qrBase64"]).endswith(f"/cashier/{created['orderId']}")
    assert pm.latest_transaction(created["orderId"])["clientType"] == "PRECREATE"
    assert server.sandbox_pay(str(created["orderId"])).status_code == 200
    shop.wait_for(lambda: len(shop.bodies("/notify")) == 1)
    (got,) = [r for r in shop.requests if r.path == "/notify"]
    assert got.headers["content-type"] == "application/json"
    fields = pm.verify_callback(got.body, got.headers)
    assert fields == {
        "tradeId": created["transactionId"],
        "orderId": created["orderId"],
        "bizOrderId": biz,
        "channel": "ALIPAY",
        "amount": 1999,
        "currency": "CNY",
        "status": "SUCCEEDED",
        "channelTradeNo": None,
        "paidAt": fields["paidAt"],
        "subject": "咖啡",
        "description": "",
    }
    assert next(iter(fields)) == "tradeId"  # the spec's field order
    order = pm.get_order(created["orderId"])
    assert order["status"] == "SUCCEEDED" and order["paidAt"] == fields["paidAt"]
    assert pm.latest_transaction(created["orderId"])["status"] == "SUCCEEDED"
    server.assert_ledger_clean()


def test_callback_signature_is_over_the_exact_bytes(pm, server: Server, shop: Receiver):
    created = pm.wechat_native(_biz(), 500, "t", callback_url=shop.url("/sig"))
    server.sandbox_pay(str(created["orderId"]))
    shop.wait_for(lambda: len(shop.bodies("/sig")) == 1)
    (got,) = [r for r in shop.requests if r.path == "/sig"]
    assert len(got.headers["x-nonce"]) >= 16 and got.headers["x-timestamp"].isdigit()
    forged = [
        (got.body + b" ", got.headers),
        (got.body, {**got.headers, "x-nonce": "other"}),
        (got.body, {**got.headers, "x-timestamp": "1"}),
        (got.body, {k: v for k, v in got.headers.items() if k != "x-signature"}),
    ]
    for body, headers in forged:
        with pytest.raises(PaymoduleError):
            pm.verify_callback(body, headers)
    other = PaymoduleClient(server.base_url, callback_sign_secret="not-the-secret")
    with pytest.raises(PaymoduleError):
        other.verify_callback(got.body, got.headers)


def test_unacknowledged_callback_follows_the_ruling_schedule(fresh_server: Server):
    merchant = fresh_server.create_merchant()
    pm = PaymoduleClient(fresh_server.base_url, **_creds(merchant))
    with Receiver(modes={"/down": "500"}) as shop:
        created = pm.wechat_native(_biz(), 100, "t", callback_url=shop.url("/down"))
        fresh_server.sandbox_pay(str(created["orderId"]))
        shop.wait_for(lambda: len(shop.bodies("/down")) == 1)
        schedule = (60, 300, 900, 3600, 7200, 14400, 28800, 43200, 86400)
        for attempt, delay in enumerate(schedule, start=2):
            fresh_server.advance_clock(delay - 1)
            assert len(shop.bodies("/down")) == attempt - 1
            fresh_server.advance_clock(1)
            shop.wait_for(lambda n=attempt: len(shop.bodies("/down")) == n)
        fresh_server.advance_clock(7 * 86400)
        assert len(shop.bodies("/down")) == 10
        assert len(set(shop.bodies("/down"))) == 1  # the same bytes every time
        (row,) = outbox(fresh_server, merchant["merchant_id"])
        assert row["status"] == "EXHAUSTED"


def _creds(merchant: dict) -> dict[str, str]:
    return {
        "api_key": merchant["paymodule"]["apiKey"],
        "callback_sign_secret": merchant["paymodule"]["callbackSignSecret"],
    }


def test_bizorderid_is_idempotent(server: Server, pm, shop):
    biz = _biz()
    first = pm.wechat_native(biz, 100, "t", callback_url=shop.url())
    again = pm.wechat_native(biz, 100, "t", callback_url=shop.url())
    assert again["orderId"] == first["orderId"]
    assert again["transactionId"] == first["transactionId"]
    with pytest.raises(PaymoduleError) as exc:
        pm.wechat_native(biz, 101, "t", callback_url=shop.url())
    assert exc.value.code == 400 and exc.value.status == 400
    with pytest.raises(PaymoduleError) as exc:
        pm.alipay_precreate(biz, 100, "t", callback_url=shop.url())
    assert exc.value.code == 400
    assert pm.get_order(first["orderId"])["amount"] == 100


def test_statuses_failed_and_expired(fresh_server: Server, shop):
    merchant = fresh_server.create_merchant()
    pm = PaymoduleClient(fresh_server.base_url, **_creds(merchant))
    failed = pm.wechat_native(_biz(), 100, "t", callback_url=shop.url())
    assert fresh_server.sandbox_fail(str(failed["orderId"])).status_code == 200
    assert pm.get_order(failed["orderId"])["status"] == "FAILED"
    assert pm.latest_transaction(failed["orderId"])["status"] == "FAILED"
    expiring = pm.alipay_precreate(_biz(), 100, "t", callback_url=shop.url())
    fresh_server.advance_clock(2 * 3600)
    assert pm.get_order(expiring["orderId"])["status"] == "EXPIRED"
    assert pm.latest_transaction(expiring["orderId"])["status"] == "EXPIRED"
    # an identical retry of an expired order returns it as it is, without a new attempt
    again = pm.alipay_precreate(
        pm.get_order(expiring["orderId"])["bizOrderId"], 100, "t", callback_url=shop.url()
    )
    assert again["status"] == "EXPIRED" and again["transactionId"] == expiring["transactionId"]
    assert shop.requests == []  # neither failure nor expiry calls back


def test_orders_of_other_merchants_are_not_found(server: Server, pm, shop):
    created = pm.wechat_native(_biz(), 100, "t", callback_url=shop.url())
    stranger = server.create_merchant("other")
    other = PaymoduleClient(server.base_url, **_creds(stranger))
    for call in (other.get_order, other.latest_transaction):
        with pytest.raises(PaymoduleError) as exc:
            call(created["orderId"])
        assert exc.value.code == 404 and exc.value.status == 404
    with pytest.raises(PaymoduleError) as exc:
        pm.get_order(created["orderId"] + 1)
    assert exc.value.code == 404


def test_caller_identification(server: Server, merchant, shop):
    anonymous = PaymoduleClient(server.base_url)
    with pytest.raises(PaymoduleError) as exc:
        anonymous.wechat_native(_biz(), 100, "t", callback_url=shop.url())
    assert exc.value.code == 401 and exc.value.status == 401 and exc.value.body["data"] is None
    for key in ("pk_unknown0000000000000000", "bad key!"):
        with pytest.raises(PaymoduleError) as exc:
            PaymoduleClient(server.base_url, key).get_order(1)
        assert exc.value.code == 401
    server.update_merchant(merchant["merchant_id"], status="disabled")
    with pytest.raises(PaymoduleError) as exc:
        PaymoduleClient(server.base_url, **_creds(merchant)).get_order(1)
    assert exc.value.code == 403


def test_sandbox_calls_without_a_key_act_for_the_demo_merchant(fresh_server: Server, shop):
    demo = ensure_demo(fresh_server.ctx)
    anonymous = PaymoduleClient(fresh_server.base_url)
    created = anonymous.wechat_native(_biz(), 100, "t", callback_url=shop.url())
    keyed = PaymoduleClient(fresh_server.base_url, **_creds(demo))
    assert keyed.get_order(created["orderId"])["status"] == "PENDING"


@pytest.mark.parametrize("overrides", [{"mode": "production"}, {"paymodule_default_merchant": ""}])
def test_no_default_merchant_in_production_or_when_switched_off(tmp_path, overrides):
    with run_server(tmp_path, **overrides) as srv:
        ensure_demo(srv.ctx)
        with pytest.raises(PaymoduleError) as exc:
            PaymoduleClient(srv.base_url).get_order(1)
        assert exc.value.code == 401 and "X-Api-Key" in exc.value.msg


def test_health_reports_database_and_dispatcher(server: Server):
    health = PaymoduleClient(server.base_url).health()
    assert health["status"] == "UP" and health["database"] == {"status": "UP"}
    assert health["dispatcher"]["status"] == "UP" and health["dispatcher"]["embedded"] is True
    datetime.strptime(health["time"], TIME)
