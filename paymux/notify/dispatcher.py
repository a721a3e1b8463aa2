"""The dispatcher: delivers due outbox rows and runs the timed jobs, in one asyncio loop.

Happy path: a service commits a notification, the store calls
`env.wake_dispatcher` after the commit (from the SQLite writer thread or a
PostgreSQL worker thread, hence `call_soon_threadsafe`), and the delivery loop
claims the row and sends it at once. Everything else is found by a slow
fallback: the loop sleeps until the next scheduled retry or `poll_s`, which
covers rows written by other processes, leases of dead workers running out,
and redeliveries made from the CLI.

The same class runs embedded in `paymux serve` (started and stopped with the
app) and in each `paymux worker` process. Claims are leases in the database,
so any number of them can run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.logs import log
from paymux.notify import outbox
from paymux.notify.config import NotifyConfig
from paymux.notify.delivery import Deliverer
from paymux.notify.jobs import JOBS, Job
from paymux.notify.metrics import NotifyMetrics
from paymux.services import platform

if TYPE_CHECKING:
    from paymux.context import Context


# An attempt made and waiting for its batched record: claim, result, schedule, outcome.
_Unrecorded = tuple[outbox.Claim, outbox.AttemptResult, tuple[float, ...], asyncio.Future[str]]

# Longest wait between two tries while the database stays away (at least poll_s).
MAX_BACKOFF_S = 10.0


def _unavailable(exc: BaseException) -> bool:
    """The store's word for "the database is away" (down, restarting, connection cut)."""
    return isinstance(exc, PaymuxError) and exc.code is ErrorCode.UNAVAILABLE


class Outage:
    """One streak of failures to reach the database, shared by the dispatcher's loops.

    While the database is down every claim, clock read and job fails. Logged
    each with its traceback, that was several tracebacks a second for as long as
    the outage lasted, burying everything else in the log. A streak logs its
    first failure with the traceback, then at most one short
    `notify_db_still_down` line per backoff step, and one `notify_db_recovered`
    line at the first success. The loops back off too: each try waits as long
    as the outage has lasted so far (at least `base_s`, at most `cap_s`), so a
    blip is retried within a second and a long outage costs a try every `cap_s`.
    Call `failed` from inside the `except` block (it logs the exception being
    handled).
    """

    def __init__(self, base_s: float, cap_s: float, on_recovery: Callable[[], None]) -> None:
        self._base_s = base_s
        self._cap_s = max(cap_s, base_s)
        self._on_recovery = on_recovery
        self._since: float | None = None
        self._failures = 0
        self._next_report = 0.0

    @property
    def down(self) -> bool:
        return self._since is not None

    def retry_in(self) -> float:
        """How long a loop should wait before its next try (`base_s` when not down)."""
        if self._since is None:
            return self._base_s
        return min(max(self._base_s, time.monotonic() - self._since), self._cap_s)

    def failed(self, event: str, **fields: Any) -> float:
        """Log the exception being handled as the streak calls for; returns `retry_in()`."""
        now = time.monotonic()
        self._failures += 1
        if self._since is None:
            self._since = now
            log.exception(event, **fields)
            self._next_report = now + self.retry_in()
        elif now >= self._next_report:
            exc = sys.exc_info()[1]
            log.warning(
                "notify_db_still_down",
                during=event,
                failures=self._failures,
                down_s=round(now - self._since, 1),
                error=f"{type(exc).__name__}: {exc}",
                **fields,
            )
            self._next_report = now + self.retry_in()
        return self.retry_in()

    def succeeded(self) -> None:
        """The database answered: end the streak (one line) and wake the loops backing off."""
        if self._since is None:
            return
        log.warning(
            "notify_db_recovered",
            failures=self._failures,
            down_s=round(time.monotonic() - self._since, 1),
        )
        self._since, self._failures, self._next_report = None, 0, 0.0
        self._on_recovery()


class Dispatcher:
    def __init__(
        self,
        ctx: Context,
        config: NotifyConfig | None = None,
        jobs: Iterable[Job] | None = None,
    ) -> None:
        self.ctx = ctx
        self.config = config or NotifyConfig.from_settings(ctx.settings)
        self.metrics = NotifyMetrics(ctx.store)
        self._jobs = list(JOBS.values() if jobs is None else jobs)
        self._next_run: dict[str, float] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        # Claimed rows not started yet, per merchant (in the order merchants came).
        self._ready: dict[str, deque[outbox.Claim]] = {}
        # Attempts in flight per merchant, and merchants whose share stopped a claim.
        self._active: Counter[str] = Counter()
        self._capped: frozenset[str] = frozenset()
        self._half_batch = max(1, self.config.concurrency // 2)
        self._share = self.config.slots_per_merchant
        # Rows one merchant may hold: its share in flight and two more in reserve, so that
        # a merchant delivering a backlog alone is claimed for two shares at a time.
        self._hold = 3 * self._share
        self._backlog = False
        self._stopping = False
        self._loops: list[asyncio.Task[None]] = []
        self._previous_wake: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Made again in start(): an Event binds to the loop that first waits on it.
        self._wake = asyncio.Event()
        self._tick = asyncio.Event()
        self._job_lock = asyncio.Lock()
        self._deliverer: Deliverer | None = None
        self._unrecorded: list[_Unrecorded] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self._outage = Outage(self.config.poll_s, MAX_BACKOFF_S, self._wake_loops)

    @property
    def job_names(self) -> list[str]:
        return [job.name for job in self._jobs]

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake, self._tick, self._job_lock = asyncio.Event(), asyncio.Event(), asyncio.Lock()
        self._stopping = False
        self._deliverer = Deliverer(
            self.ctx.env.clock,
            timeout_s=self.config.timeout_s,
            max_connections=self.config.concurrency,
            max_reply_bytes=self.config.max_reply_bytes,
            allow_private=self.config.allow_private,
        )
        self._previous_wake = self.ctx.env.wake_dispatcher
        self.ctx.env.wake_dispatcher = self.wake
        if self.ctx.sandbox:
            self.ctx.on_clock_advance.append(self.catch_up)
        self._loops = [
            asyncio.create_task(self._deliver_loop(), name="paymux-notify-deliver"),
            asyncio.create_task(self._jobs_loop(), name="paymux-notify-jobs"),
        ]

    async def stop(self) -> None:
        """Stop claiming, let attempts in flight finish (each is bounded by the timeout)."""
        if self._loop is None:
            return
        self._stopping = True
        if self._previous_wake is not None:
            self.ctx.env.wake_dispatcher = self._previous_wake
        if self.catch_up in self.ctx.on_clock_advance:
            self.ctx.on_clock_advance.remove(self.catch_up)
        self._wake.set()
        self._tick.set()
        # The loops are never cancelled mid-claim (a claimed row would sit leased until
        # the lease ran out); they see `_stopping` after their current step.
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._ready:  # claimed, never started: free them for the next dispatcher now
            reserved = [claim for queue in self._ready.values() for claim in queue]
            self._ready = {}
            try:
                await self.ctx.store.write(outbox.release, reserved)
            except Exception:  # their leases run out instead
                log.exception("notify_release_failed")
        if self._inflight:
            _, stuck = await asyncio.wait(set(self._inflight), timeout=self.config.timeout_s + 5)
            for task in stuck:  # only if recording hangs: the lease covers these rows
                task.cancel()
        if self._deliverer is not None:
            await self._deliverer.close()
        self._loop = None

    def _wake_loops(self) -> None:
        """Both loops try again now (the database is back after they backed off)."""
        self._wake.set()
        self._tick.set()

    def wake(self) -> None:
        """Thread-safe: called after a commit that wrote outbox rows or redelivered some."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while we were shutting down
            loop.call_soon_threadsafe(self._wake.set)

    # -- deliveries ---------------------------------------------------------------------------
    #
    # Rows are claimed in batches of up to twice the concurrency: the slots in use plus
    # one batch in reserve (`_ready`). A finishing attempt starts the next reserved row
    # at once, and claims (each one a commit) stay few and large. A reserved row is only
    # started while its lease still covers a whole attempt.
    #
    # Each merchant gets the same on a smaller scale: at most `_share` attempts in flight
    # and two shares in reserve. A merchant whose endpoint hangs therefore holds a quarter
    # of the slots (by default) for one timeout, never all of them, and the rest keep
    # delivering everyone else's rows; its own rows wait their turn. Its reserve waits
    # for its own slots, not for everyone's, so it does not count against the room
    # left for claiming other merchants' rows.

    async def _deliver_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            wait_s = await self._top_up()
            if self._stopping:
                return
            if wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        await self._wake.wait()

    def _room(self) -> int:
        waiting = sum(
            len(queue)
            for merchant_id, queue in self._ready.items()
            if self._active[merchant_id] < self._share
        )
        return 2 * self.config.concurrency - len(self._inflight) - waiting

    def _held(self, merchant_id: str) -> int:
        queue = self._ready.get(merchant_id)
        return self._active[merchant_id] + (len(queue) if queue else 0)

    async def _top_up(self) -> float:
        """Claim once half a batch fits; returns how long to sleep if nothing wakes us."""
        poll_s = self.config.poll_s
        room = self._room()
        if room < self._half_batch:
            self._backlog = True  # finishing attempts wake the loop
            return poll_s
        try:
            claims, next_due = await self._claim(room)
        except Exception:  # the database is away: keep the loop alive and try later
            return self._outage.failed("notify_claim_failed")
        self._outage.succeeded()
        self._backlog = len(claims) == room
        if self._backlog or next_due is None:
            return poll_s
        return min(poll_s, max(0.0, (next_due - self.ctx.env.clock.now()).total_seconds()))

    async def _claim(self, limit: int) -> tuple[list[outbox.Claim], datetime | None]:
        held = {merchant: self._held(merchant) for merchant in {*self._active, *self._ready}}
        claimed = await self.ctx.store.write(
            partial(outbox.claim_due, per_merchant=self._hold, held=held),
            tuple(self.ctx.env.notifiers),
            limit,
            self.config.lease_s,
        )
        self._capped = claimed.capped
        for claim in claimed.claims:
            self._ready.setdefault(claim.merchant_id, deque()).append(claim)
        self._start_ready()
        return claimed.claims, claimed.next_due

    def _start_ready(self) -> None:
        """Start reserved rows while slots are free: merchants take turns, each within its share."""
        concurrency = self.config.concurrency
        started = True
        while started and not self._stopping and len(self._inflight) < concurrency:
            started = False
            for merchant_id in list(self._ready):
                if len(self._inflight) >= concurrency:
                    return
                if self._active[merchant_id] >= self._share:
                    continue
                queue = self._ready[merchant_id]
                claim = queue.popleft()
                if not queue:
                    del self._ready[merchant_id]
                started = True
                left_s = (claim.lease_until - outbox.real_now()).total_seconds()
                if left_s <= self.config.timeout_s:
                    continue  # the attempt could outlive the lease; left to be claimed again
                self._active[merchant_id] += 1
                task = asyncio.create_task(self._attempt(claim))
                self._inflight.add(task)
                task.add_done_callback(partial(self._finished, merchant_id))

    def _finished(self, merchant_id: str, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._active[merchant_id] -= 1
        if not self._active[merchant_id]:
            del self._active[merchant_id]
        self._start_ready()
        if self._backlog and self._room() >= self._half_batch:
            self._wake.set()
        elif merchant_id in self._capped and self._held(merchant_id) <= self._share:
            # Two shares of what it may hold are free again, and rows of its were left behind.
            self._capped = self._capped - {merchant_id}
            self._wake.set()

    async def _attempt(self, claim: outbox.Claim) -> None:
        assert self._deliverer is not None
        policy = self.ctx.env.notifiers[claim.dialect].policy
        result = await self._deliverer.attempt(claim, policy)
        try:
            outcome = await self._record(claim, result, policy.delays_s)
        except Exception:  # not recorded: the lease runs out and the attempt is made again
            self._outage.failed("notify_record_failed", notification_id=claim.id)
            return
        self.metrics.delivery(claim.dialect, outcome, result.latency_ms / 1000)
        if outcome != "delivered":
            log.info(
                "notify_attempt",
                notification_id=claim.id,
                attempt=claim.attempts + 1,
                outcome=outcome,
                error=result.error,
            )

    def _record(
        self, claim: outbox.Claim, result: outbox.AttemptResult, delays_s: tuple[float, ...]
    ) -> asyncio.Future[str]:
        """Queue the attempt for the next batched write; the future gives its outcome.

        Attempts that finish in the same turn of the event loop are recorded in
        one write: one job for the store instead of one per attempt, which is
        most of the cost of recording at thousands of deliveries per second.
        """
        assert self._loop is not None
        future: asyncio.Future[str] = self._loop.create_future()
        self._unrecorded.append((claim, result, delays_s, future))
        if len(self._unrecorded) == 1:
            self._loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        batch, self._unrecorded = self._unrecorded, []
        task = asyncio.create_task(self._write_records(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _write_records(self, batch: list[_Unrecorded]) -> None:
        try:
            outcomes = await self.ctx.store.write(
                outbox.record_attempts,
                [(claim, result, delays) for claim, result, delays, _ in batch],
            )
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():  # its attempt was cancelled while stopping
                future.set_result(outcome)

    # -- timed jobs and the clock ------------------------------------------------------------

    async def _jobs_loop(self) -> None:
        while not self._stopping:
            self._tick.clear()
            if await self._follow_clock():
                await self.run_jobs(due_only=True)
            now = self.ctx.env.clock.time()
            wait_s = min(
                [self.config.poll_s]
                + [self._next_run.get(job.name, now) - now for job in self._jobs]
            )
            if self._outage.down:  # due jobs stay due; try again after the backoff
                wait_s = self._outage.retry_in()
            if wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        await self._tick.wait()

    async def _follow_clock(self) -> bool:
        """Pick up a sandbox clock advance made through another process; False if unreadable."""
        if not self.ctx.sandbox:
            return True
        try:
            offset = await self.ctx.store.read(platform.clock_offset)
        except Exception:
            self._outage.failed("notify_clock_read_failed")
            return False
        self._outage.succeeded()
        if offset > self.ctx.env.clock.offset_s:
            self.ctx.env.clock.set_offset(offset)
            self._wake.set()
            self._next_run.clear()
        return True

    async def run_jobs(self, *, due_only: bool) -> None:
        """Run the jobs whose time has come (or all of them); a failing job is logged, not fatal.

        When the database is away the round stops at the first job that finds
        out (the others would fail alike); they stay due for the next round.
        """
        async with self._job_lock:
            for job in self._jobs:
                now = self.ctx.env.clock.time()
                if due_only and self._next_run.get(job.name, now) > now:
                    continue
                try:
                    count = await job.run(self.ctx)
                except Exception as exc:
                    self.metrics.job(job.name, "error")
                    if _unavailable(exc):
                        self._outage.failed("job_failed", job=job.name)
                        return
                    self._next_run[job.name] = now + job.every_s
                    log.exception("job_failed", job=job.name)
                    continue
                self._next_run[job.name] = now + job.every_s
                self._outage.succeeded()
                self.metrics.job(job.name, "ok")
                if count:
                    log.info("job", job=job.name, count=count)

    async def catch_up(self) -> None:
        """After a sandbox clock advance: run every job, then attempt everything due now.

        Returns when no claimable row is due any more, so a test can assert
        right after `POST /sandbox/v1/clock/advance`. Bounded by the attempt
        timeout plus 5 s; whatever is left then is delivered in the background.
        """
        await self.run_jobs(due_only=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout_s + 5
        while not self._stopping and loop.time() < deadline:
            room = self._room()
            claims = (await self._claim(room))[0] if room > 0 else []
            if self._inflight:
                await asyncio.wait(set(self._inflight), timeout=deadline - loop.time())
            elif room > 0 and not claims and not self._ready:
                return
