"""Secrets at rest: sealed in every row, the master key from the environment or a key file,
and a master-key rotation that re-seals everything while paymux keeps answering.

The database is read raw (every column of every table, and for SQLite the
bytes of the files themselves) and searched for each secret in clear.
"""

from __future__ import annotations

import secrets
import stat
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, create_engine, select

from paymux.config import Settings
from paymux.context import build_context
from paymux.dialects.vpay.client import VpayClient, VpayError
from paymux.secretbox import SecretBox, key_id, read_key_file
from paymux.services import merchants
from paymux.services.keys import unopenable
from paymux.store.engine import normalize_url
from tests.channels.fakes import new_key, private_pem, public_pem
from tests.harness import BACKENDS, Server, run_server
from tests.processes import paymux_env, run_cli, serve

TOKEN = "at-rest-" + secrets.token_hex(8)


def _pem_body(pem: str) -> str:
    """A long line of a PEM's base64: present wherever the key is stored in clear."""
    return max(pem.splitlines(), key=len)


def _raw_dump(server: Server) -> str:
    """Every value of every table, as text, read straight from the database."""
    engine = create_engine(normalize_url(server.ctx.settings.effective_database_url))
    metadata = MetaData()
    chunks = []
    try:
        with engine.connect() as conn:
            metadata.reflect(conn)
            for table in metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    chunks.extend(str(value) for value in row)
    finally:
        engine.dispose()
    return "\n".join(chunks)


def _alipay_config() -> dict[str, Any]:
    alipay = "".join(line for line in public_pem(new_key()).splitlines() if "-----" not in line)
    return {
        "app_id": "2021000000000001",
        "private_key": private_pem(new_key()),
        "alipay_public_key": alipay,
        "base_url": "https://openapi.alipay.com/gateway.do",
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_secret_is_stored_in_clear(tmp_path: Path, backend: str) -> None:
    with run_server(tmp_path, backend) as server:
        merchant = server.create_merchant("sealed")
        config = _alipay_config()
        put = server.admin(
            "PUT", f"/admin/v1/merchants/{merchant['merchant_id']}/channels/alipay", config
        )
        assert put.status_code == 200, put.text
        rotated = server.ctx.store.write_sync(
            merchants.rotate_secret, merchant["merchant_id"], "vpay"
        )
        clear = {
            f"{dialect} secret": value
            for dialect, creds in merchant.items()
            if isinstance(creds, dict)
            for name, value in creds.items()
            if "ecret" in name
        }
        assert len(clear) == 4, merchant
        clear["channel private key"] = _pem_body(config["private_key"])
        clear["platform private key"] = _pem_body(server.ctx.platform_private_pem)
        clear["wallet token"] = server.create_user("payer", 100)["wallet_token"]
        clear["rotated vpay secret"] = rotated

        dump = _raw_dump(server)
        assert "v1:" in dump  # sealed values are there...
        assert [what for what, value in clear.items() if value in dump] == []  # ...clear ones not
        if backend == "sqlite":
            files = server.ctx.settings.data_dir.glob("paymux.db*")
            raw = b"".join(path.read_bytes() for path in files)
            assert [what for what, value in clear.items() if value.encode() in raw] == []


def test_master_key_from_the_environment_or_a_key_file(tmp_path: Path) -> None:
    master = secrets.token_urlsafe(32)
    with run_server(tmp_path / "env", master_key=master) as server:
        assert server.ctx.env.box.key_id == key_id(master)
        assert not (server.ctx.settings.data_dir / "master.key").exists()
    key_file = tmp_path / "keys" / "paymux.key"
    with run_server(tmp_path / "file", master_key_file=str(key_file)) as server:
        (current,) = read_key_file(key_file)
        assert server.ctx.env.box.key_id == key_id(current)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert not (server.ctx.settings.data_dir / "master.key").exists()


class SignedLoad:
    """Signed vpay requests back to back from a thread; any refusal is recorded."""

    def __init__(self, client: VpayClient) -> None:
        self.client = client
        self.answered = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.client.create_order("K-" + secrets.token_hex(6), 100)
            except VpayError as exc:
                self.errors.append(str(exc))
            self.answered += 1

    def __enter__(self) -> SignedLoad:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def test_master_key_rotation_reseals_everything_while_serving(tmp_path: Path) -> None:
    env = paymux_env(tmp_path / "data", PAYMUX_ADMIN_TOKEN=TOKEN)
    key_file = tmp_path / "data" / "master.key"
    with serve(env, tmp_path / "serve.log") as server:
        admin = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"})
        (old,) = read_key_file(key_file)
        creds = admin.post("/admin/v1/merchants", json={"name": "rotating"}).json()["vpay"]
        client = VpayClient(server.base_url, creds["app_id"], creds["secret_key"])
        with SignedLoad(client) as load:
            rotated = run_cli(env, "secrets", "rotate-master-key", "--drop-previous")
            assert rotated.returncode == 0, rotated.stdout + rotated.stderr
            answered = load.answered
            threading.Event().wait(2.5)  # past the key cache: secrets are read again
        assert load.errors == [] and load.answered > answered, load.errors
        (new,) = read_key_file(key_file)
        assert new != old and key_id(new) in rotated.stdout and new not in rotated.stdout

        # Made after the rotation by the running server: sealed under the new key.
        later = admin.post("/admin/v1/merchants", json={"name": "after"}).json()["vpay"]
        VpayClient(server.base_url, later["app_id"], later["secret_key"]).create_order("L-1", 1)
    ctx = build_context(Settings(data_dir=tmp_path / "data"))
    try:
        assert ctx.store.read_sync(unopenable, SecretBox([new])) == 0
        assert ctx.store.read_sync(unopenable, SecretBox([old])) > 0
    finally:
        ctx.close()
    with serve(env, tmp_path / "serve.log") as restarted:  # the new key alone opens everything
        client = VpayClient(restarted.base_url, creds["app_id"], creds["secret_key"])
        assert client.create_order("R-1", 100)["amount"] == 100


def test_master_key_rotation_with_the_key_in_the_environment(tmp_path: Path) -> None:
    """Scale mode: the new key in PAYMUX_MASTER_KEY, the old one in _PREVIOUS, then the command."""
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    made = run_cli(paymux_env(tmp_path, PAYMUX_MASTER_KEY=old), "merchant", "create", "--name=m")
    assert made.returncode == 0, made.stdout + made.stderr
    both = paymux_env(tmp_path, PAYMUX_MASTER_KEY=new, PAYMUX_MASTER_KEY_PREVIOUS=old)
    rotated = run_cli(both, "secrets", "rotate-master-key")
    assert rotated.returncode == 0 and key_id(new) in rotated.stdout, rotated.stdout
    assert "remove PAYMUX_MASTER_KEY_PREVIOUS" in rotated.stdout
    ctx = build_context(Settings(data_dir=tmp_path, master_key=new))  # the new key alone
    try:
        assert ctx.store.read_sync(unopenable, SecretBox([new])) == 0
    finally:
        ctx.close()
    assert not (tmp_path / "master.key").exists()
