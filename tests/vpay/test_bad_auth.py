"""Requests that must be refused before any business happens: transport, signature, timestamp,
nonce, merchant. Each asserts the vpay code and that nothing was written."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from typing import Any

import httpx
import pytest

from paymux.dialects.vpay.client import VpayClient
from paymux.signing import vpay as signing
from tests.vpay.conftest import expect, new_client, send, unchanged

CREATE = "/orders/create"


def order_params(client: VpayClient, **changes: Any) -> dict[str, Any]:
    """Unsigned create-order parameters with a fresh merchant order no."""
    params: dict[str, Any] = {
        "merchant_order_id": "B" + secrets.token_hex(6),
        "amount": 1000,
        "channel": "QR_CODE",
    }
    params.update(changes)
    return params


def assert_no_order(client: VpayClient, params: dict[str, Any]) -> None:
    merchant_order_id = params.get("merchant_order_id")
    if isinstance(merchant_order_id, str) and merchant_order_id:
        body = client.http.post(
            client.base + "/orders/query",
            json=client.sign_params({"merchant_order_id": merchant_order_id}),
        ).json()
        assert body["code"] == "ORDER.NOT_FOUND", body


def refused(
    server,
    client: VpayClient,
    body: dict[str, Any] | bytes,
    code: str,
    *,
    query: bool = True,
    **kw: Any,
) -> None:
    """Send a create-order `body` that must fail with `code` and leave everything unchanged.

    With `query`, also ask for the order by its merchant order no: it must not exist.
    """
    with unchanged(server):
        expect(send(client, CREATE, body, **kw), code)
    if query and isinstance(body, dict):
        assert_no_order(client, body)


def local_timestamp(server, client: VpayClient, offset_s: float) -> str:
    moment = server.ctx.env.clock.now() + timedelta(seconds=offset_s)
    return moment.replace(tzinfo=UTC).astimezone(client.tz).strftime("%Y%m%d%H%M%S")


# -- transport ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe{}", b'{"amount": 1e400}']
)
def test_malformed_json(server, shared_vpay, body):
    refused(server, shared_vpay, body, "PAYMENT.MISSING_PARAM")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_wrong_content_type(server, shared_vpay, content_type):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    refused(
        server, shared_vpay, params, "PAYMENT.UNSUPPORTED_MEDIA_TYPE", content_type=content_type
    )


def test_json_with_charset_is_fine(shared_vpay):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    response = send(shared_vpay, CREATE, params, content_type="application/json; charset=utf-8")
    assert response.json()["code"] == "ORDER.CREATE_SUCCESS"


def test_ten_megabyte_body_is_refused_and_the_server_stays_up(server, shared_vpay):
    params = shared_vpay.sign_params(
        order_params(shared_vpay, product_desc="x" * (10 * 1024 * 1024))
    )
    refused(server, shared_vpay, params, "PAYMENT.PAYLOAD_TOO_LARGE")

    def chunks():  # no Content-Length: the limit must hold while streaming too
        yield b'{"product_desc": "'
        for _ in range(10):
            yield b"y" * (1024 * 1024)
        yield b'"}'

    with unchanged(server):
        streamed = shared_vpay.http.post(
            shared_vpay.base + CREATE,
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        expect(streamed, "PAYMENT.PAYLOAD_TOO_LARGE")
    assert shared_vpay.create_order("AFTER-10MB", 100)["status"] == 0


def test_nested_values_are_refused_not_crashed(server, shared_vpay):
    for value in ({"a": 1}, [1, 2]):
        params = shared_vpay.sign_params(order_params(shared_vpay))
        params["product_desc"] = value
        refused(server, shared_vpay, params, "ORDER.INVALID_PARAMS")


# -- common parameters and signature --------------------------------------------------------------


@pytest.mark.parametrize("name", ["app_id", "timestamp", "nonce_str", "sign"])
def test_missing_common_parameter(server, shared_vpay, name):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    del params[name]
    refused(server, shared_vpay, params, "PAYMENT.MISSING_PARAM")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("app_id", "M" * 33),
        ("app_id", "M-1"),
        ("app_id", 12345),
        ("nonce_str", "n" * 65),
        ("nonce_str", "has space"),
        ("sign_type", "MD5"),
    ],
)
def test_malformed_common_parameter(server, shared_vpay, name, value):
    params = order_params(shared_vpay)
    params[name] = value
    refused(server, shared_vpay, shared_vpay.sign_params(params), "ORDER.INVALID_PARAMS")


@pytest.mark.parametrize("value", ["S" * 129, 12345])
def test_malformed_signature_field(server, shared_vpay, value):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    params["sign"] = value
    refused(server, shared_vpay, params, "ORDER.INVALID_PARAMS")


def test_sign_type_may_be_given(shared_vpay):
    params = shared_vpay.sign_params(order_params(shared_vpay, sign_type="HMAC-SHA256"))
    assert send(shared_vpay, CREATE, params).json()["code"] == "ORDER.CREATE_SUCCESS"


def test_wrong_signature(server, shared_vpay):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    params["sign"] = secrets.token_hex(32).upper()
    refused(server, shared_vpay, params, "PAYMENT.INVALID_SIGN")


def test_signature_with_another_secret(server, shared_vpay):
    params = order_params(shared_vpay)
    forged = VpayClient(
        shared_vpay.base.removesuffix("/api/v1"), shared_vpay.app_id, secrets.token_hex(16)
    )
    forged.clock = shared_vpay.clock
    refused(server, shared_vpay, forged.sign_params(params), "PAYMENT.INVALID_SIGN")


def test_another_merchants_secret(server, shared_vpay):
    other = new_client(server)
    params = order_params(shared_vpay, app_id=shared_vpay.app_id)
    refused(server, shared_vpay, other.sign_params(params), "PAYMENT.INVALID_SIGN")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p.update(amount=999999),
        lambda p: p.update(channel="ALIPAY"),
        lambda p: p.update(product_desc="added after signing"),
        lambda p: p.pop("channel"),
        lambda p: p.update(amount=str(p["amount"]) + ".0"),
    ],
    ids=["amount", "channel", "added", "dropped", "retyped"],
)
def test_signature_over_other_params(server, shared_vpay, tamper):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    tamper(params)
    refused(server, shared_vpay, params, "PAYMENT.INVALID_SIGN")


def test_lowercase_hex_signature_is_accepted(shared_vpay):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    params["sign"] = params["sign"].lower()
    assert send(shared_vpay, CREATE, params).json()["code"] == "ORDER.CREATE_SUCCESS"


def test_query_string_signature_covers_every_parameter(server, shared_vpay):
    params = shared_vpay.sign_params({"status": "0", "page": "1"})
    ok = shared_vpay.http.get(shared_vpay.base + "/orders/list", params=params)
    assert ok.json()["code"] == "PAYMENT.SUCCESS"
    params = shared_vpay.sign_params({"status": "0"})
    tampered = shared_vpay.http.get(
        shared_vpay.base + "/orders/list", params={**params, "status": "1"}
    )
    expect(tampered, "PAYMENT.INVALID_SIGN")
    params = shared_vpay.sign_params({"status": "0"})
    query = httpx.QueryParams(params).add("status", "0")
    expect(
        shared_vpay.http.get(shared_vpay.base + "/orders/list", params=query),
        "ORDER.INVALID_PARAMS",
    )


# -- timestamp ------------------------------------------------------------------------------------


# Just outside the ±300 s window. A timestamp has whole seconds, so "301 s ahead" sent at
# 12:00:00.9 says 12:05:01, which the server — a few ms later — finds 300.1 s ahead, or
# inside the window once the request took 0.1 s: 302 keeps a second of margin for that.
@pytest.mark.parametrize("offset_s", [-301, 302, -86400, 10 * 365 * 86400])
def test_stale_or_future_timestamp(server, shared_vpay, offset_s):
    params = order_params(shared_vpay, timestamp=local_timestamp(server, shared_vpay, offset_s))
    refused(server, shared_vpay, shared_vpay.sign_params(params), "PAYMENT.EXPIRED_TIMESTAMP")


@pytest.mark.parametrize("offset_s", [-280, 280])
def test_timestamp_inside_the_window(server, shared_vpay, offset_s):
    params = order_params(shared_vpay, timestamp=local_timestamp(server, shared_vpay, offset_s))
    assert (
        send(shared_vpay, CREATE, shared_vpay.sign_params(params)).json()["code"]
        == "ORDER.CREATE_SUCCESS"
    )


@pytest.mark.parametrize(
    "timestamp",
    [
        "2023-05-19 15:30:00",
        "20231345250000",
        "2023051915300",
        "202305191530000",
        "abcdefghijklmn",
        "２０２３０５１９１５３０００",
        20230519153000,
    ],
)
def test_malformed_timestamp(server, shared_vpay, timestamp):
    params = order_params(shared_vpay, timestamp=timestamp)
    refused(server, shared_vpay, shared_vpay.sign_params(params), "ORDER.INVALID_PARAMS")


# -- nonce ----------------------------------------------------------------------------------------


def test_replayed_request(server, shared_vpay):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    assert send(shared_vpay, CREATE, params).json()["code"] == "ORDER.CREATE_SUCCESS"
    with unchanged(server):
        expect(send(shared_vpay, CREATE, params), "PAYMENT.DUPLICATE_REQUEST")


def test_reused_nonce_with_other_params(server, shared_vpay):
    first = shared_vpay.sign_params(order_params(shared_vpay))
    assert send(shared_vpay, CREATE, first).json()["code"] == "ORDER.CREATE_SUCCESS"
    second = order_params(shared_vpay, nonce_str=first["nonce_str"])
    refused(server, shared_vpay, shared_vpay.sign_params(second), "PAYMENT.DUPLICATE_REQUEST")


def test_concurrent_replays_pass_once(server, shared_vpay):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: send(shared_vpay, CREATE, params).json()["code"], range(8)))
    assert codes.count("ORDER.CREATE_SUCCESS") == 1
    assert codes.count("PAYMENT.DUPLICATE_REQUEST") == 7


def test_nonces_are_per_merchant(server, shared_vpay):
    other = new_client(server)
    nonce = secrets.token_hex(8)
    for client in (shared_vpay, other):
        params = client.sign_params(order_params(client, nonce_str=nonce))
        assert send(client, CREATE, params).json()["code"] == "ORDER.CREATE_SUCCESS"


def test_forged_request_does_not_burn_the_nonce(server, shared_vpay):
    params = shared_vpay.sign_params(order_params(shared_vpay))
    forged = dict(params, sign="0" * 64)
    expect(send(shared_vpay, CREATE, forged), "PAYMENT.INVALID_SIGN")
    assert send(shared_vpay, CREATE, params).json()["code"] == "ORDER.CREATE_SUCCESS"


# -- merchant -------------------------------------------------------------------------------------


def test_unknown_app_id(server, shared_vpay):
    params = order_params(shared_vpay, app_id="Mnosuchmerchant0000")
    refused(server, shared_vpay, shared_vpay.sign_params(params), "MERCHANT.NOT_FOUND")


def test_disabled_merchant(server, vpay):
    server.update_merchant(vpay.app_id, status="disabled")
    params = vpay.sign_params(order_params(vpay))
    refused(server, vpay, params, "MERCHANT.DISABLED", query=False)
    with unchanged(server):
        expect(
            send(vpay, "/merchants/info", vpay.sign_params({})),
            "MERCHANT.DISABLED",
        )
    # A forged request learns nothing about the merchant's status.
    forged = dict(vpay.sign_params(order_params(vpay)), sign="0" * 64)
    expect(send(vpay, CREATE, forged), "PAYMENT.INVALID_SIGN")
    server.update_merchant(vpay.app_id, status="active")
    assert_no_order(vpay, params)
    assert vpay.create_order("BACK-1", 100)["status"] == 0


def test_ip_allowlist(server, vpay):
    server.update_merchant(vpay.app_id, ip_allowlist="203.0.113.0/24")
    params = vpay.sign_params(order_params(vpay))
    refused(server, vpay, params, "PAYMENT.IP_NOT_ALLOWED", query=False)
    server.update_merchant(vpay.app_id, ip_allowlist="127.0.0.1")
    assert_no_order(vpay, params)
    assert vpay.create_order("IP-OK", 100)["status"] == 0


def test_rate_limit(server, vpay):
    server.update_merchant(vpay.app_id, rate_limit_per_s=1)

    def info(_: int) -> str:
        response = send(vpay, "/merchants/info", vpay.sign_params({}))
        return response.json()["code"]

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(info, range(6)))
    assert "PAYMENT.RATE_LIMIT_EXCEEDED" in codes, codes
    assert set(codes) <= {"PAYMENT.SUCCESS", "PAYMENT.RATE_LIMIT_EXCEEDED"}
    server.update_merchant(vpay.app_id, rate_limit_per_s=0)


def test_signature_rule_matches_the_vector():
    """The client signs exactly like the spec's sample (VECTORS.md)."""
    params = {
        "app_id": "M9a8b7c6d5e4f3g2h1i",
        "merchant_order_id": "M20230519001",
        "amount": 10000,
        "channel": "QR_CODE",
        "timestamp": "20230519153000",
        "nonce_str": "5K8264ILTKCH16CQ",
    }
    client = VpayClient("http://unused", "M9a8b7c6d5e4f3g2h1i", "vpay-test-secret")
    signed = client.sign_params(params)
    assert signed["sign"] == "F2BE201E0A2175E2487E422CDFF2D0E2DD724F88B45711622070605187A55891"
    assert signing.verify(signed, "vpay-test-secret", signed["sign"])
