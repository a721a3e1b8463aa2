"""Builds the running platform from settings: keys, store, services env, dialect notifiers.

`paymux serve`, `paymux worker`, the CLI and the tests all start from `build_context`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from redis.asyncio import Redis

from paymux.config import Settings, read_or_create_secret_file
from paymux.core.ids import Snowflake
from paymux.secretbox import SecretBox, read_key_file
from paymux.services import platform
from paymux.services.access import (
    DbRateLimiter,
    LocalRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)
from paymux.services.clock import Clock
from paymux.services.env import Env
from paymux.services.keycache import KeyCache
from paymux.services.nonces import (
    DbNonceStore,
    EmbeddedNonceStore,
    NonceStore,
    RedisNonceStore,
)
from paymux.signing import tsk_rsa2
from paymux.store.engine import Store
from paymux.store.migrate import upgrade


@dataclass
class Context:
    settings: Settings
    store: Store
    env: Env
    admin_token: str
    nonces: NonceStore
    keys: KeyCache
    limiter: RateLimiter
    platform_private_pem: str
    platform_public_pem: str
    # Coroutines run after the sandbox clock moves (due retries, timed jobs).
    on_clock_advance: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def sandbox(self) -> bool:
        return self.settings.sandbox

    def close(self) -> None:
        self.store.close()


def admin_token_for(settings: Settings) -> str:
    return settings.admin_token or read_or_create_secret_file(settings.data_dir / "admin-token")


def master_box(settings: Settings) -> SecretBox:
    """The master keys: PAYMUX_MASTER_KEY (+ _PREVIOUS) if set, else the key file (watched)."""
    if settings.master_key:
        previous = [key.strip() for key in settings.master_key_previous.split(",") if key.strip()]
        return SecretBox([settings.master_key, *previous])
    path = settings.master_key_path
    return SecretBox(read_key_file(path), key_file=path)


def shared_state(
    settings: Settings, store: Store, single_process: bool
) -> tuple[NonceStore, RateLimiter]:
    """Where nonces and rate-limit counters live, so that every process agrees on them.

    Redis when configured; otherwise the database, except for one process on
    SQLite, which keeps them in memory (nonces written behind to the table).
    """
    if settings.redis_url:
        client = Redis.from_url(settings.redis_url)
        prefix = settings.redis_prefix
        return RedisNonceStore(client, prefix + "nonce:"), RedisRateLimiter(client, prefix + "rl:")
    if store.sqlite and single_process:
        return EmbeddedNonceStore(store), LocalRateLimiter()
    return DbNonceStore(store), DbRateLimiter(store)


def build_context(
    settings: Settings, *, migrate: bool = True, single_process: bool = True
) -> Context:
    """`single_process` is False for `serve --workers N` and workers sharing one database."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = Env(settings=settings, clock=Clock(), ids=Snowflake(0), box=master_box(settings))
    store = Store(settings.effective_database_url, env, synchronous=settings.sqlite_synchronous)
    if migrate:
        upgrade(store.write_engine)
    env.ids = Snowflake(store.write_sync(platform.allocate_node_id))
    env.clock.set_offset(store.read_sync(platform.clock_offset))
    private_pem = store.write_sync(platform.platform_private_key_pem)
    public_pem = (
        tsk_rsa2.load_private_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    nonces, limiter = shared_state(settings, store, single_process)
    return Context(
        settings=settings,
        store=store,
        env=env,
        admin_token=admin_token_for(settings),
        nonces=nonces,
        keys=KeyCache(store),
        limiter=limiter,
        platform_private_pem=private_pem,
        platform_public_pem=public_pem,
    )
