"""Channel fixtures: fakes of WeChat Pay and Alipay, and a merchant configured to use them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paymux.dialects.paymodule.client import PaymoduleClient
from tests.harness import Server
from tests.notify.receiver import Receiver


@pytest.fixture
def shop() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def configure(server: Server, merchant_id: str, channel: str, config: dict[str, Any]) -> Any:
    response = server.admin("PUT", f"/admin/v1/merchants/{merchant_id}/channels/{channel}", config)
    assert response.status_code == 200, response.text
    return response.json()


def client_for(server: Server, merchant: dict[str, Any]) -> PaymoduleClient:
    return PaymoduleClient(
        server.base_url,
        merchant["paymodule"]["apiKey"],
        merchant["paymodule"]["callbackSignSecret"],
    )


def mismatches(server: Server, merchant_id: str) -> list[dict[str, Any]]:
    response = server.admin("GET", "/admin/v1/channel-mismatches?all=1")
    assert response.status_code == 200, response.text
    return [m for m in response.json()["mismatches"] if m["merchant_id"] == merchant_id]
