"""The SQL store's writes: new cases, appended records, their effects and document numbers.

Owns ``_Writing``, the part of ``SQLStore`` that stores: adding a case (or many, batch by
batch), appending records to cases where the head is still the one the writer read (else
``ConcurrencyError``, and nothing of the write is stored), putting the effects of each
write into the outbox in the same transaction, and handing out document numbers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence
from typing import Final

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from rectify.engine._case import Case, Effect
from rectify.exceptions import (
    CaseExistsError,
    CaseNotFoundError,
    ConcurrencyError,
    StoreError,
)
from rectify.stores._codec import effect_to_json
from rectify.stores._sql_connect import _Connected, _reason
from rectify.stores._sql_read import _chunks
from rectify.stores._sql_rows import _check, _event_row, _json, _projection
from rectify.stores._store import Progress, effect_ids

__all__: list[str] = []

_RETRIES: Final = 5


class _Writing(_Connected):
    """Writing cases, their effects and document numbers (part of ``SQLStore``)."""

    def _head(self, case_id: str) -> int | None:
        cases = self._tables.cases
        with self._failing(f"reading case {case_id!r}"), self._begin() as conn:
            found = conn.execute(
                sa.select(cases.c.head_seq).where(cases.c.id == case_id)
            ).scalar_one_or_none()
        return None if found is None else int(found)

    def _insert(self, conn: sa.Connection, items: Sequence[tuple[Case, Sequence[Effect]]]) -> None:
        """Insert new cases: projections, every record, effects."""
        if not items:
            return
        tables = self._tables
        conn.execute(tables.cases.insert(), [_projection(case) for case, _ in items])
        events = [_event_row(case.id, r) for case, _ in items for r in case.history]
        if events:
            conn.execute(tables.events.insert(), events)
        self._put_effects(conn, items)

    def _put_effects(
        self, conn: sa.Connection, items: Sequence[tuple[Case, Sequence[Effect]]]
    ) -> None:
        """Insert the effects of the cases just written into the outbox."""
        base = time.time_ns()
        rows = [
            {
                "id": effect_id,
                "case_id": case.id,
                "effect": _json(effect_to_json(effect)),
                "created": base + n,
                "attempts": 0,
            }
            for n, (case, effect_id, effect) in enumerate(
                (case, effect_id, effect)
                for case, effects in items
                for effect_id, effect in zip(effect_ids(case, effects), effects, strict=True)
            )
        ]
        if rows:
            conn.execute(self._tables.outbox.insert(), rows)

    def add(self, case: Case, effects: Sequence[Effect]) -> None:
        """Store a new case with its history and effects (see :class:`~rectify.stores.Store`).

        Raises:
            CaseExistsError: A case with that id is stored already.
            StoreError: The database failed; nothing was stored.
        """
        _check(case)
        what = f"adding case {case.id!r}"
        try:
            with self._begin(write=True) as conn:
                self._insert(conn, [(case, effects)])
        except sa_exc.IntegrityError as exc:
            if self._head(case.id) is not None:
                raise CaseExistsError(f"case {case.id!r} is stored already") from exc
            raise StoreError(f"{what} failed: {_reason(exc)}") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise StoreError(f"{what} failed: {_reason(exc)}") from exc

    def append(self, case: Case, expected_seq: int, effects: Sequence[Effect]) -> None:
        """Store the records of ``case`` after ``expected_seq``, its projection and effects.

        Raises:
            ConcurrencyError: The stored case is no longer at ``expected_seq``.
            CaseNotFoundError: No such case.
            StoreError: The database failed; nothing was stored.
        """
        self.append_all([(case, expected_seq, effects)])

    def append_all(self, items: Sequence[tuple[Case, int, Sequence[Effect]]]) -> None:
        """Append to several cases in one transaction: all of it is stored, or none.

        Raises:
            ConcurrencyError: One of the cases is no longer at its expected sequence number.
            CaseNotFoundError: One of the cases does not exist.
            StoreError: The database failed; nothing was stored.
        """
        for case, _, _ in items:
            _check(case)
        names = ", ".join(repr(case.id) for case, _, _ in items)
        current = items[0] if items else None
        try:
            with self._begin(write=True) as conn:
                for item in items:
                    current = item
                    self._append_in(conn, *item)
        except sa_exc.IntegrityError as exc:
            if current is not None:
                head = self._head(current[0].id)
                if head is not None and head != current[1]:
                    raise ConcurrencyError(
                        case_id=current[0].id, expected=current[1], found=head
                    ) from exc
            raise StoreError(f"appending to case {names} failed: {_reason(exc)}") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise StoreError(f"appending to case {names} failed: {_reason(exc)}") from exc

    def _append_in(
        self, conn: sa.Connection, case: Case, expected_seq: int, effects: Sequence[Effect]
    ) -> None:
        cases = self._tables.cases
        values = _projection(case)
        del values["id"]
        updated = conn.execute(
            cases.update()
            .where(cases.c.id == case.id, cases.c.head_seq == expected_seq)
            .values(values)
        )
        if updated.rowcount != 1:
            found = conn.execute(
                sa.select(cases.c.head_seq).where(cases.c.id == case.id)
            ).scalar_one_or_none()
            if found is None:
                raise CaseNotFoundError(case.id)
            raise ConcurrencyError(case_id=case.id, expected=expected_seq, found=int(found))
        new = [_event_row(case.id, r) for r in case.history if r.seq > expected_seq]
        if new:
            conn.execute(self._tables.events.insert(), new)
        self._put_effects(conn, [(case, effects)])

    def add_many(
        self,
        items: Iterable[tuple[Case, Sequence[Effect]]],
        *,
        batch: int = 500,
        progress: Progress | None = None,
    ) -> int:
        """Store many new cases, one transaction per batch; return how many were stored.

        Cases whose id is stored already (or came earlier in ``items``) are skipped.
        ``progress(stored, seen)`` is called after each batch.
        """
        size = max(1, batch)
        stored = seen = 0
        chunk: list[tuple[Case, Sequence[Effect]]] = []
        for item in items:
            chunk.append(item)
            if len(chunk) == size:
                seen += len(chunk)
                stored += self._add_batch(chunk)
                chunk = []
                if progress is not None:
                    progress(stored, seen)
        if chunk or seen == 0:
            seen += len(chunk)
            stored += self._add_batch(chunk)
            if progress is not None:
                progress(stored, seen)
        return stored

    def _add_batch(self, chunk: Sequence[tuple[Case, Sequence[Effect]]]) -> int:
        unique: dict[str, tuple[Case, Sequence[Effect]]] = {}
        for case, effects in chunk:
            _check(case)
            unique.setdefault(case.id, (case, effects))
        if not unique:
            return 0
        cases = self._tables.cases
        first, last = chunk[0][0].id, chunk[-1][0].id
        what = f"adding cases {first!r} to {last!r}"
        fresh = list(unique.values())
        try:
            with self._begin(write=True) as conn:
                existing: set[str] = set()
                for ids in _chunks(list(unique)):
                    existing.update(
                        conn.execute(sa.select(cases.c.id).where(cases.c.id.in_(ids))).scalars()
                    )
                fresh = [item for case_id, item in unique.items() if case_id not in existing]
                self._insert(conn, fresh)
        except sa_exc.IntegrityError:
            # Another writer added some of these meanwhile: add them one by one.
            added = 0
            for case, effects in fresh:
                with contextlib.suppress(CaseExistsError):
                    self.add(case, effects)
                    added += 1
            return added
        except sa_exc.SQLAlchemyError as exc:
            raise StoreError(f"{what} failed: {_reason(exc)}") from exc
        return len(fresh)

    def next_number(self, code: str, year: int) -> int:
        """Return the next unused document number of ``code`` in ``year`` (never reused)."""
        numbers = self._tables.numbers
        which = (numbers.c.code == code) & (numbers.c.year == year)
        what = f"numbering {code!r} of {year}"
        for attempt in range(_RETRIES):
            try:
                with self._begin(write=True) as conn:
                    bumped = conn.execute(
                        numbers.update().where(which).values(last=numbers.c.last + 1)
                    )
                    if bumped.rowcount == 0:
                        conn.execute(numbers.insert().values(code=code, year=year, last=1))
                        return 1
                    return int(conn.execute(sa.select(numbers.c.last).where(which)).scalar_one())
            except (sa_exc.IntegrityError, sa_exc.OperationalError) as exc:
                # Two first numbers at once (the loser's insert fails), or a deadlock.
                if attempt == _RETRIES - 1:
                    raise StoreError(f"{what} failed: {_reason(exc)}") from exc
            except sa_exc.SQLAlchemyError as exc:
                raise StoreError(f"{what} failed: {_reason(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover
