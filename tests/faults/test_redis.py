"""Redis (nonces and rate-limit counters in scale mode) killed and brought back.

While it is away paymux refuses every request that needs it with the
dialect's own 503 rather than falling back to something that could accept
a nonce Redis already holds; a replay is never accepted, before, during or
after the outage; once Redis is back everything works again.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx

from paymux.dialects.vpay.client import VpayClient, VpayError
from tests.faults.conftest import UNAVAILABLE, Integrations, RedisServer
from tests.processes import paymux_env, serve

TOKEN = "faults-" + secrets.token_hex(8)


def _send(client: VpayClient, signed: dict[str, Any]) -> str:
    """POST exactly these signed parameters (a merchant's retry, or an attacker's replay)."""
    try:
        client.unwrap(client.http.post(client.base + "/orders/create", json=signed))
    except VpayError as exc:
        return exc.code
    return "ok"


def test_redis_down_refuses_clearly_and_never_accepts_a_replay(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    env = paymux_env(
        tmp_path / "data",
        PAYMUX_ADMIN_TOKEN=TOKEN,
        PAYMUX_REDIS_URL=redis_server.url,
        PAYMUX_REDIS_PREFIX=f"t{secrets.token_hex(4)}:",
    )
    with (
        serve(env, tmp_path / "serve.log") as server,
        httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as admin,
    ):
        integrations = Integrations(server.base_url, admin)
        # A rate limit makes every dialect count its requests in Redis, not only the
        # ones with nonces.
        limited = admin.post(
            f"/admin/v1/merchants/{integrations.merchant_id}", json={"rate_limit_per_s": 1000}
        )
        assert limited.status_code == 200, limited.text
        vpay = integrations.vpay
        sent = vpay.sign_params({"merchant_order_id": "R-1", "amount": 100, "channel": "QR_CODE"})
        unsent = vpay.sign_params({"merchant_order_id": "R-2", "amount": 100, "channel": "QR_CODE"})
        assert _send(vpay, sent) == "ok"
        assert _send(vpay, sent) == "PAYMENT.DUPLICATE_REQUEST"

        redis_server.kill()
        assert integrations.outcomes() == UNAVAILABLE
        assert _send(vpay, sent) == "SYSTEM.UNAVAILABLE"  # a replay is not let through
        assert _send(vpay, unsent) == "SYSTEM.UNAVAILABLE"

        redis_server.start()  # same port, same append-only file
        integrations.wait_until_available()
        assert _send(vpay, sent) == "PAYMENT.DUPLICATE_REQUEST"
        assert _send(vpay, unsent) == "ok"  # refused while Redis was away: never spent
        assert _send(vpay, unsent) == "PAYMENT.DUPLICATE_REQUEST"
        log = (tmp_path / "serve.log").read_text()
        assert "unhandled_error" not in log
        # Refusals are answers, not errors; and the notification dispatcher, which needs
        # only the database, never noticed the outage: not one traceback in the log.
        assert "Traceback" not in log
