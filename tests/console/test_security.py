"""Console security over real HTTP: sign-in, cookies, CSRF on every form, roles, lock-out, CLI."""

from __future__ import annotations

import re

import pytest
from litestar.handlers import HTTPRouteHandler
from typer.testing import CliRunner

from paymux.cli import app as cli_app
from paymux.services import audit, orders
from paymux.services.operators import MAX_FAILURES
from paymux.web.console import HANDLERS
from tests.console.conftest import PASSWORD, ConsoleClient, World, add_operator


def test_pages_need_a_session(world: World) -> None:
    anonymous = ConsoleClient(world.server)
    response = anonymous.http.get(f"/console/orders/{world.pending}")
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/console/login?next=%2Fconsole%2Forders%2F{world.pending}"
    )
    anonymous.http.cookies.set("paymux_console", "forged")
    assert anonymous.http.get("/console/").status_code == 303


def test_session_cookie_and_headers(world: World) -> None:
    console = ConsoleClient(world.server)
    response = console.sign_in(world.admin)
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("paymux_console=")
    )
    assert "HttpOnly" in cookie and "Path=/console" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Secure" not in cookie  # served over plain http here; https adds Secure
    page = console.get("/console/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "form-action 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["cache-control"] == "no-store"


def test_wrong_password_is_refused(world: World) -> None:
    console = ConsoleClient(world.server)
    for username in (world.admin, "nobody-here"):
        response = console.sign_in(username, "wrong password!!")
        assert response.status_code == 401
        assert "wrong username or password" in response.text
        assert "paymux_console=" not in response.headers.get("set-cookie", "")


def test_sign_in_form_needs_its_token(world: World) -> None:
    response = ConsoleClient(world.server).http.post(
        "/console/login", data={"username": world.admin, "password": PASSWORD, "csrf": "x"}
    )
    assert response.status_code == 403


def _post_routes() -> list[str]:
    """Every POST path of the console with its path parameters filled in."""
    paths = []
    for handler in HANDLERS:
        assert isinstance(handler, HTTPRouteHandler)
        if "POST" in handler.http_methods:
            for path in handler.paths:
                paths.append("/console" + re.sub(r"\{(\w+):(\w+)\}", r"1", path))
    return paths


def test_every_form_without_the_csrf_token_is_refused(world: World) -> None:
    console = world.client("admin")
    routes = _post_routes()
    assert len(routes) >= 15, routes
    for path in routes:
        if path == "/console/login":
            continue
        missing = console.post(path, {}, csrf=False)
        assert missing.status_code == 403, (path, missing.status_code)
        wrong = console.http.post(path, data={"csrf": "not-the-token"})
        assert wrong.status_code == 403, (path, wrong.status_code)
    # The real action with the token forged away changes nothing.
    close = console.post(f"/console/orders/{world.pending}/close", {}, csrf=False)
    assert close.status_code == 403 and "another site" in close.text
    assert world.server.ctx.store.read_sync(orders.get_by_no, world.pending).status == "PENDING"


def test_a_foreign_origin_is_refused_even_with_the_token(world: World) -> None:
    console = world.client("admin")
    console.get("/console/")
    response = console.http.post(
        f"/console/orders/{world.pending}/close",
        data={"csrf": console.csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_a_viewer_reads_but_cannot_act(world: World) -> None:
    viewer = world.client("viewer")
    page = viewer.get(f"/console/orders/{world.pending}")
    assert page.status_code == 200
    assert 'disabled title="viewers cannot act"' in page.text
    for path, data in [
        (f"/console/orders/{world.pending}/close", {}),
        (f"/console/orders/{world.paid[0]}/refund", {"amount": "1.00", "key": "0" * 16}),
        (f"/console/withdrawals/{world.withdrawal_no}/approve", {}),
        (f"/console/merchants/{world.merchant_id}/rotate", {"dialect": "vpay"}),
        (f"/console/merchants/{world.merchant_id}/status", {"status": "disabled"}),
        ("/console/notifications/redeliver", {"ids": "1"}),
        ("/console/merchants", {"name": "viewer's merchant"}),
    ]:
        response = viewer.post(path, data)
        assert response.status_code == 403, (path, response.text)
        assert "needs the admin role" in response.text
    assert world.server.ctx.store.read_sync(orders.get_by_no, world.pending).status == "PENDING"
    # Reading actions stay open to viewers.
    check = viewer.post("/console/ledger/check", {})
    assert check.status_code == 200 and "Ledger clean" in check.text
    logout = viewer.post("/console/logout", {})
    assert logout.status_code == 303
    assert viewer.http.get("/console/").status_code == 303  # the session is gone


def test_lock_out_after_repeated_failures_and_unlock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = add_operator(world.server, "admin")
    console = ConsoleClient(world.server)
    for _ in range(MAX_FAILURES):
        assert console.sign_in(username, "not the password").status_code == 401
    locked = console.sign_in(username)  # the right password, too late
    assert locked.status_code == 401 and "locked" in locked.text
    entries = world.server.ctx.store.read_sync(
        audit.list_entries, audit.AuditFilter(action="operator.sign_in_failed", actor=username)
    )
    assert len(entries) == MAX_FAILURES and entries[0].detail == "account locked"
    _cli(world, monkeypatch, ["operator", "unlock", "--username", username])
    assert console.sign_in(username).status_code == 303


def _cli(world: World, monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str = "") -> str:
    settings = world.server.ctx.settings
    # `--database-url` also lands in PAYMUX_DATABASE_URL: monkeypatch puts it back afterwards.
    monkeypatch.setenv("PAYMUX_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PAYMUX_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(
        cli_app, [*args, "--database-url", settings.effective_database_url], input=stdin
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_operator_create_from_the_cli(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _cli(
        world,
        monkeypatch,
        ["operator", "create", "--username", "cli-viewer", "--role", "viewer", "--password-stdin"],
        stdin=PASSWORD + "\n",
    )
    assert "cli-viewer" in out and "viewer" in out
    console = ConsoleClient(world.server)
    assert console.sign_in("cli-viewer").status_code == 303
    assert "viewer" in console.get("/console/").text
    listed = _cli(world, monkeypatch, ["operator", "list"])
    assert "cli-viewer" in listed
    short = CliRunner().invoke(
        cli_app,
        ["operator", "create", "--username", "x-short", "--role", "admin", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code == 2 and "10 to 1024" in short.output
