"""A short-lived cache of (dialect, key id) → merchant and valid secrets.

Every signed request needs the merchant and its secrets; caching them for a
couple of seconds takes a database read off the hot path. Changes made in this
process invalidate at once; other processes see them within the TTL.

Entries age with the platform clock too: when the sandbox clock is advanced
past a rotated secret's grace period, the cached list must not keep it alive.
"""

from __future__ import annotations

import time

from paymux.core.models import Merchant
from paymux.services import merchants
from paymux.store.engine import Store


class KeyCache:
    def __init__(self, store: Store, ttl_s: float = 2.0) -> None:
        self._store = store
        self._ttl = ttl_s
        self._entries: dict[tuple[str, str], tuple[float, Merchant, list[str]]] = {}

    async def lookup(self, dialect: str, key_id: str) -> tuple[Merchant, list[str]]:
        # The sandbox offset only grows, so adding it ages entries when the clock jumps.
        now = time.monotonic() + self._store.env.clock.offset_s
        hit = self._entries.get((dialect, key_id))
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1], hit[2]
        merchant, secrets = await self._store.read(merchants.find_by_key, dialect, key_id)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[(dialect, key_id)] = (now, merchant, secrets)
        return merchant, secrets

    async def expired(self, dialect: str, key_id: str) -> list[str]:
        """Recently expired secrets; not cached, asked only after a signature failed."""
        return await self._store.read(merchants.expired_secrets, dialect, key_id)

    def invalidate(self) -> None:
        self._entries.clear()
