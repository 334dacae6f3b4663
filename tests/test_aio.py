"""AsyncLedger: the ledger's own methods, awaited from asyncio in worker threads.

The tests are plain functions that run their coroutines with ``asyncio.run``: no plugin.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import threading
import time
from typing import Any

import pytest

from rectify import Case, Ledger
from rectify.aio import DEFAULT_WORKERS, AsyncLedger
from rectify.exceptions import (
    CaseExistsError,
    CaseNotFoundError,
    ConcurrencyError,
    EventNotAllowedError,
    NaiveDatetimeError,
    PayloadError,
)
from rectify.stores import CaseQuery, MemoryStore
from rectify.testing import FakeCalendar
from tests.test_ledger import COMMUNITY, DUE, HOUR, T0, hazard_data

ASSIGN: dict[str, object] = {"responsible_party": "某物业公司", "measures": "补齐水带", "due": DUE}


def make_ledger(store: MemoryStore | None = None) -> Ledger:
    return Ledger.with_workflows(store or MemoryStore(), calendar=FakeCalendar())


class SlowStore(MemoryStore):
    """A memory store whose reads take ``delay`` seconds, counting how many run at once."""

    def __init__(self, delay: float = 0.2) -> None:
        super().__init__()
        self.delay = delay
        self.running = 0
        self.most = 0
        self._count = threading.Lock()

    def get(self, case_id: str) -> Case:
        with self._count:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay)
            return super().get(case_id)
        finally:
            with self._count:
                self.running -= 1


def test_open_fire_get_and_query_are_awaited() -> None:
    ledger = make_ledger()

    async def main() -> tuple[Case, Case, list[Case], int]:
        async with AsyncLedger(ledger) as aio:
            opened = await aio.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
            assert opened.case.state == "discovered"
            fired = await aio.fire("H-1", "assign", COMMUNITY, payload=ASSIGN, at=T0 + HOUR)
            assert fired.effects
            got = await aio.get("H-1")
            found = await aio.query(CaseQuery(community="东区"))
            count = await aio.count(CaseQuery(state="assigned"))
            return fired.case, got, found, count

    fired, got, found, count = asyncio.run(main())
    assert got == fired == ledger.get("H-1")
    assert got.state == "assigned"
    assert [c.id for c in found] == ["H-1"]
    assert count == 1


def test_the_other_operations_answer_as_the_ledger_does() -> None:
    ledger = make_ledger()
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)

    async def main() -> None:
        async with AsyncLedger(ledger) as aio:
            summaries = await aio.summaries(CaseQuery())
            assert [s.id for s in summaries] == ["H-1"]
            options = await aio.allowed_events("H-1", COMMUNITY)
            assert options == ledger.allowed_events("H-1", COMMUNITY)
            assert (await aio.case_at("H-1", 0)) == ledger.case_at("H-1", 0)
            pending = await aio.pending(10)
            assert [d.id for d in pending] == [d.id for d in ledger.pending(10)]
            await aio.acknowledge([d.id for d in pending])
            assert await aio.pending(10) == []
            assert (await aio.verify()).ok
            assert await aio.heads_digest() == ledger.heads_digest()
            report = await aio.sweep(T0 + 2 * HOUR)
            assert report.looked_at >= 0
            assert await aio.run(lambda a, b: a + b, 2, b=3) == 5

    asyncio.run(main())


def test_every_method_carries_the_ledgers_name_and_words() -> None:
    for name in ("open", "fire", "get", "case_at", "allowed_events", "sweep", "verify"):
        method = getattr(AsyncLedger, name)
        assert inspect.iscoroutinefunction(method)
        assert method.__name__ == name
        assert f"Ledger.{name}" in (method.__doc__ or "")


def test_twenty_concurrent_fires_on_distinct_cases_all_land() -> None:
    ledger = make_ledger()
    ids = [f"H-{n:02}" for n in range(20)]
    for case_id in ids:
        ledger.open(case_id, "hazard", hazard_data(), COMMUNITY, at=T0)

    async def main() -> list[Case]:
        async with AsyncLedger(ledger, workers=8) as aio:
            outcomes = await asyncio.gather(
                *(
                    aio.fire(c, "assign", COMMUNITY, payload=ASSIGN, expected_seq=0, at=T0 + HOUR)
                    for c in ids
                )
            )
            return [o.case for o in outcomes]

    cases = asyncio.run(main())
    assert [c.id for c in cases] == ids
    for case_id in ids:
        stored = ledger.get(case_id)
        assert stored.state == "assigned"
        assert stored.seq == 1
    assert ledger.verify().ok
    assert ledger.count(CaseQuery(state="assigned")) == 20


def test_concurrent_fires_on_one_case_serialize() -> None:
    ledger = make_ledger()
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)

    async def main() -> list[object]:
        async with AsyncLedger(ledger, workers=8) as aio:
            results: list[object] = await asyncio.gather(
                *(
                    aio.fire("H-1", "assign", COMMUNITY, payload=ASSIGN, expected_seq=0)
                    for _ in range(10)
                ),
                return_exceptions=True,
            )
            return results

    results = asyncio.run(main())
    landed = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(landed) == 1
    assert all(isinstance(r, ConcurrencyError) for r in refused)
    assert ledger.get("H-1").seq == 1


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda aio: aio.get("NOPE"), CaseNotFoundError),
        (lambda aio: aio.fire("NOPE", "assign", COMMUNITY, payload=ASSIGN), CaseNotFoundError),
        (lambda aio: aio.fire("H-1", "close", COMMUNITY, at=T0 + HOUR), EventNotAllowedError),
        (lambda aio: aio.fire("H-1", "assign", COMMUNITY, payload={}), PayloadError),
        (lambda aio: aio.fire("H-1", "assign", COMMUNITY, expected_seq=3), ConcurrencyError),
        (lambda aio: aio.open("H-1", "hazard", hazard_data(), COMMUNITY), CaseExistsError),
        (
            lambda aio: aio.fire("H-1", "assign", COMMUNITY, at=dt.datetime(2024, 5, 7, 9)),
            NaiveDatetimeError,
        ),
        (lambda aio: aio.run(int, "not a number"), ValueError),
    ],
)
def test_errors_propagate_as_the_same_exception(call: Any, error: type[Exception]) -> None:
    ledger = make_ledger()
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
    before = ledger.get("H-1")

    async def main() -> None:
        async with AsyncLedger(ledger) as aio:
            with pytest.raises(error) as raised:
                await call(aio)
            assert type(raised.value) is error
            # the pool still works after a call failed
            assert (await aio.get("H-1")) == before

    asyncio.run(main())
    assert ledger.get("H-1") == before


def test_the_event_loop_keeps_running_while_the_store_works() -> None:
    store = SlowStore(delay=0.2)
    ledger = make_ledger(store)
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)

    async def main() -> tuple[Case, int, bool]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        async with AsyncLedger(ledger) as aio:
            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)  # the ticker starts
            started = ticks
            case = await aio.get("H-1")
            during = ticks - started
            stop.set()
            await task
            return case, during, store.running == 0

    case, during, idle = asyncio.run(main())
    assert case.id == "H-1"
    assert during >= 1  # the loop ran the ticker while the read slept in a worker
    assert idle


def test_the_pool_bounds_how_many_calls_run_at_once() -> None:
    store = SlowStore(delay=0.05)
    ledger = make_ledger(store)
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)

    async def main() -> list[Case]:
        async with AsyncLedger(ledger, workers=2) as aio:
            return await asyncio.gather(*(aio.get("H-1") for _ in range(6)))

    cases = asyncio.run(main())
    assert len(cases) == 6
    assert store.most <= 2


def closed(aio: AsyncLedger) -> bool:
    return aio.closed


def test_async_with_closes_the_pool_and_leaves_the_ledger_open() -> None:
    ledger = make_ledger()

    async def main() -> AsyncLedger:
        async with AsyncLedger(ledger) as aio:
            assert not closed(aio)
            await aio.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
        assert closed(aio)
        with pytest.raises(RuntimeError):
            await aio.get("H-1")
        return aio

    aio = asyncio.run(main())
    assert aio.closed
    assert ledger.get("H-1").state == "discovered"  # the ledger, and its store, still open


def test_close_waits_for_the_calls_under_way() -> None:
    store = SlowStore(delay=0.1)
    ledger = make_ledger(store)
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)

    async def main() -> Case:
        aio = AsyncLedger(ledger)
        call = asyncio.ensure_future(aio.get("H-1"))
        while store.running == 0:  # the read has started in a worker
            await asyncio.sleep(0.001)
        await asyncio.get_running_loop().run_in_executor(None, aio.close)
        assert aio.closed
        assert store.running == 0  # close returned after the read finished
        return await call

    assert asyncio.run(main()).id == "H-1"


def test_close_is_idempotent() -> None:
    aio = AsyncLedger(make_ledger())
    aio.close()
    aio.close()
    assert aio.closed


@pytest.mark.parametrize("workers", [0, -1])
def test_a_pool_needs_a_worker(workers: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AsyncLedger(make_ledger(), workers=workers)


def test_the_default_pool_size() -> None:
    assert DEFAULT_WORKERS >= 1
    aio = AsyncLedger(make_ledger())
    try:
        assert aio.ledger is not None
    finally:
        aio.close()
