"""The skill registry through the admin API, and the CLI contract of docs/dialects/skillpay.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from paymux.cli import app
from tests.harness import Server

URLS = {
    "create_order_url": "http://127.0.0.1:9/create-order",
    "ship_url": "http://127.0.0.1:9/ship",
    "refund_notify_url": "http://127.0.0.1:9/refund-notify",
}


def register(server: Server, merchant_id: str, public_key: str, **urls: str) -> httpx.Response:
    body = {"merchant_id": merchant_id, "public_key": public_key, **URLS, **urls}
    return server.admin("POST", "/admin/v1/skills", body)


def test_register_show_update_and_refusals(server: Server, skill_keys: tuple[str, str]) -> None:
    merchant = server.create_merchant("registry")["merchant_id"]
    pem = skill_keys[1]
    bare = "".join(pem.strip().splitlines()[1:-1])
    bad = [
        (register(server, merchant, "not a key"), 400, "public_key"),
        (register(server, merchant, pem, ship_url="ftp://x/ship"), 400, "ship_url"),
        (register(server, merchant, pem, ship_url=""), 400, "ship_url"),
        (register(server, "Mnobody", pem), 404, "Mnobody"),
    ]
    for response, status, detail in bad:
        assert response.status_code == status and detail in response.text, response.text
    created = register(server, merchant, bare)
    assert created.status_code == 201, created.text
    skill = created.json()
    assert skill["skillId"].startswith("sk") and len(skill["skillId"]) <= 32
    assert skill["status"] == "active" and skill["sandbox_refund"] == "SUCCESS"
    again = register(server, merchant, pem)
    assert again.status_code == 400 and "already has skill" in again.text
    path = f"/admin/v1/skills/{skill['skillId']}"
    assert server.admin("GET", path).json() == skill
    moved = server.admin(
        "POST", path, {"ship_url": "http://127.0.0.1:9/v2/ship", "public_key": pem}
    )
    assert moved.status_code == 200 and moved.json()["ship_url"].endswith("/v2/ship")
    for change in ({"status": "gone"}, {"sandbox_refund": "MAYBE"}, {"skill_id": "x"}):
        assert server.admin("POST", path, change).status_code == 400, change
    assert server.admin("GET", "/admin/v1/skills/sknobody").status_code == 404
    assert httpx.get(server.base_url + path).status_code == 401  # admin token required


def test_platform_key_download(server: Server) -> None:
    pem = httpx.get(server.base_url + "/paycgi/platform-key")
    assert pem.text == server.ctx.platform_public_pem
    assert pem.headers["authorization"].startswith("TSK-RSA2 Datetime=")
    bare = httpx.get(server.base_url + "/paycgi/platform-key?format=base64").text
    assert "\n" not in bare and bare in pem.text.replace("\n", "")
    wrong = httpx.get(server.base_url + "/paycgi/platform-key?format=der")
    assert wrong.status_code == 400 and wrong.json()["errCode"] == "PARAM_ERROR"


def _json(result: Result) -> Any:
    """The command's JSON line (the package's paymux server may log into the captured output)."""
    return json.loads(next(x for x in result.stdout.splitlines() if x.startswith(("{", "["))))


def _pem(result: Result) -> str:
    match = re.search(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", result.stdout, re.S)
    assert match is not None, result.output
    return match.group(0)


def test_cli_contract(
    tmp_path: Path, skill_keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`paymux skill register ... --json` → {"skillId"}; `paymux platform-key` prints the PEM.

    The CLI opens its own embedded database here, as on a fresh deployment.
    """
    monkeypatch.setenv("PAYMUX_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.delenv("PAYMUX_DATABASE_URL", raising=False)
    runner = CliRunner()
    merchant = runner.invoke(app, ["merchant", "create", "--name", "cli skill", "--json"])
    assert merchant.exit_code == 0, merchant.output
    merchant_id = _json(merchant)["merchant_id"]
    key_file = tmp_path / "skill-public.pem"
    key_file.write_text(skill_keys[1])
    args = ["skill", "register", "--merchant", merchant_id, "--public-key", str(key_file)]
    for name, url in URLS.items():
        args += ["--" + name.replace("_", "-"), url]
    registered = runner.invoke(app, [*args, "--json"])
    assert registered.exit_code == 0, registered.output
    skill_id = _json(registered)["skillId"]
    assert skill_id.startswith("sk")
    twice = runner.invoke(app, args)
    assert twice.exit_code == 2 and "already has skill" in twice.output
    updated = runner.invoke(
        app, ["skill", "update", "--skill-id", skill_id, "--status", "disabled"]
    )
    assert updated.exit_code == 0, updated.output
    listed = _json(runner.invoke(app, ["skill", "list", "--json"]))
    assert [(s["skillId"], s["status"]) for s in listed] == [(skill_id, "disabled")]
    assert runner.invoke(app, ["skill", "list"]).exit_code == 0
    key = runner.invoke(app, ["platform-key"])
    assert key.exit_code == 0
    assert _pem(runner.invoke(app, ["platform-key"])) == _pem(key)  # made once, kept
