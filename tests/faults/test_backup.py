"""`paymux backup` while paymux is under load, `paymux restore` into a new place, `ledger check`.

Everything acknowledged before the backup began is in the restored copy, the
restored ledger is clean, and the restored merchants' secrets still open (a
signed request is answered), which needs the right master key: a restore
without it is refused with a message that names the key.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import create_engine, text

from paymux.dialects.vpay.client import VpayClient
from tests.harness import PG_URL, pg_schema
from tests.processes import paymux_env, run_cli, serve

TOKEN = "backup-" + secrets.token_hex(8)


class Payments:
    """Orders created and paid back to back from a thread; acknowledged ones remembered."""

    def __init__(self, base_url: str) -> None:
        self.admin = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"})
        created = self.admin.post("/admin/v1/merchants", json={"name": "backed up"})
        assert created.status_code == 201, created.text
        self.vpay = created.json()["vpay"]
        self.client = VpayClient(base_url, self.vpay["app_id"], self.vpay["secret_key"])
        self.paid: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            no = "B-" + secrets.token_hex(6)
            order = self.client.create_order(no, 500)
            assert self.admin.post(f"/sandbox/v1/orders/{order['order_id']}/pay").is_success
            self.paid.append(no)

    def __enter__(self) -> Payments:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _check_restored(env: dict[str, str], log: Path, vpay: dict[str, str], paid: list[str]) -> None:
    checked = run_cli(env, "ledger", "check")
    assert checked.returncode == 0 and "ledger clean" in checked.stdout, checked.stdout
    with serve(env, log) as restored:
        client = VpayClient(restored.base_url, vpay["app_id"], vpay["secret_key"])
        for no in paid:
            assert client.query_order(merchant_order_id=no)["status"] == 1, no


def test_sqlite_backup_under_load_restores_into_a_new_data_directory(tmp_path: Path) -> None:
    env = paymux_env(tmp_path / "data", PAYMUX_ADMIN_TOKEN=TOKEN)
    with serve(env, tmp_path / "serve.log") as server, Payments(server.base_url) as load:
        while len(load.paid) < 5:
            threading.Event().wait(0.05)
        before = list(load.paid)
        made = run_cli(env, "backup", str(tmp_path / "with-key"), "--with-master-key")
        assert made.returncode == 0, made.stdout + made.stderr
        keyless = run_cli(env, "backup", str(tmp_path / "keyless"))
        assert keyless.returncode == 0, keyless.stdout + keyless.stderr
        assert len(load.paid) > len(before), "the backup did not overlap the load"
    again = run_cli(env, "backup", str(tmp_path / "with-key"))
    assert again.returncode == 2 and "not empty" in again.stdout

    refused = run_cli(paymux_env(tmp_path / "no-key"), "restore", str(tmp_path / "keyless"))
    assert refused.returncode == 2 and "needs the master key" in refused.stdout, refused.stdout
    assert not (tmp_path / "no-key" / "paymux.db").exists()

    target = paymux_env(tmp_path / "restored", PAYMUX_ADMIN_TOKEN=TOKEN)
    restored = run_cli(target, "restore", str(tmp_path / "with-key"))
    assert restored.returncode == 0 and "ledger clean" in restored.stdout, restored.stdout
    twice = run_cli(target, "restore", str(tmp_path / "with-key"))
    assert twice.returncode == 2 and "--force" in twice.stdout
    _check_restored(target, tmp_path / "restored.log", load.vpay, before)


@contextlib.contextmanager
def _new_database(schema_url: str) -> Iterator[str]:
    """A new database on the test cluster; yields `schema_url` pointed at it."""
    name = "restore_" + secrets.token_hex(4)
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    parts = urlsplit(schema_url)
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


@pytest.mark.skipif(not PG_URL or not shutil.which("pg_dump"), reason="needs PostgreSQL, pg_dump")
def test_postgres_backup_under_load_restores_into_an_empty_database(tmp_path: Path) -> None:
    with pg_schema() as url:
        env = paymux_env(tmp_path / "data", PAYMUX_ADMIN_TOKEN=TOKEN, PAYMUX_DATABASE_URL=url)
        with serve(env, tmp_path / "serve.log") as server, Payments(server.base_url) as load:
            while len(load.paid) < 5:
                threading.Event().wait(0.05)
            before = list(load.paid)
            made = run_cli(env, "backup", str(tmp_path / "backup"), "--with-master-key")
            assert made.returncode == 0, made.stdout + made.stderr
        with _new_database(url) as target_url:
            target = paymux_env(
                tmp_path / "restored", PAYMUX_ADMIN_TOKEN=TOKEN, PAYMUX_DATABASE_URL=target_url
            )
            restored = run_cli(target, "restore", str(tmp_path / "backup"))
            assert restored.returncode == 0 and "ledger clean" in restored.stdout, restored.stdout
            _check_restored(target, tmp_path / "restored.log", load.vpay, before)
