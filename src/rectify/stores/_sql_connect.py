"""The SQL store's connections: engines set up, and the transactions its parts run in.

Owns reading a store target (a SQLite path or a database URL, its password masked in
errors), the driver connect timeouts, SQLite's connection settings (WAL, ``synchronous``
FULL, a busy timeout, writers locking at ``BEGIN``), the database's own message of an error
(``_reason``), and ``_Connected``: the engine, tables and transaction plumbing that the
store's reading, writing and outbox parts share.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import math
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc

from rectify.exceptions import StoreError
from rectify.stores._sql_schema import _Tables

__all__: list[str] = []

_LOCKED_RETRIES: Final = 40  # about 40 s at most, waiting longer each time
_MAX_TIMEOUT: Final = 31_536_000  # a year: the most PyMySQL takes


def _reason(exc: BaseException) -> str:
    """Return the database's own message, without SQLAlchemy's SQL and parameters."""
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


class _Raw:
    """A statement compiled once for the store's database, run on the driver's own cursor.

    SQLAlchemy's execution costs several times what the driver's does for the small
    statements of a fire (a cache lookup, events, result processing); these run on the
    cursor of the connection's transaction, and the driver's errors are raised as
    SQLAlchemy's (``IntegrityError`` ...), as ``Connection.execute`` raises them.
    """

    def __init__(
        self, statement: sa.ClauseElement, dialect: sa.Dialect, keys: Sequence[str] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        self.sql = compiled.string
        positions = getattr(compiled, "positiontup", None)  # SQLCompiler's, when positional
        self._names = tuple(positions) if positions is not None else None
        # SQLAlchemy keeps a date as ISO text in SQLite; do as it does, not sqlite3's adapter.
        self._dates_as_text = dialect.name == "sqlite"

    def params(self, values: Mapping[str, object]) -> Sequence[object] | Mapping[str, object]:
        if self._dates_as_text:
            values = {
                key: value.isoformat() if type(value) is dt.date else value
                for key, value in values.items()
            }
        return values if self._names is None else tuple(values[name] for name in self._names)

    def run(self, conn: sa.Connection, values: Mapping[str, object]) -> Any:  # noqa: ANN401 - a DBAPI cursor
        """Run the statement once; return the cursor (rows, ``rowcount``)."""
        params = self.params(values)
        cursor = conn.connection.cursor()
        with _driver_errors(conn, self.sql, params):
            cursor.execute(self.sql, params)
        return cursor

    def run_many(self, conn: sa.Connection, rows: Sequence[Mapping[str, object]]) -> None:
        """Run the statement once per row, in one call to the driver."""
        params: Any = [self.params(row) for row in rows]
        cursor = conn.connection.cursor()
        with _driver_errors(conn, self.sql, params):
            cursor.executemany(self.sql, params)
        cursor.close()


@contextlib.contextmanager
def _driver_errors(conn: sa.Connection, sql: str, params: Any) -> Iterator[None]:  # noqa: ANN401 - a driver's parameters
    error: type[Exception] = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except error as exc:
        raise sa_exc.DBAPIError.instance(sql, params, exc, error, dialect=conn.dialect) from exc


class _Statements:
    """The statements of the store's busiest paths, compiled once per store (``_Raw``)."""

    def __init__(self, tables: _Tables, dialect: sa.Dialect) -> None:
        cases, events, outbox = tables.cases, tables.events, tables.outbox
        c = cases.c
        row = sa.select(c.id, c.head_seq, c.case_json).where(c.id == sa.bindparam("b_id"))
        self.case_row = _Raw(row, dialect)
        #: The case row to change, locked until the transaction ends where rows lock.
        locked = row if dialect.name == "sqlite" else row.with_for_update()
        self.case_row_locked = _Raw(locked, dialect)
        self.records = _Raw(
            sa.select(events)
            .where(events.c.case_id == sa.bindparam("b_id"))
            .order_by(events.c.seq),
            dialect,
        )
        #: A row of ``records``, its columns by name (as ``_record`` reads them).
        self.record_row: Callable[..., Any] = collections.namedtuple(  # type: ignore[misc]
            "record_row", [col.name for col in events.c]
        )
        head_is = (c.id == sa.bindparam("b_id")) & (c.head_seq == sa.bindparam("b_seq"))
        projection = [col.name for col in cases.c if col.name != "id"]
        #: Every projection column, where the head is still the one read.
        self.advance = _Raw(cases.update().where(head_is), dialect, projection)
        self.reschedule = _Raw(
            cases.update().where(head_is).values(next_due=sa.bindparam("b_due")), dialect
        )
        self.add_events = _Raw(events.insert(), dialect, [col.name for col in events.c])
        self.add_cases = _Raw(cases.insert(), dialect, [col.name for col in cases.c])
        self.add_effects = _Raw(
            outbox.insert(), dialect, ["id", "case_id", "effect", "created", "attempts"]
        )


class _Connected:
    """The engine, tables and transactions shared by the parts of ``SQLStore``."""

    _engine: sa.Engine
    _sqlite: bool  # SQLite: writers take the lock at BEGIN (``_sqlite_begin``)
    _tables: _Tables

    @functools.cached_property
    def _statements(self) -> _Statements:
        return _Statements(self._tables, self._engine.dialect)

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


def _url(text: str) -> sa.URL:
    """Return the URL of a store target (a path is a SQLite file).

    Raises:
        StoreError: ``text`` is not a URL SQLAlchemy can read (named, password masked).
    """
    if text == ":memory:":  # SQLite's own name of a database in memory, not a file name
        return sa.URL.create("sqlite")
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
