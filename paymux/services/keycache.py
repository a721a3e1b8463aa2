"""A short-lived cache of (dialect, key id) → merchant and valid secrets.

Every signed request needs the merchant and its secrets; caching them for a
couple of seconds takes a database read off the hot path. Changes made in this
process invalidate at once; other processes see them within the TTL.

Entries age with the platform clock too: when the sandbox clock is advanced
past a rotated secret's grace period, the cached list must not keep it alive.

An expired entry is read again once, however many requests find it expired at the
same moment: they all await that one read. Each reading it for itself sent every
request in flight to the database together every two seconds — with 64 clients on
PostgreSQL, 64 reads queued for 16 threads, and a 50–100 ms stall of every request
that was the create-order's p99.
"""

from __future__ import annotations

import asyncio
import time

from paymux.core.models import Merchant
from paymux.services import merchants
from paymux.store.engine import Store


class KeyCache:
    def __init__(self, store: Store, ttl_s: float = 2.0) -> None:
        self._store = store
        self._ttl = ttl_s
        self._entries: dict[tuple[str, str], tuple[float, Merchant, list[str]]] = {}
        self._generation = 0  # bumped by `invalidate`: a read begun before it is not kept
        self._reading: dict[
            tuple[asyncio.AbstractEventLoop, str, str], asyncio.Task[tuple[Merchant, list[str]]]
        ] = {}

    async def lookup(self, dialect: str, key_id: str) -> tuple[Merchant, list[str]]:
        # The sandbox offset only grows, so adding it ages entries when the clock jumps.
        now = time.monotonic() + self._store.env.clock.offset_s
        hit = self._entries.get((dialect, key_id))
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1], hit[2]
        loop = asyncio.get_running_loop()
        key = (loop, dialect, key_id)
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = loop.create_task(self._read(dialect, key_id, now))
            reading.add_done_callback(lambda done: self._forget(key, done))
        # Shielded: a caller that goes away does not cancel the read the others await.
        return await asyncio.shield(reading)

    async def _read(self, dialect: str, key_id: str, now: float) -> tuple[Merchant, list[str]]:
        generation = self._generation
        merchant, secrets = await self._store.read(merchants.find_by_key, dialect, key_id)
        if generation == self._generation:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[(dialect, key_id)] = (now, merchant, secrets)
        return merchant, secrets

    def _forget(self, key: tuple[asyncio.AbstractEventLoop, str, str], done: asyncio.Task) -> None:
        if self._reading.get(key) is done:
            del self._reading[key]

    async def expired(self, dialect: str, key_id: str) -> list[str]:
        """Recently expired secrets; not cached, asked only after a signature failed."""
        return await self._store.read(merchants.expired_secrets, dialect, key_id)

    def invalidate(self) -> None:
        """Forget every entry, and the reads in flight: the next request reads afresh."""
        self._generation += 1
        self._entries.clear()
        self._reading.clear()
