"""Inputs the fuzzing found to break paymux, each pinned where it broke.

The HTTP-level versions of these cases are in test_malformed.py and run
against every dialect; these tests name the exact input and the function it
crashed, so a regression points at its cause.
"""

from __future__ import annotations

import httpx
import pytest

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.dialects import fields
from paymux.dialects.requests import decode_json_object
from paymux.dialects.vpay.client import VpayClient
from tests.harness import Server


def test_invalid_utf8_in_a_json_string_is_a_malformed_body() -> None:
    """b'{"a":"\\xff"}' raised UnicodeDecodeError out of msgspec: a 500 on every dialect."""
    with pytest.raises(PaymuxError) as caught:
        decode_json_object(b'{"a": "\xff\xfe"}')
    assert caught.value.code is ErrorCode.MALFORMED_BODY


@pytest.mark.parametrize("depth", [5000, 100_000])
def test_deeply_nested_json_is_a_malformed_body(depth: int) -> None:
    """5,000 nested arrays raised RecursionError out of msgspec: a 500 on every JSON dialect."""
    with pytest.raises(PaymuxError) as caught:
        decode_json_object(b'{"a": ' + b"[" * depth + b"]" * depth + b"}")
    assert caught.value.code is ErrorCode.MALFORMED_BODY


@pytest.mark.parametrize(
    "body",
    [
        b'{"amount": 1, "amount": 100}',
        b'{"url": "http://a:1/b", "x": {"k": 1, "k": 2}}',
        b'{"lines": [{"itemId": "a", "itemId": "b"}]}',
    ],
)
def test_duplicate_json_keys_are_refused(body: bytes) -> None:
    """msgspec silently kept the last of two equal keys; now the request is refused."""
    with pytest.raises(PaymuxError) as caught:
        decode_json_object(body)
    assert caught.value.code is ErrorCode.INVALID_PARAMS


@pytest.mark.parametrize(
    "body", [b'{"notify_url": "http://a:1/b", "t": "12:00:00"}', b'{"a": {"b": [{"c": ":"}]}}']
)
def test_colons_in_values_are_not_duplicates(body: bytes) -> None:
    assert decode_json_object(body)


@pytest.mark.parametrize("text", ["--1", "-", "9" * 5000, "1-", " 1", "١"])
def test_integer_parameter_text(text: str) -> None:
    """`page=--1` (lstrip("-") let it through to int()) and 5,000 digits (past int()'s limit)
    raised ValueError in fields.integer: a 500 on every paged GET."""
    with pytest.raises(PaymuxError) as caught:
        fields.integer({"page": text}, "page", default=1, minimum=1, maximum=10**6)
    assert caught.value.code is ErrorCode.INVALID_PARAMS


def test_integer_parameter_in_range() -> None:
    assert fields.integer({"page": "-0"}, "page", default=1, minimum=0, maximum=1) == 0
    assert fields.integer({"page": "42"}, "page", default=1, minimum=1, maximum=100) == 42


@pytest.mark.parametrize("sign", ["é" * 64, "签名", "ABC"])
def test_vpay_sign_that_is_not_hex(server: Server, sign: str) -> None:
    """`sign: "é…"` reached hmac.compare_digest, which raises TypeError on non-ASCII text:
    a 500 on every signed vpay endpoint. Now a malformed common parameter (400)."""
    creds = server.create_merchant()["vpay"]
    client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    params = client.sign_params({"merchant_order_id": "R1", "amount": 1, "channel": "QR_CODE"})
    response = httpx.post(server.base_url + "/api/v1/orders/create", json={**params, "sign": sign})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "ORDER.INVALID_PARAMS"


@pytest.mark.parametrize("path", ["/paycgi/platform-key", "/api/health", "/api/v1/orders/list"])
def test_a_body_on_a_get_is_refused(server: Server, path: str) -> None:
    """GETs answered as if their body were not there; now refused (400) in the dialect's shape."""
    response = httpx.request("GET", server.base_url + path, content=b'{"a": 1}')
    assert response.status_code == 400, response.text
