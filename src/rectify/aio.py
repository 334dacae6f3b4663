"""A :class:`~rectify.ledger.Ledger` that asyncio programs await without blocking their loop.

An :class:`AsyncLedger` wraps one ``Ledger``; each of its methods runs the ledger's method
of the same name, with the same arguments, in a worker thread of its own pool and returns
what that returned (or raises what that raised). There is one implementation of the
ledger's work, the synchronous one: the asynchronous methods are made from its methods,
so they cannot drift apart. The pool bounds how many calls touch the store at once; a
store's writes still queue on its own locks (SQLite: one writer at a time).

May import ``rectify.ledger`` and everything below it; ``rectify.server`` sits above it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from rectify.engine._case import Case
from rectify.ledger import Ledger
from rectify.stores._store import CaseQuery, CaseSummary

__all__ = ["DEFAULT_WORKERS", "AsyncLedger"]

#: How many calls of one ``AsyncLedger`` run at once by default.
DEFAULT_WORKERS: Final = 8

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _awaitable(
    method: Callable[Concatenate[Ledger, _P], _R],
) -> Callable[Concatenate[AsyncLedger, _P], Coroutine[Any, Any, _R]]:
    """Return ``method`` of ``Ledger`` as a coroutine method of ``AsyncLedger``."""

    async def call(self: AsyncLedger, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await self.run(method, self.ledger, *args, **kwargs)

    call.__name__ = call.__qualname__ = method.__name__
    call.__doc__ = f"Await :meth:`Ledger.{method.__name__}` in a worker thread.\n\n{method.__doc__}"
    return call


class AsyncLedger:
    """Await a ledger's operations from asyncio; see the module's description.

    Args:
        ledger: The ledger whose methods run in the worker threads.
        workers: How many calls run at once (the pool's threads).

    Use it as an async context manager, or call :meth:`close`, to shut the pool down; the
    ledger (and its store) stays open: whoever opened it closes it.
    """

    def __init__(self, ledger: Ledger, *, workers: int = DEFAULT_WORKERS) -> None:
        if workers < 1:
            raise ValueError(f"workers {workers} must be at least 1")
        self.ledger = ledger
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rectify")
        self._closed = False

    async def run(self, function: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run ``function(*args, **kwargs)`` in the pool and return its result.

        For work a host composes of several ledger calls (read, then fire) that should run
        in one thread hop.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    @property
    def closed(self) -> bool:
        """Return whether :meth:`close` has stopped the worker threads (no call runs after)."""
        return self._closed

    def close(self) -> None:
        """Wait for the calls under way, then stop the worker threads."""
        self._closed = True
        self._pool.shutdown(wait=True)

    async def __aenter__(self) -> AsyncLedger:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    async def query(self, query: CaseQuery) -> list[Case]:
        """Await :meth:`Ledger.query` in a worker thread."""
        return await self.run(self.ledger.query, query)

    async def summaries(self, query: CaseQuery) -> list[CaseSummary]:
        """Await :meth:`Ledger.summaries` in a worker thread."""
        return await self.run(self.ledger.summaries, query)

    async def count(self, query: CaseQuery) -> int:
        """Await :meth:`Ledger.count` in a worker thread."""
        return await self.run(self.ledger.count, query)

    # One line per ledger operation: the same signature, awaited.
    open = _awaitable(Ledger.open)
    fire = _awaitable(Ledger.fire)
    merge = _awaitable(Ledger.merge)
    change_category = _awaitable(Ledger.change_category)
    get = _awaitable(Ledger.get)
    case_at = _awaitable(Ledger.case_at)
    allowed_events = _awaitable(Ledger.allowed_events)
    sweep = _awaitable(Ledger.sweep)
    pending = _awaitable(Ledger.pending)
    acknowledge = _awaitable(Ledger.acknowledge)
    fail = _awaitable(Ledger.fail)
    failed = _awaitable(Ledger.failed)
    redrive = _awaitable(Ledger.redrive)
    deliver = _awaitable(Ledger.deliver)
    verify = _awaitable(Ledger.verify)
    heads_digest = _awaitable(Ledger.heads_digest)
    import_cases = _awaitable(Ledger.import_cases)
