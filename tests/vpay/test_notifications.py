"""vpay notifications: written to the outbox with the payment or refund, delivered to a merchant
that verifies them with the SDK, retried on the vpay schedule until acknowledged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest

from paymux.dialects.vpay.client import VpayClient, VpayError
from paymux.dialects.vpay.notify import POLICY, is_ack
from paymux.services.notifications import DeliveryReply
from tests.vpay.conftest import fails, notification_rows

ORDER_FIELDS = {
    "order_id",
    "merchant_order_id",
    "amount",
    "currency",
    "status",
    "pay_time",
    "timestamp",
    "nonce_str",
    "sign",
}


class MerchantEndpoint:
    """A merchant's notify URL: verifies each notification with the SDK, then answers.

    `replies` scripts the answers to verified notifications in order (the last
    one repeats); a notification that does not verify is answered 400 `FAIL`.
    """

    def __init__(self, client: VpayClient, replies: list[tuple[int, bytes]]) -> None:
        self.client = client
        self.replies = list(replies)
        self.bodies: list[bytes] = []
        self.verified: list[dict[str, Any]] = []
        self.forged = 0
        self._changed = threading.Condition()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, reply = endpoint.receive(body, self.headers.get("Content-Type", ""))
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/vpay/notify"

    def receive(self, body: bytes, content_type: str) -> tuple[int, bytes]:
        with self._changed:
            self.bodies.append(body)
            try:
                assert content_type.startswith("application/json")
                fields = self.client.verify_notification(body)
            except (VpayError, AssertionError, msgspec.DecodeError):
                self.forged += 1
                self._changed.notify_all()
                return 400, b"FAIL"
            self.verified.append(fields)
            reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
            self._changed.notify_all()
            return reply

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` notifications have arrived and verified."""
        with self._changed:
            ok = self._changed.wait_for(lambda: len(self.verified) >= count, timeout)
        assert ok, f"{len(self.verified)} of {count} notifications arrived ({self.forged} forged)"
        return self.verified

    def __enter__(self) -> MerchantEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def merchant_endpoint(vpay: VpayClient) -> Iterator[MerchantEndpoint]:
    with MerchantEndpoint(vpay, [(200, b"SUCCESS")]) as endpoint:
        yield endpoint


def wait_status(server, ref: str, status: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        (row,) = notification_rows(server, ref)
        if row.status == status:
            return row
        assert time.monotonic() < deadline, row
        time.sleep(0.02)


def test_pay_writes_a_signed_notification(server, vpay, merchant_endpoint):
    order = vpay.create_order("N-PAY", 1500, notify_url=merchant_endpoint.url)
    assert notification_rows(server, order["order_id"]) == []
    assert server.sandbox_pay(order["order_id"]).status_code == 200
    # The row is there as soon as the payment is acknowledged: same transaction.
    (row,) = notification_rows(server, order["order_id"])
    assert (row.event, row.url, row.dialect) == ("order.paid", merchant_endpoint.url, "vpay")
    fields = vpay.verify_notification(row.body)
    assert set(fields) == ORDER_FIELDS
    paid = vpay.query_order(order_id=order["order_id"])
    assert fields["order_id"] == order["order_id"]
    assert (fields["merchant_order_id"], fields["amount"], fields["currency"]) == (
        "N-PAY",
        1500,
        "CNY",
    )
    assert (fields["status"], fields["pay_time"]) == (1, paid["pay_time"])
    assert len(fields["timestamp"]) == 14 and fields["timestamp"].isdigit()
    # A changed field no longer verifies.
    with pytest.raises(VpayError):
        vpay.verify_notification({**fields, "amount": 1})


def test_refund_writes_a_notification(server, vpay, merchant_endpoint):
    order = vpay.create_order("N-REF", 1000, notify_url=merchant_endpoint.url)
    server.sandbox_pay(order["order_id"])
    first = vpay.refund("N-R1", 400, order_id=order["order_id"])
    (row,) = notification_rows(server, first["refund_id"])
    assert (row.event, row.url) == ("refund.succeeded", merchant_endpoint.url)
    fields = vpay.verify_notification(row.body)
    assert set(fields) == ORDER_FIELDS | {
        "refund_id",
        "merchant_refund_id",
        "refund_amount",
        "refund_status",
    }
    assert (fields["refund_id"], fields["merchant_refund_id"]) == (first["refund_id"], "N-R1")
    assert (fields["refund_amount"], fields["refund_status"], fields["status"]) == (
        400,
        "SUCCEEDED",
        3,
    )
    # A refund with its own notify_url is reported there.
    other_url = merchant_endpoint.url + "?refund"
    second = vpay.refund("N-R2", 600, order_id=order["order_id"], notify_url=other_url)
    (row,) = notification_rows(server, second["refund_id"])
    assert row.url == other_url
    assert vpay.verify_notification(row.body)["status"] == 4


def test_no_notify_url_no_notification(server, vpay):
    order = vpay.create_order("N-NONE", 100)
    server.sandbox_pay(order["order_id"])
    refund = vpay.refund("N-NONE-R", 100, order_id=order["order_id"])
    assert notification_rows(server, order["order_id"]) == []
    assert notification_rows(server, refund["refund_id"]) == []


def test_refused_changes_write_no_notification(server, vpay, merchant_endpoint):
    payer, payee = vpay.create_account()["account_id"], vpay.create_account()["account_id"]
    order = vpay.create_order("N-POOR", 1000, notify_url=merchant_endpoint.url)
    fails("ACCOUNT.INSUFFICIENT_BALANCE", vpay.pay_order, order["order_id"], payer, payee)
    assert notification_rows(server, order["order_id"]) == []
    vpay.recharge(payer, 1000)
    vpay.pay_order(order["order_id"], payer, payee)
    vpay.withdraw(payee, 1000)  # nothing left to refund from
    fails("ACCOUNT.INSUFFICIENT_BALANCE", vpay.refund, "N-POOR-R", 500, order_id=order["order_id"])
    assert [row.event for row in notification_rows(server, order["order_id"])] == ["order.paid"]
    assert vpay.query_order(order_id=order["order_id"])["refunded_amount"] == 0


def test_merchant_receives_and_verifies_the_notification(server, vpay, merchant_endpoint):
    order = vpay.create_order("N-DELIVER", 2500, notify_url=merchant_endpoint.url)
    server.sandbox_pay(order["order_id"])
    (fields,) = merchant_endpoint.wait(1)
    assert (fields["order_id"], fields["amount"], fields["status"]) == (order["order_id"], 2500, 1)
    assert merchant_endpoint.forged == 0
    wait_status(server, order["order_id"], "DELIVERED")


def test_unacknowledged_notification_is_retried_with_the_same_payload(server, vpay):
    replies = [(200, b"FAIL"), (500, b"busy"), (200, b'{"code": "SUCCESS"}')]
    with MerchantEndpoint(vpay, replies) as endpoint:
        order = vpay.create_order("N-RETRY", 700, notify_url=endpoint.url)
        server.sandbox_pay(order["order_id"])
        endpoint.wait(1)
        server.advance_clock(POLICY.delays_s[1])
        endpoint.wait(2)
        server.advance_clock(POLICY.delays_s[2])
        endpoint.wait(3)
        wait_status(server, order["order_id"], "DELIVERED")
        assert len(set(endpoint.bodies)) == 1  # every retry sends the same bytes


def test_vpay_acknowledgement_rule():
    def reply(status: int, body: bytes) -> DeliveryReply:
        return DeliveryReply(status=status, headers={}, body=body, merchant_id="M1")

    assert POLICY.delays_s == (0, 5, 10, 30, 60, 120)
    for status, body in [
        (200, b"SUCCESS"),
        (200, b"success"),
        (200, b" SUCCESS\r\n"),
        (200, b'{"code":"SUCCESS"}'),
        (204, b'{"code": "SUCCESS", "msg": "ok"}'),
    ]:
        assert is_ack(reply(status, body)), (status, body)
    for status, body in [
        (200, b"FAIL"),
        (200, b"Success"),
        (200, b""),
        (200, b'{"code":"FAIL"}'),
        (200, b'["SUCCESS"]'),
        (500, b'{"code":"SUCCESS"}'),
        (302, b""),
    ]:
        assert not is_ack(reply(status, body)), (status, body)
