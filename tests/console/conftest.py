"""Console test helpers: operators, a signed-in HTTP client, and a small world of real data.

Operators are made through the operators service (the CLI has its own test);
orders through the vpay SDK over real HTTP and paid through the sandbox API;
a withdrawal through the withdrawals service, as a partner request would.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest

from paymux.dialects.vpay.client import VpayClient
from paymux.services import operators, withdrawals
from paymux.store.uow import UnitOfWork
from tests.harness import Server, free_port

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def add_operator(server: Server, role: str, username: str = "") -> str:
    username = username or f"{role}-{secrets.token_hex(3)}"
    password_hash = operators.hash_password(PASSWORD)
    server.ctx.store.write_sync(operators.create_operator, username, password_hash, role)
    return username


class ConsoleClient:
    """A browser-like HTTP client: keeps the cookies and the CSRF token of the last page."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30)
        self.csrf = ""

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        login = self.http.get("/console/login")
        token = CSRF.search(login.text)
        assert token, login.text
        return self.http.post(
            "/console/login",
            data={"csrf": token.group(1), "username": username, "password": password},
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> httpx.Response:
        if csrf and not self.csrf:
            self.get("/console/")
        body = {**data, "csrf": self.csrf} if csrf else data
        return self.http.post(path, data=body)


@dataclass
class World:
    """One merchant with paid and pending orders, a failing notification, a pending withdrawal."""

    server: Server
    merchant_id: str
    vpay: VpayClient
    paid: list[str]  # platform order nos, paid
    pending: str
    withdrawal_no: str
    admin: str
    viewer: str

    def order(self, amount: int, *, pay: bool, notify_url: str | None = None) -> dict[str, Any]:
        order = self.vpay.create_order("C-" + secrets.token_hex(6), amount, notify_url=notify_url)
        if pay:
            response = self.server.sandbox_pay(order["order_id"])
            assert response.status_code == 200, response.text
        return order

    def client(self, role: str = "admin") -> ConsoleClient:
        console = ConsoleClient(self.server)
        response = console.sign_in(self.admin if role == "admin" else self.viewer)
        assert response.status_code == 303, response.text
        return console


def dead_url() -> str:
    """A loopback URL where nothing listens: every delivery attempt fails at once."""
    return f"http://127.0.0.1:{free_port()}/notify"


def _withdraw(uow: UnitOfWork, merchant_id: str, user_id: str, amount: int) -> str:
    return withdrawals.request_withdrawal(
        uow,
        merchant_id,
        dialect="vpay",
        user_id=user_id,
        user_ref="user-1",
        amount=amount,
        currency="CNY",
    ).withdrawal_no


def make_world(server: Server) -> World:
    creds = server.create_merchant("Console Shop")
    merchant_id = creds["merchant_id"]
    client = VpayClient(
        server.base_url,
        creds["vpay"]["app_id"],
        creds["vpay"]["secret_key"],
        admin_token=server.admin_token,
        clock=server.ctx.env.clock.time,
    )
    world = World(server, merchant_id, client, [], "", "", "", "")
    world.paid = [world.order(10_000 + i, pay=True)["order_id"] for i in range(3)]
    world.paid.append(world.order(5_000, pay=True, notify_url=dead_url())["order_id"])
    world.pending = world.order(777, pay=False)["order_id"]
    user = server.create_user("withdrawal user")
    world.withdrawal_no = server.ctx.store.write_sync(
        partial(_withdraw, amount=1_000), merchant_id, user["user_id"]
    )
    world.admin = add_operator(server, "admin")
    world.viewer = add_operator(server, "viewer")
    return world


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    return make_world(server)
