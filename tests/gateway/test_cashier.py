"""The hosted cashier over real HTTP, as the payer's browser sees it: the page of each bank
code, the sandbox pay/fail forms, and the signed sync return posted to the shop."""

from __future__ import annotations

import base64
import calendar
import hashlib
from html.parser import HTMLParser

import httpx
import pytest

from paymux.dialects.gateway.client import GatewayClient
from paymux.dialects.vpay.client import VpayClient
from tests.harness import Server
from tests.notify.receiver import Receiver


class Page(HTMLParser):
    """The parts of a cashier page a browser acts on: forms with their fields, and the QR."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.forms: dict[str, dict] = {}
        self.body_class = ""
        self.qr = ""
        self._form: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body_class = a.get("class", "")
        elif tag == "img" and a.get("id") == "qr":
            self.qr = a["src"]
        elif tag == "form":
            self._form = {"action": a["action"], "method": a.get("method"), "fields": {}, **a}
            self.forms[a.get("id") or a["action"]] = self._form
        elif (
            tag == "input"
            and self._form is not None
            and a.get("name")
            and (a.get("type") != "radio" or "checked" in a)
        ):
            self._form["fields"][a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def open_page(server: Server, order_no: str) -> Page:
    response = httpx.get(f"{server.base_url}/cashier/{order_no}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


def submit(server: Server, page: Page, form_id: str) -> Page:
    """Submit a sandbox form the way a browser does and land on the page it redirects to."""
    form = page.forms[form_id]
    response = httpx.post(server.base_url + form["action"], data=form["fields"])
    assert response.status_code == 303
    return open_page(server, response.headers["location"].rsplit("/", 1)[-1])


def _order(gw: GatewayClient, order_no: str, bank_code: str, return_url: str) -> dict:
    return gw.unified_order(
        order_no,
        12345,
        bank_code,
        "VIP 会员",
        notify_url="http://127.0.0.1:9/notify",
        return_url=return_url,
    )


@pytest.mark.parametrize(
    ("bank_code", "theme", "layout", "qr_shown"),
    [
        ("912", "wechat", "qr", True),
        ("911", "alipay", "qr", True),
        ("903", "wechat", "h5", True),  # H5: the QR is there for desktops, CSS hides it on phones
        ("901", "alipay", "h5", True),
        ("906", "bank", "bank", False),
    ],
)
def test_each_bank_code_has_its_own_page(server, gw, bank_code, theme, layout, qr_shown):
    created = _order(gw, f"G-PAGE-{bank_code}", bank_code, "https://shop.example.com/r")
    page = open_page(server, created["platform_order_no"])
    assert f"theme-{theme}" in page.body_class and f"layout-{layout}" in page.body_class
    assert "¥123.45" in page.html
    assert "VIP 会员" in page.html
    assert 'name="viewport"' in page.html
    if qr_shown:
        svg = base64.b64decode(page.qr.removeprefix("data:image/svg+xml;base64,"))
        assert svg.startswith(b"<svg")
    else:
        assert page.qr == ""
    if layout == "bank":
        assert page.forms["pay-form"]["fields"]["bank"] == "工商银行"
    if layout == "h5":
        assert "app-button" in page.html
    assert {"pay-form", "sync-return"} <= set(page.forms)
    assert page.forms[f"/cashier/{created['platform_order_no']}/fail"]["method"] == "post"
    # a pending order: the countdown to expiry and a manual way back with pay_status -1
    assert 'id="countdown"' in page.html
    back = page.forms["sync-return"]
    assert back["data-auto"] == "0"
    assert back["fields"]["pay_status"] == "-1"
    gw.verify_return(back["fields"])


def test_pay_then_sync_return_posts_a_signed_form_to_the_shop(server, gw, shop: Receiver):
    created = _order(gw, "G-RET-1", "912", shop.base_url + "/return")
    page = open_page(server, created["platform_order_no"])
    paid = submit(server, page, "pay-form")
    assert 'data-status="PAID"' in paid.html and "支付成功" in paid.html
    assert "pay-form" not in paid.forms
    back = paid.forms["sync-return"]
    assert (back["action"], back["method"], back["data-auto"]) == (
        shop.base_url + "/return",
        "post",
        "1",
    )
    assert list(back["fields"]) == ["order_no", "pay_status", "sign"]
    # the browser posts the form to the shop, which verifies it with the callback rule
    httpx.post(back["action"], data=back["fields"])
    (got,) = shop.wait_count("/return")
    fields = gw.verify_return(got.body)
    assert (fields["order_no"], fields["pay_status"]) == ("G-RET-1", "1")
    expected = f"order_no=G-RET-1&pay_status=1&secret={gw.secret}"
    assert fields["sign"] == hashlib.md5(expected.encode()).hexdigest()
    assert gw.check_order("G-RET-1")["pay_status"] == 1
    server.assert_ledger_clean()


def test_fail_then_sync_return_carries_pay_status_0(server, gw, shop: Receiver):
    created = _order(gw, "G-RET-2", "901", shop.base_url + "/return")
    failed = submit(
        server,
        open_page(server, created["platform_order_no"]),
        "/cashier/" + created["platform_order_no"] + "/fail",
    )
    assert 'data-status="FAILED"' in failed.html and "支付失败" in failed.html
    fields = gw.verify_return(failed.forms["sync-return"]["fields"])
    assert fields["pay_status"] == "0"
    assert gw.check_order("G-RET-2")["pay_status"] == 0


def test_bank_payment_records_the_chosen_bank(server, gw):
    created = _order(gw, "G-BANKPAY-1", "906", "https://shop.example.com/r")
    page = open_page(server, created["platform_order_no"])
    page.forms["pay-form"]["fields"]["bank"] = "招商银行"
    assert 'data-status="PAID"' in submit(server, page, "pay-form").html
    unknown = _order(gw, "G-BANKPAY-2", "906", "https://shop.example.com/r")
    response = httpx.post(
        f"{server.base_url}/cashier/{unknown['platform_order_no']}/pay", data={"bank": "某银行"}
    )
    assert response.status_code == 400 and "Unknown bank" in response.text
    assert gw.check_order("G-BANKPAY-2")["pay_status"] == -1


def test_pay_from_a_sandbox_wallet(server, gw):
    payer = server.create_user("alice", balance=20000)
    created = _order(gw, "G-WALLET-1", "912", "https://shop.example.com/r")
    page = open_page(server, created["platform_order_no"])
    page.forms["pay-form"]["fields"]["wallet_token"] = payer["wallet_token"]
    assert 'data-status="PAID"' in submit(server, page, "pay-form").html
    server.assert_ledger_clean()


def test_paying_twice_is_refused_on_the_page(server, gw):
    created = _order(gw, "G-TWICE-1", "911", "https://shop.example.com/r")
    page = open_page(server, created["platform_order_no"])
    submit(server, page, "pay-form")
    again = httpx.post(server.base_url + page.forms["pay-form"]["action"])
    assert again.status_code == 409
    assert 'data-status="PAID"' in again.text


def test_status_endpoint_for_the_polling_page(server, gw):
    created = _order(gw, "G-POLL-1", "911", "https://shop.example.com/r")
    url = f"{server.base_url}/cashier/{created['platform_order_no']}/status"
    assert httpx.get(url).json() == {"status": "PENDING"}
    server.sandbox_pay(created["platform_order_no"])
    assert httpx.get(url).json() == {"status": "PAID"}
    assert httpx.get(f"{server.base_url}/cashier/999/status").status_code == 404


def test_unknown_order_page(server):
    response = httpx.get(f"{server.base_url}/cashier/999")
    assert response.status_code == 404 and "订单不存在" in response.text


def test_vpay_orders_keep_their_cashier(server, merchant):
    vpay = VpayClient(server.base_url, merchant["vpay"]["app_id"], merchant["vpay"]["secret_key"])
    order = vpay.create_order("V-PAGE-1", 500, "WECHAT_PAY")
    page = open_page(server, order["order_id"])
    assert "theme-wechat" in page.body_class and "layout-qr" in page.body_class
    assert "sync-return" not in page.forms  # vpay has no return_url
    assert 'data-status="PAID"' in submit(server, page, "pay-form").html
    assert vpay.query_order(order_id=order["order_id"])["status"] == 1


def test_countdown_and_expiry_follow_the_platform_clock(fresh_server: Server):
    merchant = fresh_server.create_merchant()
    gw = GatewayClient(fresh_server.base_url, **merchant["gateway"])
    created = _order(gw, "G-EXP-1", "912", "https://shop.example.com/r")
    page = open_page(fresh_server, created["platform_order_no"])
    expire = int(page.html.split('data-expire="')[1].split('"')[0])
    now_real = calendar.timegm(fresh_server.ctx.env.clock.now().timetuple()) - int(
        fresh_server.ctx.env.clock.offset_s
    )
    assert abs(expire - (now_real + 2 * 3600)) <= 2
    fresh_server.advance_clock(2 * 3600 + 1)
    lapsed = open_page(fresh_server, created["platform_order_no"])
    assert "已过期" in lapsed.html and "pay-form" not in lapsed.forms
    assert 'id="countdown"' not in lapsed.html
    late = httpx.post(f"{fresh_server.base_url}/cashier/{created['platform_order_no']}/pay")
    assert late.status_code == 409 and "expired" in late.text.lower()
    assert gw.check_order("G-EXP-1")["pay_status"] != 1
