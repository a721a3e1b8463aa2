"""Merchant endpoints: create (sandbox), info, update, regenerate-keys, search (admin)."""

from __future__ import annotations

import secrets

import httpx
import pytest

from paymux.dialects.vpay.client import VpayClient
from tests.vpay.conftest import expect, fails, new_client, send, unchanged

PEM = "-----BEGIN PUBLIC KEY-----"


def anonymous(server) -> VpayClient:
    return VpayClient(
        server.base_url, admin_token=server.admin_token, clock=server.ctx.env.clock.time
    )


def test_create_returns_the_secret_once(server):
    client = anonymous(server)
    created = client.create_merchant("测试商户")
    assert set(created) >= {
        "merchant_id",
        "merchant_name",
        "public_key",
        "create_time",
        "secret_key",
    }
    assert created["merchant_name"] == "测试商户"
    assert created["public_key"].startswith(PEM)
    assert created["create_time"].endswith("Z")
    # The client adopted app_id = merchant_id and the secret: it can sign at once.
    info = client.merchant_info()
    assert info["merchant_id"] == created["merchant_id"]
    assert "secret_key" not in info
    # Every merchant gets the same platform notification key, and its own secret.
    other = anonymous(server).create_merchant("another")
    assert other["public_key"] == created["public_key"]
    assert other["secret_key"] != created["secret_key"]
    assert other["merchant_id"] != created["merchant_id"]


def test_create_merchant_reply_code(server):
    response = httpx.post(server.base_url + "/api/v1/merchants", json={"merchant_name": "x"})
    assert response.status_code == 200
    assert response.json()["code"] == "MERCHANT.CREATE_SUCCESS"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "PAYMENT.MISSING_PARAM"),
        ({"merchant_name": ""}, "PAYMENT.MISSING_PARAM"),
        ({"merchant_name": "   "}, "MERCHANT.INVALID_PARAMS"),
        ({"merchant_name": "n" * 129}, "MERCHANT.INVALID_PARAMS"),
        ({"merchant_name": 42}, "MERCHANT.INVALID_PARAMS"),
        ({"merchant_name": "ok", "status": "active"}, "MERCHANT.INVALID_PARAMS"),
    ],
)
def test_create_refuses_bad_names(server, body, code):
    client = anonymous(server)
    with unchanged(server):
        expect(send(client, "/merchants", body), code)


def test_info(server, vpay):
    info = vpay.merchant_info()
    assert info["merchant_id"] == vpay.app_id
    assert info["merchant_name"] == "vpay merchant"
    assert info["public_key"] == server.ctx.platform_public_pem
    assert info["status"] == "active"
    assert "secret_key" not in info


def test_update_renames(vpay):
    assert vpay.update_merchant("新名字") == {"merchant_id": vpay.app_id, "merchant_name": "新名字"}
    assert vpay.merchant_info()["merchant_name"] == "新名字"


def test_update_refuses_bad_names(server, vpay):
    with unchanged(server):
        fails("PAYMENT.MISSING_PARAM", vpay.request, "POST", "/merchants/update")
        fails("MERCHANT.INVALID_PARAMS", vpay.update_merchant, "n" * 129)
        fails("MERCHANT.INVALID_PARAMS", vpay.update_merchant, " ")
        fails(
            "MERCHANT.INVALID_PARAMS",
            vpay.request,
            "POST",
            "/merchants/update",
            {"merchant_name": 7},
        )
    assert vpay.merchant_info()["merchant_name"] == "vpay merchant"


def test_regenerate_keys_keeps_the_old_secret_during_the_grace_period(server, vpay):
    old = VpayClient(server.base_url, vpay.app_id, vpay.secret_key, clock=server.ctx.env.clock.time)
    rotated = vpay.regenerate_keys()
    assert rotated["merchant_id"] == vpay.app_id
    assert rotated["public_key"] == server.ctx.platform_public_pem
    assert rotated["secret_key"] == vpay.secret_key != old.secret_key
    assert rotated["old_secret_grace_period_s"] == server.ctx.settings.secret_grace_period_s
    assert vpay.merchant_info()["merchant_id"] == vpay.app_id
    assert old.merchant_info()["merchant_id"] == vpay.app_id
    stranger = VpayClient(server.base_url, vpay.app_id, secrets.token_hex(16))
    fails("PAYMENT.INVALID_SIGN", stranger.merchant_info)


def test_search_needs_the_admin_token(server):
    client = anonymous(server)
    client.admin_token = ""
    fails("PAYMENT.UNAUTHORIZED", client.search_merchants)
    client.admin_token = "wrong-" + server.admin_token
    fails("PAYMENT.UNAUTHORIZED", client.search_merchants)


def test_search_filters_by_name_and_paginates(server):
    tag = "srch" + secrets.token_hex(4)
    made = {new_client(server, f"{tag} shop {i}").app_id for i in range(3)}
    new_client(server, "unrelated")
    client = anonymous(server)
    first = client.search_merchants(tag, page=1, page_size=2)
    assert (first["total"], first["current_page"], first["page_size"], first["total_pages"]) == (
        3,
        1,
        2,
        2,
    )
    second = client.search_merchants(tag, page=2, page_size=2)
    assert second["current_page"] == 2 and len(second["data"]) == 1
    found = [m["merchant_id"] for m in first["data"] + second["data"]]
    assert sorted(found) == sorted(made)
    assert all("secret_key" not in m for m in first["data"])
    beyond = client.search_merchants(tag, page=3, page_size=2)
    assert beyond["data"] == [] and beyond["total"] == 3
    # LIKE wildcards in the keyword are matched literally.
    assert client.search_merchants(tag + "%")["total"] == 0
    default = client.search_merchants(tag)
    assert default["page_size"] == 10 and default["current_page"] == 1


@pytest.mark.parametrize(
    "params",
    [{"page": "0"}, {"page": "x"}, {"page_size": "101"}, {"page_size": "0"}, {"bogus": "1"}],
)
def test_search_refuses_bad_paging(server, params):
    client = anonymous(server)
    fails(
        "MERCHANT.INVALID_PARAMS",
        client.request,
        "GET",
        "/merchants/search",
        params,
        signed=False,
        admin=True,
    )
