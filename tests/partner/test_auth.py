"""Request authentication and the error envelope: both signature rules and field names, the
timestamp window, nonce replay, rate limit, IP allowlist, disabled and unknown partners, and
malformed requests — each answered with its section 9 code."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from paymux.dialects.partner.client import PartnerClient, PartnerError
from paymux.signing import partner as signing
from tests.harness import Server
from tests.partner.conftest import new_user


def raw(server: Server, path: str, body: object, **kw: object) -> dict:
    """POST any body to a partner endpoint; the reply is always the JSON envelope."""
    response = httpx.post(f"{server.base_url}/partner/api{path}", json=body, **kw)
    envelope = response.json()
    assert set(envelope) == {"code", "message", "data"} and isinstance(envelope["code"], str)
    return envelope


def test_php_and_java_rule_signatures_both_verify(server, merchant):
    creds = merchant["partner"]
    php = PartnerClient(server.base_url, creds["apiKey"], creds["appSecret"], rule="php")
    java = PartnerClient(server.base_url, creds["apiKey"], creds["appSecret"], rule="java")
    # an empty description is left out by the PHP rule and signed as `description=` by Java's
    for client, order_no in ((php, "P-SIG-PHP"), (java, "P-SIG-JAVA")):
        signed = client.sign_params({"orderNo": order_no, "amount": "1.00", "description": ""})
        keep = client is java
        assert signed["signature"] == signing.sign(signed, creds["appSecret"], keep_empty=keep)
        assert raw(server, "/openapi/payment/create", signed)["code"] == "0"
    assert signing.sign({"a": "", "b": "1"}, "k") != signing.sign(
        {"a": "", "b": "1"}, "k", keep_empty=True
    )


def test_sign_or_signature_field_on_every_endpoint(server, partner):
    by_sign = partner.post(
        "/openapi/payment/create", {"orderNo": "P-SIGN-F", "amount": "1.00"}, signature_field="sign"
    )
    assert by_sign["orderNo"]
    params = partner.sign_params({"orderNo": "P-SIGN-F"})
    both = {**params, "sign": "A" * 64}
    assert raw(server, "/openapi/payment/query", both)["code"] == "1001"
    same = {**params, "sign": params["signature"]}
    assert raw(server, "/openapi/payment/query", same)["code"] == "0"


def test_wrong_signature_is_1002_and_10000002_on_the_app_endpoint(server, partner):
    user = new_user(server)
    params = partner.sign_params({"orderNo": "P-WRONG", "amount": "1.00"})
    tampered = {**params, "amount": "100.00"}
    reply = raw(server, "/openapi/payment/create", tampered)
    assert reply["code"] == "1002" and reply["data"] is None
    app = partner.sign_params({}, signature_field="sign")
    app["sign"] = "B" * 64
    headers = {"Authorization": f"Bearer {user.wallet_token}"}
    assert raw(server, "/partner/user/auth/code", app, headers=headers)["code"] == "10000002"


def test_unknown_api_key_is_2001_and_10000001_on_the_app_endpoint(server):
    stranger = PartnerClient(server.base_url, "NEXA9999999999999999999", "nope")
    with pytest.raises(PartnerError) as openapi:
        stranger.query_payment("P-1")
    assert openapi.value.code == "2001"
    with pytest.raises(PartnerError) as app:
        stranger.auth_code("wt_whatever")
    assert app.value.code == "10000001"


def test_replayed_nonce_is_refused_with_a_message_naming_the_replay(server, partner):
    params = partner.sign_params({"orderNo": "P-REPLAY", "amount": "1.00"})
    assert raw(server, "/openapi/payment/create", params)["code"] == "0"
    replay = raw(server, "/openapi/payment/create", params)
    assert replay["code"] == "1002" and "replay" in replay["message"]
    # a request refused before its signature was checked does not burn its nonce
    fresh = partner.sign_params({"orderNo": "P-REPLAY-2", "amount": "1.00"})
    assert raw(server, "/openapi/payment/create", {**fresh, "amount": "2.00"})["code"] == "1002"
    assert raw(server, "/openapi/payment/create", fresh)["code"] == "0"


def test_stale_timestamps_are_refused_within_each_partners_window(server, merchant, partner):
    now_ms = int(time.time() * 1000)
    old = partner.sign_params({"orderNo": "P-OLD", "timestamp": str(now_ms - 301_000)})
    assert raw(server, "/openapi/payment/query", old)["code"] == "4010"
    ahead = partner.sign_params({"orderNo": "P-OLD", "timestamp": str(now_ms + 301_000)})
    assert raw(server, "/openapi/payment/query", ahead)["code"] == "4010"
    seconds = partner.sign_params({"orderNo": "P-OLD", "timestamp": str(now_ms // 1000)})
    assert raw(server, "/openapi/payment/query", seconds)["code"] == "4010"
    twenty_s_old = str(now_ms - 20_000)
    assert (
        raw(
            server,
            "/openapi/payment/query",
            partner.sign_params({"orderNo": "P-OLD", "timestamp": twenty_s_old}),
        )["code"]
        == "5002"
    )
    server.update_merchant(merchant["merchant_id"], timestamp_window_s=5)
    late = partner.sign_params({"orderNo": "P-OLD", "timestamp": twenty_s_old})
    assert raw(server, "/openapi/payment/query", late)["code"] == "4010"


def test_rate_limit_is_3002(server, merchant, partner):
    server.update_merchant(merchant["merchant_id"], rate_limit_per_s=2)

    def query(i: int) -> str:
        params = partner.sign_params({"orderNo": f"Q{i}"})
        return raw(server, "/openapi/payment/query", params)["code"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(query, range(12)))
    assert "3002" in codes and "5002" in codes


def test_ip_outside_the_allowlist_is_3001(server, merchant, partner):
    server.update_merchant(merchant["merchant_id"], ip_allowlist="10.1.2.3, 192.168.0.0/16")
    refused = raw(server, "/openapi/payment/query", partner.sign_params({"orderNo": "P-IP"}))
    assert refused["code"] == "3001"
    server.update_merchant(merchant["merchant_id"], ip_allowlist="127.0.0.0/8")
    allowed = raw(server, "/openapi/payment/query", partner.sign_params({"orderNo": "P-IP"}))
    assert allowed["code"] == "5002"


def test_disabled_partner_is_2002(server, merchant, partner):
    server.update_merchant(merchant["merchant_id"], status="disabled")
    with pytest.raises(PartnerError) as disabled:
        partner.query_payment("P-1")
    assert disabled.value.code == "2002"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"apiKey": None}, "4000"),
        ({"nonce": None}, "4000"),
        ({"timestamp": None}, "4000"),
        ({"signature": None}, "4000"),
        ({"timestamp": "yesterday"}, "1001"),
        ({"nonce": "has spaces"}, "1001"),
        ({"signature": "not-hex"}, "1001"),
        ({"surprise": "1"}, "1001"),
        ({"orderNo": {"nested": 1}}, "1001"),
    ],
)
def test_malformed_common_parameters(server, partner, change, code):
    params = partner.sign_params({"orderNo": "P-MAL"})
    for name, value in change.items():
        if value is None:
            params.pop(name)
        else:
            params[name] = value
    assert raw(server, "/openapi/payment/query", params)["code"] == code


def test_field_limits_apply_to_correctly_signed_requests(server, partner):
    too_long = partner.sign_params({"orderNo": "x" * 65})
    assert raw(server, "/openapi/payment/query", too_long)["code"] == "1001"
    bad_chars = partner.sign_params({"orderNo": "订单1"})
    assert raw(server, "/openapi/payment/query", bad_chars)["code"] == "1001"


def test_bodies_that_are_not_json_objects(server):
    url = f"{server.base_url}/partner/api/openapi/payment/query"
    for content, kind in (
        (b"{not json", "application/json"),
        (b"[1]", "application/json"),
        (b"a=1", "application/x-www-form-urlencoded"),
    ):
        response = httpx.post(url, content=content, headers={"Content-Type": kind})
        assert response.status_code == 200 and response.json()["code"] == "1001"


def test_unknown_endpoint_keeps_the_envelope(server):
    response = httpx.post(f"{server.base_url}/partner/api/openapi/nope", json={})
    assert response.status_code == 404 and response.json()["code"] == "1001"
