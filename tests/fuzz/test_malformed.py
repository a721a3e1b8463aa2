"""Malformed input against every dialect: refused in its own error shape, no 5xx, nothing written.

Each case starts from a request the dialect would accept (signed with its
SDK, so the signature is never the reason for a refusal) and breaks one
thing: an oversized body (with and without Content-Length), JSON nested
beyond any sane depth, invalid UTF-8, a duplicated key, numbers no amount can
be (1e400, 2**70, 5,000 digits, NaN, Infinity), CR/LF in a field and in the
URL, a wrong or missing content type, an empty body, a body on a GET.

"The dialect's shape" is the error schema the dialect's OpenAPI document
gives for that status: the reply must validate against it, and must not be a
success. Row counts of every money and order table are compared before and
after, so a refused request that wrote anything fails too.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jsonschema_rs
import pytest
from sqlalchemy import func, select

from paymux.dialects.gateway.client import GatewayClient
from paymux.dialects.partner.client import PartnerClient
from paymux.dialects.skillpay.client import SkillpayClient
from paymux.dialects.vpay.client import VpayClient
from paymux.openapi import DOCUMENTS
from paymux.openapi.schema import Schema
from paymux.store import tables as t
from tests.fuzz.test_schemathesis import DATA
from tests.harness import Server

COUNTED = (
    t.orders,
    t.refunds,
    t.withdrawals,
    t.journal_entries,
    t.postings,
    t.holds,
    t.notifications,
    t.accounts,
)


@dataclass
class Target:
    """One dialect: a POST endpoint with a valid body, a GET endpoint, and how to sign."""

    dialect: str
    post_path: str  # as in the OpenAPI document (relative to its server URL)
    get_path: str  # as in the document ("" when the dialect has no GET)
    fields: dict[str, Any]  # a valid request, before signing
    sign: Callable[[dict[str, Any]], dict[str, Any]]  # the SDK's common parameters + signature
    headers: Callable[[bytes], dict[str, str]]  # per-request headers for the final body bytes
    text_field: str  # a free-text field to put CR/LF into
    amount_field: str
    get_url: Callable[[], str] = str  # a valid GET: path and signed query string
    content_type: str = "application/json"


def refused(dialect: str, response: httpx.Response) -> bool:
    """Whether the reply is an error by the dialect's own rule (not a success)."""
    body = response.json()
    return {
        "vpay": lambda: response.status_code >= 400,
        "partner": lambda: body["code"] != "0",
        "gateway": lambda: body["status"] == "0",
        "paymodule": lambda: body["code"] != 200,
        "skillpay": lambda: body["retCode"] == "FAIL",
    }[dialect]()


def check_refused(target: Target, method: str, doc_path: str, response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    document = DOCUMENTS[target.dialect]("")
    responses = document["paths"][doc_path][method.lower()]["responses"]
    assert str(response.status_code) in responses, (response.status_code, response.text)
    schema = responses[str(response.status_code)]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
    assert validator.is_valid(response.json()), response.text
    assert refused(target.dialect, response), response.text


def not_found_schema(dialect: str) -> Schema:
    """The dialect's 404 reply (an unknown path has no operation of its own)."""
    document = DOCUMENTS[dialect]("")
    for operations in document["paths"].values():
        for operation in operations.values():
            if "404" in operation["responses"]:
                schema = operation["responses"]["404"]["content"]["application/json"]["schema"]
                return {**schema, "components": document["components"]}
    raise AssertionError(f"{dialect} documents no 404")


def counts(server: Server) -> dict[str, int]:
    def read(uow: Any) -> dict[str, int]:
        return {
            table.name: int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in COUNTED
        }

    return server.ctx.store.read_sync(read)


def vpay_target(server: Server, merchant: dict[str, Any]) -> Target:
    creds = merchant["vpay"]
    client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    return Target(
        "vpay",
        "/orders/create",
        "/orders/list",
        {"merchant_order_id": "M1", "amount": 100, "channel": "QR_CODE", "product_desc": "x"},
        client.sign_params,
        lambda body: {},
        "product_desc",
        "amount",
        lambda: "/orders/list?" + urlencode(client.sign_params({})),
    )


def partner_target(server: Server, merchant: dict[str, Any]) -> Target:
    creds = merchant["partner"]
    client = PartnerClient(server.base_url, creds["apiKey"], creds["appSecret"])
    return Target(
        "partner",
        "/openapi/payment/create",
        "",
        {"orderNo": "P1", "amount": "1.00", "subject": "x"},
        client.sign_params,
        lambda body: {},
        "subject",
        "amount",
    )


def gateway_target(server: Server, merchant: dict[str, Any]) -> Target:
    creds = merchant["gateway"]
    client = GatewayClient(server.base_url, creds["appid"], creds["secret"])
    client.unified_order(
        "G0", 1, "912", "x", notify_url="http://127.0.0.1:9/n", return_url="http://127.0.0.1:9/r"
    )
    return Target(
        "gateway",
        "/unified",
        "/check_order",
        {
            "order_no": "G1",
            "amount": "100",
            "bank_code": "912",
            "product_name": "x",
            "notify_url": "http://127.0.0.1:9/n",
            "return_url": "http://127.0.0.1:9/r",
        },
        client.sign_params,
        lambda body: {},
        "product_name",
        "amount",
        lambda: "/check_order?" + urlencode(client.sign_params({"order_no": "G0"})),
    )


def paymodule_target(server: Server, merchant: dict[str, Any]) -> Target:
    key = merchant["paymodule"]["apiKey"]
    made = httpx.post(
        server.base_url + "/api/pay/wechat/native",
        json={
            "bizOrderId": "B0",
            "amount": 1,
            "subject": "x",
            "callbackUrl": "http://127.0.0.1:9/c",
        },
        headers={"X-Api-Key": key},
    )
    assert made.status_code == 200, made.text
    order_id = made.json()["data"]["orderId"]
    return Target(
        "paymodule",
        "/pay/wechat/native",
        "/pay/orders/{orderId}",
        {"bizOrderId": "B1", "amount": 100, "subject": "x", "callbackUrl": "http://127.0.0.1:9/c"},
        dict,
        lambda body: {"X-Api-Key": key},
        "subject",
        "amount",
        lambda: f"/pay/orders/{order_id}",
    )


def skillpay_target(server: Server, merchant: dict[str, Any]) -> Target:
    private = (DATA / "tsk-test-private.pem").read_text()
    public = (DATA / "tsk-test-public.pem").read_text()
    urls = {name: "http://127.0.0.1:9/skill" for name in ("create_order_url", "ship_url")}
    response = server.admin(
        "POST",
        "/admin/v1/skills",
        {
            "merchant_id": merchant["merchant_id"],
            "public_key": public,
            "refund_notify_url": "http://127.0.0.1:9/skill",
            **urls,
        },
    )
    assert response.status_code == 201, response.text
    platform_key = httpx.get(server.base_url + "/paycgi/platform-key").text
    client = SkillpayClient(
        server.base_url,
        response.json()["skillId"],
        private,
        platform_key,
        clock=server.ctx.env.clock.now,
    )
    return Target(
        "skillpay",
        "/refund",
        "/platform-key",
        {
            "tradeNo": "T1",
            "refundTradeNo": "R1",
            "totalAmt": 100,
            "refundAmt": 100,
            "refundDesc": "x",
            "refundDetails": [{"itemId": "i", "quantity": 1, "amount": 100}],
        },
        lambda fields: {"skillId": client.skill_id, "nonceStr": secrets.token_hex(16), **fields},
        lambda body: {"Authorization": client.authorization(body)},
        "refundDesc",
        "totalAmt",
        lambda: "/platform-key",
    )


TARGETS = {
    "vpay": vpay_target,
    "partner": partner_target,
    "gateway": gateway_target,
    "paymodule": paymodule_target,
    "skillpay": skillpay_target,
}


@pytest.fixture(params=sorted(TARGETS))
def target(server: Server, request: pytest.FixtureRequest) -> Iterator[Target]:
    """A dialect target on a fresh merchant; nothing may be written while its cases run."""
    made = TARGETS[request.param](server, server.create_merchant(f"malformed {request.param}"))
    before = counts(server)
    yield made
    assert counts(server) == before
    server.assert_ledger_clean()


def base_url(server: Server, target: Target) -> str:
    return DOCUMENTS[target.dialect](server.base_url)["servers"][0]["url"]


def send(
    server: Server,
    target: Target,
    body: bytes | Iterator[bytes],
    *,
    content_type: str | None = "",
    path: str = "",
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `body` (bytes, or chunks sent without Content-Length) with the dialect's headers."""
    signed_over = body if isinstance(body, bytes) else b""
    headers = {**target.headers(signed_over), **(extra_headers or {})}
    if content_type is not None:
        headers["Content-Type"] = content_type or target.content_type
    return httpx.post(
        base_url(server, target) + (path or target.post_path),
        content=body,
        headers=headers,
        timeout=30,
    )


def signed_json(target: Target, **changes: Any) -> bytes:
    return json.dumps(target.sign({**target.fields, **changes}), ensure_ascii=False).encode()


def test_oversized_body(server: Server, target: Target) -> None:
    padding = "x" * (server.ctx.settings.max_body_bytes + 1)
    response = send(server, target, signed_json(target, **{target.text_field: padding}))
    check_refused(target, "POST", target.post_path, response)


def test_oversized_body_without_content_length(server: Server, target: Target) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(server.ctx.settings.max_body_bytes // 65536 + 2):
            yield b" " * 65536
        yield signed_json(target)

    response = send(server, target, chunks())
    check_refused(target, "POST", target.post_path, response)


@pytest.mark.parametrize("depth", [900, 5000, 100_000])
def test_deeply_nested_json(server: Server, target: Target, depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    body = signed_json(target)[:-1] + b', "extra": ' + nested + b"}"
    check_refused(target, "POST", target.post_path, send(server, target, body))


def test_invalid_utf8(server: Server, target: Target) -> None:
    body = signed_json(target, **{target.text_field: "MARK"}).replace(b"MARK", b"\xff\xfe")
    check_refused(target, "POST", target.post_path, send(server, target, body))


def test_duplicate_keys_are_refused(server: Server, target: Target) -> None:
    """A repeated key could be read two ways (first or last wins): paymux reads neither.

    The signature is made over the last value, so a server that silently kept
    the last one would accept the request.
    """
    signed = signed_json(target, **{target.text_field: "last"})
    first = json.dumps({target.text_field: "first"})[1:-1].encode()
    body = b"{" + first + b", " + signed[1:]
    check_refused(target, "POST", target.post_path, send(server, target, body))


@pytest.mark.parametrize("number", [2**70, 10**12 + 1, -5, 0, 1.5, 1e300, True])
def test_numbers_no_amount_can_be(server: Server, target: Target, number: Any) -> None:
    """Amounts JSON can carry but no amount is: signed as sent, refused by the field check."""
    body = signed_json(target, **{target.amount_field: number})
    check_refused(target, "POST", target.post_path, send(server, target, body))


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"9" * 5000, b"NaN", b"Infinity"])
def test_numbers_json_cannot_hold(server: Server, target: Target, number: bytes) -> None:
    """Numbers outside what a JSON number can be parsed into: the body itself is refused."""
    body = signed_json(target, **{target.amount_field: 777}).replace(b"777", number, 1)
    check_refused(target, "POST", target.post_path, send(server, target, body))


def test_crlf_in_a_field(server: Server, target: Target) -> None:
    value = "x\r\nX-Injected: 1"
    response = send(server, target, signed_json(target, **{target.text_field: value}))
    check_refused(target, "POST", target.post_path, response)
    assert "x-injected" not in response.headers


@pytest.mark.parametrize("suffix", ["%0d%0aX-Injected:%201", "%0aSet-Cookie:%20a=b", "%00"])
def test_crlf_in_the_url(server: Server, target: Target, suffix: str) -> None:
    url = base_url(server, target) + target.post_path + suffix
    response = httpx.post(url, content=signed_json(target), headers=target.headers(b""))
    assert response.status_code == 404, response.text
    assert "x-injected" not in response.headers and "set-cookie" not in response.headers
    assert jsonschema_rs.validator_for(not_found_schema(target.dialect)).is_valid(response.json())
    assert refused(target.dialect, response), response.text


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/jsonx", "multipart/mixed"]
)
def test_wrong_content_type(server: Server, target: Target, content_type: str) -> None:
    response = send(server, target, signed_json(target), content_type=content_type)
    check_refused(target, "POST", target.post_path, response)


def test_missing_content_type(server: Server, target: Target) -> None:
    response = send(server, target, signed_json(target), content_type=None)
    check_refused(target, "POST", target.post_path, response)


@pytest.mark.parametrize("body", [b"", b" ", b"null", b"[]", b'"text"', b"{"])
def test_empty_or_not_an_object(server: Server, target: Target, body: bytes) -> None:
    check_refused(target, "POST", target.post_path, send(server, target, body))


def test_body_on_a_get(server: Server, target: Target) -> None:
    """A GET carries its parameters in the URL; a body on one is refused, not ignored."""
    if not target.get_path:
        pytest.skip("the partner dialect has no GET endpoint")
    valid = httpx.get(base_url(server, target) + target.get_url(), headers=target.headers(b""))
    assert valid.status_code == 200, valid.text  # the same GET without a body is answered
    if valid.headers["content-type"].startswith("application/json"):
        assert not refused(target.dialect, valid), valid.text
    response = httpx.request(
        "GET",
        base_url(server, target) + target.get_url(),
        content=b'{"a": 1}',
        headers={"Content-Type": "application/json", **target.headers(b"")},
    )
    check_refused(target, "GET", target.get_path, response)
