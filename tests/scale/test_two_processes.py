"""Two paymux processes on one PostgreSQL (and Redis) behave as one platform.

A nonce used on one process is refused on the other, and a merchant's rate
limit is shared — with Redis, and with the database alone when no Redis is set.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from paymux.dialects.vpay.client import VpayClient, VpayError
from tests.harness import PG_URL, REDIS_URL, pg_schema
from tests.processes import paymux_env, run_cli, serve

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PAYMUX_TEST_DATABASE_URL")

SHARED = ["redis", "database"] if REDIS_URL else ["database"]


@pytest.fixture(scope="module", params=SHARED)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, str]]:
    """Two `paymux serve` processes sharing one database; yields (url_a, url_b, token)."""
    tmp_path = tmp_path_factory.mktemp("pair")
    token = "scale-" + secrets.token_hex(8)
    with pg_schema() as database_url:
        extra = {
            "PAYMUX_DATABASE_URL": database_url,
            "PAYMUX_ADMIN_TOKEN": token,
            "PAYMUX_MASTER_KEY": secrets.token_hex(16),
        }
        if request.param == "redis":
            extra.update(
                PAYMUX_REDIS_URL=REDIS_URL, PAYMUX_REDIS_PREFIX=f"t{secrets.token_hex(4)}:"
            )
        env_a = paymux_env(tmp_path / "a", **extra)
        env_b = paymux_env(tmp_path / "b", **extra)
        upgraded = run_cli(env_a, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        with serve(env_a, tmp_path / "a.log") as a, serve(env_b, tmp_path / "b.log") as b:
            yield a.base_url, b.base_url, token


def new_merchant(base_url: str, token: str) -> dict[str, str]:
    response = httpx.post(
        base_url + "/admin/v1/merchants",
        json={"name": "scale"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return response.json()["vpay"]


def test_a_nonce_used_on_one_process_is_refused_on_the_other(pair):
    url_a, url_b, token = pair
    creds = new_merchant(url_a, token)
    client_a = VpayClient(url_a, creds["app_id"], creds["secret_key"])
    client_b = VpayClient(url_b, creds["app_id"], creds["secret_key"])
    params = client_a.sign_params(
        {"merchant_order_id": "SCALE-1", "amount": 100, "channel": "QR_CODE"}
    )
    created = client_a.unwrap(client_a.http.post(client_a.base + "/orders/create", json=params))
    with pytest.raises(VpayError) as replay:
        client_b.unwrap(client_b.http.post(client_b.base + "/orders/create", json=params))
    assert replay.value.code == "PAYMENT.DUPLICATE_REQUEST"
    assert client_b.query_order(order_id=created["order_id"])["status"] == 0


def test_a_rate_limit_is_shared_by_both_processes(pair):
    url_a, url_b, token = pair
    creds = new_merchant(url_a, token)
    update = httpx.post(
        f"{url_a}/admin/v1/merchants/{creds['app_id']}",
        json={"rate_limit_per_s": 4},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert update.status_code == 200, update.text
    clients = [VpayClient(url, creds["app_id"], creds["secret_key"]) for url in (url_a, url_b)]
    # 12 requests alternating between the processes inside (about) one second: a limit
    # kept per process would let all of them through (6 each < 4 x ~2 windows).
    codes = []
    for i in range(12):
        try:
            clients[i % 2].merchant_info()
            codes.append("ok")
        except VpayError as exc:
            codes.append(exc.code)
    assert codes.count("PAYMENT.RATE_LIMIT_EXCEEDED") >= 4, codes
    assert codes.count("ok") <= 8, codes


def test_concurrent_creates_of_one_merchant_order_no_make_one_order(pair):
    """On PostgreSQL a create is one `INSERT … ON CONFLICT DO NOTHING` without BEGIN or
    COMMIT: racing identical creates on both processes must all answer the one order, and a
    different create under the same number must be refused, never a second order."""
    url_a, url_b, token = pair
    creds = new_merchant(url_a, token)
    clients = [VpayClient(url, creds["app_id"], creds["secret_key"]) for url in (url_a, url_b)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        created = list(
            pool.map(lambda i: clients[i % 2].create_order("RACE-1", 100)["order_id"], range(32))
        )
    assert len(set(created)) == 1, created
    with pytest.raises(VpayError) as different:
        clients[1].create_order("RACE-1", 200)
    assert different.value.code == "ORDER.INVALID_PARAMS"
    assert clients[1].query_order(merchant_order_id="RACE-1")["order_id"] == created[0]


def test_a_merchant_disabled_on_one_process_cannot_create_on_the_other(pair):
    """The other process may still hold the merchant as active in its 2-second cache; the
    create's insert itself checks the merchant's status."""
    url_a, url_b, token = pair
    creds = new_merchant(url_a, token)
    client_b = VpayClient(url_b, creds["app_id"], creds["secret_key"])
    client_b.create_order("WARM-1", 100)  # process b now has the merchant in its cache
    disable = httpx.post(
        f"{url_a}/admin/v1/merchants/{creds['app_id']}",
        json={"status": "disabled"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert disable.status_code == 200, disable.text
    with pytest.raises(VpayError) as refused:
        client_b.create_order("AFTER-1", 100)
    assert refused.value.code == "MERCHANT.DISABLED"


@pytest.mark.parametrize("level", ["WARNING", "INFO"])
def test_serve_workers_keep_the_operators_log_level(tmp_path, level):
    """`serve --workers N` builds the app in each worker (`create_app_from_env`); those
    processes must log at PAYMUX_LOG_LEVEL too, not at INFO whatever was asked: a request
    line per request was a tenth of a worker's CPU under load."""
    token = "levels-" + secrets.token_hex(8)
    with pg_schema() as database_url:
        env = paymux_env(
            tmp_path,
            PAYMUX_DATABASE_URL=database_url,
            PAYMUX_ADMIN_TOKEN=token,
            PAYMUX_MASTER_KEY=secrets.token_hex(16),
        )
        env["PAYMUX_LOG_LEVEL"] = level
        assert run_cli(env, "db", "upgrade").returncode == 0
        errors = tmp_path / "stderr.log"
        with serve(env, tmp_path / "out.log", "--workers", "2", errors=errors) as server:
            creds = new_merchant(server.base_url, token)
            client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
            for n in range(4):
                client.create_order(f"LOG-{n}", 100)
        lines = [line for line in errors.read_text().splitlines() if '"event": "request"' in line]
    if level == "WARNING":
        assert lines == []
    else:
        assert any('"path": "/api/v1/orders/create"' in line for line in lines), lines
