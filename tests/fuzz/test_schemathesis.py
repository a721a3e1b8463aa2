"""schemathesis against every dialect's OpenAPI document, on a live server, signed like a merchant.

For each dialect the test makes a merchant with some real data (paid orders,
funded accounts, an authorized user, a paid skill order), then runs the
schemathesis CLI against `GET /openapi/<dialect>.json` with the hooks of
tests/fuzz/hooks.py, which sign every request with the dialect's SDK. All
four phases run: the document's examples, the coverage phase (boundary and
schema-violating values for every field), random fuzzing, and stateful
sequences along the documents' links.

A run fails on any 5xx, any status the document does not list for the
operation, and any reply whose body, content type or headers the document
does not describe. Afterwards the ledger must still check clean.

SQLite gets the full budget; PostgreSQL a smaller one (same code paths, a
different store), which keeps both under about three minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from paymux.dialects.gateway.client import GatewayClient
from paymux.dialects.partner.client import PartnerClient
from paymux.dialects.skillpay.client import SkillApp
from paymux.dialects.vpay.client import VpayClient
from tests.harness import Server, free_port

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
DATA = ROOT / "tests" / "data"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
# Test cases per operation and phase: SQLite runs everything; PostgreSQL (the
# same code over another store) runs fuzzing and stateful with a smaller budget.
BUDGET = {
    "sqlite": {"max_examples": 25, "phases": "examples,coverage,fuzzing,stateful"},
    "postgresql": {"max_examples": 8, "phases": "fuzzing,stateful"},
}
# At least this many generated requests per dialect, so a broken hook or
# document that makes schemathesis skip everything cannot pass silently.
MIN_CASES = {"sqlite": 150, "postgresql": 30}


@contextlib.contextmanager
def serve_asgi(app: Any, port: int) -> Iterator[None]:
    """An ASGI app on a loopback port (the skill's side of skillpay)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "skill app did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def vpay_setup(server: Server, merchant: dict[str, Any]) -> dict[str, Any]:
    """Paid orders and two funded accounts of the merchant, as seeds."""
    creds = merchant["vpay"]
    client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
    orders = [client.create_order(f"SEED{i}", 1000 + i, "QR_CODE") for i in range(3)]
    for order in orders:
        assert server.sandbox_pay(order["order_id"]).status_code == 200
    accounts = [client.create_account(signed=True)["account_id"] for _ in range(2)]
    for account in accounts:
        client.recharge(account, 100_000, signed=True)
    return {
        "credentials": creds,
        "seeds": {
            "order_id": [o["order_id"] for o in orders],
            "merchant_order_id": [o["merchant_order_id"] for o in orders],
            "account_id": accounts,
            "from_account": accounts,
            "to_account": accounts,
        },
    }


def partner_setup(server: Server, merchant: dict[str, Any]) -> dict[str, Any]:
    """An authorized wallet user (openid, session key) and paid USDT payments, as seeds."""
    creds = merchant["partner"]
    client = PartnerClient(server.base_url, creds["apiKey"], creds["appSecret"])
    user = server.create_user("fuzz payer", 10**8, "USDT")
    session = client.access_token(client.auth_code(user["wallet_token"]))
    openid = client.user_info(session["session_key"])["openid"]
    paid = []
    for i in range(3):
        pay = client.create_payment(f"SEED{i}", f"{100 + i}.00", openid=openid)
        assert server.sandbox_pay(pay["orderNo"]).status_code == 200
        paid.append(pay["orderNo"])
    return {
        "credentials": creds,
        "wallet_token": user["wallet_token"],
        "seeds": {
            "openid": [openid],
            "userId": [openid],
            "orderNo": [*paid, "SEED0"],
            "sessionKey": [session["session_key"]],
            "currency": ["USDT"],
        },
    }


def gateway_setup(server: Server, merchant: dict[str, Any]) -> dict[str, Any]:
    creds = merchant["gateway"]
    client = GatewayClient(server.base_url, creds["appid"], creds["secret"])
    order = client.unified_order(
        "SEED0",
        10000,
        "912",
        "seed",
        notify_url="http://127.0.0.1:9/notify",
        return_url="http://127.0.0.1:9/return",
    )
    return {"credentials": creds, "seeds": {"order_no": [order["order_no"]]}}


def paymodule_setup(server: Server, merchant: dict[str, Any]) -> dict[str, Any]:
    return {"credentials": merchant["paymodule"], "seeds": {}}


@contextlib.contextmanager
def skillpay_setup(server: Server, merchant: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A registered skill served by the SDK's SkillApp, with one paid order to refund."""
    private = (DATA / "tsk-test-private.pem").read_text()
    public = (DATA / "tsk-test-public.pem").read_text()
    platform_key = httpx.get(server.base_url + "/paycgi/platform-key").text
    port = free_port()
    skill_url = f"http://127.0.0.1:{port}"
    response = server.admin(
        "POST",
        "/admin/v1/skills",
        {
            "merchant_id": merchant["merchant_id"],
            "public_key": public,
            "create_order_url": skill_url + "/create-order",
            "ship_url": skill_url + "/ship",
            "refund_notify_url": skill_url + "/refund-notify",
        },
    )
    assert response.status_code == 201, response.text
    skill_id = response.json()["skillId"]
    app = SkillApp(
        skill_id,
        private,
        platform_key,
        create_order=lambda req: {"retCode": "SUCCESS", "tradeNo": "T" + secrets.token_hex(8)},
        ship=lambda req: {"retCode": "SUCCESS"},
        refund_notice=lambda req: {"retCode": "SUCCESS"},
        clock=server.ctx.env.clock.now,
    )
    with serve_asgi(app, port):
        lines = [{"itemId": "item1", "quantity": 2, "amount": 600}]
        placed = server.admin(
            "POST",
            "/sandbox/v1/skillpay/orders",
            {"skillId": skill_id, "userToken": "u1", "details": lines},
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert server.sandbox_pay(order["transactionId"]).status_code == 200
        yield {
            "credentials": {
                "skillId": skill_id,
                "private_key": private,
                "platform_key": platform_key,
            },
            "seeds": {
                "transactionId": [order["transactionId"]],
                "tradeNo": [order["tradeNo"]],
                "totalAmt": [order["totalAmt"]],
                "refundAmt": [300],
                "refundDetails": [[{"itemId": "item1", "quantity": 1, "amount": 300}]],
            },
        }


@contextlib.contextmanager
def prepared(dialect: str, server: Server) -> Iterator[dict[str, Any]]:
    merchant = server.create_merchant(f"fuzz {dialect}")
    if dialect == "skillpay":
        with skillpay_setup(server, merchant) as config:
            yield config
        return
    setup = {
        "vpay": vpay_setup,
        "partner": partner_setup,
        "gateway": gateway_setup,
        "paymodule": paymodule_setup,
    }[dialect]
    yield setup(server, merchant)


def run_schemathesis(server: Server, dialect: str, config: dict[str, Any], report: Path) -> str:
    budget = BUDGET[server.backend]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "PAYMUX_FUZZ": json.dumps(
            {
                "dialect": dialect,
                "base_url": server.base_url,
                "admin_token": server.admin_token,
                "clock_offset": server.ctx.env.clock.offset_s,
                **config,
            }
        ),
    }
    command = [
        SCHEMATHESIS,
        "run",
        f"{server.base_url}/openapi/{dialect}.json",
        "--checks",
        CHECKS,
        "--phases",
        budget["phases"],
        "--max-examples",
        str(budget["max_examples"]),
        "--seed",
        "20261121",
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    result = subprocess.run(
        command, env=env, cwd=report.parent, capture_output=True, text=True, timeout=600
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    return output


@pytest.mark.parametrize("dialect", ["vpay", "partner", "gateway", "paymodule", "skillpay"])
def test_schemathesis(server: Server, dialect: str, tmp_path: Path) -> None:
    with prepared(dialect, server) as config:
        output = run_schemathesis(server, dialect, config, tmp_path / "junit.xml")
    generated = re.search(r"Test cases:\s*\n\s*(\d+) generated", output)
    assert generated, output[-5000:]
    assert int(generated.group(1)) >= MIN_CASES[server.backend], output[-5000:]
    server.assert_ledger_clean()
