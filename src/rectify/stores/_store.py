"""The store protocol, the query and delivery values, and the in-memory store.

A store keeps each case's append-only history, its current projection and an outbox of
effects waiting for the host. Writing is optimistic: appending names the sequence number
the writer read, and a store that has moved on refuses with ``ConcurrencyError``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import attrs

from rectify.engine._case import Case, Effect
from rectify.exceptions import CaseExistsError, CaseNotFoundError, ConcurrencyError

__all__ = ["CaseQuery", "Delivery", "MemoryStore", "Store", "effect_ids", "matches"]


@attrs.frozen
class CaseQuery:
    """Which cases to return; every field given must match (``None``: any).

    ``overdue_on`` keeps open cases whose running deadline has passed on that date;
    ``due_by`` those with a deadline on or before it; ``min_escalation`` those at or above a
    level. Results come ordered by case id; ``after`` and ``limit`` page through them.
    """

    community: str | None = None
    state: str | None = None
    category: str | None = None
    severity: str | None = None
    workflow: str | None = None
    open: bool | None = None
    overdue_on: dt.date | None = None
    due_by: dt.date | None = None
    min_escalation: int | None = None
    after: str | None = None
    limit: int | None = None


def matches(case: Case, query: CaseQuery) -> bool:
    """Return whether ``case`` satisfies ``query`` (ignoring ``after`` and ``limit``)."""
    data = case.data
    checks = (
        query.community is None or data.get("community") == query.community,
        query.state is None or case.state == query.state,
        query.category is None or data.get("category") == query.category,
        query.severity is None or data.get("severity") == query.severity,
        query.workflow is None or case.workflow == query.workflow,
        query.open is None or query.open is not case.final,
        query.overdue_on is None
        or (
            case.deadline is not None
            and not case.final
            and case.paused_since is None
            and query.overdue_on > case.deadline
        ),
        query.due_by is None or (case.deadline is not None and case.deadline <= query.due_by),
        query.min_escalation is None
        or (case.escalation is not None and case.escalation >= query.min_escalation),
    )
    return all(checks)


@attrs.frozen
class Delivery:
    """An effect waiting in the outbox. ``id`` is stable: the same effect, the same id.

    Attributes:
        attempts: How many times ``pending`` has handed the effect out, this time included:
            1 the first time, 2 when it comes again, and so on (0 only before it was ever
            handed out).
    """

    id: str
    case_id: str
    effect: Effect
    attempts: int = 0


def effect_ids(case: Case, effects: Sequence[Effect]) -> list[str]:
    """Return the stable ids of ``effects`` produced by the last append to ``case``."""
    return [f"{case.id}:{case.seq}:{i}" for i in range(len(effects))]


Progress = Callable[[int, int], None]


class Store(Protocol):
    """Where cases, their histories and their pending effects live."""

    def add(self, case: Case, effects: Sequence[Effect]) -> None:
        """Store a new case with its whole history and effects, in one transaction.

        Raises:
            CaseExistsError: A case with that id is stored already.
        """
        ...

    def append(self, case: Case, expected_seq: int, effects: Sequence[Effect]) -> None:
        """Store the records of ``case`` after ``expected_seq``, its projection and effects.

        Raises:
            ConcurrencyError: The stored case is no longer at ``expected_seq``.
            CaseNotFoundError: No such case.
        """
        ...

    def append_all(self, items: Sequence[tuple[Case, int, Sequence[Effect]]]) -> None:
        """Append to several cases (``(case, expected_seq, effects)``) in one transaction.

        Raises:
            ConcurrencyError: One of the cases is no longer at its expected sequence number;
                nothing was stored.
            CaseNotFoundError: One of the cases does not exist; nothing was stored.
        """
        ...

    def get(self, case_id: str) -> Case:
        """Return the case with its history.

        Raises:
            CaseNotFoundError: No such case.
        """
        ...

    def query(self, query: CaseQuery) -> list[Case]:
        """Return the cases matching ``query``, ordered by id."""
        ...

    def pending(self, limit: int = 100) -> list[Delivery]:
        """Return effects not yet acknowledged, oldest first.

        Each call counts an attempt: an effect handed out for the first time has
        ``attempts == 1``, the next time 2.
        """
        ...

    def acknowledge(self, ids: Iterable[str]) -> None:
        """Mark effects as delivered; unknown or repeated ids are ignored."""
        ...

    def next_number(self, code: str, year: int) -> int:
        """Return the next unused document number of ``code`` in ``year`` (never reused)."""
        ...

    def cases(self) -> Iterator[Case]:
        """Yield every stored case (for verification), ordered by id."""
        ...

    def heads(self) -> Iterator[tuple[str, int, str]]:
        """Yield each case's id, last sequence number and last digest, as written.

        Verification compares them with the histories: a history cut short at its end
        still chains correctly, but no longer ends at its head.
        """
        ...

    def add_many(
        self,
        items: Iterable[tuple[Case, Sequence[Effect]]],
        *,
        batch: int = 500,
        progress: Progress | None = None,
    ) -> int:
        """Store many new cases, one transaction per batch; return how many were stored.

        Cases whose id is stored already are skipped (a re-import does not duplicate).
        ``progress(done, total_so_far)`` is called after each batch.
        """
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


class MemoryStore:
    """A store in memory for tests and small hosts; thread-safe, not durable."""

    def __init__(self) -> None:
        self._cases: dict[str, Case] = {}
        self._outbox: dict[str, Delivery] = {}
        self._numbers: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def add(self, case: Case, effects: Sequence[Effect]) -> None:
        """Store a new case (see :class:`Store`)."""
        with self._lock:
            if case.id in self._cases:
                raise CaseExistsError(f"case {case.id!r} is stored already")
            self._put(case, effects)

    def _put(self, case: Case, effects: Sequence[Effect]) -> None:
        self._cases[case.id] = case
        for effect_id, effect in zip(effect_ids(case, effects), effects, strict=True):
            self._outbox.setdefault(effect_id, Delivery(effect_id, case.id, effect))

    def append(self, case: Case, expected_seq: int, effects: Sequence[Effect]) -> None:
        """Store a case's new records (see :class:`Store`)."""
        self.append_all([(case, expected_seq, effects)])

    def append_all(self, items: Sequence[tuple[Case, int, Sequence[Effect]]]) -> None:
        """Append to several cases at once, all or nothing (see :class:`Store`)."""
        with self._lock:
            for case, expected_seq, _ in items:  # check every case before writing any
                stored = self._cases.get(case.id)
                if stored is None:
                    raise CaseNotFoundError(case.id)
                if stored.seq != expected_seq:
                    raise ConcurrencyError(case_id=case.id, expected=expected_seq, found=stored.seq)
            for case, _, effects in items:
                self._put(case, effects)

    def get(self, case_id: str) -> Case:
        """Return a case (see :class:`Store`)."""
        with self._lock:
            case = self._cases.get(case_id)
        if case is None:
            raise CaseNotFoundError(case_id)
        return case

    def query(self, query: CaseQuery) -> list[Case]:
        """Return matching cases (see :class:`Store`)."""
        with self._lock:
            found = sorted(
                (c for c in self._cases.values() if matches(c, query)), key=lambda c: c.id
            )
        if query.after is not None:
            found = [c for c in found if c.id > query.after]
        return found[: query.limit] if query.limit is not None else found

    def pending(self, limit: int = 100) -> list[Delivery]:
        """Return undelivered effects (see :class:`Store`)."""
        with self._lock:
            out = [
                attrs.evolve(delivery, attempts=delivery.attempts + 1)
                for delivery in list(self._outbox.values())[:limit]
            ]
            self._outbox.update((delivery.id, delivery) for delivery in out)
        return out

    def acknowledge(self, ids: Iterable[str]) -> None:
        """Mark effects delivered (see :class:`Store`)."""
        with self._lock:
            for effect_id in ids:
                self._outbox.pop(effect_id, None)

    def next_number(self, code: str, year: int) -> int:
        """Return the next document number (see :class:`Store`)."""
        with self._lock:
            number = self._numbers.get((code, year), 0) + 1
            self._numbers[(code, year)] = number
            return number

    def heads(self) -> Iterator[tuple[str, int, str]]:
        """Yield each case's head (see :class:`Store`)."""
        for case in self.cases():
            yield case.id, case.seq, case.history[-1].digest if case.history else ""

    def cases(self) -> Iterator[Case]:
        """Yield every case (see :class:`Store`)."""
        with self._lock:
            snapshot = sorted(self._cases.values(), key=lambda c: c.id)
        yield from snapshot

    def add_many(
        self,
        items: Iterable[tuple[Case, Sequence[Effect]]],
        *,
        batch: int = 500,
        progress: Progress | None = None,
    ) -> int:
        """Store many new cases (see :class:`Store`)."""
        stored = seen = 0
        for case, effects in items:
            seen += 1
            with self._lock:
                if case.id not in self._cases:
                    self._put(case, effects)
                    stored += 1
            if progress is not None and seen % batch == 0:
                progress(stored, seen)
        if progress is not None:
            progress(stored, seen)
        return stored

    def close(self) -> None:
        """Nothing to release."""
