"""The SQL store: cases kept durably in SQLite, PostgreSQL or MariaDB/MySQL.

SQLAlchemy Core, five tables (their names start with a prefix, ``rectify_`` by default):

- ``events``: the append-only history, one row per record, keyed by (case id, seq);
- ``cases``: the projection, one row per case: the columns the queries filter on, the
  head (sequence number and digest of the last record) and the whole case as JSON;
- ``outbox``: effects waiting for the host, keyed by their stable id, with the attempts
  made, the last failure's error and whether it is a dead letter;
- ``numbers``: the last document number of each code and year;
- ``schema``: the schema version, brought forward by migrations when a store opens.

Every write is one transaction. Appending updates the projection only where the head is
still the one the writer read, so a concurrent writer loses with ``ConcurrencyError`` and
nothing of its write is stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import sqlite3
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql
from sqlalchemy.pool import StaticPool

from rectify.engine._case import Case, Effect, Evidence, Record, freeze
from rectify.exceptions import (
    CaseExistsError,
    CaseNotFoundError,
    ConcurrencyError,
    SchemaError,
    StoreError,
)
from rectify.stores._codec import (
    case_from_json,
    case_to_json,
    decode,
    effect_from_json,
    effect_to_json,
)
from rectify.stores._codec import encode as encode_value
from rectify.stores._store import (
    AuditRow,
    CaseQuery,
    Delivery,
    MemoryStore,
    Progress,
    clean_error,
    effect_ids,
)

__all__ = ["SCHEMA_VERSION", "SQLStore", "open_store"]

# Lengths MariaDB can index in utf8mb4 (4 bytes a character, 3072 bytes a key).
ID_LENGTH: Final = 200  # case ids
NAME_LENGTH: Final = 128  # workflow, state and event names
VALUE_LENGTH: Final = 255  # community, category and severity: the indexed data fields
_EFFECT_ID_LENGTH: Final = 255
_INDEXED_DATA: Final = ("community", "category", "severity")
_CHUNK = 500  # ids in one IN (...) list (and cases read per page)
_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,31}")
_RETRIES: Final = 5
_LOCKED_RETRIES: Final = 40  # about 40 s at most, waiting longer each time
#: Seconds ``open_store`` waits for a database server to answer before giving up.
CONNECT_TIMEOUT: Final = 5.0
_MAX_TIMEOUT: Final = 31_536_000  # a year: the most PyMySQL takes
_SHOWN_TABLES: Final = 10  # foreign tables named in the error


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _reason(exc: BaseException) -> str:
    """Return the database's own message, without SQLAlchemy's SQL and parameters."""
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# -- the schema ---------------------------------------------------------------------------


class _Tables:
    """The store's tables for one prefix, with column types fitted to the database."""

    def __init__(self, prefix: str, dialect: sa.Dialect) -> None:
        self.metadata = sa.MetaData()
        options: dict[str, Any] = {}
        key_type: Callable[[int], sa.types.TypeEngine[str]] = sa.String
        if dialect.name == "postgresql":
            # Order ids by code point, as Python does (``after`` paging, ``cases()``).
            key_type = _postgres_key
        elif dialect.name in {"mysql", "mariadb"}:
            # Case-sensitive, code-point ordered, trailing spaces significant.
            options = {"mysql_charset": "utf8mb4", "mysql_collate": _mysql_collation(dialect)}
        text = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
        name = sa.String(NAME_LENGTH)
        value = sa.String(VALUE_LENGTH)
        p = prefix
        self.events = sa.Table(
            f"{p}events",
            self.metadata,
            sa.Column("case_id", key_type(ID_LENGTH), primary_key=True),
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("event", name, nullable=False),
            sa.Column("source", name),
            sa.Column("target", name, nullable=False),
            sa.Column("actor", sa.String(255), nullable=False),
            sa.Column("role", sa.String(255), nullable=False),
            sa.Column("at", sa.String(64), nullable=False),  # ISO 8601 with its offset
            sa.Column("payload", text, nullable=False),
            sa.Column("evidence", text, nullable=False),
            sa.Column("reason", text),
            sa.Column("prev", sa.String(64), nullable=False),
            sa.Column("digest", sa.String(64), nullable=False),
            **options,
        )
        self.cases = sa.Table(
            f"{p}cases",
            self.metadata,
            sa.Column("id", key_type(ID_LENGTH), primary_key=True),
            sa.Column("workflow", name, nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("state", name, nullable=False),
            sa.Column("community", value),
            sa.Column("category", value),
            sa.Column("severity", value),
            sa.Column("deadline", sa.Date),
            sa.Column("escalation", sa.Integer),
            sa.Column("is_final", sa.Boolean, nullable=False),
            sa.Column("is_paused", sa.Boolean, nullable=False),
            sa.Column("head_seq", sa.Integer, nullable=False),
            sa.Column("head_digest", sa.String(64), nullable=False),
            sa.Column("data", text, nullable=False),
            sa.Column("case_json", text, nullable=False),
            sa.Index(f"{p}cases_community", "community"),
            sa.Index(f"{p}cases_state", "state"),
            sa.Index(f"{p}cases_category", "category"),
            sa.Index(f"{p}cases_severity", "severity"),
            sa.Index(f"{p}cases_final_deadline", "is_final", "deadline"),
            sa.Index(f"{p}cases_escalation", "escalation"),
            **options,
        )
        self.outbox = sa.Table(
            f"{p}outbox",
            self.metadata,
            sa.Column("id", key_type(_EFFECT_ID_LENGTH), primary_key=True),
            sa.Column("case_id", key_type(ID_LENGTH), nullable=False),
            sa.Column("effect", text, nullable=False),
            sa.Column("created", sa.BigInteger, nullable=False),  # ns since the epoch
            sa.Column("attempts", sa.Integer, nullable=False, default=0),
            sa.Column("last_error", text),  # version 2: why the last attempt failed
            sa.Column("dead", sa.Boolean, nullable=False, server_default=sa.false()),  # v2
            sa.Index(f"{p}outbox_created", "created"),
            **options,
        )
        self.numbers = sa.Table(
            f"{p}numbers",
            self.metadata,
            sa.Column("code", sa.String(64), primary_key=True),
            sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("last", sa.Integer, nullable=False),
            **options,
        )
        self.schema = sa.Table(
            f"{p}schema",
            self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("version", sa.Integer, nullable=False),
            **options,
        )


def _postgres_key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length, collation="C")


def _mysql_collation(dialect: sa.Dialect) -> str:
    version = tuple(dialect.server_version_info or ())
    if getattr(dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    return "utf8mb4_0900_bin" if version >= (8, 0, 17) else "utf8mb4_bin"


def _create_v1(conn: sa.Connection, tables: _Tables) -> None:
    """Version 1: every table and index."""
    tables.metadata.create_all(
        conn, tables=[tables.events, tables.cases, tables.outbox, tables.numbers]
    )


def _add_outbox_failures(conn: sa.Connection, tables: _Tables) -> None:
    """Version 2: the outbox records each delivery's last error and dead letters.

    Pending deliveries stay as they are (no error, not dead). A store created by this
    rectify has the columns already (``_create_v1`` creates the newest tables).
    """
    outbox = tables.outbox
    present = {column["name"] for column in sa.inspect(conn).get_columns(outbox.name)}
    table = conn.dialect.identifier_preparer.format_table(outbox)
    for name in ("last_error", "dead"):
        if name not in present:
            column = sa.schema.CreateColumn(outbox.c[name]).compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column}"))


# Forward-only: migration ``i`` brings the schema from version ``i`` to ``i + 1``. A later
# migration alters the tables of the version before it (``_Tables`` describes the newest),
# and finds them already altered in a store that ``_create_v1`` has just made.
_MIGRATIONS: Final[tuple[Callable[[sa.Connection, _Tables], None], ...]] = (
    _create_v1,
    _add_outbox_failures,
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)


# -- rows ---------------------------------------------------------------------------------


def _indexed(case: Case, field: str) -> str | None:
    value = case.data.get(field)
    if not isinstance(value, str):
        return None
    if len(value) > VALUE_LENGTH:
        raise StoreError(
            f"case {case.id!r}: data field {field!r} is longer than {VALUE_LENGTH} characters"
        )
    return value


def _check(case: Case) -> None:
    if not case.id or len(case.id) > ID_LENGTH:
        raise StoreError(f"case id {case.id!r} must have 1 to {ID_LENGTH} characters")
    for what, name in (("workflow", case.workflow), ("state", case.state)):
        if len(name) > NAME_LENGTH:
            raise StoreError(f"case {case.id!r}: {what} longer than {NAME_LENGTH} characters")


def _projection(case: Case) -> dict[str, object]:
    return {
        "id": case.id,
        "workflow": case.workflow,
        "version": case.version,
        "state": case.state,
        **{field: _indexed(case, field) for field in _INDEXED_DATA},
        "deadline": case.deadline,
        "escalation": case.escalation,
        "is_final": case.final,
        "is_paused": case.paused_since is not None,
        "head_seq": case.seq,
        "head_digest": case.history[-1].digest if case.history else "",
        "data": encode_value(case.data),
        "case_json": encode_value(case_to_json(case)),
    }


def _event_row(case_id: str, record: Record) -> dict[str, object]:
    return {
        "case_id": case_id,
        "seq": record.seq,
        "event": record.event,
        "source": record.source,
        "target": record.target,
        "actor": record.actor,
        "role": record.role,
        "at": record.at.isoformat(),
        "payload": encode_value(record.payload),
        "evidence": _json([[e.kind, e.name, e.sha256] for e in record.evidence]),
        "reason": record.reason,
        "prev": record.prev,
        "digest": record.digest,
    }


def _record(row: Any) -> Record:  # noqa: ANN401 - a row of the events table
    payload = decode(row.payload)
    evidence = json.loads(row.evidence)
    return Record(
        int(row.seq),
        str(row.event),
        row.source,
        str(row.target),
        str(row.actor),
        str(row.role),
        dt.datetime.fromisoformat(row.at),
        payload if isinstance(payload, dict) else {},
        tuple(Evidence(str(k), str(n), str(h)) for k, n, h in evidence),
        row.reason,
        str(row.prev),
        str(row.digest),
    )


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
    for name in (*_AUDITED, "deadline"):
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


# -- the store ----------------------------------------------------------------------------


class SQLStore:
    """A durable store on SQLite, PostgreSQL or MariaDB/MySQL (SQLAlchemy Core).

    Open one with :meth:`open` from a file path (SQLite) or a database URL
    (``sqlite:///...``, ``postgresql+psycopg://...``, ``mysql+pymysql://...``); the schema
    is created or brought forward then. Several processes may write to PostgreSQL and
    MariaDB at once; SQLite allows one writer at a time (others wait up to the busy
    timeout).

    Args:
        engine: A SQLAlchemy engine. For SQLite the store sets its connections up (WAL,
            ``synchronous=FULL``, a busy timeout, writes that take the lock at ``BEGIN``).
        prefix: The start of every table and index name (lower-case letters, digits and
            ``_``, at most 32), so several stores can share a database.
        owns_engine: Whether :meth:`close` disposes of the engine.

    Raises:
        StoreError: The database cannot be reached or set up.
        SchemaError: The database's schema is newer than this rectify.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        prefix: str = "rectify_",
        owns_engine: bool = False,
        create: bool = True,
        shared: bool = True,
    ) -> None:
        if not _PREFIX.fullmatch(prefix):
            raise StoreError(
                f"table prefix {prefix!r} must be 1 to 32 lower-case letters, digits or "
                "underscores, not starting with a digit"
            )
        self._engine = engine
        self._prefix = prefix
        self._owns_engine = owns_engine
        self._create = create
        self._shared = shared
        self._sqlite = engine.dialect.name == "sqlite"
        if self._sqlite:
            _configure_sqlite(engine)
        where = engine.url.render_as_string(hide_password=True)
        with self._failing(f"connecting to {where}"), engine.connect():
            pass  # the dialect learns the server's kind and version
        self._tables = _Tables(prefix, engine.dialect)
        self._migrate(where)

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str],
        *,
        prefix: str = "rectify_",
        connect_timeout: float | None = CONNECT_TIMEOUT,
        create: bool = True,
        shared: bool = True,
        **options: object,
    ) -> SQLStore:
        """Return a store on ``target``: a SQLite file path or a database URL.

        A path's parent folder is created when missing (and ``create``). ``options`` go to
        :func:`sqlalchemy.create_engine`.

        Args:
            target: A SQLite file path or a database URL.
            prefix: The start of the store's table names.
            connect_timeout: Seconds to wait for a database server to answer when
                connecting (``None``: as long as the driver waits, possibly for ever).
            create: Whether a store may be set up where there is none; when false, a
                missing SQLite file or a database without the store's tables is refused.
            shared: Whether the store may be set up in a database that holds tables not
                of rectify (names not starting with ``prefix``).
            **options: Passed to :func:`sqlalchemy.create_engine`.

        Raises:
            StoreError: ``target`` is not a usable URL, no store is there and ``create``
                is false, or the database cannot be reached.
            SchemaError: The database holds foreign tables and ``shared`` is false.
        """
        text = os.fspath(target)
        url = _url(text)
        if url.get_backend_name() == "sqlite" and url.database not in {None, "", ":memory:"}:
            path = Path(url.database or "").expanduser()
            if not create and not path.exists():
                raise StoreError(f"no store at {path}; create one first (rectify init)")
            if create and "://" not in text:
                path.resolve().parent.mkdir(parents=True, exist_ok=True)
        lift = _set_connect_timeout(url, connect_timeout, options)
        if url.get_backend_name() == "sqlite" and url.database in {None, "", ":memory:"}:
            # One shared connection, or every connection would see its own empty database.
            options.setdefault("poolclass", StaticPool)
            options.setdefault("connect_args", {"check_same_thread": False})
        try:
            engine = sa.create_engine(url, **options)
        except (sa_exc.SQLAlchemyError, ImportError) as exc:
            where = url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open a store at {where}: {_reason(exc)}") from exc
        if lift:
            sa_event.listen(engine, "connect", _lift_read_timeout)
        try:
            return cls(engine, prefix=prefix, owns_engine=True, create=create, shared=shared)
        except BaseException:
            engine.dispose()
            raise

    def __repr__(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        return f"SQLStore({url!r}, prefix={self._prefix!r})"

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> sa.Engine:
        """Return the SQLAlchemy engine (for a host's own reports on the tables)."""
        return self._engine

    @property
    def prefix(self) -> str:
        """Return the prefix of the store's table names."""
        return self._prefix

    @property
    def metadata(self) -> sa.MetaData:
        """Return the tables, as SQLAlchemy metadata."""
        return self._tables.metadata

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _failing(self, what: str) -> Iterator[None]:
        """Turn database errors into ``StoreError`` saying what failed."""
        try:
            yield
        except sa_exc.SQLAlchemyError as exc:
            raise StoreError(f"{what} failed: {_reason(exc)}") from exc

    @contextlib.contextmanager
    def _begin(self, *, write: bool = False) -> Iterator[sa.Connection]:
        """Yield a connection in a transaction, committed when the block ends normally."""
        with self._engine.connect() as conn:
            if write and self._sqlite:
                conn.execution_options(rectify_write=True)
            with conn.begin():
                yield conn

    def _migrate(self, where: str) -> None:
        tables = self._tables
        with (
            self._failing(f"setting up the schema at {where}"),
            self._begin(write=True) as conn,
            self._migration_lock(conn),
        ):
            self._may_set_up(conn, where)
            tables.schema.create(conn, checkfirst=True)
            found = conn.execute(sa.select(tables.schema.c.version)).scalar_one_or_none()
            version = int(found or 0)
            if version > SCHEMA_VERSION:
                raise SchemaError(
                    f"the rectify tables {self._prefix}* at {where} have schema version "
                    f"{version}, newer than this rectify knows ({SCHEMA_VERSION}); "
                    "upgrade rectify to use them"
                )
            for migrate in _MIGRATIONS[version:]:
                migrate(conn, tables)
            if found is None:
                conn.execute(tables.schema.insert().values(id=1, version=SCHEMA_VERSION))
            elif version < SCHEMA_VERSION:
                conn.execute(tables.schema.update().values(version=SCHEMA_VERSION))

    def _may_set_up(self, conn: sa.Connection, where: str) -> None:
        """Refuse to set a new store up where ``create`` or ``shared`` forbids it.

        Raises:
            StoreError: No store is there and ``create`` is false.
            SchemaError: The database holds tables not of rectify and ``shared`` is false.
        """
        if self._create and self._shared:
            return
        names = sa.inspect(conn).get_table_names()
        if self._tables.schema.name in names:
            return  # a store is here already: opening it sets nothing up
        if not self._create:
            raise StoreError(
                f"no store at {where} (no table {self._tables.schema.name}); "
                "create one first (rectify init)"
            )
        foreign = sorted(name for name in names if not name.startswith(self._prefix))
        if foreign:
            shown = ", ".join(repr(name) for name in foreign[:_SHOWN_TABLES])
            more = len(foreign) - _SHOWN_TABLES
            more_text = f" and {more} more" if more > 0 else ""
            raise SchemaError(
                f"the database at {where} holds tables not of rectify ({shown}{more_text}); "
                "rectify sets its tables up only in a database of its own, unless it is "
                "opened with shared=True (rectify's command line: RECTIFY_DB_SHARED=1)"
            )

    @contextlib.contextmanager
    def _migration_lock(self, conn: sa.Connection) -> Iterator[None]:
        """Hold a lock so that two processes opening a new database migrate it once."""
        name = f"rectify:{self._engine.url.database}:{self._prefix}"
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(name.encode())}
            )
            yield
        elif dialect in {"mysql", "mariadb"}:
            conn.execute(sa.text("SELECT GET_LOCK(:name, 60)"), {"name": name[:64]})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name[:64]})
        else:
            yield  # SQLite: the write transaction holds the database's lock

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

    # -- writing -------------------------------------------------------------------------

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

    # -- reading -------------------------------------------------------------------------

    def get(self, case_id: str) -> Case:
        """Return the case with its history.

        Raises:
            CaseNotFoundError: No such case.
        """
        cases = self._tables.cases
        with self._failing(f"reading case {case_id!r}"), self._begin() as conn:
            row = conn.execute(
                sa.select(cases.c.id, cases.c.head_seq, cases.c.case_json).where(
                    cases.c.id == case_id
                )
            ).first()
            if row is None:
                raise CaseNotFoundError(case_id)
            return self._load(conn, [row])[0]

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
            for name in ("head_seq", "head_digest", "case_json", *_AUDITED, "deadline")
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

    # -- the outbox ----------------------------------------------------------------------

    def pending(self, limit: int = 100, *, skip: Collection[str] = ()) -> list[Delivery]:
        """Return effects neither acknowledged nor dead, oldest first (see :class:`Store`).

        Each call counts an attempt: the row's ``attempts`` is raised in the transaction
        that reads it, and the deliveries carry the raised count (1 the first time).
        """
        outbox = self._tables.outbox
        statement = (
            sa.select(
                outbox.c.id,
                outbox.c.case_id,
                outbox.c.effect,
                outbox.c.attempts,
                outbox.c.last_error,
            )
            .where(outbox.c.dead == sa.false())
            .order_by(outbox.c.created, outbox.c.id)
            .limit(max(limit, 0))
        )
        for ids in _chunks(sorted(set(skip))):
            statement = statement.where(outbox.c.id.not_in(ids))
        with self._failing("reading the outbox"), self._begin(write=True) as conn:
            rows = conn.execute(statement).all()
            for ids in _chunks([str(row.id) for row in rows]):
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(ids))
                    .values(attempts=outbox.c.attempts + 1)
                )
        return [
            Delivery(
                str(row.id),
                str(row.case_id),
                effect_from_json(json.loads(row.effect)),
                int(row.attempts) + 1,  # this hand-out, counted in the update above
                row.last_error,
            )
            for row in rows
        ]

    def fail(self, delivery_id: str, error: str, *, dead_after: int) -> Delivery | None:
        """Record that a delivery failed (see :class:`Store`), in one transaction."""
        outbox = self._tables.outbox
        text = clean_error(error)
        with (
            self._failing(f"recording the failure of {delivery_id!r}"),
            self._begin(write=True) as conn,
        ):
            conn.execute(
                outbox.update()
                .where(outbox.c.id == delivery_id)
                .values(
                    last_error=text,
                    dead=sa.or_(outbox.c.dead, outbox.c.attempts >= dead_after),
                )
            )
            row = conn.execute(self._deliveries().where(outbox.c.id == delivery_id)).first()
        return None if row is None else _delivery(row)

    def failed(self, limit: int = 100) -> list[Delivery]:
        """Return deliveries whose last attempt failed, dead ones included, oldest first."""
        outbox = self._tables.outbox
        statement = (
            self._deliveries()
            .where(outbox.c.last_error.is_not(None))
            .order_by(outbox.c.created, outbox.c.id)
            .limit(max(limit, 0))
        )
        with self._failing("reading the failed deliveries"), self._begin() as conn:
            return [_delivery(row) for row in conn.execute(statement).all()]

    def _deliveries(self) -> sa.Select[Any]:
        outbox = self._tables.outbox
        return sa.select(
            outbox.c.id,
            outbox.c.case_id,
            outbox.c.effect,
            outbox.c.attempts,
            outbox.c.last_error,
            outbox.c.dead,
        )

    def acknowledge(self, ids: Iterable[str]) -> None:
        """Delete delivered effects from the outbox; unknown or repeated ids are ignored."""
        outbox = self._tables.outbox
        done = sorted(set(ids))
        if not done:
            return
        with self._failing("acknowledging effects"), self._begin(write=True) as conn:
            for chunk in _chunks(done):
                conn.execute(outbox.delete().where(outbox.c.id.in_(chunk)))

    def close(self) -> None:
        """Release the connections (when the store opened the engine itself)."""
        if self._owns_engine:
            self._engine.dispose()


def _delivery(row: Any) -> Delivery:  # noqa: ANN401 - a row of the outbox table
    return Delivery(
        str(row.id),
        str(row.case_id),
        effect_from_json(json.loads(row.effect)),
        int(row.attempts),
        row.last_error,
        bool(row.dead),
    )


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # sqlite3 must not open transactions itself: ``_sqlite_begin`` does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 10000")
        # Switching to WAL (or recovering the WAL a killed writer left) can report "locked"
        # without waiting for the busy timeout; it passes once the other process is done.
        for attempt in range(_LOCKED_RETRIES):
            try:
                cursor.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == _LOCKED_RETRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        cursor.execute("PRAGMA synchronous = FULL")
    finally:
        cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A writer takes the write lock at BEGIN, so that it waits for another writer (busy
    # timeout) instead of failing when it would upgrade a read lock.
    write = conn.get_execution_options().get("rectify_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _configure_sqlite(engine: sa.Engine) -> None:
    """Set SQLite connections up: durable WAL, a busy timeout, writers lock at BEGIN."""
    if sa_event.contains(engine, "begin", _sqlite_begin):
        return
    sa_event.listen(engine, "connect", _sqlite_connect)
    sa_event.listen(engine, "begin", _sqlite_begin)
    engine.dispose()  # connections made before the hooks were set up would lack them


def open_store(
    target: str | os.PathLike[str],
    *,
    prefix: str = "rectify_",
    connect_timeout: float | None = CONNECT_TIMEOUT,
    create: bool = True,
    shared: bool = False,
) -> SQLStore | MemoryStore:
    """Return the store at ``target``: ``"memory:"``, a SQLite file path or a database URL.

    Examples: ``"memory:"``, ``"data/rectify.db"``, ``"sqlite:///data/rectify.db"``,
    ``"postgresql+psycopg://user@host/db"``, ``"mysql+pymysql://user@host/db"``.

    Unlike :meth:`SQLStore.open`, this refuses by default to set a store up in a database
    that holds other tables (``shared=True`` allows it); see :meth:`SQLStore.open` for
    ``connect_timeout``, ``create`` and ``shared``.
    """
    if os.fspath(target) == "memory:":
        return MemoryStore()
    return SQLStore.open(
        target, prefix=prefix, connect_timeout=connect_timeout, create=create, shared=shared
    )


def _url(text: str) -> sa.URL:
    """Return the URL of a store target (a path is a SQLite file).

    Raises:
        StoreError: ``text`` is not a URL SQLAlchemy can read (named, password masked).
    """
    if "://" not in text:
        return sa.URL.create("sqlite", database=str(Path(text).expanduser().resolve()))
    try:
        return sa.make_url(text)
    except (sa_exc.ArgumentError, ValueError) as exc:
        raise StoreError(f"cannot open a store at {_masked(text)}: not a database URL") from exc


def _masked(text: str) -> str:
    """Return a URL SQLAlchemy could not read with its password (``user:password@``) masked."""
    return re.sub(r"(://[^/@:]*:)[^@]*@", r"\1***@", text)


def _set_connect_timeout(url: sa.URL, seconds: float | None, options: dict[str, object]) -> bool:
    """Add the driver's connect timeout to ``options`` (the host's own one wins).

    Returns whether a read timeout was added only for connecting, to be lifted after.

    psycopg and libpq take whole seconds; PyMySQL's ``connect_timeout`` covers only the TCP
    connect, so its ``read_timeout`` bounds the server's greeting too, and is lifted once
    the connection is made (``_lift_read_timeout``).

    Raises:
        StoreError: ``seconds`` is not a positive number.
    """
    if seconds is None:
        return False
    if not (isinstance(seconds, int | float) and 0 < seconds <= _MAX_TIMEOUT):
        raise StoreError(f"connect timeout {seconds!r} must be a positive number of seconds")
    # Not ``get_driver_name()``: it loads the dialect, which may not exist (a StoreError
    # from ``create_engine`` later).
    backend, driver = url.get_backend_name(), url.drivername.partition("+")[2]
    given = options.get("connect_args")
    args: dict[str, object] = dict(given) if isinstance(given, dict) else {}
    lift = False
    if backend == "postgresql":
        args.setdefault("connect_timeout", max(1, math.ceil(seconds)))
    elif backend in {"mysql", "mariadb"} and driver == "pymysql":
        args.setdefault("connect_timeout", seconds)
        lift = "read_timeout" not in args
        args.setdefault("read_timeout", seconds)
    elif backend in {"mysql", "mariadb"}:
        args.setdefault("connect_timeout", max(1, math.ceil(seconds)))
    else:
        return False
    options["connect_args"] = args
    return lift


def _lift_read_timeout(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401 - a PyMySQL connection
    # Queries may wait longer than connecting may (GET_LOCK, lock waits): PyMySQL sets the
    # socket's timeout from this attribute before each read.
    if hasattr(dbapi_connection, "_read_timeout"):
        dbapi_connection._read_timeout = None  # PyMySQL has no setter
