"""The store: engines, write/read executors and group commit.

SQLite (embedded): one writer thread owns the only write connection. It drains
every queued write, runs each in its own SAVEPOINT inside one `BEGIN IMMEDIATE`
transaction and commits once, so one fsync acknowledges a whole batch. A
failing job rolls back only its savepoint. Callers are answered only after the
commit is durable. Reads go to a few reader threads with WAL reader
connections; each runs the reads queued together in one read transaction.
An awaiting caller is answered on its event loop, once per batch.

PostgreSQL (scale): each write is its own READ COMMITTED transaction on a
pooled connection, retried on serialization failure or deadlock (the whole
job is rolled back first, so a retry is safe). Reads, and writes marked
`one_statement`, run without BEGIN and COMMIT (autocommit): see `one_statement`.

On both, calls of a function marked `batched` (a create-order) that arrive together
run as one call of its batch form: see `batched`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from anyio import CapacityLimiter
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.store.coalesce import Coalescer
from paymux.store.uow import UnitOfWork

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
MAX_BATCH = 256
# SQLite reader threads, and the reads one of them runs in one transaction: a slow
# read (a report) holds up only the few queued with it and only one thread.
READERS = 4
MAX_READ_BATCH = 16
PG_RETRY_SQLSTATES = {"40001", "40P01"}
PG_GONE_SQLSTATES = {"57P01", "57P02", "57P03"}
IDLE_PING_S = 2.0
# PostgreSQL: threads running transactions at once, per process. Each one parks after
# every round trip and then waits for the GIL again, and each keeps a database backend
# busy on the same cores, so fewer threads make a short transaction cheaper; but a long
# one (a payment: several statements) needs enough of them in flight. A/B on 2 cores, 2
# workers, 64 clients, under load: create-order 368 req/s with 32, 581 with 8, 16 as fast
# as 8; sandbox pay 268 with 32, 185 with 8, and 16 beat 32 (285 vs 217).
PG_THREADS = 16
# PostgreSQL: batches of one `batched` job running at once per event loop. While they
# run, new calls wait and go together in the next one (`Coalescer`).
PG_BATCHES = 4


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _json_text(value: Any) -> str:
    """JSON columns' text. msgspec, not the standard library: `json.dumps` and
    `json.loads` were ≈ 2 µs each per column value, msgspec ≈ 0.2; an order's `extra`
    is read and written in every payment (docs/performance.md)."""
    return msgspec.json.encode(value).decode()


# How every engine reads and writes JSON columns.
_JSON_CODEC: dict[str, Any] = {
    "json_serializer": _json_text,
    "json_deserializer": msgspec.json.decode,
}


def make_engine(url: str, *, writer: bool, synchronous: str = "FULL") -> Engine:
    url = normalize_url(url)
    if not is_sqlite(url):
        # Overflow beyond the threads: timed jobs and other synchronous callers.
        engine = create_engine(url, pool_size=PG_THREADS, max_overflow=PG_THREADS, **_JSON_CODEC)
        _ping_when_idle(engine)
        return engine
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=1 if writer else 8,
        max_overflow=0 if writer else 8,
        connect_args={"check_same_thread": False, "timeout": 30},
        **_JSON_CODEC,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def make_async_engine(url: str) -> AsyncEngine:
    """PostgreSQL for the event loop: psycopg's async connection, driven by SQLAlchemy's
    greenlet bridge, so a service (plain `fn(uow, …)`) runs on the loop's own thread."""
    engine = create_async_engine(
        normalize_url(url), pool_size=PG_THREADS, max_overflow=0, **_JSON_CODEC
    )
    _ping_when_idle(engine.sync_engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use only if it sat idle a while.

    A connection idle across a database restart is dead, and pinging it first turns
    that into a fresh connection instead of a failed request. SQLAlchemy's
    `pool_pre_ping` pings on every checkout — a round trip per transaction, a
    quarter of a create-order's time — while a connection in steady use fails, if
    ever, on its first statement, which the store reports as unavailable (503).
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", time.monotonic()) < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("idle connection is gone") from exc


def one_statement(fn: F) -> F:
    """Mark a job whose every outcome writes with at most one statement, and which is short.

    On PostgreSQL such a job runs in autocommit: no BEGIN and no COMMIT, each a round
    trip of its own, so a create-order that inserts with one statement costs one round
    trip instead of three. That is only the same thing as a transaction when nothing
    needs undoing together: the job may read before and after its write, but it must
    never write twice, nor write and then raise. And it runs on the event loop itself
    (`Store._pg_write_async`, `_pg_read_async`: no thread hop per round trip), which is
    only right for a job of a few statements: a long one would hold up every request
    on that loop. A read job may carry the mark for the second reason alone. SQLite
    ignores the mark (its writer batches jobs anyway).
    """
    fn.one_statement = True  # type: ignore[attr-defined]
    return fn


def batched(many: Callable[[UnitOfWork, list[Any]], list[Any]]) -> Callable[[F], F]:
    """Mark `fn(uow, item)` as one the store may run for many callers at once, as
    `many(uow, items)`: one statement for a whole batch instead of one per request.

    `many` answers every item, in order, with what `fn` would have returned for it or
    the exception `fn` would have raised; an item answered with an exception must have
    written nothing. If `many` raises, what it wrote is undone and each item is run on
    its own with `fn`, so one bad item never fails the others. SQLite's writer runs the
    marked jobs of a batch together (in one savepoint); on PostgreSQL the calls a loop
    makes while its previous batches run are coalesced (`Coalescer`) into one
    transaction: one round trip and one commit for all of them.
    """

    def mark(fn: F) -> F:
        fn.batched = many  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass(slots=True)
class _Job:
    """A queued write. `loop` is set when an event loop awaits it: its asyncio future is
    resolved on that loop, one wake-up per batch (`_resolve`), instead of a thread-safe
    future and a wake-up per job."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Any] | asyncio.Future[Any] = field(default_factory=Future)
    loop: asyncio.AbstractEventLoop | None = None


class _Handover:
    """Jobs awaited on an event loop during one pass of it, queued for the store's threads
    together, in lists of at most `chunk`, at the start of the loop's next pass.

    Putting a job on a queue that a thread is waiting on wakes that thread, and that
    wake-up on every write was the event loop's costliest line for a create-order
    (py-spy); one put per pass also hands the writer fuller batches.
    """

    __slots__ = ("_pending", "chunk", "target")

    def __init__(self, target: queue.SimpleQueue[list[_Job] | None], chunk: int) -> None:
        self.target = target
        self.chunk = chunk
        self._pending: dict[asyncio.AbstractEventLoop, list[_Job]] = {}

    def add(self, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        pending.append(job)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._pending.pop(loop)
        for start in range(0, len(jobs), self.chunk):
            self.target.put(jobs[start : start + self.chunk])


# Put on the queue to start a batch when only write-behind items are waiting; never run.
_WAKE = _Job(lambda _uow: None, ())


class Store:
    """Runs service functions in transactions. `env` is handed to every unit of work."""

    def __init__(self, url: str, env: Any = None, *, synchronous: str = "FULL") -> None:
        self.url = normalize_url(url)
        self.sqlite = is_sqlite(self.url)
        self.env = env
        self.read_engine = make_engine(self.url, writer=False, synchronous=synchronous)
        self.write_engine = (
            make_engine(self.url, writer=True, synchronous=synchronous)
            if self.sqlite
            else self.read_engine
        )
        # PostgreSQL: the same pool, its connections switched to autocommit while checked
        # out (a client-side setting, no round trip). Under READ COMMITTED every statement
        # reads its own snapshot even inside a transaction, so a read job loses nothing
        # without one and saves BEGIN and COMMIT; writes use it only when `one_statement`.
        self._autocommit_engine = (
            self.read_engine
            if self.sqlite
            else self.read_engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._limiter = CapacityLimiter(PG_THREADS)
        # One-statement jobs (a create-order) run on the event loop instead (`write`).
        self._async_engine = None if self.sqlite else make_async_engine(self.url)
        self._async_autocommit = (
            None
            if self._async_engine is None
            else self._async_engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._loop_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._coalescers: dict[Callable[..., Any], Coalescer[Any, Any]] = {}
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._writes = _Handover(self._queue, MAX_BATCH)
        self._behind: dict[Callable[[UnitOfWork, list[Any]], None], list[Any]] = {}
        self._behind_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._reads: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._read_handover = _Handover(self._reads, MAX_READ_BATCH)
        self._readers: list[threading.Thread] = []
        if self.sqlite:
            self._writer = threading.Thread(
                target=self._writer_loop, name="paymux-writer", daemon=True
            )
            self._writer.start()
            self._readers = [
                threading.Thread(target=self._reader_loop, name=f"paymux-reader-{n}", daemon=True)
                for n in range(READERS)
            ]
            for reader in self._readers:
                reader.start()

    # -- public API -------------------------------------------------------------------------

    def write_sync(self, fn: Callable[..., T], *args: Any) -> T:
        if self.sqlite:
            job = _Job(fn, args)
            self._queue.put([job])
            return job.future.result()
        return self._pg_write(fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        if self.sqlite:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[T] = loop.create_future()
            self._writes.add(_Job(fn, args, future, loop), loop)
            return await future
        if getattr(fn, "batched", None) is not None and len(args) == 1:
            return await self._coalescer(fn)(args[0])
        return await self._pg_write_alone(fn, args)

    async def _pg_write_alone(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """A short job on the loop, any other on a transaction thread."""
        if getattr(fn, "one_statement", False):
            return await self._pg_write_async(fn, args)
        return await anyio.to_thread.run_sync(self._pg_write, fn, args, limiter=self._limiter)

    def write_behind(self, fn: Callable[[UnitOfWork, list[Any]], None], item: Any) -> None:
        """Queue `item` for `fn(uow, items)` without waiting (SQLite only).

        The writer calls `fn` once per batch, first in the batch's transaction, with
        every item queued for it since the last batch; so an item commits no later
        than any write queued after it. No job, future or savepoint per item: a
        request's nonce costs its request almost nothing. Failures are logged.
        """
        if not self.sqlite:
            raise RuntimeError("write_behind is for the embedded (SQLite) store")
        with self._behind_lock:
            idle = not self._behind
            self._behind.setdefault(fn, []).append(item)
        if idle:
            self._queue.put([_WAKE])  # the writer may be waiting for a job: give it one

    def read_sync(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            with self._autocommit_engine.connect() as conn:
                return self._read_in(conn, fn, args)
        except DBAPIError as exc:
            if _connection_lost(exc):
                raise _unavailable(exc) from exc
            raise

    async def _pg_read_async(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """A `one_statement` read on the event loop (see `_pg_write_async`)."""
        assert self._async_autocommit is not None
        try:
            async with self._slot(), self._async_autocommit.connect() as conn:
                return await conn.run_sync(self._read_in, fn, args)
        except DBAPIError as exc:
            if _connection_lost(exc):
                raise _unavailable(exc) from exc
            raise

    def _read_in(self, conn: Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with conn.begin():
            return fn(UnitOfWork(conn, self.env), *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        if self.sqlite:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[T] = loop.create_future()
            self._read_handover.add(_Job(fn, args, future, loop), loop)
            return await future
        if getattr(fn, "one_statement", False):
            return await self._pg_read_async(fn, args)
        return await anyio.to_thread.run_sync(self.read_sync, fn, *args, limiter=self._limiter)

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=10)
            self._writer = None
        for _ in self._readers:
            self._reads.put(None)
        for reader in self._readers:
            reader.join(timeout=10)
        self._readers = []
        self.write_engine.dispose()
        self.read_engine.dispose()
        if self._async_engine is not None:
            # Closing an async connection needs its event loop, which may be gone by now:
            # the pool lets go of them and their sockets close when they are collected.
            self._async_engine.sync_engine.dispose(close=False)

    # -- SQLite group commit ------------------------------------------------------------------

    def _writer_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = list(first)
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    jobs = self._queue.get_nowait()
                except queue.Empty:
                    break
                if jobs is None:
                    stop = True
                    break
                batch.extend(jobs)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Job]) -> None:
        # Taken after the batch's jobs were queued, so it holds every item queued before them.
        with self._behind_lock:
            behind, self._behind = self._behind, {}
        batch = [job for job in batch if job is not _WAKE]
        if not (batch or behind):
            return
        results: list[tuple[_Job, Any, BaseException | None]] = []
        committed: list[UnitOfWork] = []
        try:
            with self.write_engine.connect() as conn, conn.begin():
                # Savepoints straight on the driver connection: SQLAlchemy's begin_nested
                # costs more than the job itself on this path.
                raw = conn.connection.driver_connection
                for fn, items in behind.items():
                    raw.execute("SAVEPOINT job")
                    try:
                        fn(UnitOfWork(conn, self.env), items)
                    except Exception:
                        raw.execute("ROLLBACK TO job")
                        logging.getLogger("paymux.store").exception("background write failed")
                    raw.execute("RELEASE job")
                singles, groups = _grouped(batch)
                for many, jobs in groups.items():
                    uow = UnitOfWork(conn, self.env)
                    raw.execute("SAVEPOINT job")
                    try:
                        outcomes = many(uow, [job.args[0] for job in jobs])
                        pairs = zip(jobs, outcomes, strict=True)
                        answers = [_result(job, outcome) for job, outcome in pairs]
                    except Exception:  # the group undone, its jobs run one by one below
                        raw.execute("ROLLBACK TO job")
                        raw.execute("RELEASE job")
                        _batch_failed(len(jobs))
                        singles += jobs
                        continue
                    raw.execute("RELEASE job")
                    committed.append(uow)
                    results += answers
                for job in singles:
                    uow = UnitOfWork(conn, self.env)
                    raw.execute("SAVEPOINT job")
                    try:
                        value = job.fn(uow, *job.args)
                    except Exception as exc:  # one failing job never fails the batch
                        raw.execute("ROLLBACK TO job")
                        raw.execute("RELEASE job")
                        results.append((job, None, exc))
                        continue
                    raw.execute("RELEASE job")
                    committed.append(uow)
                    results.append((job, value, None))
        except Exception as exc:  # the commit itself failed: nobody is acknowledged
            results = [(job, None, _unavailable(exc)) for job in batch]
            committed = []
        _answer(results)
        for uow in committed:
            uow.run_after_commit()

    def _reader_loop(self) -> None:
        while True:
            first = self._reads.get()
            if first is None:
                return
            batch = list(first)
            while len(batch) < MAX_READ_BATCH:
                try:
                    jobs = self._reads.get_nowait()
                except queue.Empty:
                    break
                if jobs is None:  # every reader needs its own stop signal: leave it there
                    self._reads.put(None)
                    break
                batch.extend(jobs)
            results: list[tuple[_Job, Any, BaseException | None]] = []
            try:
                with self.read_engine.connect() as conn, conn.begin():
                    for job in batch:
                        uow = UnitOfWork(conn, self.env)
                        try:
                            results.append((job, job.fn(uow, *job.args), None))
                        except Exception as exc:
                            results.append((job, None, exc))
            except Exception as exc:  # the transaction itself failed: answer the rest with it
                answered = {id(job) for job, _, _ in results}
                results += [(job, None, exc) for job in batch if id(job) not in answered]
            _answer(results)

    # -- PostgreSQL ---------------------------------------------------------------------------

    def _pg_write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        engine = (
            self._autocommit_engine if getattr(fn, "one_statement", False) else self.write_engine
        )
        for attempt in range(8):
            try:
                with engine.connect() as conn:
                    value, uow = self._write_in(conn, fn, args)
            except DBAPIError as exc:
                _raise_unless_retryable(exc, attempt)
                continue
            uow.run_after_commit()
            return value
        raise AssertionError("unreachable")

    async def _pg_write_async(
        self, fn: Callable[..., T], args: tuple[Any, ...], *, transaction: bool = False
    ) -> T:
        """A `one_statement` job on the event loop itself, in autocommit.

        The statement's round trip is awaited, so no thread is woken and no GIL is
        handed over for it (with a thread, each round trip parked it and woke it again):
        ≈ 10 % more create-orders per second with two workers. Only a job bounded to one
        statement runs here; a longer one (a payment, a report, a timed job) would hold
        up every request on the loop while it ran, so those keep their threads. A batch
        (`batched`) writes many rows and runs as a `transaction` instead.
        """
        engine = self._async_engine if transaction else self._async_autocommit
        assert engine is not None
        for attempt in range(8):
            try:
                async with self._slot(), engine.connect() as conn:
                    value, uow = await conn.run_sync(self._write_in, fn, args)
            except DBAPIError as exc:
                _raise_unless_retryable(exc, attempt)
                continue
            uow.run_after_commit()
            return value
        raise AssertionError("unreachable")

    def _coalescer(self, fn: Callable[..., T]) -> Coalescer[Any, T]:
        coalescer = self._coalescers.get(fn)
        if coalescer is None:
            coalescer = self._coalescers[fn] = Coalescer(
                lambda items: self._pg_write_batch(fn, items), limit=MAX_BATCH, parallel=PG_BATCHES
            )
        return coalescer

    async def _pg_write_batch(self, fn: Callable[..., T], items: list[Any]) -> list[Any]:
        """Outcomes of `fn` for `items`: one transaction by `fn.batched`, or, if that
        fails (a bad item, a bug), each item on its own; with the database away, every
        item is answered UNAVAILABLE at once."""
        if len(items) > 1:
            try:
                return await self._pg_write_async(fn.batched, (items,), transaction=True)  # type: ignore[attr-defined]
            except PaymuxError as exc:
                if exc.code is ErrorCode.UNAVAILABLE:  # alone, each would only find that out
                    return [exc] * len(items)
                _batch_failed(len(items))
            except Exception:
                _batch_failed(len(items))
        outcomes: list[Any] = []
        for item in items:
            try:
                outcomes.append(await self._pg_write_alone(fn, (item,)))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _slot(self) -> asyncio.Semaphore:
        """The event loop's turn at the async pool, first come first served.

        Waiting in the pool itself is not fair: a connection given back is taken by
        whichever job asks next on the loop, before the job that has waited longest is
        woken, and with 64 clients on one process some creates waited half a second
        (p99 ≈ 550 ms against a p50 of 35 ms). asyncio's semaphore wakes its waiters in
        order and lets none jump the queue; it admits as many jobs as the pool has
        connections, so the pool never has a waiter.
        """
        loop = asyncio.get_running_loop()
        slots = self._loop_slots.get(loop)
        if slots is None:
            slots = self._loop_slots[loop] = asyncio.Semaphore(PG_THREADS)
        return slots

    def _write_in(
        self, conn: Connection, fn: Callable[..., T], args: tuple[Any, ...]
    ) -> tuple[T, UnitOfWork]:
        with conn.begin():
            uow = UnitOfWork(conn, self.env)
            return fn(uow, *args), uow


def _raise_unless_retryable(exc: DBAPIError, attempt: int) -> None:
    """A serialization failure or deadlock is tried again (eight times in all); a lost
    connection is the database being unavailable; anything else is the caller's."""
    if getattr(exc.orig, "sqlstate", None) in PG_RETRY_SQLSTATES and attempt < 7:
        return
    if _connection_lost(exc):
        raise _unavailable(exc) from exc
    raise exc


def _grouped(
    batch: list[_Job],
) -> tuple[list[_Job], dict[Callable[[UnitOfWork, list[Any]], list[Any]], list[_Job]]]:
    """A batch's jobs to run alone, and its `batched` jobs by what runs them together
    (a group of one runs alone: it gains nothing)."""
    singles: list[_Job] = []
    groups: dict[Callable[[UnitOfWork, list[Any]], list[Any]], list[_Job]] = {}
    for job in batch:
        many = getattr(job.fn, "batched", None)
        if many is None or len(job.args) != 1:
            singles.append(job)
        else:
            groups.setdefault(many, []).append(job)
    for many, jobs in list(groups.items()):
        if len(jobs) == 1:
            singles += groups.pop(many)
    return singles, groups


def _batch_failed(size: int) -> None:
    """Logged with its cause: a batch should not fail (its commands were validated), and
    running its commands one by one costs what batching saved."""
    logging.getLogger("paymux.store").warning(
        "a batch of %d failed; running its commands one by one", size, exc_info=True
    )


def _result(job: _Job, outcome: Any) -> tuple[_Job, Any, BaseException | None]:
    if isinstance(outcome, BaseException):
        return job, None, outcome
    return job, outcome, None


def _answer(results: list[tuple[_Job, Any, BaseException | None]]) -> None:
    """Hand each job its result: thread-safe futures at once, awaiting event loops in one
    call per loop."""
    waiting: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any, BaseException | None]]] = {}
    for job, value, error in results:
        if job.loop is not None:
            waiting.setdefault(job.loop, []).append((job, value, error))
        elif error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)
    for loop, answers in waiting.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
            loop.call_soon_threadsafe(_resolve, answers)


def _resolve(answers: list[tuple[_Job, Any, BaseException | None]]) -> None:
    """On the awaiting loop: answer a batch's callers (a cancelled caller is skipped)."""
    for job, value, error in answers:
        if job.future.done():
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)


def _connection_lost(exc: DBAPIError) -> bool:
    """The database is away (down, restarting, connection cut), not the request at fault.

    No connection at all (no SQLSTATE), a connection-class error (08…), a
    server shutting down or starting up (57P01–57P03), or a connection
    SQLAlchemy recognised as dead: each is UNAVAILABLE, a 503 in every dialect.
    """
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if exc.connection_invalidated or sqlstate in PG_GONE_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and (sqlstate is None or sqlstate.startswith("08"))


def _unavailable(exc: BaseException) -> PaymuxError:
    error = PaymuxError(ErrorCode.UNAVAILABLE, "storage unavailable, try again")
    error.__cause__ = exc
    return error
