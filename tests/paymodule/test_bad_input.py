"""Bad input gets paymodule's `{code, msg, data: null}` (code = HTTP status) and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from tests.harness import Server
from tests.paymodule.conftest import row_counts

GOOD = {
    "bizOrderId": "BAD-INPUT-1",
    "amount": 100,
    "subject": "商品订单支付",
    "description": "购买商品A×1",
    "callbackUrl": "http://127.0.0.1:9/notify",
}


def _post(server: Server, key: str | None, body: Any, **kwargs: Any) -> httpx.Response:
    headers = {"X-Api-Key": key} if key else {}
    headers.update(kwargs.pop("headers", {}))
    if isinstance(body, bytes):
        return httpx.post(
            server.base_url + "/api/pay/wechat/native", content=body, headers=headers, **kwargs
        )
    return httpx.post(server.base_url + "/api/pay/wechat/native", json=body, headers=headers)


def _assert_error(response: httpx.Response, code: int, words: str = "") -> None:
    assert response.status_code == code, response.text
    body = response.json()
    assert body["code"] == code and body["data"] is None
    assert isinstance(body["msg"], str) and words in body["msg"], body["msg"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"bizOrderId": None}, "bizOrderId is required"),
        ({"bizOrderId": "有中文"}, "bizOrderId"),
        ({"bizOrderId": "x" * 65}, "bizOrderId"),
        ({"bizOrderId": 123}, "bizOrderId must be a string"),
        ({"amount": None}, "amount is required"),
        ({"amount": 0}, "amount must be positive"),
        ({"amount": -5}, "amount must be positive"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 10**13}, "amount exceeds"),
        ({"subject": ""}, "subject is required"),
        ({"subject": "s" * 128}, "subject is longer"),
        ({"subject": "a\nb"}, "control characters"),
        ({"description": "d" * 129}, "description is longer"),
        ({"callbackUrl": None}, "callbackUrl is required"),
        ({"callbackUrl": "ftp://example.com/x"}, "callbackUrl must be an http(s) URL"),
        ({"callbackUrl": "http://user:pw@example.com/"}, "credentials"),
        ({"extra": 1}, "unknown parameter extra"),
    ],
)
def test_create_rejects_bad_fields(server: Server, merchant, change, words):
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    before = row_counts(server)
    _assert_error(_post(server, merchant["paymodule"]["apiKey"], body), 400, words)
    assert row_counts(server) == before


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        (b"", {"Content-Type": "application/json"}, 400),
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400),
        (b"bizOrderId=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        (b"\xff\xfe", {"Content-Type": "application/json"}, 400),
    ],
)
def test_create_rejects_bad_bodies(server: Server, merchant, body, headers, code):
    before = row_counts(server)
    _assert_error(_post(server, merchant["paymodule"]["apiKey"], body, headers=headers), code)
    assert row_counts(server) == before


def test_oversized_body_is_refused(server: Server, merchant):
    before = row_counts(server)
    body = b'{"subject":"' + b"x" * (server.ctx.settings.max_body_bytes + 10) + b'"}'
    response = _post(
        server, merchant["paymodule"]["apiKey"], body, headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 413)
    assert row_counts(server) == before


def test_private_callback_urls_are_refused_in_production(tmp_path):
    from tests.harness import run_server

    with run_server(tmp_path, mode="production") as srv:
        merchant = srv.create_merchant()
        before = row_counts(srv)
        response = _post(srv, merchant["paymodule"]["apiKey"], GOOD)
        _assert_error(response, 400, "private or loopback")
        assert row_counts(srv) == before


@pytest.mark.parametrize(
    "order_id", ["abc", "0", "-1", "1.5", "9223372036854775808", "99999999999999999999"]
)
def test_order_id_must_be_a_positive_64_bit_integer(server: Server, merchant, order_id):
    for suffix in ("", "/transactions/latest"):
        response = httpx.get(
            f"{server.base_url}/api/pay/orders/{order_id}{suffix}",
            headers={"X-Api-Key": merchant["paymodule"]["apiKey"]},
        )
        _assert_error(response, 400, "orderId")


def test_unknown_paths_and_methods_answer_in_shape(server: Server, merchant):
    headers = {"X-Api-Key": merchant["paymodule"]["apiKey"]}
    _assert_error(httpx.get(server.base_url + "/api/pay/unionpay", headers=headers), 404)
    _assert_error(httpx.get(server.base_url + "/api/pay/wechat/native", headers=headers), 404)


def test_health_is_503_when_the_database_is_unreachable(fresh_server: Server, tmp_path):
    assert httpx.get(fresh_server.base_url + "/api/health").status_code == 200
    store = fresh_server.ctx.store
    # Reads go to the reader threads' engine (SQLite) or the autocommit one (PostgreSQL).
    healthy = store.read_engine, store._autocommit_engine
    url = (
        f"sqlite:///{tmp_path}/missing/dir/db.sqlite"
        if fresh_server.backend == "sqlite"
        else "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    )
    store.read_engine = store._autocommit_engine = create_engine(url)
    try:
        response = httpx.get(fresh_server.base_url + "/api/health", timeout=30)
    finally:
        store.read_engine, store._autocommit_engine = healthy
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == 503 and body["data"]["status"] == "DOWN"
    assert body["data"]["database"]["status"] == "DOWN"
    again = httpx.get(fresh_server.base_url + "/api/health", timeout=30)
    assert again.json()["data"]["status"] == "UP"
