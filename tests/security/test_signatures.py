"""Signature checks: constant-time everywhere (an audit of the code), refusals that never crash,
and the cross-merchant and replay cases each dialect's own tests leave out.

Already covered elsewhere (not repeated): vpay replay, stale timestamp,
another merchant's secret (tests/vpay/test_bad_auth.py, test_clock.py);
partner replay and stale timestamp (tests/partner/test_auth.py); skillpay
replay, stale Datetime and wrong key (tests/skillpay/test_auth.py); gateway
and paymodule orders of another merchant (test_unified.py, test_api.py).
gateway and paymodule have no timestamp or nonce in their specs: a replayed
gateway order is the same order (idempotent), checked here.
"""

from __future__ import annotations

import ast
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymux.dialects.gateway.client import GatewayClient, GatewayError
from paymux.dialects.partner.client import PartnerClient, PartnerError
from paymux.dialects.skillpay.client import SkillpayError
from paymux.dialects.vpay.client import VpayError
from paymux.signing import gateway, partner, paymodule, vpay
from tests.faults.conftest import Integrations
from tests.harness import Server

ROOT = Path(__file__).parent.parent.parent / "paymux"
# Where secrets, signatures, tokens and passwords are checked.
AUDITED = [
    *sorted((ROOT / "signing").glob("*.py")),
    *sorted(ROOT.glob("dialects/*/auth.py")),
    ROOT / "api" / "auth.py",
    ROOT / "web" / "console" / "auth.py",
    ROOT / "web" / "wallet.py",
]
SECRET_WORDS = ("sign", "secret", "token", "csrf", "password", "digest", "mac", "key")


def _names(node: ast.AST) -> str:
    return " ".join(
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Name | ast.Attribute)
    ).lower()


def test_secret_comparisons_are_constant_time() -> None:
    """No `==`/`!=` between two computed values that name a secret; compare_digest instead.

    Comparing with a literal (an algorithm name like "MD5") reveals nothing and is allowed.
    """
    offenders = []
    for path in AUDITED:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            sides = [node.left, *node.comparators]
            if any(isinstance(side, ast.Constant) for side in sides):
                continue
            if any(word in _names(node) for word in SECRET_WORDS):
                offenders.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert offenders == []


def test_every_signature_check_uses_compare_digest() -> None:
    """Every `verify*` of an HMAC/hash scheme ends in hmac.compare_digest (RSA ones in the
    cryptography library's verify)."""
    for path in sorted((ROOT / "signing").glob("*.py")):
        tree = ast.parse(path.read_text())
        for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            if not func.name.startswith("verify"):
                continue
            called = {_names(c.func) for c in ast.walk(func) if isinstance(c, ast.Call)}
            words = {word for names in called for word in names.split()}
            assert words & {"compare_digest", "verify"}, f"{path.name}:{func.name}"


@pytest.mark.parametrize("forged", ["é" * 64, "\x00" * 64, "A" * 63, ""])
def test_verify_refuses_any_text_without_raising(forged: str) -> None:
    params = {"a": "1"}
    assert not vpay.verify(params, "s", forged)
    assert not partner.verify(params, "s", forged)
    assert not gateway.verify_request(params, "s", forged)
    assert not gateway.verify_callback(params, "s", forged)
    assert not paymodule.verify(b"{}", "n", "1", "s", forged)
    assert not partner.verify_pay_sign("k", "n", "o", "1", "s", forged)


@pytest.fixture
def two(server: Server) -> tuple[Integrations, Integrations]:
    admin = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.admin_token}"}
    )
    return Integrations(server.base_url, admin, "one"), Integrations(server.base_url, admin, "two")


def test_non_ascii_signatures_are_refused_in_each_dialects_shape(
    server: Server, two: tuple[Integrations, Integrations]
) -> None:
    shop, _ = two
    signed = shop.vpay.sign_params({"merchant_order_id": "NA-1", "amount": 1, "channel": "QR_CODE"})
    forged = {**signed, "sign": "é" * 64}
    with pytest.raises(VpayError) as vpay_error:
        shop.vpay.unwrap(shop.vpay.http.post(shop.vpay.base + "/orders/create", json=forged))
    # A signature error, or a malformed-field one where `sign` is checked to be hex first.
    assert vpay_error.value.code in ("PAYMENT.INVALID_SIGN", "ORDER.INVALID_PARAMS")
    assert vpay_error.value.status < 500
    params = shop.partner.sign_params({"orderNo": "x"})
    reply = httpx.post(
        shop.partner.base + "/openapi/payment/query", json={**params, "signature": "é" * 64}
    )
    assert reply.json()["code"] != "9999" and reply.status_code < 500, reply.text


def test_a_request_signed_with_another_merchants_secret_is_refused(
    two: tuple[Integrations, Integrations],
) -> None:
    one, other = two
    creds = other.credentials
    as_one: dict[str, Any] = {
        "partner": PartnerClient(
            one.partner.base.removesuffix("/partner/api"),
            one.credentials["partner"]["apiKey"],
            creds["partner"]["appSecret"],
        ),
        "gateway": GatewayClient(
            one.gateway.base.removesuffix("/api/order"),
            one.credentials["gateway"]["appid"],
            creds["gateway"]["secret"],
        ),
    }
    with pytest.raises(PartnerError) as partner_error:
        as_one["partner"].query_payment("x")
    assert partner_error.value.code == "1002"
    with pytest.raises(GatewayError, match="sign"):
        as_one["gateway"].check_order("x")


def test_one_merchant_cannot_see_anothers_orders(two: tuple[Integrations, Integrations]) -> None:
    one, other = two
    order = other.vpay.create_order("X-" + secrets.token_hex(4), 100)
    with pytest.raises(VpayError) as vpay_error:
        one.vpay.query_order(order_id=order["order_id"])
    assert vpay_error.value.code in ("ORDER.NOT_FOUND", "ORDER.ACCESS_DENIED")
    with pytest.raises(PartnerError):
        one.partner.query_payment(order["order_id"])
    with pytest.raises(SkillpayError) as skill_error:
        one.skillpay.order_query(transaction_id=order["order_id"])
    assert "NOT_FOUND" in skill_error.value.err_code or "EXIST" in skill_error.value.err_code


def test_a_replayed_gateway_order_is_the_same_order(two: tuple[Integrations, Integrations]) -> None:
    shop, _ = two
    params = shop.gateway.sign_params(
        {
            "order_no": "G-" + secrets.token_hex(4),
            "amount": 100,
            "bank_code": "903",
            "product_name": "replayed",
            "notify_url": "https://shop.example/notify",
            "return_url": "https://shop.example/return",
        }
    )
    first = shop.gateway.call("POST", "/unified", params)
    again = shop.gateway.call("POST", "/unified", params)
    assert first.ok and again.ok, (first, again)
    assert first.body["data"]["platform_order_no"] == again.body["data"]["platform_order_no"]
