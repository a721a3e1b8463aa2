"""Calls made on an event loop, run together: one round trip for many requests.

On PostgreSQL + Redis every create-order made two round trips of its own — the nonce's
`SET NX` and the insert — and each cost its request ≈ 100–200 µs of Python (the client,
the greenlet bridge, the socket) and the server a statement and, for the insert, a
commit with its WAL flush. Requests that arrive together can share them: a `Coalescer`
collects the items its callers await and hands them to `run` as one list, which answers
each item (a value, or an exception for that item alone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - the item, beside R, the result
R = TypeVar("R")

Run = Callable[[list[I]], Awaitable[list["R | BaseException"]]]


class _Waiting(Generic[I, R]):
    """One event loop's items not yet taken, and how many of its batches are running."""

    __slots__ = ("items", "running", "tasks")

    def __init__(self) -> None:
        self.items: list[tuple[I, asyncio.Future[R]]] = []
        self.running = 0
        self.tasks: set[asyncio.Task[None]] = set()  # the loop holds its tasks only weakly


class Coalescer(Generic[I, R]):
    """Batches of at most `limit` items, at most `parallel` of them running per loop.

    A call waits for a free batch: while `parallel` batches are running, the items that
    arrive wait and go together in the next one, so batches grow when the other end is
    slow and stay a loop pass long when it is quick (a natural group commit: nobody
    waits for a timer). An exception from `run` itself answers every item of that batch.
    A caller that is cancelled stops waiting; its item still runs if its batch had
    started, as any write that is cancelled after it was sent.
    """

    def __init__(self, run: Run[I, R], *, limit: int, parallel: int) -> None:
        self._run = run
        self._limit = limit
        self._parallel = parallel
        self._loops: dict[asyncio.AbstractEventLoop, _Waiting[I, R]] = {}

    async def __call__(self, item: I) -> R:
        loop = asyncio.get_running_loop()
        waiting = self._loops.get(loop)
        if waiting is None:
            waiting = self._loops[loop] = _Waiting()
        future: asyncio.Future[R] = loop.create_future()
        waiting.items.append((item, future))
        if waiting.running < self._parallel:
            waiting.running += 1
            task = loop.create_task(self._drain(waiting))
            waiting.tasks.add(task)
            task.add_done_callback(waiting.tasks.discard)
        return await future

    async def _drain(self, waiting: _Waiting[I, R]) -> None:
        """Run batches while items wait. Started by a call, it first yields to the loop
        once, so that every call made in the same pass joins its first batch."""
        try:
            await asyncio.sleep(0)
            while waiting.items:
                batch = waiting.items[: self._limit]
                del waiting.items[: self._limit]
                live = [(item, future) for item, future in batch if not future.cancelled()]
                if live:
                    await self._answer(live)
        finally:
            waiting.running -= 1

    async def _answer(self, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._run([item for item, _ in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} items")
        except asyncio.CancelledError:  # the loop is shutting down: nobody is answered
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            outcomes = [exc] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
