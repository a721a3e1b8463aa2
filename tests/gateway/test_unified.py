"""Unified order and check_order over real HTTP with the merchant SDK: shapes, bank codes,
idempotency, both body encodings."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
import pytest

from paymux.dialects.gateway.client import GatewayClient
from tests.gateway.conftest import order_rows

NOTIFY = "http://127.0.0.1:9/notify"
RETURN = "https://shop.example.com/return"


def _order(gw: GatewayClient, order_no: str, bank_code: str = "901", **kw: object) -> dict:
    return gw.unified_order(
        order_no, 10000, bank_code, "onlinepay", notify_url=NOTIFY, return_url=RETURN, **kw
    )


def test_unified_order_reply_matches_the_spec(server, merchant, gw):
    data = _order(gw, "G-SHAPE-1", attach="abc")
    assert list(data) == [
        "order_no",
        "platform_order_no",
        "pay_status",
        "bank_code",
        "amount",
        "content",
        "redirect_url",
    ]
    assert data["order_no"] == "G-SHAPE-1"
    assert data["pay_status"] == -1
    assert data["bank_code"] == "901"
    assert data["amount"] == "10000.00"
    assert data["redirect_url"] == f"{server.base_url}/cashier/{data['platform_order_no']}"
    # content: a form that takes the browser to the same cashier page on its own
    assert f'action="{data["redirect_url"]}"' in data["content"]
    assert 'document.forms["paymux_cashier"].submit()' in data["content"]
    assert httpx.get(data["redirect_url"]).status_code == 200

    (row,) = order_rows(server, merchant["merchant_id"])
    assert row["order_no"] == data["platform_order_no"]
    assert (row["dialect"], row["channel"], row["amount"]) == ("gateway", "sandbox", 10000)
    assert row["extra"]["bank_code"] == "901"
    assert (row["subject"], row["attach"]) == ("onlinepay", "abc")
    assert (row["notify_url"], row["return_url"]) == (NOTIFY, RETURN)
    assert row["status"] == "PENDING"


def test_reply_bytes_escape_chinese_like_the_spec_example(gw):
    params = gw.sign_params(
        {
            "order_no": "G-BYTES-1",
            "amount": "1",
            "bank_code": "912",
            "product_name": "p",
            "notify_url": NOTIFY,
            "return_url": RETURN,
        }
    )
    reply = gw.call("POST", "/unified", params)
    assert reply.http_status == 200
    # 下单成功, as \uXXXX escapes in lower-case hex, no spaces, status a string
    assert reply.raw.startswith(b'{"status":"1","message":"\\u4e0b\\u5355\\u6210\\u529f","data":{')
    assert reply.raw.isascii()
    query = gw.call("GET", "/check_order", gw.sign_params({"order_no": "G-BYTES-1"}))
    assert query.raw.startswith(b'{"status":"1","message":"\\u67e5\\u8be2\\u6210\\u529f","data":{')


@pytest.mark.parametrize(
    ("bank_code", "method"),
    [
        ("903", "wechat_h5"),
        ("911", "alipay_qr"),
        ("912", "wechat_qr"),
        ("906", "bank"),
        ("901", "alipay_h5"),
    ],
)
def test_each_bank_code_is_a_sandbox_flow(server, merchant, gw, bank_code, method):
    data = _order(gw, f"G-BANK-{bank_code}", bank_code)
    assert data["bank_code"] == bank_code
    (row,) = order_rows(server, merchant["merchant_id"])
    assert row["channel"] == "sandbox"
    assert row["extra"] == {"bank_code": bank_code, "pay_method": method}


def test_json_body_like_the_spec_request_example(server, merchant, gw):
    data = _order(gw, "G-JSON-1", "911", as_json=True, openid="oXYZ")
    assert data["pay_status"] == -1
    (row,) = order_rows(server, merchant["merchant_id"])
    assert row["extra"]["openid"] == "oXYZ"
    # a JSON number for amount signs as written, exactly like the string
    params = {
        "order_no": "G-JSON-2",
        "amount": 2500,
        "bank_code": "912",
        "product_name": "p",
        "notify_url": NOTIFY,
        "return_url": RETURN,
        "appid": gw.appid,
    }
    params["sign"] = gw.sign_params(params)["sign"]
    reply = gw.call("POST", "/unified", params, as_json=True)
    assert reply.ok, reply.body
    assert reply.body["data"]["amount"] == "2500.00"


def test_multipart_body_from_php_curl_arrays(server, gw):
    params = gw.sign_params(
        {
            "order_no": "G-MULTI-1",
            "amount": "300",
            "bank_code": "906",
            "product_name": "p",
            "notify_url": NOTIFY,
            "return_url": RETURN,
        }
    )
    response = httpx.post(
        f"{server.base_url}/api/order/unified", files={k: (None, v) for k, v in params.items()}
    )
    assert response.json()["status"] == "1", response.text
    assert gw.check_order("G-MULTI-1")["amount"] == "300.00"


def test_parameters_outside_the_table_are_signed_and_ignored(server, merchant, gw):
    params = gw.sign_params(
        {
            "order_no": "G-EXTRA-1",
            "amount": "100",
            "bank_code": "901",
            "product_name": "p",
            "notify_url": NOTIFY,
            "return_url": RETURN,
            "sign_type": "MD5",
        }
    )
    assert gw.call("POST", "/unified", params).ok
    params["sign_type"] = "SHA"  # no longer what was signed
    assert not gw.call("POST", "/unified", params).ok


def test_identical_retry_returns_the_same_order(server, merchant, gw):
    first = _order(gw, "G-IDEM-1", attach="x")
    again = _order(gw, "G-IDEM-1", attach="x")
    assert again == first
    assert len(order_rows(server, merchant["merchant_id"])) == 1
    server.sandbox_pay(first["platform_order_no"])
    assert _order(gw, "G-IDEM-1", attach="x")["pay_status"] == 1


def test_check_order_reply_matches_the_spec_example(server, gw):
    created = _order(gw, "G-QUERY-1", "903")
    before = gw.check_order("G-QUERY-1")
    assert list(before) == [
        "order_no",
        "amount",
        "attach",
        "pay_status",
        "platform_order_no",
        "created_at",
        "pay_time",
        "bank_code",
    ]
    assert before["order_no"] == "G-QUERY-1"
    assert before["amount"] == "10000.00"
    assert before["attach"] == ""
    assert before["pay_status"] == -1
    assert before["platform_order_no"] == created["platform_order_no"]
    assert before["pay_time"] is None
    assert before["bank_code"] == "903"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", before["created_at"])
    # Asia/Shanghai by default: the creation time is UTC+8 of the platform clock.
    created_at = datetime.strptime(before["created_at"], "%Y-%m-%d %H:%M:%S")
    utc_now = server.ctx.env.clock.now()
    assert abs(created_at - (utc_now + timedelta(hours=8))) < timedelta(minutes=1)

    assert server.sandbox_pay(created["platform_order_no"]).status_code == 200
    after = gw.check_order("G-QUERY-1")
    assert after["pay_status"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", after["pay_time"])


def test_check_order_of_a_failed_order(server, gw):
    created = _order(gw, "G-QUERY-2", "912")
    assert server.sandbox_fail(created["platform_order_no"]).status_code == 200
    data = gw.check_order("G-QUERY-2")
    assert (data["pay_status"], data["pay_time"]) == (0, None)


def test_another_merchants_order_is_not_found(server, gw):
    _order(gw, "G-MINE-1")
    other = server.create_merchant("other shop")
    theirs = GatewayClient(server.base_url, other["gateway"]["appid"], other["gateway"]["secret"])
    reply = theirs.call("GET", "/check_order", theirs.sign_params({"order_no": "G-MINE-1"}))
    assert reply.body["status"] == "0"
    assert reply.body["message"].startswith("订单不存在")
