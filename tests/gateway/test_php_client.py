"""A real PHP shop (tests/clients/gateway_merchant.php, php-cli) against paymux: it signs and
posts a unified order, and verifies callbacks and sync returns with its own code."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from paymux.dialects.gateway.client import GatewayClient
from tests.gateway.conftest import outbox
from tests.gateway.test_cashier import open_page, submit
from tests.harness import Server, free_port

PHP = shutil.which("php")
SCRIPT = Path(__file__).parent.parent / "clients" / "gateway_merchant.php"

pytestmark = pytest.mark.skipif(PHP is None, reason="php-cli is not installed")


@dataclass
class PhpShop:
    url: str
    env: dict[str, str]
    log: Path

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [PHP or "php", str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def entries(self, kind: str) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["kind"] == kind]

    def wait_for(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while len(self.entries(kind)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        got = self.entries(kind)
        assert len(got) >= count, f"the PHP shop logged {len(got)} {kind} requests"
        return got


@pytest.fixture
def php_shop(server: Server, merchant: dict[str, Any], tmp_path: Path) -> Iterator[PhpShop]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GATEWAY_URL": server.base_url,
        "GATEWAY_APPID": merchant["gateway"]["appid"],
        "GATEWAY_SECRET": merchant["gateway"]["secret"],
        "SHOP_URL": f"http://127.0.0.1:{port}",
        "SHOP_LOG": str(tmp_path / "shop.log"),
    }
    web = subprocess.Popen(
        [PHP or "php", "-S", f"127.0.0.1:{port}", str(SCRIPT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "php -S did not start"
                time.sleep(0.05)
        yield PhpShop(env["SHOP_URL"], env, tmp_path / "shop.log")
    finally:
        web.terminate()
        web.wait(timeout=10)


def test_php_signs_the_spec_examples_like_the_vectors(php_shop):
    assert php_shop.run("vectors").split() == [
        "73dc4777361a891f5a1e3c7094f8e675",
        "bab103379de6e7aa8ea5f5a8862b1b7a",
    ]


def _php_order(php_shop: PhpShop, order_no: str, bank_code: str = "912") -> dict[str, Any]:
    out = json.loads(php_shop.run("order", order_no, "8800", bank_code))
    assert out["attach"] == quote("用户=张三&备注", safe="")  # PHP's urlencode()
    return out


def test_php_order_query_and_callback(server, merchant, php_shop):
    out = _php_order(php_shop, "PHP-1")
    data = out["reply"]["data"]
    assert data["order_no"] == "PHP-1" and data["pay_status"] == -1
    gw = GatewayClient(server.base_url, **merchant["gateway"])
    assert gw.check_order("PHP-1")["attach"] == out["attach"]

    server.sandbox_pay(data["platform_order_no"])
    (row,) = outbox(server, merchant["merchant_id"])
    # the exact bytes paymux sends, posted to the shop's notify.php
    answer = httpx.post(php_shop.url + "/notify", content=row["body"], headers=row["headers"]).text
    assert answer == "SUCCESS"
    # (the dispatcher, where it runs, delivers the same bytes too)
    entries = php_shop.wait_for("notify")
    assert all(e == entries[0] for e in entries)
    entry = entries[0]
    assert entry["valid"] is True
    assert entry["data"]["attach"] == out["attach"]  # echoed unchanged
    assert entry["attach_decoded"] == "用户=张三&备注"
    assert entry["data"]["amount"] == "8800.00" and entry["data"]["pay_status"] == "1"

    query = json.loads(php_shop.run("query", "PHP-1"))
    assert query["status"] == "1" and query["data"]["pay_status"] == 1


def test_php_rejects_a_forged_callback(server, merchant, php_shop):
    out = _php_order(php_shop, "PHP-2")
    server.sandbox_pay(out["reply"]["data"]["platform_order_no"])
    (row,) = outbox(server, merchant["merchant_id"])
    forged = row["body"].replace(b"amount=8800.00", b"amount=1.00")
    assert forged != row["body"]
    assert httpx.post(php_shop.url + "/notify", content=forged, headers=row["headers"]).text == (
        "FAIL"
    )
    entries = php_shop.wait_for("notify")
    assert [e["valid"] for e in entries if e["data"]["amount"] == "1.00"] == [False]
    assert all(e["valid"] for e in entries if e["data"]["amount"] == "8800.00")


def test_php_verifies_the_sync_return(server, php_shop):
    out = _php_order(php_shop, "PHP-3", "901")
    page = open_page(server, out["reply"]["data"]["platform_order_no"])
    back = submit(server, page, "pay-form").forms["sync-return"]
    assert back["action"] == php_shop.url + "/return"
    assert httpx.post(back["action"], data=back["fields"]).text == "支付成功"
    (entry,) = php_shop.wait_for("return")
    assert entry["valid"] is True and entry["data"]["order_no"] == "PHP-3"


def test_paymux_delivers_to_the_php_shop(server, merchant, php_shop):
    pytest.importorskip("paymux.notify.dispatcher", reason="the outbox dispatcher is not built yet")
    out = _php_order(php_shop, "PHP-4", "903")
    server.sandbox_pay(out["reply"]["data"]["platform_order_no"])
    (entry,) = php_shop.wait_for("notify")
    assert entry["valid"] is True and entry["data"]["order_no"] == "PHP-4"
    deadline = time.monotonic() + 10
    while outbox(server, merchant["merchant_id"])[0]["status"] != "DELIVERED":
        assert time.monotonic() < deadline, "the PHP shop's SUCCESS was not taken as the ack"
        time.sleep(0.05)
