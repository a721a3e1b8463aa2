"""What depends on time, driven by the sandbox test clock: secret grace periods, the nonce
memory, time-range filters, order expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from paymux.dialects.vpay.client import VpayClient
from tests.harness import BACKENDS, Server, run_server
from tests.vpay.conftest import expect, fails, new_client, send

GRACE_S = 60


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server of this module's own (the clock only moves forward) with a one-minute grace."""
    with run_server(
        tmp_path_factory.mktemp("clock"), request.param, secret_grace_period_s=GRACE_S
    ) as srv:
        yield srv


def local(client: VpayClient, moment: datetime) -> str:
    """A naive-UTC platform time as the YYYYMMDDHHMMSS a merchant sends."""
    return moment.replace(tzinfo=UTC).astimezone(client.tz).strftime("%Y%m%d%H%M%S")


def test_old_secret_works_until_the_grace_period_ends(server, vpay):
    old = VpayClient(server.base_url, vpay.app_id, vpay.secret_key, clock=vpay.clock)
    vpay.regenerate_keys()
    assert old.merchant_info()["merchant_id"] == vpay.app_id
    server.advance_clock(GRACE_S - 10)
    assert old.merchant_info()["merchant_id"] == vpay.app_id
    server.advance_clock(20)
    fails("PAYMENT.INVALID_SIGN", old.merchant_info)
    assert vpay.merchant_info()["merchant_id"] == vpay.app_id


def test_rotating_twice_keeps_only_the_secrets_inside_their_grace(server, vpay):
    first = VpayClient(server.base_url, vpay.app_id, vpay.secret_key, clock=vpay.clock)
    vpay.regenerate_keys()
    second = VpayClient(server.base_url, vpay.app_id, vpay.secret_key, clock=vpay.clock)
    server.advance_clock(GRACE_S / 2)
    vpay.regenerate_keys()
    for client in (first, second, vpay):
        assert client.merchant_info()["merchant_id"] == vpay.app_id
    server.advance_clock(GRACE_S / 2 + 5)
    fails("PAYMENT.INVALID_SIGN", first.merchant_info)
    assert second.merchant_info()["merchant_id"] == vpay.app_id
    server.advance_clock(GRACE_S / 2)
    fails("PAYMENT.INVALID_SIGN", second.merchant_info)
    assert vpay.merchant_info()["merchant_id"] == vpay.app_id


def test_nonce_is_remembered_as_long_as_its_timestamp_is_valid(server, vpay):
    """A timestamp 290 s ahead stays valid for ~590 s: a replay 301 s later is still refused."""
    now = server.ctx.env.clock.now()
    params = vpay.sign_params({"timestamp": local(vpay, now + timedelta(seconds=290))})
    assert send(vpay, "/merchants/info", params).json()["code"] == "PAYMENT.SUCCESS"
    server.advance_clock(301)
    expect(send(vpay, "/merchants/info", params), "PAYMENT.DUPLICATE_REQUEST")
    server.advance_clock(300)
    expect(send(vpay, "/merchants/info", params), "PAYMENT.EXPIRED_TIMESTAMP")


def test_merchant_timestamp_window_is_configurable(server, vpay):
    now = server.ctx.env.clock.now()
    server.update_merchant(vpay.app_id, timestamp_window_s=60)
    params = vpay.sign_params({"timestamp": local(vpay, now - timedelta(seconds=100))})
    expect(send(vpay, "/merchants/info", params), "PAYMENT.EXPIRED_TIMESTAMP")
    server.update_merchant(vpay.app_id, timestamp_window_s=600)
    params = vpay.sign_params({"timestamp": local(vpay, now - timedelta(seconds=500))})
    assert send(vpay, "/merchants/info", params).json()["code"] == "PAYMENT.SUCCESS"


def test_time_ranges_of_orders_and_transactions(server, vpay):
    account = vpay.create_account()["account_id"]
    early = vpay.create_order("EARLY", 100)["order_id"]
    vpay.recharge(account, 100)
    server.advance_clock(3600)
    late = vpay.create_order("LATE", 200)["order_id"]
    vpay.recharge(account, 200)
    middle = local(vpay, server.ctx.env.clock.now() - timedelta(seconds=1800))
    assert [o["order_id"] for o in vpay.list_orders(start_time=middle)["data"]] == [late]
    assert [o["order_id"] for o in vpay.list_orders(end_time=middle)["data"]] == [early]
    assert [x["amount"] for x in vpay.transactions(account, start_time=middle)["data"]] == [200]
    assert [x["amount"] for x in vpay.transactions(account, end_time=middle)["data"]] == [100]
    assert vpay.list_orders(start_time=middle, end_time=middle)["total"] == 0


def test_an_expired_order_cannot_be_paid(server, vpay):
    payer, payee = vpay.create_account()["account_id"], vpay.create_account()["account_id"]
    vpay.recharge(payer, 1000)
    order = vpay.create_order("EXPIRES", 1000)
    created = datetime.fromisoformat(order["create_time"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(order["expire_time"].replace("Z", "+00:00"))
    assert expires - created == timedelta(hours=2)
    server.advance_clock(2 * 3600 + 1)
    error = fails("ORDER.INVALID_STATUS", vpay.pay_order, order["order_id"], payer, payee)
    assert "expired" in error.message.lower()
    assert vpay.account_info(payer)["balance"] == 1000
    # Advancing the clock ran the expiry job: an expired order reads as closed.
    assert vpay.query_order(order_id=order["order_id"])["status"] == 2
    # Another merchant is unaffected by this one's clock-driven expiry.
    assert new_client(server).create_order("FRESH", 100)["status"] == 0
