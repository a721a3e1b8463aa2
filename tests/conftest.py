"""Shared fixtures: a real paymux server per backend, merchants made through the admin API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.channels.fakes import FakeAlipay, FakeWechatPay
from tests.harness import BACKENDS, Server, run_server


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per test module and backend; tests isolate themselves by merchant."""
    with run_server(tmp_path_factory.mktemp("srv"), request.param) as srv:
        yield srv


@pytest.fixture(params=BACKENDS)
def fresh_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server of its own, for tests that move the clock or need an empty database."""
    with run_server(tmp_path_factory.mktemp("fresh"), request.param) as srv:
        yield srv


@pytest.fixture
def merchant(server: Server) -> dict[str, Any]:
    return server.create_merchant()


# The local WeChat Pay and Alipay fakes (tests/channels/fakes.py), one per test.
@pytest.fixture
def wx() -> Iterator[FakeWechatPay]:
    fake = FakeWechatPay()
    yield fake
    fake.close()


@pytest.fixture
def ali() -> Iterator[FakeAlipay]:
    fake = FakeAlipay()
    yield fake
    fake.close()
