"""Payments: create (3.5) with paySign, pay through the wallet's /wallet/pay page, query (3.6)
by either order number, the payment notification, and every way a payment is refused."""

from __future__ import annotations

import re

import pytest

from paymux.dialects.partner.client import PartnerClient, PartnerError, wallet_url
from paymux.dialects.partner.notify import POLICY, is_ack
from paymux.services.notifications import DeliveryReply
from paymux.signing import partner as signing
from tests.partner.conftest import (
    H5,
    User,
    clock_tolerant_partner,
    csrf_of,
    new_user,
    onboard,
    other_partner,
    query_of,
)


def pay_page(server, partner: PartnerClient, user: User, pay: dict, redirect: str = H5):
    return user.browser.get(wallet_url(partner.pay_link(pay, redirect), server.base_url))


def test_pay_in_the_wallet_and_receive_the_notification(server, partner, notify_endpoint):
    user = onboard(server, partner)
    pay = partner.create_payment(
        "P-PAY-1",
        "12.34",
        openid=user.openid,
        notify_url=notify_endpoint.url("/notify"),
        subject="VIP 30 days",
    )
    assert pay["signType"] == "MD5" and partner.verify_pay_params(pay)
    assert re.fullmatch(r"\d{10}", pay["timestamp"])  # seconds, as in the deep-link example
    page = pay_page(server, partner, user, pay)
    assert page.status_code == 200
    assert "12.34 USDT" in page.text and "VIP 30 days" in page.text
    assert 'id="available">100.00 USDT' in page.text
    done = user.browser.submit(page, "/wallet/pay")
    assert done.status_code == 303
    assert query_of(done.headers["location"]) == {"orderNo": pay["orderNo"], "status": "SUCCESS"}
    assert done.headers["location"].startswith(H5 + "?")

    by_partner_no = partner.query_payment("P-PAY-1")
    by_our_no = partner.query_payment(pay["orderNo"])
    assert by_partner_no == by_our_no
    assert by_our_no["status"] == "SUCCESS" and by_our_no["amount"] == "12.34"
    assert by_our_no["orderNo"] == pay["orderNo"] and by_our_no["partnerOrderNo"] == "P-PAY-1"
    assert "payTime" in by_our_no and by_our_no["currency"] == "USDT"

    (body,) = notify_endpoint.bodies_at("/notify")
    fields = partner.verify_notification(body)
    assert fields["orderNo"] == pay["orderNo"] and fields["partnerOrderNo"] == "P-PAY-1"
    assert (fields["status"], fields["amount"], fields["currency"]) == ("SUCCESS", "12.34", "USDT")
    assert fields["payTime"] == by_our_no["payTime"] and fields["notifyType"] == "payment"
    assert 'id="balance-USDT">87.66' in user.browser.get("/wallet").text
    server.assert_ledger_clean()


def test_a_paid_order_shows_as_paid_and_cannot_be_paid_twice(server, partner):
    user = onboard(server, partner)
    pay = partner.create_payment("P-TWICE", "1.00", openid=user.openid)
    page = pay_page(server, partner, user, pay)
    assert user.browser.submit(page, "/wallet/pay").status_code == 303
    again = pay_page(server, partner, user, pay)
    assert ">SUCCESS<" in again.text and 'id="pay"' not in again.text
    twice = user.browser.submit(page, "/wallet/pay")
    assert twice.status_code == 409 and "2003" in twice.text
    assert 'id="balance-USDT">99.00' in user.browser.get("/wallet").text


def test_insufficient_balance_is_shown_and_nothing_moves(server, partner):
    user = onboard(server, partner, balance=500)
    pay = partner.create_payment("P-POOR", "5.01", openid=user.openid)
    refused = user.browser.submit(pay_page(server, partner, user, pay), "/wallet/pay")
    assert refused.status_code == 409 and "2003" in refused.text
    assert partner.query_payment("P-POOR")["status"] == "PENDING"
    server.assert_ledger_clean()


def test_an_order_for_one_user_cannot_be_paid_by_another(server, partner):
    owner = onboard(server, partner, "owner")
    stranger = new_user(server, "stranger")
    pay = partner.create_payment("P-MINE", "1.00", openid=owner.openid)
    page = pay_page(server, partner, stranger, pay)
    assert "another user" in page.text and 'id="pay"' not in page.text
    link = query_of(wallet_url(partner.pay_link(pay, H5), server.base_url))
    forced = stranger.browser.http.post("/wallet/pay", data={**link, "csrf": csrf_of(page)})
    assert forced.status_code == 409 and "3001" in forced.text
    assert partner.query_payment("P-MINE")["status"] == "PENDING"


def test_an_order_without_openid_can_be_paid_by_any_signed_in_user(server, partner):
    user = new_user(server, "walk-in")
    pay = partner.create_payment("P-ANYONE", "2.50")
    done = user.browser.submit(pay_page(server, partner, user, pay), "/wallet/pay")
    assert done.status_code == 303
    assert partner.query_payment("P-ANYONE")["status"] == "SUCCESS"


def test_pay_page_verifies_pay_sign_and_api_key(server, partner):
    user = onboard(server, partner)
    pay = partner.create_payment("P-SIGN", "1.00", openid=user.openid)
    forged = pay_page(server, partner, user, {**pay, "paySign": "0" * 32})
    assert forged.status_code == 400 and "10000002" in forged.text
    swapped = pay_page(server, partner, user, {**pay, "timestamp": str(int(pay["timestamp"]) + 1)})
    assert "10000002" in swapped.text
    unknown = pay_page(server, partner, user, {**pay, "apiKey": "NEXA0000000000000000000"})
    assert unknown.status_code == 404 and "10000001" in unknown.text
    # a correctly signed link of another partner does not reach this partner's order
    other = other_partner(server, "x")
    sign = signing.pay_sign(
        other.api_key, pay["nonce"], pay["orderNo"], pay["timestamp"], other.app_secret
    )
    theirs = {**pay, "apiKey": other.api_key, "paySign": sign}
    not_theirs = pay_page(server, other, user, theirs)
    assert not_theirs.status_code == 404 and "5002" in not_theirs.text


def test_create_is_idempotent_per_partner_order_no(server, partner):
    user = onboard(server, partner)
    first = partner.create_payment("P-IDEM", "3.00", openid=user.openid, subject="a")
    again = partner.create_payment("P-IDEM", "3.00", openid=user.openid, subject="a")
    assert again["orderNo"] == first["orderNo"] and partner.verify_pay_params(again)
    with pytest.raises(PartnerError) as exists:
        partner.create_payment("P-IDEM", "3.01", openid=user.openid, subject="a")
    assert exists.value.code == "5001"


def test_order_expires_after_24_hours_by_default(server, partner):
    pay = partner.create_payment("P-24H", "1.00")
    order = partner.query_payment(pay["orderNo"])
    assert order["expireTime"][:10] > order["createTime"][:10]
    assert order["expireTime"][11:] == order["createTime"][11:]


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("12.345", "1001"),
        ("0", "1001"),
        ("-1.00", "1001"),
        ("1e3", "1001"),
        ("abc", "1001"),
        (12.34, "1001"),
        ("", "4000"),
        (None, "4000"),
    ],
)
def test_amount_must_be_a_positive_two_decimal_string(server, partner, amount, code):
    with pytest.raises(PartnerError) as bad:
        partner.post("/openapi/payment/create", {"orderNo": "P-AMT", "amount": amount})
    assert bad.value.code == code


def test_currency_defaults_to_usdt_and_cny_is_accepted(server, partner):
    usdt = partner.create_payment("P-CUR-1", "1.00")
    cny = partner.create_payment("P-CUR-2", "1.00", currency="CNY")
    assert partner.query_payment(usdt["orderNo"])["currency"] == "USDT"
    assert partner.query_payment(cny["orderNo"])["currency"] == "CNY"
    with pytest.raises(PartnerError) as bad:
        partner.create_payment("P-CUR-3", "1.00", currency="EUR")
    assert bad.value.code == "1001"


def test_openid_of_another_partner_is_no_user_here(server, partner):
    other = other_partner(server, "y")
    theirs = onboard(server, other, "theirs")
    with pytest.raises(PartnerError) as nobody:
        partner.create_payment("P-OID", "1.00", openid=theirs.openid)
    assert nobody.value.code == "10000004"


def test_query_of_unknown_or_foreign_orders_is_5002(server, partner):
    other = other_partner(server, "z")
    foreign = other.create_payment("P-FOREIGN", "1.00")
    for number in ("P-NOPE", foreign["orderNo"], "P-FOREIGN"):
        with pytest.raises(PartnerError) as missing:
            partner.query_payment(number)
        assert missing.value.code == "5002"


def test_bad_urls_are_parameter_errors(server, partner):
    for field in ("notify_url", "return_url", "callback_url"):
        with pytest.raises(PartnerError) as bad:
            partner.create_payment("P-URL", "1.00", **{field: "ftp://example.com/x"})
        assert bad.value.code == "1001"


def test_expired_order_is_notified_and_can_no_longer_be_paid(short_expiry_server, notify_endpoint):
    server = short_expiry_server
    partner = clock_tolerant_partner(server)
    user = onboard(server, partner)
    pay = partner.create_payment(
        "P-EXP", "1.00", openid=user.openid, notify_url=notify_endpoint.url("/notify")
    )
    server.advance_clock(61)  # runs the expiry job at once
    (body,) = notify_endpoint.bodies_at("/notify")
    fields = partner.verify_notification(body)
    assert (fields["status"], fields["orderNo"]) == ("EXPIRED", pay["orderNo"])
    assert "payTime" not in fields
    assert partner.query_payment("P-EXP")["status"] == "EXPIRED"
    page = pay_page(server, partner, user, pay)
    assert ">EXPIRED<" in page.text and 'id="pay"' not in page.text
    link = query_of(wallet_url(partner.pay_link(pay, H5), server.base_url))
    refused = user.browser.http.post("/wallet/pay", data={**link, "csrf": csrf_of(page)})
    assert refused.status_code == 409 and "2003" in refused.text
    server.assert_ledger_clean()


def test_only_a_plain_success_acknowledges_a_notification(server, partner, notify_endpoint):
    notify_endpoint.replies["/loud"] = b"SUCCESS"
    notify_endpoint.replies["/spaced"] = b"  success\n"
    for order_no, path in (("P-ACK-1", "/loud"), ("P-ACK-2", "/spaced")):
        pay = partner.create_payment(order_no, "1.00", notify_url=notify_endpoint.url(path))
        assert server.sandbox_pay(pay["orderNo"]).status_code == 200
    first = notify_endpoint.bodies_at("/loud")
    notify_endpoint.wait_count("/spaced")
    server.advance_clock(6)  # the first retry is due 5 s after a refused delivery
    retried = notify_endpoint.bodies_at("/loud", 2)
    assert retried[1] == first[0]  # every retry carries the same bytes
    assert len(notify_endpoint.at("/spaced")) == 1


def test_ack_rule_and_retry_schedule():
    def reply(status: int, body: bytes) -> DeliveryReply:
        return DeliveryReply(status=status, headers={}, body=body, merchant_id="M")

    assert is_ack(reply(200, b"success")) and is_ack(reply(200, b" success\r\n"))
    assert not is_ack(reply(200, b"SUCCESS")) and not is_ack(reply(200, b"success!"))
    assert not is_ack(reply(500, b"success"))
    assert POLICY.delays_s == (0, 5, 10, 30, 60, 120)
