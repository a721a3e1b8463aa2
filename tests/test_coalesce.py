"""`Coalescer`: calls awaited together run as one batch, each caller gets its own outcome."""

from __future__ import annotations

import asyncio

import pytest

from paymux.store.coalesce import Coalescer


class Recorder:
    """A batch function that doubles numbers, refuses negatives one by one, and can be held
    open (to see what waits while a batch runs) or made to fail as a whole."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_with: Exception | None = None

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return [ValueError(n) if n < 0 else 2 * n for n in items]


async def first_batch_held_open(run: Recorder, double: Coalescer[int, int]) -> asyncio.Future[int]:
    """Start a batch of one (`double(0)`) that stays running until `run.gate` is set."""
    run.gate.clear()
    first = asyncio.ensure_future(double(0))
    await asyncio.sleep(0.01)
    assert run.batches == [[0]]
    return first


def test_calls_made_together_run_as_one_batch_and_each_gets_its_own_answer() -> None:
    async def main() -> None:
        run = Recorder()
        double = Coalescer(run, limit=100, parallel=4)
        results = await asyncio.gather(*(double(n) for n in range(10)))
        assert results == [2 * n for n in range(10)]
        assert run.batches == [list(range(10))]

    asyncio.run(main())


def test_an_item_refused_fails_only_its_own_caller() -> None:
    async def main() -> None:
        run = Recorder()
        double = Coalescer(run, limit=100, parallel=1)
        results = await asyncio.gather(double(1), double(-1), double(3), return_exceptions=True)
        assert results[0] == 2 and results[2] == 6
        assert isinstance(results[1], ValueError)
        assert len(run.batches) == 1

    asyncio.run(main())


def test_a_failing_batch_answers_every_caller_with_its_error_and_the_next_batch_runs() -> None:
    async def main() -> None:
        run = Recorder()
        double = Coalescer(run, limit=100, parallel=1)
        run.fail_with = ConnectionError("away")
        results = await asyncio.gather(double(1), double(2), return_exceptions=True)
        assert all(isinstance(r, ConnectionError) for r in results)
        run.fail_with = None
        assert await double(5) == 10

    asyncio.run(main())


def test_calls_arriving_while_batches_run_wait_and_go_together_in_the_next() -> None:
    async def main() -> None:
        run = Recorder()
        double = Coalescer(run, limit=3, parallel=1)
        first = await first_batch_held_open(run, double)
        later = [asyncio.ensure_future(double(n)) for n in range(1, 6)]
        await asyncio.sleep(0.01)
        assert run.batches == [[0]]  # nothing else started: one batch at a time
        run.gate.set()
        assert await first == 0
        assert await asyncio.gather(*later) == [2, 4, 6, 8, 10]
        assert run.batches == [[0], [1, 2, 3], [4, 5]]  # at most `limit` per batch

    asyncio.run(main())


def test_a_cancelled_caller_is_left_out_of_a_batch_not_yet_started() -> None:
    async def main() -> None:
        run = Recorder()
        double = Coalescer(run, limit=10, parallel=1)
        first = await first_batch_held_open(run, double)
        gone = asyncio.ensure_future(double(1))
        kept = asyncio.ensure_future(double(2))
        await asyncio.sleep(0.01)
        gone.cancel()
        run.gate.set()
        assert await first == 0 and await kept == 4
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert run.batches == [[0], [2]]

    asyncio.run(main())


def test_a_wrong_number_of_outcomes_fails_the_batch_instead_of_hanging() -> None:
    async def short(items: list[int]) -> list[int | BaseException]:
        return items[:-1]

    async def main() -> None:
        coalescer = Coalescer(short, limit=10, parallel=1)
        results = await asyncio.gather(coalescer(1), coalescer(2), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)

    asyncio.run(main())


def test_each_event_loop_batches_its_own_calls() -> None:
    run = Recorder()
    double = Coalescer(run, limit=10, parallel=1)

    async def main(base: int) -> list[int]:
        return list(await asyncio.gather(double(base), double(base + 1)))

    assert asyncio.run(main(0)) == [0, 2]
    assert asyncio.run(main(10)) == [20, 22]
    assert run.batches == [[0, 1], [10, 11]]
