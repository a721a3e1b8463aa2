"""Deployment settings, read from the environment (the stable contract in docs/operations.md)."""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta, timezone
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./paymux-data")
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "paymux:"
    mode: str = "sandbox"  # sandbox | production
    admin_token: str = ""
    master_key: str = ""
    # Comma-separated keys that still open (not seal) secrets during a rotation.
    master_key_previous: str = ""
    # Where the master key lives when PAYMUX_MASTER_KEY is not set; "" = <data dir>/master.key.
    master_key_file: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    tz_offset_hours: int = 8
    sqlite_synchronous: str = "FULL"
    secret_grace_period_s: int = 24 * 3600
    max_body_bytes: int = 1024 * 1024
    # Requests per second from one client address, over every endpoint; 0: no limit.
    ip_rate_limit_per_s: int = 0
    order_expiry_s: dict[str, int] = field(default_factory=dict)
    notify_timeout_s: float = 10.0
    allow_private_notify_urls: bool | None = None
    # paymodule calls without X-Api-Key act for this merchant. None: the demo
    # merchant in sandbox mode, nobody in production; "": nobody.
    paymodule_default_merchant: str | None = None

    @property
    def sandbox(self) -> bool:
        return self.mode != "production"

    @property
    def tz(self) -> timezone:
        return _timezone(self.tz_offset_hours)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "paymux.db"

    @property
    def master_key_path(self) -> Path:
        return Path(self.master_key_file) if self.master_key_file else self.data_dir / "master.key"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def private_notify_urls_allowed(self) -> bool:
        if self.allow_private_notify_urls is None:
            return self.sandbox
        return self.allow_private_notify_urls

    def with_overrides(self, **kwargs: object) -> Settings:
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        mode = env.get("PAYMUX_MODE", "sandbox")
        if mode not in ("sandbox", "production"):
            raise SystemExit(f"PAYMUX_MODE must be sandbox or production, not {mode!r}")
        private = env.get("PAYMUX_ALLOW_PRIVATE_NOTIFY_URLS")
        default_merchant = env.get("PAYMUX_PAYMODULE_DEFAULT_MERCHANT")
        return cls(
            data_dir=Path(env.get("PAYMUX_DATA_DIR", "./paymux-data")),
            database_url=env.get("PAYMUX_DATABASE_URL", ""),
            redis_url=env.get("PAYMUX_REDIS_URL", ""),
            redis_prefix=env.get("PAYMUX_REDIS_PREFIX", "paymux:"),
            mode=mode,
            admin_token=env.get("PAYMUX_ADMIN_TOKEN", ""),
            master_key=env.get("PAYMUX_MASTER_KEY", ""),
            master_key_previous=env.get("PAYMUX_MASTER_KEY_PREVIOUS", ""),
            master_key_file=env.get("PAYMUX_MASTER_KEY_FILE", ""),
            public_base_url=env.get("PAYMUX_PUBLIC_URL", "").rstrip("/"),
            tz_offset_hours=_int("PAYMUX_TZ_OFFSET_HOURS", 8),
            sqlite_synchronous=env.get("PAYMUX_SQLITE_SYNCHRONOUS", "FULL").upper(),
            secret_grace_period_s=_int("PAYMUX_SECRET_GRACE_S", 24 * 3600),
            max_body_bytes=_int("PAYMUX_MAX_BODY_BYTES", 1024 * 1024),
            ip_rate_limit_per_s=_int("PAYMUX_IP_RATE_LIMIT_PER_S", 0),
            notify_timeout_s=float(env.get("PAYMUX_NOTIFY_TIMEOUT_S", "10")),
            allow_private_notify_urls=None if private is None else private in ("1", "true", "yes"),
            paymodule_default_merchant=default_merchant,
        )


def read_or_create_secret_file(path: Path) -> str:
    """Read a secret kept in the data directory, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


@functools.cache
def _timezone(offset_hours: int) -> timezone:
    """One `timezone` per offset: replies format times with it on every request."""
    return timezone(timedelta(hours=offset_hours))
