"""The async notification: what the outbox holds for the merchant (fields, attach echoed
exactly, amounts, callback signature), the ack rule and schedule, and real deliveries."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote

import pytest

from paymux.core.models import Credential, Order, Refund
from paymux.dialects.gateway.client import GatewayClient, GatewayError
from paymux.dialects.gateway.notify import POLICY, GatewayNotifier, is_ack
from paymux.services.notifications import DeliveryReply
from paymux.signing import gateway as signing
from tests.gateway.conftest import outbox
from tests.harness import Server
from tests.notify.receiver import Receiver

RETURN = "https://shop.example.com/return"
FIELDS = [
    "actual_amount",
    "amount",
    "appid",
    "attach",
    "order_no",
    "pay_status",
    "pay_time",
    "platform_order_no",
    "sign",
]
CHINESE = quote("测试订单 用户=张三&备注")  # what a PHP shop's urlencode() makes of it


def _order(gw: GatewayClient, order_no: str, notify_url: str, attach: str | None = None) -> dict:
    return gw.unified_order(
        order_no, 10000, "912", "onlinepay", notify_url=notify_url, return_url=RETURN, attach=attach
    )


def test_paid_callback_fields_and_signature(server, merchant, gw):
    created = _order(gw, "G-CB-1", "http://127.0.0.1:9/notify", attach=CHINESE)
    assert server.sandbox_pay(created["platform_order_no"]).status_code == 200
    (row,) = outbox(server, merchant["merchant_id"])
    assert (row["dialect"], row["event"], row["url"]) == (
        "gateway",
        "order.paid",
        "http://127.0.0.1:9/notify",
    )
    assert row["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}
    pairs = parse_qsl(row["body"].decode("ascii"), keep_blank_values=True, strict_parsing=True)
    assert [k for k, _ in pairs] == FIELDS
    fields = gw.verify_callback(row["body"])
    # attach comes back exactly as sent: still URL-encoded once the form is decoded
    assert fields["attach"] == CHINESE
    assert b"attach=" + quote(CHINESE, safe="").encode() in row["body"]
    assert fields["amount"] == fields["actual_amount"] == "10000.00"
    assert fields["pay_status"] == "1"
    assert fields["order_no"] == "G-CB-1"
    assert fields["platform_order_no"] == created["platform_order_no"]
    assert fields["appid"] == merchant["gateway"]["appid"]
    assert fields["pay_time"] == gw.check_order("G-CB-1")["pay_time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", fields["pay_time"])


def test_empty_attach_is_kept_in_the_callback_signature(server, merchant, gw):
    created = _order(gw, "G-CB-2", "http://127.0.0.1:9/notify")
    server.sandbox_pay(created["platform_order_no"])
    (row,) = outbox(server, merchant["merchant_id"])
    fields = dict(parse_qsl(row["body"].decode(), keep_blank_values=True))
    assert fields["attach"] == ""
    secret = merchant["gateway"]["secret"]
    assert "&attach=&" in signing.string_to_sign(fields, secret, keep_empty=True)
    assert fields["sign"] == signing.sign_callback(fields, secret)
    assert fields["sign"] != signing.sign_request(fields, secret)
    gw.verify_callback(fields)


def test_forged_callbacks_do_not_verify(server, merchant, gw):
    created = _order(gw, "G-CB-3", "http://127.0.0.1:9/notify", attach="a")
    server.sandbox_pay(created["platform_order_no"])
    (row,) = outbox(server, merchant["merchant_id"])
    fields = dict(parse_qsl(row["body"].decode(), keep_blank_values=True))
    for forged in ({"amount": "1.00"}, {"attach": "b"}, {"pay_status": "0"}, {"sign": "0" * 32}):
        with pytest.raises(GatewayError):
            gw.verify_callback({**fields, **forged})
    other = GatewayClient(server.base_url, gw.appid, "another-secret")
    with pytest.raises(GatewayError):
        other.verify_callback(fields)


def test_failed_payment_notifies_pay_status_0(server, merchant, gw):
    created = _order(gw, "G-CB-4", "http://127.0.0.1:9/notify")
    assert server.sandbox_fail(created["platform_order_no"]).status_code == 200
    (row,) = outbox(server, merchant["merchant_id"])
    assert row["event"] == "order.failed"
    fields = gw.verify_callback(row["body"])
    assert (fields["pay_status"], fields["actual_amount"], fields["amount"]) == (
        "0",
        "0.00",
        "10000.00",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", fields["pay_time"])


def test_creating_an_order_sends_nothing(server, merchant, gw):
    _order(gw, "G-CB-5", "http://127.0.0.1:9/notify")
    assert outbox(server, merchant["merchant_id"]) == []


def _pending_order(status: str) -> Order:
    moment = datetime(2019, 8, 17, 16, 13, 41)
    return Order(
        id=1,
        order_no="A2019xxxxxxxxxxxx",
        merchant_id="M1",
        merchant_order_no="2019xxxxxxx",
        dialect="gateway",
        channel="sandbox",
        amount=10000,
        currency="CNY",
        subject="onlinepay",
        description="",
        status=status,
        refunded_amount=0,
        notify_url="http://www.notify.com/notify",
        return_url="https://www.return.com/return",
        attach="",
        payer="",
        payer_account_id=None,
        payee_account_id=None,
        extra={"bank_code": "901"},
        created_at=moment,
        expire_at=None,
        paid_at=moment if status == "PAID" else None,
        closed_at=None if status == "PAID" else moment,
    )


def test_the_spec_callback_example_is_what_the_notifier_sends():
    """Fed the spec example's order, the notifier signs the spec example's string (VECTORS.md)."""
    notifier = GatewayNotifier(timezone(timedelta(hours=8)))
    cred = Credential("gpu10000000", "229254ceaf2xxxxxxxxxxxx")
    message = notifier.order_event("order.paid", _pending_order("PAID"), cred, 0)
    assert message is not None
    assert message.body.decode() == (
        "actual_amount=10000.00&amount=10000.00&appid=gpu10000000&attach=&order_no=2019xxxxxxx"
        "&pay_status=1&pay_time=2019-08-18+00%3A13%3A41&platform_order_no=A2019xxxxxxxxxxxx"
        "&sign=bab103379de6e7aa8ea5f5a8862b1b7a"
    )


def test_only_payment_results_are_notified():
    notifier = GatewayNotifier(UTC)
    cred = Credential("gpu10000000", "s")
    for event, status in (("order.expired", "EXPIRED"), ("order.closed", "CLOSED")):
        assert notifier.order_event(event, _pending_order(status), cred, 0) is None
    assert notifier.order_event("order.paid", _pending_order("PAID"), None, 0) is None
    refund = Refund(
        id=1,
        refund_no="R1",
        merchant_id="M1",
        order_id=1,
        order_no="A1",
        merchant_refund_no="r1",
        amount=1,
        currency="CNY",
        status="SUCCEEDED",
        reason="",
        notify_url="http://www.notify.com/notify",
        extra={},
        created_at=datetime(2019, 8, 17),
        completed_at=None,
    )
    assert (
        notifier.refund_event("refund.succeeded", refund, _pending_order("PAID"), cred, 0) is None
    )


def test_ack_rule_and_schedule():
    def reply(body: bytes, status: int = 200) -> DeliveryReply:
        return DeliveryReply(status=status, headers={}, body=body, merchant_id="M1")

    for body in (b"SUCCESS", b"SUCCESS\n", b"  SUCCESS\r\n", b"\xef\xbb\xbfSUCCESS"):
        assert is_ack(reply(body))
    for body in (b"success", b"OK", b"", b"SUCCESS!", b'{"code":"SUCCESS"}', b"FAIL"):
        assert not is_ack(reply(body))
    # first attempt at once, then 5 retries one minute apart
    assert POLICY.delays_s == (0, 60, 60, 60, 60, 60)


# -- delivered by the dispatcher (paymux/notify) --------------------------------------------------


def _dispatcher() -> None:
    pytest.importorskip("paymux.notify.dispatcher", reason="the outbox dispatcher is not built yet")


def test_callback_is_delivered_and_acknowledged(server, merchant, gw, shop: Receiver):
    _dispatcher()
    created = _order(gw, "G-DLV-1", shop.base_url + "/notify", attach=CHINESE)
    server.sandbox_pay(created["platform_order_no"])
    (got,) = shop.wait_count("/notify")
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = gw.verify_callback(got.body)
    assert fields["attach"] == CHINESE and fields["pay_status"] == "1"
    _wait_status(server, merchant["merchant_id"], "DELIVERED")


def test_unacknowledged_callback_is_retried_every_minute_five_times(
    fresh_server: Server, shop: Receiver
):
    _dispatcher()
    merchant = fresh_server.create_merchant()
    gw = GatewayClient(fresh_server.base_url, **merchant["gateway"])
    shop.modes["/notify"] = "wrong"
    created = _order(gw, "G-DLV-2", shop.base_url + "/notify")
    fresh_server.sandbox_pay(created["platform_order_no"])
    first = shop.wait_count("/notify", 1)
    for attempt in range(2, 7):
        fresh_server.advance_clock(30)
        assert len(shop.at("/notify")) == attempt - 1  # not yet: retries are a minute apart
        fresh_server.advance_clock(30)
        shop.wait_count("/notify", attempt)
    fresh_server.advance_clock(3600)
    _wait_status(fresh_server, merchant["merchant_id"], "EXHAUSTED")
    assert len(shop.at("/notify")) == 6
    assert {r.body for r in shop.at("/notify")} == {first[0].body}  # same bytes every time


def _wait_status(server: Server, merchant_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        (row,) = outbox(server, merchant_id)
        if row["status"] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"notification is {row['status']}, not {status}")
