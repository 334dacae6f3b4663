"""The SQL store: cases kept durably in SQLite, PostgreSQL or MariaDB/MySQL.

SQLAlchemy Core, seven tables (their names start with a prefix, ``rectify_`` by default):

- ``events``: the append-only history, one row per record, keyed by (case id, seq);
- ``cases``: the projection, one row per case: the columns the queries filter on, the
  head (sequence number and digest of the last record) and the whole case as JSON;
- ``outbox``: effects waiting for the host, keyed by their stable id, with the attempts
  made, the last failure's error and whether it is a dead letter;
- ``numbers``: the last document number of each code and year;
- ``documents``: each numbered document once, by identity: its code, year, number and
  date (schema version 3);
- ``renderings``: the template and context hashes of each document's first rendering per
  variant (version 3);
- ``schema``: the schema version, brought forward by migrations when a store opens.

Every write is one transaction. Appending updates the projection only where the head is
still the one the writer read, so a concurrent writer loses with ``ConcurrencyError`` and
nothing of its write is stored.

The store is split by concern into private modules, each one part of ``SQLStore``:
``_sql_schema`` (tables and migrations), ``_sql_rows`` (cases and records as rows),
``_sql_connect`` (engines, SQLite settings, transactions), ``_sql_read`` (reads and the
verification audit), ``_sql_write`` (writes, numbers and the document register) and
``_sql_outbox``. This module puts them together: opening a store, setting its schema up or
bringing it forward, and ``open_store``.
"""

from __future__ import annotations

import contextlib
import os
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool

from rectify.exceptions import SchemaError, StoreError
from rectify.stores._sql_connect import (
    _configure_sqlite,
    _lift_read_timeout,
    _reason,
    _set_connect_timeout,
    _url,
)
from rectify.stores._sql_outbox import _Outbox
from rectify.stores._sql_read import _Reading
from rectify.stores._sql_schema import _MIGRATIONS, SCHEMA_VERSION, _Tables
from rectify.stores._sql_write import _Writing
from rectify.stores._store import MemoryStore

__all__ = ["SCHEMA_VERSION", "SQLStore", "open_store"]

_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,31}")
#: Seconds ``open_store`` waits for a database server to answer before giving up.
CONNECT_TIMEOUT: Final = 5.0
_SHOWN_TABLES: Final = 10  # foreign tables named in the error


class SQLStore(_Writing, _Reading, _Outbox):
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

    # -- the schema ----------------------------------------------------------------------

    def _migrate(self, where: str) -> None:
        tables = self._tables
        with (
            self._failing(f"setting up the schema at {where}"),
            self._migration_lock() as lock,
            self._begin(write=True) as conn,
        ):
            lock(conn)
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
    def _migration_lock(self) -> Iterator[Callable[[sa.Connection], None]]:
        """Hold a lock so that two processes opening a new database migrate it once.

        Yields what takes the lock in the migration's transaction. PostgreSQL's advisory
        lock belongs to that transaction and ends with its commit. MySQL's named lock belongs
        to a session: it is held on a connection of its own and released only after the
        migration's transaction has committed, so that the next process to take it reads
        the schema as the first one left it (released before the commit, it would find no
        schema row yet and insert a second). SQLite's write transaction holds the
        database's lock.
        """
        name = f"rectify:{self._engine.url.database}:{self._prefix}"
        dialect = self._engine.dialect.name
        if dialect in {"mysql", "mariadb"}:
            with self._engine.connect() as session:
                session.execute(sa.text("SELECT GET_LOCK(:name, 60)"), {"name": name[:64]})
                try:
                    yield lambda _conn: None
                finally:
                    session.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name[:64]})
            return

        def take(conn: sa.Connection) -> None:
            if dialect == "postgresql":
                key = zlib.crc32(name.encode())
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

        yield take

    def close(self) -> None:
        """Release the connections (when the store opened the engine itself)."""
        if self._owns_engine:
            self._engine.dispose()


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
