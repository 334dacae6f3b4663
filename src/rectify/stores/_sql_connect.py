"""The SQL store's connections: engines set up, and the transactions its parts run in.

Owns reading a store target (a SQLite path or a database URL, its password masked in
errors), the driver connect timeouts, SQLite's connection settings (WAL, ``synchronous``
FULL, a busy timeout, writers locking at ``BEGIN``), the database's own message of an error
(``_reason``), and ``_Connected``: the engine, tables and transaction plumbing that the
store's reading, writing and outbox parts share.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import sqlite3
import time
from collections.abc import Iterator
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


class _Statements:
    """The statements of the store's busiest paths, built once per store.

    SQLAlchemy caches a statement's SQL by its shape; building the statement anew for
    every call costs more than running it, so a fire's reads and writes use these.
    """

    def __init__(self, tables: _Tables, *, lock_rows: bool) -> None:
        cases, events = tables.cases, tables.events
        c = cases.c
        self.case_row = sa.select(c.id, c.head_seq, c.case_json).where(c.id == sa.bindparam("b_id"))
        #: The case row to change, locked until the transaction ends where rows lock.
        self.case_row_locked = self.case_row.with_for_update() if lock_rows else self.case_row
        self.records = (
            sa.select(events).where(events.c.case_id == sa.bindparam("b_id")).order_by(events.c.seq)
        )
        head_is = (c.id == sa.bindparam("b_id")) & (c.head_seq == sa.bindparam("b_seq"))
        #: The projection's columns, given by name, where the head is still the one read.
        self.advance = cases.update().where(head_is)
        self.reschedule = cases.update().where(head_is).values(next_due=sa.bindparam("b_due"))
        self.add_events = events.insert()
        self.add_cases = cases.insert()
        self.add_effects = tables.outbox.insert()


class _Connected:
    """The engine, tables and transactions shared by the parts of ``SQLStore``."""

    _engine: sa.Engine
    _sqlite: bool  # SQLite: writers take the lock at BEGIN (``_sqlite_begin``)
    _tables: _Tables

    @functools.cached_property
    def _statements(self) -> _Statements:
        return _Statements(self._tables, lock_rows=not self._sqlite)

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
