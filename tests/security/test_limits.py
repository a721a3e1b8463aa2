"""Abuse limits in every dialect's own shape: per-IP and per-merchant rate limits, IP allowlists,
and private URLs refused for skills in production mode.

The per-IP limit runs against each limiter paymux has: in memory (one
embedded process), in the database (several processes, no Redis) and in
Redis (scale mode), so "shared in scale mode" is the same code under test.
Request size limits are tested with the other oversized input (tests/vpay,
tests/paymodule and the bad-input tests); SSRF at delivery in tests/notify.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import Integrations, code_of
from tests.harness import PG_URL, REDIS_URL, Server, run_server
from tests.notify.receiver import Receiver

RATE_LIMITED = {
    "vpay": "PAYMENT.RATE_LIMIT_EXCEEDED",
    "partner": "3002",
    "gateway": "请求过于频繁",
    "paymodule": "429",
    "skillpay": "FREQUENCY_LIMITED",
}
IP_REFUSED = {
    "vpay": "PAYMENT.IP_NOT_ALLOWED",
    "partner": "3001",
    "gateway": "IP不在白名单内",
    "paymodule": "403",
    "skillpay": "IP_NOT_ALLOWED",
}
LIMITERS = ["memory"] + (["database"] if PG_URL else []) + (["redis"] if REDIS_URL else [])
IP_RATE = 10


def _integrations(server: Server) -> Integrations:
    admin = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.admin_token}"}
    )
    return Integrations(server.base_url, admin)


def _burst(shop: Integrations, dialect: str, count: int) -> set[str]:
    """`count` calls as fast as they go; the set of codes they got."""
    probe = shop.probes()[dialect]
    codes = set()
    for _ in range(count):
        try:
            probe()
            codes.add("")
        except Exception as exc:
            codes.add(code_of(exc))
    return codes


@pytest.fixture(scope="module", params=LIMITERS)
def ip_limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(request.param)
    extra = {"redis_url": REDIS_URL, "redis_prefix": f"t{secrets.token_hex(4)}:"}
    backend = "postgresql" if request.param == "database" else "sqlite"
    with run_server(
        tmp,
        backend,
        ip_rate_limit_per_s=IP_RATE,
        **(extra if request.param == "redis" else {}),
    ) as server:
        yield server


def test_per_ip_limit_in_each_dialects_shape(ip_limited: Server) -> None:
    shop = _integrations(ip_limited)
    for dialect, code in RATE_LIMITED.items():  # one second's worth is spent by the first
        codes = _burst(shop, dialect, 2 * IP_RATE)
        assert code in codes, (dialect, codes)
    # Unsigned junk is limited too: it is counted before anything is parsed.
    time.sleep(1.1)
    codes = []
    with httpx.Client(base_url=ip_limited.base_url) as junk:  # keep-alive: fast on a busy host
        while RATE_LIMITED["vpay"] not in codes and len(codes) < 20 * IP_RATE:
            codes.append(junk.post("/api/v1/orders/create", content=b"junk").json()["code"])
    assert RATE_LIMITED["vpay"] in codes, codes
    assert set(codes) == {RATE_LIMITED["vpay"], "PAYMENT.UNSUPPORTED_MEDIA_TYPE"}, codes
    time.sleep(1.1)
    assert _burst(shop, "vpay", 1) == {""}  # a second later, room again


def test_per_merchant_limit_in_each_dialects_shape(server: Server) -> None:
    shop = _integrations(server)
    server.update_merchant(shop.merchant_id, rate_limit_per_s=3)
    time.sleep(2.1)  # the key cache sees the new limit
    for dialect, code in RATE_LIMITED.items():
        codes = _burst(shop, dialect, 8)
        assert code in codes, (dialect, codes)


def test_ip_allowlist_in_each_dialects_shape(server: Server) -> None:
    shop = _integrations(server)
    server.update_merchant(shop.merchant_id, ip_allowlist="10.0.0.0/8, 192.0.2.1")
    time.sleep(2.1)
    refused = {dialect: _burst(shop, dialect, 1) for dialect in IP_REFUSED}
    assert refused == {dialect: {code} for dialect, code in IP_REFUSED.items()}
    server.update_merchant(shop.merchant_id, ip_allowlist="10.0.0.0/8, 127.0.0.0/8")
    time.sleep(2.1)
    allowed = {dialect: _burst(shop, dialect, 1) for dialect in IP_REFUSED}
    assert all(codes.isdisjoint(IP_REFUSED.values()) for codes in allowed.values()), allowed


@pytest.mark.parametrize("field", ["create_order_url", "ship_url", "refund_notify_url"])
def test_private_skill_urls_are_refused_in_production(tmp_path: Path, field: str) -> None:
    with run_server(tmp_path, mode="production") as server:
        merchant = server.create_merchant()
        urls = {
            "create_order_url": "https://skill.example/create-order",
            "ship_url": "https://skill.example/ship",
            "refund_notify_url": "https://skill.example/refund-notify",
        }
        key = (Path(__file__).parent.parent / "data" / "tsk-test-public.pem").read_text()
        for private in ("http://127.0.0.1:8080/x", "http://[::1]/x", "http://10.1.2.3/x"):
            response = server.admin(
                "POST",
                "/admin/v1/skills",
                {
                    "merchant_id": merchant["merchant_id"],
                    "public_key": key,
                    **urls,
                    field: private,
                },
            )
            assert response.status_code == 400, response.text
            assert "private or loopback" in response.text


def test_the_skill_create_order_call_refuses_names_that_resolve_private(tmp_path: Path) -> None:
    """`127.1` is no IP literal to the URL check, so it is stored; DNS gives 127.0.0.1."""
    with (
        Receiver() as skill_host,
        run_server(tmp_path, allow_private_notify_urls=False) as server,
    ):
        merchant = server.create_merchant()
        registered = server.admin(
            "POST",
            "/admin/v1/skills",
            {
                "merchant_id": merchant["merchant_id"],
                "public_key": (
                    Path(__file__).parent.parent / "data" / "tsk-test-public.pem"
                ).read_text(),
                "create_order_url": f"http://127.1:{skill_host.port}/create-order",
                "ship_url": "https://skill.example/ship",
                "refund_notify_url": "https://skill.example/refund-notify",
            },
        )
        assert registered.status_code == 201, registered.text
        ordered = server.admin(
            "POST",
            "/sandbox/v1/skillpay/orders",
            {
                "skillId": registered.json()["skillId"],
                "userToken": "user-1",
                "details": [{"itemId": "tea", "quantity": 1, "amount": 100}],
            },
        )
        assert ordered.status_code == 502, ordered.text
        assert "private or loopback" in ordered.json()["error"]["message"]
        assert skill_host.requests == []
