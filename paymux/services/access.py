"""Per-merchant access rules applied by every dialect: IP allowlist and rate limit."""

from __future__ import annotations

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
    async def acquire(self, merchant: Merchant) -> None:
        """Count one request of the merchant; RATE_LIMITED when over its per-second limit."""
        ...


def _refuse(rate: int) -> PaymuxError:
    return PaymuxError(ErrorCode.RATE_LIMITED, f"rate limit of {rate} requests/s exceeded")


class LocalRateLimiter:
    """A token bucket per merchant (burst of one second's worth), for one process."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, merchant: Merchant) -> None:
        rate = merchant.rate_limit_per_s
        if rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(merchant.id, (float(rate), now))
            tokens = min(float(rate), tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[merchant.id] = (tokens, now)
                raise _refuse(rate)
            self._buckets[merchant.id] = (tokens - 1, now)

    async def acquire(self, merchant: Merchant) -> None:
        self.check(merchant)


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

    async def acquire(self, merchant: Merchant) -> None:
        rate = merchant.rate_limit_per_s
        if rate <= 0:
            return
        key = f"{self._prefix}{merchant.id}:{int(time.time())}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(key).expire(key, 2).execute()
        except RedisError:
            raise PaymuxError(ErrorCode.UNAVAILABLE, "rate limiting is unavailable") from None
        if count > rate:
            raise _refuse(rate)


def count_request(uow: UnitOfWork, merchant_id: str, window: int) -> int:
    """The merchant's request count in one-second `window` after counting this one."""
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

    async def acquire(self, merchant: Merchant) -> None:
        rate = merchant.rate_limit_per_s
        if rate <= 0:
            return
        count = await self._store.write(count_request, merchant.id, int(time.time()))
        if count > rate:
            raise _refuse(rate)
