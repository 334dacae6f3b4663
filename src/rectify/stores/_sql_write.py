"""The SQL store's writes: new cases, appended records, their effects and document numbers.

Owns ``_Writing``, the part of ``SQLStore`` that stores: adding a case (or many, batch by
batch), appending records to cases where the head is still the one the writer read (else
``ConcurrencyError``, and nothing of the write is stored), putting the effects of each
write into the outbox in the same transaction, handing out document numbers, and the
register of numbered documents and their renderings' hashes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from rectify.engine._case import Case, Effect, Outcome
from rectify.exceptions import (
    CaseExistsError,
    CaseNotFoundError,
    ConcurrencyError,
    StoreError,
)
from rectify.stores._codec import effect_to_json
from rectify.stores._sql_connect import _reason
from rectify.stores._sql_read import _chunks, _Reading
from rectify.stores._sql_rows import _check, _due_seconds, _event_row, _json, _projection
from rectify.stores._store import Progress, check_document, check_rendering, effect_ids

__all__: list[str] = []

_RETRIES: Final = 5
#: How many identities one IN (...) lists (SQLite takes 999 parameters in older builds).
_IN_CHUNK: Final = 500
_T = TypeVar("_T")


class _Writing(_Reading):
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
        statements = self._statements
        statements.add_cases.run_many(conn, [_projection(case) for case, _ in items])
        events = [_event_row(case.id, r) for case, _ in items for r in case.history]
        if events:
            statements.add_events.run_many(conn, events)
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
            self._statements.add_effects.run_many(conn, rows)

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

    def change(self, case_id: str, step: Callable[[Case], Outcome]) -> Outcome:
        """Read a case, let ``step`` change it and store the outcome, in one transaction.

        The case's row is locked for the transaction (SQLite: the database's write lock,
        taken at ``BEGIN``), so a concurrent writer of the same case waits for this one and
        then reads what it stored. See :class:`~rectify.stores.Store`.

        Raises:
            CaseNotFoundError: No such case.
            StoreError: ``step`` returned another case or one that does not fit the
                columns, or the database failed; nothing was stored.
        """
        what = f"changing case {case_id!r}"
        try:
            with self._begin(write=True) as conn:
                case = self._read_one(conn, case_id)
                outcome = step(case)
                if outcome.case.id != case_id:
                    raise StoreError(f"{what}: the change returned case {outcome.case.id!r}")
                _check(outcome.case)
                self._append_in(conn, outcome.case, case.seq, outcome.effects)
        except sa_exc.SQLAlchemyError as exc:
            raise StoreError(f"{what} failed: {_reason(exc)}") from exc
        return outcome

    def reschedule(self, items: Sequence[tuple[str, int, dt.datetime | None]]) -> None:
        """Keep cases' next escalation moments where they are still at ``seq``, at once.

        Raises:
            StoreError: The database failed; nothing was kept.
        """
        rows = [
            {"b_id": case_id, "b_seq": seq, "b_due": _due_seconds(next_due)}
            for case_id, seq, next_due in items
        ]
        if not rows:
            return
        with self._failing(f"rescheduling {len(rows)} cases"), self._begin(write=True) as conn:
            self._statements.reschedule.run_many(conn, rows)

    def _append_in(
        self, conn: sa.Connection, case: Case, expected_seq: int, effects: Sequence[Effect]
    ) -> None:
        cases = self._tables.cases
        values = _projection(case)
        del values["id"]
        updated = self._statements.advance.run(
            conn, {**values, "b_id": case.id, "b_seq": expected_seq}
        )
        count = updated.rowcount
        updated.close()
        if count != 1:
            found = conn.execute(
                sa.select(cases.c.head_seq).where(cases.c.id == case.id)
            ).scalar_one_or_none()
            if found is None:
                raise CaseNotFoundError(case.id)
            raise ConcurrencyError(case_id=case.id, expected=expected_seq, found=int(found))
        new = [_event_row(case.id, r) for r in case.history if r.seq > expected_seq]
        if new:
            self._statements.add_events.run_many(conn, new)
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
        return self._retrying(
            f"numbering {code!r} of {year}", lambda conn: self._bump(conn, code, year)
        )

    def register_document(
        self, identity: str, code: str, issued_on: dt.date
    ) -> tuple[int, dt.date]:
        """Return ``(number, issued_on)`` of document ``identity``, numbering it once.

        The first time, the next number of ``code`` in ``issued_on``'s year (the series of
        :meth:`next_number`) is taken and kept with ``issued_on`` in one transaction; later,
        what was kept is returned. Of two processes registering a new identity at once, the
        loser's transaction (its number with it) rolls back and it returns the winner's.

        Raises:
            StoreError: ``identity`` is empty or too long, or the database failed.
        """
        check_document(identity)
        return self._retrying(
            f"registering document {identity!r}",
            lambda conn: self._register_all(conn, [(identity, code, issued_on)])[0],
            settled=lambda conn: self._kept_document(conn, identity),
        )

    def register_documents(
        self, documents: Sequence[tuple[str, str, dt.date]]
    ) -> list[tuple[int, dt.date]]:
        """Register many documents (``(identity, code, issued_on)``) in one transaction.

        What :meth:`register_document` does for each, in order, at the cost of one commit:
        an import numbers its cases this way. A conflict with another writer rolls the whole
        batch back and tries it again.

        Raises:
            StoreError: An identity is empty or too long, or the database failed.
        """
        for identity, _, _ in documents:
            check_document(identity)
        return self._retrying(
            f"registering {len(documents)} documents",
            lambda conn: self._register_all(conn, documents),
        )

    def _register_all(
        self, conn: sa.Connection, documents: Sequence[tuple[str, str, dt.date]]
    ) -> list[tuple[int, dt.date]]:
        """Register ``documents``: one read, one bump per series and one insert in all."""
        table = self._tables.documents
        kept: dict[str, tuple[int, dt.date]] = {}
        identities = list(dict.fromkeys(identity for identity, _, _ in documents))
        for start in range(0, len(identities), _IN_CHUNK):
            rows = conn.execute(
                sa.select(table.c.identity, table.c.number, table.c.issued_on).where(
                    table.c.identity.in_(identities[start : start + _IN_CHUNK])
                )
            )
            kept.update({row.identity: (int(row.number), row.issued_on) for row in rows})
        new: dict[str, tuple[str, dt.date]] = {}
        for identity, code, issued_on in documents:
            if identity not in kept:
                new.setdefault(identity, (code, issued_on))
        series: dict[tuple[str, int], list[str]] = {}
        for identity, (code, issued_on) in new.items():
            series.setdefault((code, issued_on.year), []).append(identity)
        inserts = []
        for (code, year), members in series.items():
            last = self._bump(conn, code, year, len(members))
            for number, identity in enumerate(members, start=last - len(members) + 1):
                issued_on = new[identity][1]
                kept[identity] = (number, issued_on)
                inserts.append(
                    {
                        "identity": identity,
                        "code": code,
                        "year": year,
                        "number": number,
                        "issued_on": issued_on,
                    }
                )
        if inserts:
            conn.execute(table.insert(), inserts)
        return [kept[identity] for identity, _, _ in documents]

    def fingerprint_document(
        self, identity: str, variant: str, template_sha256: str, context_sha256: str
    ) -> tuple[str, str]:
        """Return the hashes kept for this rendering, keeping the given ones the first time.

        Of two processes keeping the first hashes at once, the loser returns the winner's.

        Raises:
            StoreError: ``identity`` is empty, a value is too long, or the database failed.
        """
        check_rendering(identity, variant, template_sha256, context_sha256)
        renderings = self._tables.renderings

        def fingerprint(conn: sa.Connection) -> tuple[str, str]:
            kept = self._kept_rendering(conn, identity, variant)
            if kept is not None:
                return kept
            conn.execute(
                renderings.insert().values(
                    identity=identity,
                    variant=variant,
                    template_sha256=template_sha256,
                    context_sha256=context_sha256,
                )
            )
            return template_sha256, context_sha256

        return self._retrying(
            f"fingerprinting document {identity!r} ({variant!r})",
            fingerprint,
            settled=lambda conn: self._kept_rendering(conn, identity, variant),
        )

    def _bump(self, conn: sa.Connection, code: str, year: int, count: int = 1) -> int:
        """Take the next ``count`` numbers of ``code`` in ``year``; return the last one taken."""
        numbers = self._tables.numbers
        which = (numbers.c.code == code) & (numbers.c.year == year)
        bumped = conn.execute(numbers.update().where(which).values(last=numbers.c.last + count))
        if bumped.rowcount == 0:
            conn.execute(numbers.insert().values(code=code, year=year, last=count))
            return count
        return int(conn.execute(sa.select(numbers.c.last).where(which)).scalar_one())

    def _kept_document(self, conn: sa.Connection, identity: str) -> tuple[int, dt.date] | None:
        documents = self._tables.documents
        row = conn.execute(
            sa.select(documents.c.number, documents.c.issued_on).where(
                documents.c.identity == identity
            )
        ).one_or_none()
        return None if row is None else (int(row.number), row.issued_on)

    def _kept_rendering(
        self, conn: sa.Connection, identity: str, variant: str
    ) -> tuple[str, str] | None:
        renderings = self._tables.renderings
        row = conn.execute(
            sa.select(renderings.c.template_sha256, renderings.c.context_sha256).where(
                (renderings.c.identity == identity) & (renderings.c.variant == variant)
            )
        ).one_or_none()
        return None if row is None else (str(row.template_sha256), str(row.context_sha256))

    def _retrying(
        self,
        what: str,
        work: Callable[[sa.Connection], _T],
        *,
        settled: Callable[[sa.Connection], _T | None] | None = None,
    ) -> _T:
        """Return what ``work`` returns in a write transaction, tried again on a conflict.

        A conflict is an insert that another writer's row beat (``IntegrityError``: two
        first numbers of a year, two first registrations of a document) or a deadlock
        (``OperationalError``); the transaction rolls back, and ``settled``, when given,
        reads whether the winner's row answers already before ``work`` is tried again.

        Raises:
            StoreError: The database failed, or kept conflicting (``what`` failed).
        """
        for attempt in range(_RETRIES):
            try:
                with self._begin(write=True) as conn:
                    return work(conn)
            except (sa_exc.IntegrityError, sa_exc.OperationalError) as exc:
                if settled is not None and isinstance(exc, sa_exc.IntegrityError):
                    with self._failing(what), self._begin() as conn:
                        found = settled(conn)
                    if found is not None:
                        return found
                if attempt == _RETRIES - 1:
                    raise StoreError(f"{what} failed: {_reason(exc)}") from exc
            except sa_exc.SQLAlchemyError as exc:
                raise StoreError(f"{what} failed: {_reason(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover
