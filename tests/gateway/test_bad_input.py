"""Refused requests: each gets status "0" with a clear message, and nothing is written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from paymux.dialects.gateway.client import GatewayClient, Reply
from paymux.signing import gateway as signing
from tests.gateway.conftest import total_rows
from tests.harness import Server

NOTIFY = "http://127.0.0.1:9/notify"
RETURN = "https://shop.example.com/return"


@pytest.fixture(scope="module")
def gw(server: Server) -> Iterator[GatewayClient]:
    """One merchant for the module: a refused request changes nothing, so tests can share it."""
    merchant = server.create_merchant("bad input")
    client = GatewayClient(server.base_url, **merchant["gateway"])
    yield client
    client.http.close()


def base(order_no: str = "G-BAD-1") -> dict[str, Any]:
    return {
        "order_no": order_no,
        "amount": "10000",
        "bank_code": "901",
        "product_name": "onlinepay",
        "notify_url": NOTIFY,
        "return_url": RETURN,
    }


def send(gw: GatewayClient, params: dict[str, Any], *, as_json: bool = False) -> Reply:
    return gw.call("POST", "/unified", gw.sign_params(params), as_json=as_json)


def refused(server: Server, call: Any, phrase: str, *detail: str) -> Reply:
    """Run `call`, expect status 0 with `phrase` and `detail` in the message, and no writes."""
    before = total_rows(server)
    reply: Reply = call()
    assert reply.http_status == 200
    assert reply.body["status"] == "0", reply.body
    assert reply.body["data"] == {}
    message = reply.body["message"]
    assert message.startswith(phrase + ": "), message
    for part in detail:
        assert part in message, message
    assert reply.raw.isascii()  # Chinese escaped in errors too
    assert total_rows(server) == before
    return reply


@pytest.mark.parametrize("code", ["999", "900", "", "9011", "ALIPAY"])
def test_unknown_bank_code(server, gw, code):
    phrase = "缺少参数" if code == "" else "参数错误"
    refused(server, lambda: send(gw, {**base(), "bank_code": code}), phrase, "bank_code")


@pytest.mark.parametrize("amount", ["0", "-1", "100.00", "1e3", "abc", " 100", "10000000000001"])
def test_amount_not_a_positive_integer_of_fen(server, gw, amount):
    refused(server, lambda: send(gw, {**base(), "amount": amount}), "金额错误", "amount")


@pytest.mark.parametrize("amount", [1.5, True, -5, 0])
def test_json_amount_not_a_positive_integer(server, gw, amount):
    params = {**base(), "amount": amount, "appid": gw.appid}
    # sign exactly what is sent, so only the amount is wrong
    text = {k: ("true" if v is True else str(v)) for k, v in params.items()}
    params["sign"] = signing.sign_request(text, gw.secret)
    phrase = "参数错误" if isinstance(amount, float) or amount is True else "金额错误"
    refused(server, lambda: gw.call("POST", "/unified", params, as_json=True), phrase, "amount")


def test_missing_amount(server, gw):
    params = base()
    del params["amount"]
    refused(server, lambda: send(gw, params), "缺少参数", "amount is required")


@pytest.mark.parametrize("name", ["notify_url", "return_url", "product_name", "order_no"])
def test_missing_required_field(server, gw, name):
    params = base()
    del params[name]
    refused(server, lambda: send(gw, params), "缺少参数", f"{name} is required")


@pytest.mark.parametrize("name", ["notify_url", "return_url"])
@pytest.mark.parametrize(
    "url", ["ftp://shop.example.com/n", "javascript:alert(1)", "shop.example.com/n", "http://"]
)
def test_non_http_urls(server, gw, name, url):
    refused(server, lambda: send(gw, {**base(), name: url}), "参数错误", name)


def test_private_notify_url_refused_in_production(tmp_path):
    from tests.harness import run_server

    with run_server(tmp_path, mode="production") as prod:
        merchant = prod.create_merchant()
        client = GatewayClient(prod.base_url, **merchant["gateway"])
        refused(prod, lambda: send(client, base()), "参数错误", "notify_url", "private")
        # return_url is visited by the payer's browser, so an intranet shop is fine there
        public = {**base(), "notify_url": "https://shop.example.com/n", "return_url": NOTIFY}
        assert send(client, public).ok


def test_order_no_limits(server, gw):
    refused(server, lambda: send(gw, base("A" * 65)), "参数错误", "order_no", "64")
    refused(server, lambda: send(gw, base("有中文")), "参数错误", "order_no")
    refused(server, lambda: send(gw, base("a b")), "参数错误", "order_no")
    assert send(gw, base("A" * 64)).ok


def test_product_name_limit(server, gw):
    refused(server, lambda: send(gw, {**base(), "product_name": "x" * 129}), "参数错误", "128")
    refused(
        server, lambda: send(gw, {**base(), "product_name": "a\nb"}), "参数错误", "product_name"
    )


def test_duplicate_order_no_with_other_parameters(server, gw):
    original = send(gw, {**base("G-DUP-1"), "attach": "one"})
    assert original.ok
    for change in (
        {"amount": "10001"},
        {"attach": "two"},
        {"bank_code": "912"},
        {"product_name": "other"},
        {"notify_url": "http://127.0.0.1:9/other"},
        {"return_url": "https://shop.example.com/other"},
    ):
        refused(
            server,
            lambda change=change: send(gw, {**base("G-DUP-1"), "attach": "one", **change}),
            "订单号已存在",
            "G-DUP-1 already exists with different parameters",
        )
    kept = gw.check_order("G-DUP-1")
    assert (kept["amount"], kept["attach"], kept["bank_code"]) == ("10000.00", "one", "901")
    assert kept["platform_order_no"] == original.body["data"]["platform_order_no"]


def test_wrong_sign(server, gw):
    params = gw.sign_params(base())
    params["sign"] = params["sign"][:-1] + ("0" if params["sign"][-1] != "0" else "1")
    refused(server, lambda: gw.call("POST", "/unified", params), "签名错误")
    tampered = gw.sign_params(base())
    tampered["amount"] = "1"
    refused(server, lambda: gw.call("POST", "/unified", tampered), "签名错误")
    other = GatewayClient(server.base_url, gw.appid, "not-the-secret")
    refused(server, lambda: send(other, base()), "签名错误")


def test_upper_case_sign_is_accepted(server, gw):
    params = gw.sign_params(base("G-UPPER-1"))
    params["sign"] = params["sign"].upper()
    assert gw.call("POST", "/unified", params).ok


@pytest.mark.parametrize("sign", ["", "xyz", "0" * 31, "g" * 32])
def test_missing_or_malformed_sign(server, gw, sign):
    params = {**base(), "appid": gw.appid, "sign": sign}
    phrase = "缺少参数" if sign == "" else "参数错误"
    refused(server, lambda: gw.call("POST", "/unified", params), phrase, "sign")


def test_sign_with_empty_values_kept_fails_for_requests(server, gw):
    params = {**base(), "attach": "", "appid": gw.appid}
    params["sign"] = signing.sign_callback(params, gw.secret)  # the callback rule keeps attach=
    assert params["sign"] != signing.sign_request(params, gw.secret)
    refused(server, lambda: gw.call("POST", "/unified", params), "签名错误")
    params["sign"] = signing.sign_request(params, gw.secret)
    assert gw.call("POST", "/unified", params).ok


def test_raw_chinese_attach_must_be_url_encoded(server, gw):
    refused(server, lambda: send(gw, {**base(), "attach": "中文"}), "参数错误", "attach", "url")


def test_unknown_appid(server, gw):
    stranger = GatewayClient(server.base_url, "gpu00000000", gw.secret)
    refused(server, lambda: send(stranger, base()), "商户不存在", "gpu00000000")
    query = stranger.sign_params({"order_no": "G-BAD-1"})
    refused(server, lambda: stranger.call("GET", "/check_order", query), "商户不存在")


def test_missing_appid(server, gw):
    params = base()
    params["sign"] = signing.sign_request(params, gw.secret)
    refused(server, lambda: gw.call("POST", "/unified", params), "缺少参数", "appid")


def test_disabled_merchant(server, merchant):
    client = GatewayClient(server.base_url, **merchant["gateway"])
    assert send(client, base("G-DISABLED-1")).ok
    server.update_merchant(merchant["merchant_id"], status="disabled")
    refused(server, lambda: send(client, base()), "商户已禁用")
    query = client.sign_params({"order_no": "G-DISABLED-1"})
    refused(server, lambda: client.call("GET", "/check_order", query), "商户已禁用")


def test_query_of_an_unknown_order(server, gw):
    query = gw.sign_params({"order_no": "G-NOPE-1"})
    refused(server, lambda: gw.call("GET", "/check_order", query), "订单不存在", "G-NOPE-1")
    bad = {**query, "sign": "0" * 32}
    refused(server, lambda: gw.call("GET", "/check_order", bad), "签名错误")
    refused(
        server,
        lambda: gw.call("GET", "/check_order", gw.sign_params({})),
        "缺少参数",
        "order_no",
    )


def test_json_values_that_cannot_be_signed(server, gw):
    params = {**base(), "appid": gw.appid, "attach": {"a": 1}, "sign": "0" * 32}
    refused(server, lambda: gw.call("POST", "/unified", params, as_json=True), "参数错误", "attach")


@pytest.mark.parametrize(
    ("content_type", "body", "phrase"),
    [
        ("text/plain", b"order_no=1", "不支持的Content-Type"),
        ("application/json", b"{not json", "请求格式错误"),
        ("application/json", b"[1, 2]", "请求格式错误"),
        ("application/x-www-form-urlencoded", b"a=1&a=2", "参数错误"),
        ("application/x-www-form-urlencoded", b"\xff\xfe=1", "请求格式错误"),
    ],
)
def test_malformed_bodies(server, content_type, body, phrase):
    def call() -> Reply:
        response = httpx.post(
            f"{server.base_url}/api/order/unified",
            content=body,
            headers={"Content-Type": content_type},
        )
        return Reply(response.status_code, response.json(), response.content)

    refused(server, call, phrase)


def test_unknown_endpoint_and_wrong_method_answer_in_the_gateway_shape(server):
    for method, path in (("GET", "/api/order/unified"), ("POST", "/api/order/nope")):
        response = httpx.request(method, server.base_url + path)
        assert response.status_code == 404
        assert response.json() == {
            "status": "0",
            "message": response.json()["message"],
            "data": {},
        }
        assert response.json()["message"].startswith("接口不存在")


def test_md5_is_lower_hex_of_the_request_rule(gw):
    """The SDK signs exactly as the spec describes (a check of the helper the tests rely on)."""
    params = gw.sign_params(base())
    text = "&".join(
        f"{k}={v}" for k, v in sorted({**params, "secret": gw.secret}.items()) if k != "sign"
    )
    assert params["sign"] == hashlib.md5(text.encode()).hexdigest()


def test_ip_outside_the_allowlist(server, merchant):
    client = GatewayClient(server.base_url, **merchant["gateway"])
    server.update_merchant(merchant["merchant_id"], ip_allowlist="203.0.113.0/24")
    refused(server, lambda: send(client, base()), "IP不在白名单内", "127.0.0.1")
    server.update_merchant(merchant["merchant_id"], ip_allowlist="127.0.0.1")
    assert send(client, base("G-IP-1")).ok
