"""Access rules applied by every dialect: IP allowlist, and rate limits per merchant and per IP.

A limiter counts requests per key and second: a merchant id, or `ip_key()` of
a client address (the app applies the per-IP limit before routing, so
unauthenticated floods are counted too). In scale mode the counters live in
Redis or the database, so every process enforces one shared limit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Merchant
from paymux.store import tables as t
from paymux.store.engine import Store
from paymux.store.uow import UnitOfWork


def check_ip(merchant: Merchant, ip: str) -> None:
    """Refuse a caller outside the merchant's allowlist (comma-separated IPs/CIDRs; empty = any)."""
    if not merchant.ip_allowlist.strip():
        return
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise PaymuxError(ErrorCode.IP_NOT_ALLOWED, f"IP {ip!r} is not allowed") from None
    for item in merchant.ip_allowlist.split(","):
        item = item.strip()
        if item and address in ipaddress.ip_network(item, strict=False):
            return
    raise PaymuxError(ErrorCode.IP_NOT_ALLOWED, f"IP {ip} is not in the merchant's allowlist")


class RateLimiter(Protocol):
    async def hit(self, key: str, rate: int) -> None:
        """Count one request for `key`; RATE_LIMITED when over `rate` per second (0: no limit)."""
        ...

    async def acquire(self, merchant: Merchant) -> None:
        """Count one request of the merchant against its own limit."""
        ...


def ip_key(ip: str) -> str:
    """The limiter key of a client address (fits the 32-character counter key)."""
    return "ip:" + hashlib.blake2b(ip.encode(), digest_size=14).hexdigest()


def _refuse(rate: int, key: str) -> PaymuxError:
    whose = "per IP address " if key.startswith("ip:") else ""
    return PaymuxError(ErrorCode.RATE_LIMITED, f"rate limit of {rate} requests/s {whose}exceeded")


class LocalRateLimiter:
    """A token bucket per key (burst of one second's worth), for one process."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, rate: int) -> None:
        if rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > 100_000:  # forget idle buckets (full again after 1 s)
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 1}
            tokens, last = self._buckets.get(key, (float(rate), now))
            tokens = min(float(rate), tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                raise _refuse(rate, key)
            self._buckets[key] = (tokens - 1, now)

    async def hit(self, key: str, rate: int) -> None:
        self.check(key, rate)

    async def acquire(self, merchant: Merchant) -> None:
        self.check(merchant.id, merchant.rate_limit_per_s)


class RedisRateLimiter:
    """Shared by every process: a counter per merchant and second in Redis.

    Fixed one-second windows (INCR + EXPIRE) rather than a bucket: one round
    trip, and two processes can never both admit the last request of a second.
    When Redis cannot be reached the request is refused as unavailable rather
    than let through unlimited.
    """

    def __init__(self, client: Redis, prefix: str = "paymux:rl:") -> None:
        self._redis = client
        self._prefix = prefix

    async def hit(self, key: str, rate: int) -> None:
        if rate <= 0:
            return
        counter = f"{self._prefix}{key}:{int(time.time())}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(counter).expire(counter, 2).execute()
        except RedisError:
            raise PaymuxError(ErrorCode.UNAVAILABLE, "rate limiting is unavailable") from None
        if count > rate:
            raise _refuse(rate, key)

    async def acquire(self, merchant: Merchant) -> None:
        await self.hit(merchant.id, merchant.rate_limit_per_s)


def count_request(uow: UnitOfWork, merchant_id: str, window: int) -> int:
    """The key's request count in one-second `window` after counting this one (the column
    is named for merchants; `ip_key()` keys share it)."""
    statement = _COUNT_UPSERT.get(uow.conn.dialect.name)
    if statement is None:
        make = sqlite_insert if uow.conn.dialect.name == "sqlite" else pg_insert
        base = make(t.rate_counters)
        statement = _COUNT_UPSERT[uow.conn.dialect.name] = base.on_conflict_do_update(
            index_elements=["merchant_id", "window"],
            set_={"count": t.rate_counters.c.count + 1},
        ).returning(t.rate_counters.c.count)
    return int(
        uow.conn.execute(
            statement, {"merchant_id": merchant_id, "window": window, "count": 1}
        ).scalar_one()
    )


def prune_rate_counters(uow: UnitOfWork) -> int:
    cutoff = int(uow.env.clock.time()) - 60
    return uow.conn.execute(
        delete(t.rate_counters).where(t.rate_counters.c.window < cutoff)
    ).rowcount


_COUNT_UPSERT: dict[str, Any] = {}


class DbRateLimiter:
    """Shared through the database when several processes run without Redis."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def hit(self, key: str, rate: int) -> None:
        if rate <= 0:
            return
        count = await self._store.write(count_request, key, int(time.time()))
        if count > rate:
            raise _refuse(rate, key)

    async def acquire(self, merchant: Merchant) -> None:
        await self.hit(merchant.id, merchant.rate_limit_per_s)
