"""Builds the running platform from settings: keys, store, services env, dialect notifiers.

`paymux serve`, `paymux worker`, the CLI and the tests all start from `build_context`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization

from paymux.config import Settings, read_or_create_secret_file
from paymux.core.ids import Snowflake
from paymux.secretbox import SecretBox
from paymux.services import platform
from paymux.services.access import RateLimiter
from paymux.services.clock import Clock
from paymux.services.env import Env
from paymux.services.keycache import KeyCache
from paymux.services.nonces import DbNonceStore, EmbeddedNonceStore, NonceStore
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


def build_context(
    settings: Settings, *, migrate: bool = True, single_process: bool = True
) -> Context:
    """`single_process` is False for `serve --workers N` and workers sharing one database."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    master = settings.master_key or read_or_create_secret_file(settings.data_dir / "master.key")
    env = Env(settings=settings, clock=Clock(), ids=Snowflake(0), box=SecretBox(master))
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
    return Context(
        settings=settings,
        store=store,
        env=env,
        admin_token=admin_token_for(settings),
        nonces=EmbeddedNonceStore(store)
        if store.sqlite and single_process
        else DbNonceStore(store),
        keys=KeyCache(store),
        limiter=RateLimiter(),
        platform_private_pem=private_pem,
        platform_public_pem=public_pem,
    )
