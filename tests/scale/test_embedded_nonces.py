"""Embedded mode keeps nonces in memory and writes them behind: they must survive a restart.

A nonce is written with the writer's next batch, never later than the request's
own write, so a request that was answered has its nonce on disk: replaying it
after the process is killed (no shutdown handlers) is still refused.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from paymux.dialects.vpay.client import VpayClient, VpayError
from tests.processes import paymux_env, serve


def test_a_nonce_answered_before_a_crash_is_refused_after_it(tmp_path: Path) -> None:
    token = "embedded-" + secrets.token_hex(8)
    env = paymux_env(tmp_path / "data", PAYMUX_ADMIN_TOKEN=token)
    with serve(env, tmp_path / "first.log") as first:
        creds = httpx.post(
            first.base_url + "/admin/v1/merchants",
            json={"name": "nonces"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["vpay"]
        client = VpayClient(first.base_url, creds["app_id"], creds["secret_key"])
        signed = [
            client.sign_params({"merchant_order_id": f"N-{i}", "amount": 100, "channel": "QR_CODE"})
            for i in range(20)
        ]
        for params in signed:  # each answered, so each nonce must be durable
            client.unwrap(client.http.post(client.base + "/orders/create", json=params))
        first.kill()
    with serve(env, tmp_path / "second.log") as second:
        client = VpayClient(second.base_url, creds["app_id"], creds["secret_key"])
        for params in signed:
            with pytest.raises(VpayError) as replay:
                client.unwrap(client.http.post(client.base + "/orders/create", json=params))
            assert replay.value.code == "PAYMENT.DUPLICATE_REQUEST"
