"""Replay protection: a nonce is accepted once per scope within its window.

The database store works across processes and survives restarts; a Redis
store (scale mode) plugs in behind the same `NonceStore` protocol.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, update

from paymux.store import tables as t
from paymux.store.sql import insert_ignore
from paymux.store.uow import UnitOfWork

N = t.nonces.c


class NonceStore(Protocol):
    async def use(self, scope: str, nonce: str, ttl_s: int) -> bool: ...


def use_nonce(uow: UnitOfWork, scope: str, nonce: str, ttl_s: int) -> bool:
    """True the first time (scope, nonce) is seen within `ttl_s`; False for a replay."""
    now = uow.env.clock.now()
    expires = now + timedelta(seconds=ttl_s)
    if insert_ignore(uow.conn, t.nonces, {"scope": scope, "nonce": nonce, "expires_at": expires}):
        return True
    # Seen before: accept only if that use has expired (the window moved on).
    return (
        uow.conn.execute(
            update(t.nonces)
            .where(N.scope == scope, N.nonce == nonce, N.expires_at <= now)
            .values(expires_at=expires)
        ).rowcount
        == 1
    )


def prune_nonces(uow: UnitOfWork) -> int:
    return uow.conn.execute(delete(t.nonces).where(N.expires_at <= uow.env.clock.now())).rowcount


class DbNonceStore:
    def __init__(self, store: object) -> None:
        self._store = store

    async def use(self, scope: str, nonce: str, ttl_s: int) -> bool:
        return await self._store.write(use_nonce, scope, nonce, ttl_s)  # type: ignore[attr-defined]
