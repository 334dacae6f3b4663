"""The SQL store's reads: cases, queries, heads and the raw rows verification audits.

Owns ``_Reading``, the part of ``SQLStore`` that reads cases back (one, by query, all of
them page by page) and yields every stored row as it is for verification, records without
a case included; and ``_CHUNK``, how many ids go into one ``IN (...)`` list and how many
cases are read per page, with ``_chunks`` that the writing and outbox parts use as well.
Tests shrink ``_CHUNK`` here to exercise paging, so everything that pages reads it here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

import sqlalchemy as sa

from rectify.engine._case import Case, Record, freeze
from rectify.exceptions import CaseNotFoundError
from rectify.stores._codec import case_from_json, decode
from rectify.stores._sql_connect import _Connected
from rectify.stores._sql_rows import UNSCHEDULED, _due_seconds, _record
from rectify.stores._sql_schema import _INDEXED_DATA
from rectify.stores._store import AuditRow, CaseQuery, CaseSummary

__all__: list[str] = []

_CHUNK = 500  # ids in one IN (...) list (and cases read per page)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# -- auditing -----------------------------------------------------------------------------

#: The projection columns verification compares with the history (``projection_columns``).
_AUDITED: Final = (
    "workflow",
    "version",
    "state",
    *_INDEXED_DATA,
    "escalation",
    "is_final",
    "is_paused",
    "data",
)


def _data(text: str) -> dict[str, object]:
    data = decode(text)
    return data if isinstance(data, dict) else {}


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in {0, 1} and isinstance(value, int):
        return bool(value)
    raise ValueError(f"{value!r} is not a boolean")


def _audited_column(name: str, value: object) -> object:
    """Return a projection column's value as the case would have it."""
    if name in {"is_final", "is_paused"}:
        return _flag(value)
    if name == "next_due":
        if not isinstance(value, int):
            raise ValueError(f"{value!r} is not a whole number")
        try:
            return None if value == UNSCHEDULED else dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a moment ({exc})") from exc
    if name in {"version", "escalation"} and value is not None and not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    if name == "deadline" and value is not None and not isinstance(value, dt.date):
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a date ({exc})") from exc
    if name == "data":
        data = decode(str(value))
        if not isinstance(data, dict):
            raise ValueError(f"{value!r} is not a JSON object")
        return freeze(data)
    return value


def _audit_row(
    row: Any,  # noqa: ANN401 - a row of the cases table
    records: tuple[list[Record], list[tuple[int | None, str]]],
) -> AuditRow:
    """Return a case row and its records as verification reads them."""
    errors = list(records[1])
    columns: dict[str, object] = {}
    for name in (*_AUDITED, "deadline", "next_due"):
        try:
            columns[name] = _audited_column(name, row._mapping[name])
        except ValueError as exc:
            errors.insert(0, (None, f"column {name}: {exc}"))
    case: Case | None = None
    try:
        case = case_from_json(json.loads(row.case_json), ())
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        errors.insert(0, (None, f"case_json: {exc}"))
    head = (row.head_seq, str(row.head_digest))
    if not isinstance(head[0], int):
        errors.insert(0, (None, f"column head_seq: {head[0]!r} is not a whole number"))
        head = (-1, head[1])
    return AuditRow(str(row.id), head, case, columns, tuple(records[0]), tuple(errors))


class _Reading(_Connected):
    """Reading cases back, and auditing the rows as stored (part of ``SQLStore``)."""

    def _load(self, conn: sa.Connection, rows: Sequence[Any]) -> list[Case]:
        """Return the cases of projection rows (id, head_seq, case_json) with histories."""
        events = self._tables.events
        heads = {str(row.id): int(row.head_seq) for row in rows}
        histories: dict[str, list[Record]] = {case_id: [] for case_id in heads}
        for ids in _chunks(list(heads)):
            for row in conn.execute(
                sa.select(events).where(events.c.case_id.in_(ids)).order_by(events.c.seq)
            ):
                # Records past the head were appended after the projection was read.
                if row.seq <= heads[row.case_id]:
                    histories[row.case_id].append(_record(row))
        return [case_from_json(json.loads(row.case_json), tuple(histories[row.id])) for row in rows]

    def get(self, case_id: str) -> Case:
        """Return the case with its history.

        Raises:
            CaseNotFoundError: No such case.
        """
        with self._failing(f"reading case {case_id!r}"), self._begin() as conn:
            return self._read_one(conn, case_id, lock=False)

    def _read_one(self, conn: sa.Connection, case_id: str, *, lock: bool = True) -> Case:
        """Return a stored case with its history, read in ``conn``'s transaction.

        ``lock``: lock the case's row until the transaction ends (where rows lock).

        Raises:
            CaseNotFoundError: No such case.
        """
        statements = self._statements
        which = statements.case_row_locked if lock else statements.case_row
        cursor = which.run(conn, {"b_id": case_id})
        found = cursor.fetchone()
        cursor.close()
        if found is None:
            raise CaseNotFoundError(case_id)
        _, head_seq, case_json = found
        head = int(head_seq)
        cursor = statements.records.run(conn, {"b_id": case_id})
        rows = [statements.record_row(*values) for values in cursor.fetchall()]
        cursor.close()
        # Records past the head belong to a write that has not committed its projection.
        history = tuple(_record(row) for row in rows if row.seq <= head)
        return case_from_json(json.loads(case_json), history)

    def _where(self, query: CaseQuery) -> list[sa.ColumnElement[bool]]:
        """Return the SQL of ``query``: the same cases as ``matches``."""
        c = self._tables.cases.c
        where: list[sa.ColumnElement[bool]] = []
        for column, wanted in (
            (c.community, query.community),
            (c.state, query.state),
            (c.category, query.category),
            (c.severity, query.severity),
            (c.workflow, query.workflow),
        ):
            if wanted is not None:
                where.append(column == wanted)
        if query.open is not None:
            where.append(c.is_final == (not query.open))
        if query.overdue_on is not None:
            where += [
                c.is_final == sa.false(),
                c.is_paused == sa.false(),
                c.deadline.is_not(None),
                c.deadline < query.overdue_on,
            ]
        if query.due_by is not None:
            where += [c.deadline.is_not(None), c.deadline <= query.due_by]
        if query.min_escalation is not None:
            where += [c.escalation.is_not(None), c.escalation >= query.min_escalation]
        if query.ids is not None:
            where.append(c.id.in_(sorted(query.ids)))
        if query.escalation_due is not None:
            # Through the (is_final, next_due) index; 0, not known, is in range.
            where += [c.is_final == sa.false(), c.next_due <= _due_seconds(query.escalation_due)]
        if query.after is not None:
            where.append(c.id > query.after)
        return where

    def query(self, query: CaseQuery) -> list[Case]:
        """Return the cases matching ``query``, ordered by id (``after``, ``limit`` page)."""
        cases = self._tables.cases
        statement = (
            sa.select(cases.c.id, cases.c.head_seq, cases.c.case_json)
            .where(*self._where(query))
            .order_by(cases.c.id)
        )
        if query.limit is not None:
            statement = statement.limit(query.limit)
        with self._failing(f"querying cases ({query})"), self._begin() as conn:
            return self._load(conn, conn.execute(statement).all())

    def summaries(self, query: CaseQuery) -> list[CaseSummary]:
        """Return the cases matching ``query`` from their columns, without their histories.

        Only the ``data`` column is decoded; no record is read.
        """
        c = self._tables.cases.c
        statement = (
            sa.select(
                c.id,
                c.workflow,
                c.version,
                c.state,
                c.data,
                c.deadline,
                c.escalation,
                c.is_final,
                c.is_paused,
                c.head_seq,
            )
            .where(*self._where(query))
            .order_by(c.id)
        )
        if query.limit is not None:
            statement = statement.limit(query.limit)
        with self._failing(f"querying cases ({query})"), self._begin() as conn:
            rows = conn.execute(statement).all()
        return [
            CaseSummary(
                row.id,
                row.workflow,
                row.version,
                row.state,
                _data(row.data),
                row.deadline,
                row.escalation,
                bool(row.is_final),
                bool(row.is_paused),
                row.head_seq,
            )
            for row in rows
        ]

    def count(self, query: CaseQuery) -> int:
        """Return how many cases match ``query``, counted by the database."""
        c = self._tables.cases.c
        matching = sa.select(c.id).where(*self._where(query))
        if query.limit is not None:  # the first ``limit`` by id, as ``query`` returns them
            matching = matching.order_by(c.id).limit(query.limit)
        statement = sa.select(sa.func.count()).select_from(matching.subquery())
        with self._failing(f"counting cases ({query})"), self._begin() as conn:
            return int(conn.execute(statement).scalar_one())

    def heads(self) -> Iterator[tuple[str, int, str]]:
        """Yield each case's id, last sequence number and last digest, ordered by id."""
        cases = self._tables.cases
        statement = sa.select(cases.c.id, cases.c.head_seq, cases.c.head_digest).order_by(
            cases.c.id
        )
        with self._failing("reading case heads"), self._begin() as conn:
            rows = conn.execute(statement).all()
        for row in rows:
            yield str(row.id), int(row.head_seq), str(row.head_digest)

    def audit(self) -> Iterator[AuditRow]:
        """Yield every case as stored, raw, for verification (see :class:`Store`).

        Columns are read without SQLAlchemy's conversions, so that text where a date or a
        number belongs (SQLite keeps any value in any column) is an error on its row.
        """
        c = self._tables.cases.c
        columns = [
            sa.type_coerce(c[name], sa.types.NullType()).label(name)
            for name in ("head_seq", "head_digest", "case_json", *_AUDITED, "deadline", "next_due")
        ]
        after: str | None = None
        while True:
            statement = sa.select(c.id, *columns).order_by(c.id).limit(_CHUNK)
            if after is not None:
                statement = statement.where(c.id > after)
            with self._failing("auditing cases"), self._begin() as conn:
                rows = conn.execute(statement).all()
                records = self._raw_records(conn, [str(row.id) for row in rows])
            for row in rows:
                yield _audit_row(row, records.get(str(row.id), ([], [])))
            if len(rows) < _CHUNK:
                break
            after = str(rows[-1].id)
        yield from self._orphans()

    def _orphans(self) -> Iterator[AuditRow]:
        """Yield the records whose case row is missing, by case id."""
        cases, events = self._tables.cases, self._tables.events
        statement = (
            sa.select(events.c.case_id)
            .where(~sa.exists().where(cases.c.id == events.c.case_id))
            .distinct()
            .order_by(events.c.case_id)
        )
        with self._failing("auditing records without a case"), self._begin() as conn:
            ids = [str(case_id) for case_id in conn.execute(statement).scalars()]
            records = self._raw_records(conn, ids)
        for case_id in ids:
            good, bad = records.get(case_id, ([], []))
            yield AuditRow(case_id, None, None, records=tuple(good), errors=tuple(bad))

    def _raw_records(
        self, conn: sa.Connection, ids: Sequence[str]
    ) -> dict[str, tuple[list[Record], list[tuple[int | None, str]]]]:
        """Return the records of ``ids`` that decode, and the errors of those that do not."""
        events = self._tables.events
        found: dict[str, tuple[list[Record], list[tuple[int | None, str]]]] = {}
        for chunk in _chunks(ids):
            for row in conn.execute(
                sa.select(events)
                .where(events.c.case_id.in_(chunk))
                .order_by(events.c.case_id, events.c.seq)
            ):
                good, bad = found.setdefault(str(row.case_id), ([], []))
                try:
                    good.append(_record(row))
                except (ValueError, TypeError, KeyError) as exc:
                    seq = row.seq if isinstance(row.seq, int) else None
                    bad.append((seq, f"record {row.seq}: {exc}"))
        return found

    def cases(self) -> Iterator[Case]:
        """Yield every stored case, ordered by id (read page by page)."""
        after: str | None = None
        while True:
            page = self.query(CaseQuery(after=after, limit=_CHUNK))
            yield from page
            if len(page) < _CHUNK:
                return
            after = page[-1].id
