"""`paymux backup` and `paymux restore`: online, consistent copies of the database.

SQLite: the backup API copies the whole database in one step, which reads
one WAL snapshot, so the copy is consistent while `paymux serve` keeps
writing; the copy is checked (`PRAGMA integrity_check`) and made a single
self-contained file. PostgreSQL: `pg_dump` (one snapshot, custom format) of
the deployment's schema, and `pg_restore` into an empty database.

A backup is a directory: the database copy, `manifest.json` (what it is,
when, which schema revision, and the fingerprint of the master key its
secrets are sealed with) and, only when asked for, `master.key`. Without the
right master key the sealed merchant secrets cannot be opened, so restore
refuses a target whose key does not match the manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404 # pg_dump/pg_restore, argument lists
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import create_engine, inspect, text

from paymux.config import Settings
from paymux.context import master_box
from paymux.secretbox import key_id, read_key_file, write_key_file
from paymux.store.engine import normalize_url

MANIFEST = "manifest.json"
SQLITE_FILE = "paymux.db"
PG_FILE = "paymux.pgdump"
KEY_FILE = "master.key"


class BackupError(Exception):
    """A backup or restore that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Manifest:
    format: int
    database: str  # sqlite | postgresql
    file: str
    created_at: str
    revision: str
    master_key_id: str
    master_key_included: bool


def backup(settings: Settings, destination: Path, *, with_master_key: bool = False) -> Manifest:
    """Copy the running deployment's database (and optionally its master key) to `destination`."""
    if destination.exists() and any(destination.iterdir()):
        raise BackupError(f"{destination} is not empty")
    destination.mkdir(parents=True, exist_ok=True)
    box = master_box(settings)
    if settings.database_url:
        database, name = "postgresql", PG_FILE
        _pg_dump(settings.database_url, destination / name)
        revision = _revision(normalize_url(settings.database_url))
    else:
        database, name = "sqlite", SQLITE_FILE
        if not settings.sqlite_path.exists():
            raise BackupError(f"no database at {settings.sqlite_path}")
        _sqlite_copy(settings.sqlite_path, destination / name)
        revision = _revision(f"sqlite:///{destination / name}")
    if with_master_key:
        write_key_file(destination / KEY_FILE, box.keys, exclusive=True)
    manifest = Manifest(
        format=1,
        database=database,
        file=name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        revision=revision,
        master_key_id=box.key_id,
        master_key_included=with_master_key,
    )
    _write_durably(destination / MANIFEST, json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def restore(settings: Settings, source: Path, *, force: bool = False) -> Manifest:
    """Put a backup in place for `settings` (a new data directory or an empty database)."""
    try:
        manifest = Manifest(**json.loads((source / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{source} is not a paymux backup: {exc}") from None
    wants_pg = bool(settings.database_url)
    if wants_pg != (manifest.database == "postgresql"):
        where = "PostgreSQL" if wants_pg else "SQLite"
        raise BackupError(f"this is a {manifest.database} backup; the target is {where}")
    _restore_key(settings, source, manifest)
    if manifest.database == "sqlite":
        _restore_sqlite(source / manifest.file, settings.sqlite_path, force=force)
    else:
        _restore_pg(source / manifest.file, settings.database_url, force=force)
    return manifest


# -- master key -----------------------------------------------------------------------------------


def _restore_key(settings: Settings, source: Path, manifest: Manifest) -> None:
    """Make sure the target opens the backup's secrets: install its key, or check the one there."""
    needed = manifest.master_key_id
    if settings.master_key:
        known = [settings.master_key, *settings.master_key_previous.split(",")]
        if needed not in {key_id(k.strip()) for k in known if k.strip()}:
            raise BackupError(f"PAYMUX_MASTER_KEY is not the key {needed} this backup needs")
        return
    path = settings.master_key_path
    if path.exists():
        if needed not in {key_id(k) for k in read_key_file(path)}:
            raise BackupError(f"{path} does not hold the master key {needed} this backup needs")
        return
    if not manifest.master_key_included:
        raise BackupError(
            f"this backup needs the master key {needed}: put it in {path} or PAYMUX_MASTER_KEY"
        )
    write_key_file(path, read_key_file(source / KEY_FILE), exclusive=True)


# -- SQLite ---------------------------------------------------------------------------------------


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # pages=-1: one step, one read snapshot, consistent under writes
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        (result,) = dst.execute("PRAGMA integrity_check").fetchone()
        if result != "ok":
            raise BackupError(f"the copy failed its integrity check: {result}")
    finally:
        dst.close()
        src.close()
    _fsync(target)


def _restore_sqlite(backup_file: Path, target: Path, *, force: bool) -> None:
    if target.exists() and not force:
        raise BackupError(f"{target} exists; stop paymux and pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(backup_file, tmp)
    _fsync(tmp)
    for stale in (Path(f"{target}-wal"), Path(f"{target}-shm")):
        stale.unlink(missing_ok=True)  # they belong to the database being replaced
    os.replace(tmp, target)


# -- PostgreSQL -----------------------------------------------------------------------------------


def _libpq(url: str) -> tuple[str, str | None]:
    """The URL for libpq's tools and the schema paymux uses when `options` sets a search_path."""
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    options = parse_qs(urlsplit(plain).query).get("options", [""])[0]
    schema = next(
        (part.split("=", 1)[1] for part in options.split() if part.startswith("-csearch_path=")),
        None,
    )
    return plain, schema


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools)")
    return path


def _pg_dump(url: str, target: Path) -> None:
    plain, schema = _libpq(url)
    args = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
    args += [f"--schema={schema}"] if schema else []
    command = [*args, f"--file={target}", plain]
    done = subprocess.run(command, capture_output=True, text=True)  # nosec B603 # no shell
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    _fsync(target)


def _restore_pg(backup_file: Path, url: str, *, force: bool) -> None:
    plain, _schema = _libpq(url)
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            populated = inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()
    if populated and not force:
        raise BackupError("the target database already holds paymux; pass --force to replace it")
    args = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    args += ["--clean", "--if-exists"] if populated else []
    command = [*args, f"--dbname={plain}", str(backup_file)]
    done = subprocess.run(command, capture_output=True)  # nosec B603 # no shell
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.decode(errors='replace').strip()}")


# -- helpers --------------------------------------------------------------------------------------


def _revision(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return ",".join(sorted(rows))
    finally:
        engine.dispose()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, content: str) -> None:
    path.write_text(content)
    _fsync(path)
