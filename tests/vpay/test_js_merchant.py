"""A merchant written in Node.js with the spec's sample signing function talks to paymux."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.vpay.conftest import notification_rows

SCRIPT = Path(__file__).with_name("merchant.mjs")
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def node(*args: str, stdin: bytes = b"") -> str:
    done = subprocess.run(
        [str(NODE), str(SCRIPT), *args], input=stdin, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


def test_spec_sample_signs_requests_paymux_accepts(server, vpay):
    out = json.loads(node("order", server.base_url, vpay.app_id, vpay.secret_key, "JS-1"))
    created, queried = out["created"], out["queried"]
    assert created["code"] == "ORDER.CREATE_SUCCESS", created
    assert queried["code"] == "PAYMENT.SUCCESS", queried
    assert queried["data"]["order_id"] == created["data"]["order_id"]
    assert (queried["data"]["amount"], queried["data"]["pay_type"]) == (10000, "WECHAT_PAY")
    assert queried["data"]["product_desc"] == "会员月卡"


def test_spec_sample_verifies_paymux_notifications(server, vpay):
    order = vpay.create_order("JS-N1", 1200, notify_url="http://127.0.0.1:9/notify")
    assert server.sandbox_pay(order["order_id"]).status_code == 200
    (row,) = notification_rows(server, order["order_id"])
    assert node("verify", vpay.secret_key, stdin=row.body) == "ok"
    tampered = json.dumps({**json.loads(row.body), "amount": 1}).encode()
    assert node("verify", vpay.secret_key, stdin=tampered) == "forged"
    assert node("verify", "another-secret", stdin=row.body) == "forged"
