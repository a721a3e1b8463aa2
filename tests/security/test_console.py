"""Console security beyond tests/console/test_security.py (which covers CSRF on every form,
the Origin check, roles, cookie flags and the lock-out itself): the protective
headers on every kind of console response, session fixation, and what the
lock-out reveals and how long it lasts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from paymux.services.operators import LOCK_S, MAX_FAILURES
from paymux.web.console.auth import COOKIE
from tests.console.conftest import ConsoleClient, World, add_operator, make_world
from tests.harness import BACKENDS, run_server


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with run_server(tmp_path_factory.mktemp("console"), request.param) as server:
        yield make_world(server)


PAGES = [
    "/console/",
    "/console/orders",
    "/console/merchants",
    "/console/notifications",
    "/console/withdrawals",
    "/console/ledger",
    "/console/audit",
    "/console/statements",
    "/console/orders.csv",
    "/console/statements.csv",
    "/console/static/console.css",
    "/console/static/console.js",
]


def test_every_console_response_carries_the_protective_headers(world: World) -> None:
    console = world.client("admin")
    anonymous = ConsoleClient(world.server)
    responses = {path: console.http.get(path) for path in PAGES}
    responses["/console/login"] = anonymous.http.get("/console/login")
    responses["refused"] = anonymous.http.post("/console/login", data={"csrf": "x"})
    for path, response in responses.items():
        assert response.status_code in (200, 400, 403), (path, response.status_code)
        headers = response.headers
        assert headers.get("x-content-type-options") == "nosniff", path
        if headers["content-type"].startswith("text/html"):
            csp = headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
            assert headers["x-frame-options"] == "DENY", path
            assert headers["cache-control"] == "no-store", path
        if path.endswith(".csv"):  # exports hold merchant data: never cached, never framed
            assert headers["cache-control"] == "no-store", path


def _issued(response: httpx.Response) -> str:
    """The session token a sign-in response sets."""
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    return cookie.split(";", 1)[0].split("=", 1)[1]


def _with_session(world: World, token: str) -> ConsoleClient:
    client = ConsoleClient(world.server)
    client.http.cookies.set(COOKIE, token, domain="127.0.0.1", path="/console")
    return client


def test_a_session_id_planted_before_sign_in_is_never_adopted(world: World) -> None:
    planted = "attacker-chosen-session-value"
    victim = _with_session(world, planted)
    signed_in = victim.sign_in(world.admin)
    assert signed_in.status_code == 303
    issued = _issued(signed_in)
    assert issued != planted
    assert _with_session(world, planted).http.get("/console/").status_code == 303  # no session
    assert _with_session(world, issued).http.get("/console/").status_code == 200

    # Each sign-in is a new session; signing out ends it on the server, not just the cookie.
    assert _issued(ConsoleClient(world.server).sign_in(world.admin)) != issued
    assert victim.post("/console/logout", {}).status_code == 303
    assert _with_session(world, issued).http.get("/console/").status_code == 303


def test_lock_out_reveals_nothing_and_ends_after_its_time(world: World) -> None:
    username = add_operator(world.server, "admin")
    unknown = ConsoleClient(world.server)
    real = ConsoleClient(world.server)
    # An unknown name and a known one with a wrong password read the same, and cost
    # about the same time (a dummy hash is checked for unknown names).
    timings = {}
    for client, name in ((unknown, "no-such-operator"), (real, username)):
        started = time.perf_counter()
        answer = client.sign_in(name, "wrong password, surely")
        timings[name] = time.perf_counter() - started
        assert answer.status_code == 401 and "wrong username or password" in answer.text
    assert timings[username] < 5 * timings["no-such-operator"] + 0.5, timings
    for _ in range(MAX_FAILURES - 1):
        real.sign_in(username, "wrong password, surely")
    # Locked for everyone, whichever browser tries next, even with the right password.
    fresh = ConsoleClient(world.server)
    locked = fresh.sign_in(username)
    assert locked.status_code == 401 and "locked" in locked.text
    world.server.advance_clock(LOCK_S + 1)
    assert ConsoleClient(world.server).sign_in(username).status_code == 303
