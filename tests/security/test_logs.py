"""No secret ever reaches the logs: a whole multi-dialect run at DEBUG, its stderr searched.

The run uses every secret a deployment has — merchant secrets of every
dialect, the admin token, the master key, a wallet token, an OAuth code and
session key, an operator's password (and a wrong one), a console session —
through successful calls, refusals and notifications. The JSON logs on
stderr must contain none of them. (stdout is the start banner, which prints
the admin token on purpose for the operator who started the server.)
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
from pathlib import Path

import httpx

from paymux.dialects.vpay.client import VpayClient, VpayError
from tests.faults.conftest import Integrations
from tests.notify.receiver import Receiver
from tests.processes import PAYMUX, paymux_env, serve

TOKEN = "logs-" + secrets.token_hex(12)
MASTER = secrets.token_urlsafe(32)
PASSWORD = "log-test " + secrets.token_hex(8)
WRONG = "wrong " + secrets.token_hex(8)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _console_sign_ins(base_url: str) -> str:
    """A failed and a successful sign-in; the session cookie of the second."""
    http = httpx.Client(base_url=base_url, follow_redirects=False)
    for password in (WRONG, PASSWORD):
        page = http.get("/console/login")
        token = CSRF.search(page.text)
        assert token, page.text
        answer = http.post(
            "/console/login",
            data={"csrf": token.group(1), "username": "log-admin", "password": password},
        )
    assert answer.status_code == 303, answer.text
    assert http.get("/console/").status_code == 200
    return http.cookies["paymux_console"]


def test_a_whole_run_logs_no_secret(tmp_path: Path) -> None:
    env = paymux_env(tmp_path / "data", PAYMUX_ADMIN_TOKEN=TOKEN, PAYMUX_MASTER_KEY=MASTER)
    env["PAYMUX_LOG_LEVEL"] = "DEBUG"
    created = subprocess.run(
        [PAYMUX, "operator", "create", "--username=log-admin", "--role=admin", "--password-stdin"],
        env=env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    errors = tmp_path / "stderr.log"
    with (
        Receiver() as receiver,
        serve(env, tmp_path / "stdout.log", errors=errors) as server,
        httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as admin,
    ):
        shop = Integrations(server.base_url, admin, "logged")
        for probe in shop.probes().values():
            # Every SDK's refusal (e.g. no such order) is part of the run too.
            with contextlib.suppress(Exception):
                probe()
        # vpay: paid, notified, refunded; a forged request and a replay refused.
        order = shop.vpay.create_order("LOG-1", 800, notify_url=receiver.url())
        assert admin.post(f"/sandbox/v1/orders/{order['order_id']}/pay").is_success
        shop.vpay.refund("LOG-R1", 100, order_id=order["order_id"])
        receiver.wait_for(lambda: len(receiver.requests) >= 1)
        forged = VpayClient(server.base_url, shop.vpay.app_id, "0" * 32)
        try:
            forged.create_order("LOG-2", 1)
        except VpayError as exc:
            assert exc.code == "PAYMENT.INVALID_SIGN"
        # partner: the OAuth flow of a sandbox wallet user, then a payment.
        user = admin.post("/sandbox/v1/users", json={"name": "logged", "balance": 10_000}).json()
        code = shop.partner.auth_code(user["wallet_token"])
        session = shop.partner.access_token(code)
        openid = shop.partner.user_info(session["session_key"])["openid"]
        shop.partner.create_payment("LOG-P1", "1.00", openid=openid, notify_url=receiver.url())
        # gateway: a unified order.
        shop.gateway.unified_order(
            "LOG-G1", 300, "903", "logged", notify_url=receiver.url(), return_url=receiver.url()
        )
        cookie = _console_sign_ins(server.base_url)

    logged = errors.read_text()
    assert '"event": "request"' in logged  # the logs are there, at DEBUG
    merchant_secrets = {
        f"{dialect} secret": value
        for dialect, creds in shop.credentials.items()
        if isinstance(creds, dict)
        for name, value in creds.items()
        if "ecret" in name
    }
    assert len(merchant_secrets) == 4
    clear = {
        **merchant_secrets,
        "admin token": TOKEN,
        "master key": MASTER,
        "wallet token": user["wallet_token"],
        "auth code": code,
        "session key": session["session_key"],
        "operator password": PASSWORD,
        "wrong password": WRONG,
        "console session": cookie,
    }
    assert [what for what, value in clear.items() if value in logged] == []
    assert "PRIVATE KEY" not in logged
