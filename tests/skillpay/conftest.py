"""skillpay fixtures: a real paymux, and real skills built from the SDK on one uvicorn host.

Each test gets its own merchant and skill (tests isolate themselves by
skill); all skills are served by one `SkillHost`, an ASGI app
that mounts each test's `SkillApp` under its own path prefix. The skills'
clock follows the platform's sandbox clock, as a skill's real clock would
follow real time, so moving the clock in a test never makes signatures stale.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paymux.dialects.skillpay.client import SkillApp, SkillpayClient, SkillpayError
from tests.harness import BACKENDS, Server, free_port, run_server

DATA = Path(__file__).parent.parent / "data"
GRACE_S = 60  # how long a rotated skill key stays valid on the test server


def new_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="session")
def skill_keys() -> tuple[str, str]:
    """The skills' key pair: the openssl-made test pair of the signing vectors."""
    return (DATA / "tsk-test-private.pem").read_text(), (DATA / "tsk-test-public.pem").read_text()


@pytest.fixture(scope="session")
def other_keys() -> tuple[str, str]:
    """A second key pair, generated here: the "wrong key" of the tests."""
    return new_key_pair()


@pytest.fixture(scope="package", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One paymux per backend for the whole package, with a short outgoing-call timeout
    and key grace period.

    Tests isolate themselves by skill, so sharing the server (and the clock
    moves of other tests) costs nothing but start-up time.
    """
    with run_server(
        tmp_path_factory.mktemp("skillpay"),
        request.param,
        notify_timeout_s=1.5,
        secret_grace_period_s=GRACE_S,
    ) as srv:
        yield srv


@dataclass
class Behaviour:
    """What a test's skill does, and everything it received (verified by the SDK)."""

    create_reply: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    create_delay_s: float = 0.0
    ship_failures: int = 0
    created: list[dict[str, Any]] = field(default_factory=list)
    shipped: list[dict[str, Any]] = field(default_factory=list)
    refund_notices: list[dict[str, Any]] = field(default_factory=list)

    async def create_order(self, fields: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(self.create_delay_s)
        self.created.append(fields)
        if self.create_reply is not None:
            return self.create_reply(fields)
        return {"retCode": "SUCCESS", "tradeNo": "T" + secrets.token_hex(8)}

    def ship(self, fields: dict[str, Any]) -> dict[str, Any]:
        self.shipped.append(fields)
        if self.ship_failures > 0:
            self.ship_failures -= 1
            raise SkillpayError("warehouse busy")
        return {"retCode": "SUCCESS"}

    def refund_notice(self, fields: dict[str, Any]) -> dict[str, Any]:
        self.refund_notices.append(fields)
        return {"retCode": "SUCCESS"}


class SkillHost:
    """One ASGI server for many skills: `/<mount>/create-order` goes to that mount's SkillApp."""

    def __init__(self) -> None:
        self.apps: dict[str, Any] = {}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        mount = scope["path"].split("/")[1]
        await self.apps[mount](scope, receive, send)


@pytest.fixture(scope="package")
def skill_host() -> Iterator[SkillHost]:
    host = SkillHost()
    server = uvicorn.Server(
        uvicorn.Config(host, host="127.0.0.1", port=host.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "skill host did not start"
        time.sleep(0.01)
    yield host
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="package")
def platform_key(server: Server) -> str:
    """Downloaded the way a skill developer gets it."""
    response = httpx.get(server.base_url + "/paycgi/platform-key")
    assert response.status_code == 200
    return response.text


@dataclass
class Skill:
    skill_id: str
    merchant_id: str
    mount: str
    behaviour: Behaviour
    client: SkillpayClient
    server: Server

    def place(self, details: list[dict[str, Any]], **extra: Any) -> httpx.Response:
        """The device simulator: a user orders these items through this skill."""
        body = {"skillId": self.skill_id, "userToken": "user-1", "details": details, **extra}
        return self.server.admin("POST", "/sandbox/v1/skillpay/orders", body)

    def paid_order(self, details: list[dict[str, Any]]) -> dict[str, Any]:
        """An order placed and paid, with its ship notice acknowledged."""
        response = self.place(details)
        assert response.status_code == 201, response.text
        order = response.json()
        assert self.server.sandbox_pay(order["transactionId"]).status_code == 200
        wait_for(lambda: self.behaviour.shipped)
        return order


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return value


@pytest.fixture(scope="package")
def make_skill(
    server: Server, skill_host: SkillHost, skill_keys: tuple[str, str], platform_key: str
) -> Callable[..., Skill]:
    """A new merchant with a registered skill served by the SDK; `app_key` signs its replies."""

    def make(app_key: str | None = None) -> Skill:
        private, public = skill_keys
        merchant = server.create_merchant("skill merchant")
        mount = secrets.token_hex(6)
        base = f"{skill_host.base_url}/{mount}"
        response = server.admin(
            "POST",
            "/admin/v1/skills",
            {
                "merchant_id": merchant["merchant_id"],
                "public_key": public,
                "create_order_url": base + "/create-order",
                "ship_url": base + "/ship",
                "refund_notify_url": base + "/refund-notify",
            },
        )
        assert response.status_code == 201, response.text
        skill_id = response.json()["skillId"]
        behaviour = Behaviour()
        clock = server.ctx.env.clock.now
        skill_host.apps[mount] = SkillApp(
            skill_id,
            app_key or private,
            platform_key,
            create_order=behaviour.create_order,
            ship=behaviour.ship,
            refund_notice=behaviour.refund_notice,
            clock=clock,
        )
        client = SkillpayClient(server.base_url, skill_id, private, platform_key, clock=clock)
        return Skill(skill_id, merchant["merchant_id"], mount, behaviour, client, server)

    return make


@pytest.fixture
def skill(make_skill: Callable[..., Skill]) -> Skill:
    """A skill of the test's own, for tests that change it or count what it received."""
    return make_skill()


@pytest.fixture(scope="module")
def shared_skill(make_skill: Callable[..., Skill]) -> Skill:
    """One skill for a module's tests that neither change it nor count what it received."""
    return make_skill()
