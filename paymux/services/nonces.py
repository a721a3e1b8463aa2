"""Replay protection: a nonce is accepted once per scope within its window.

The database store works across processes and survives restarts; a Redis
store (scale mode) plugs in behind the same `NonceStore` protocol.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Protocol

from rbloom import Bloom
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.store import tables as t
from paymux.store.coalesce import Coalescer
from paymux.store.engine import Store
from paymux.store.sql import Prepared, insert_ignore
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


_RECORD = Prepared(
    sqlite_insert(t.nonces).on_conflict_do_update(
        index_elements=[N.scope, N.nonce],
        set_={"expires_at": sqlite_insert(t.nonces).excluded.expires_at},
    )
)


def record_nonces(uow: UnitOfWork, used: list[tuple[str, str, datetime]]) -> None:
    """Keep nonces the embedded store already accepted in memory (SQLite): one statement per
    batch; a row left from an earlier, expired use of the same nonce is renewed."""
    _RECORD.many(uow.conn, [{"scope": s, "nonce": n, "expires_at": e} for s, n, e in used])


def prune_nonces(uow: UnitOfWork) -> int:
    return uow.conn.execute(delete(t.nonces).where(N.expires_at <= uow.env.clock.now())).rowcount


def active_nonces(uow: UnitOfWork, limit: int) -> list[tuple[str, str, datetime]]:
    """The `limit` nonces that stay inside their window longest, latest expiry first."""
    rows = uow.conn.execute(
        select(N.scope, N.nonce, N.expires_at)
        .where(N.expires_at > uow.env.clock.now())
        .order_by(N.expires_at.desc())
        .limit(limit)
    ).all()
    return [(r.scope, r.nonce, r.expires_at) for r in rows]


_LIVE = Prepared(
    select(N.nonce).where(
        N.scope == bindparam("s"), N.nonce == bindparam("n"), N.expires_at > bindparam("now")
    )
)


def nonce_in_use(uow: UnitOfWork, scope: str, nonce: str) -> bool:
    """Whether the table holds (scope, nonce) inside its window."""
    params = {"s": scope, "n": nonce, "now": uow.env.clock.now()}
    return _LIVE.first(uow.conn, params) is not None


class EmbeddedNonceStore:
    """One process on SQLite: memory decides, the table keeps nonces across restarts.

    A new nonce is written behind (`Store.write_behind`): it commits with the
    writer's next batch, no later than the request's own write, so by the time
    that request is acknowledged its nonce is durable too. This saves a whole
    commit round-trip per request, and a job of its own per nonce.

    Memory holds at most MEMORY_NONCES, oldest dropped first (each request costs
    O(1): at 4,000 requests/s a ten-minute window is 2.4 M live nonces, which
    would be hundreds of MB, and pruning them all on every request once there
    were 100,000 of them stalled the server). A nonce dropped while still inside
    its window goes into a Bloom filter for its slice of expiry time, ≈ 2 bytes a
    nonce; a slice is thrown away once all its nonces have expired. A nonce
    memory does not hold is looked up in the table only when a filter says it may
    have been dropped (or, after a start, while the table may hold live nonces
    that were not loaded): looking up every one had made each request under
    sustained load cost ≈ 40 % more once memory was full (docs/performance.md).
    """

    # ≈ 14 MB. A dropped nonce still refuses a replay through the table once its write
    # behind has committed; as each request waits for its own write, which follows its
    # nonce's, that many requests would have to be in flight at once to outrun it.
    MEMORY_NONCES = 50_000
    # Each filter covers nonces expiring within one slice of this many seconds, and is
    # sized for SLICE_NONCES of them at 0.1 % false positives (≈ 0.9 MB): ten minutes'
    # worth at 6,000 requests/s. More make it answer "may have" more often, never wrongly.
    SLICE_S = 60
    SLICE_NONCES = 500_000

    def __init__(self, store: Store) -> None:
        self._store = store
        self._clock = store.env.clock
        self._seen: dict[tuple[str, str], float] = {}
        self._order: deque[tuple[float, tuple[str, str]]] = deque()  # oldest first
        self._table_until = 0.0  # the table may hold live nonces nothing here knows of until then
        self._dropped: dict[int, Bloom] = {}  # expiry slice → live nonces memory let go of
        self._prune_at = 0.0
        loaded = store.read_sync(active_nonces, self.MEMORY_NONCES)
        for scope, nonce, expires in reversed(loaded):
            self._remember((scope, nonce), expires.replace(tzinfo=UTC).timestamp())
        if len(loaded) == self.MEMORY_NONCES:
            self._table_until = self._order[0][0]

    async def use(self, scope: str, nonce: str, ttl_s: int) -> bool:
        now = self._clock.time()
        key = (scope, nonce)
        if self._seen.get(key, 0.0) > now:
            return False
        if now < self._table_until or any(key in bloom for bloom in self._dropped.values()):
            in_table = await self._store.read(nonce_in_use, scope, nonce)
            if in_table or self._seen.get(key, 0.0) > now:  # or taken while we waited
                return False
        self._forget(now)
        self._remember(key, now + ttl_s)
        expires = datetime.fromtimestamp(now + ttl_s, UTC).replace(tzinfo=None)
        self._store.write_behind(record_nonces, (scope, nonce, expires))
        return True

    def _remember(self, key: tuple[str, str], expires: float) -> None:
        self._seen[key] = expires
        self._order.append((expires, key))

    def _forget(self, now: float) -> None:
        """Drop expired nonces, and the oldest live ones while memory is full."""
        order, seen = self._order, self._seen
        while order and (order[0][0] <= now or len(seen) >= self.MEMORY_NONCES):
            expires, key = order.popleft()
            if seen.get(key) != expires:  # used again since: a later entry stands for it
                continue
            del seen[key]
            if expires > now:
                self._drop(key, expires)
        if self._dropped and now >= self._prune_at:
            self._prune_at = now + 1.0
            for slice_ in [s for s in self._dropped if (s + 1) * self.SLICE_S <= now]:
                del self._dropped[slice_]

    def _drop(self, key: tuple[str, str], expires: float) -> None:
        slice_ = int(expires // self.SLICE_S)
        bloom = self._dropped.get(slice_)
        if bloom is None:
            bloom = self._dropped[slice_] = Bloom(self.SLICE_NONCES, 0.001)
        bloom.add(key)


class DbNonceStore:
    """Several processes: the nonce table's primary key decides."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def use(self, scope: str, nonce: str, ttl_s: int) -> bool:
        return await self._store.write(use_nonce, scope, nonce, ttl_s)


class RedisNonceStore:
    """Scale mode: `SET key 1 NX EX ttl` in Redis, shared by every process.

    The nonces of requests that arrive together go in one pipeline (`Coalescer`): one
    round trip for all of them instead of one per request, which was ≈ 14 % of a
    create-order's CPU on PostgreSQL + Redis. Redis runs a pipeline's commands in
    order, so a nonce sent twice in one pipeline is accepted once. If Redis cannot be
    reached the request is refused as unavailable: falling back to another store could
    accept a nonce that Redis already holds.
    """

    def __init__(self, client: Redis, prefix: str = "paymux:nonce:") -> None:
        self._redis = client
        self._prefix = prefix
        self._set = Coalescer(self._set_all, limit=256, parallel=4)

    async def use(self, scope: str, nonce: str, ttl_s: int) -> bool:
        return await self._set((f"{self._prefix}{scope}:{nonce}", ttl_s))

    async def _set_all(self, keys: list[tuple[str, int]]) -> list[bool | BaseException]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, ttl_s in keys:
                    pipe.set(key, b"1", nx=True, ex=ttl_s)
                return [bool(done) for done in await pipe.execute()]
        except RedisError:
            raise PaymuxError(ErrorCode.UNAVAILABLE, "replay protection is unavailable") from None
