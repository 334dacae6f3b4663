"""The SQL store's schema: its tables, fitted to each database, and their migrations.

Owns ``_Tables`` (the seven tables of one prefix, with key types and collations chosen for
PostgreSQL, MariaDB/MySQL or SQLite so that ids compare by code point everywhere), the
column lengths the store checks cases against, and the forward-only migrations with the
schema version they lead to. It runs nothing by itself: ``SQLStore`` applies the
migrations when it opens a database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from rectify.stores._store import DOCUMENT_KEY_LENGTH

__all__ = ["ID_LENGTH", "NAME_LENGTH", "SCHEMA_VERSION", "VALUE_LENGTH"]

# Lengths MariaDB can index in utf8mb4 (4 bytes a character, 3072 bytes a key).
ID_LENGTH: Final = 200  # case ids
NAME_LENGTH: Final = 128  # workflow, state and event names
VALUE_LENGTH: Final = 255  # community, category and severity: the indexed data fields
_EFFECT_ID_LENGTH: Final = 255
_INDEXED_DATA: Final = ("community", "category", "severity")


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
            # Version 4: when the next escalation level can come due, in seconds since the
            # epoch (0: not known, so a sweep looks; ``NEVER``'s: none can until it changes).
            sa.Column("next_due", sa.BigInteger, nullable=False, server_default="0"),
            sa.Index(f"{p}cases_community", "community"),
            sa.Index(f"{p}cases_state", "state"),
            sa.Index(f"{p}cases_category", "category"),
            sa.Index(f"{p}cases_severity", "severity"),
            sa.Index(f"{p}cases_final_deadline", "is_final", "deadline"),
            sa.Index(f"{p}cases_escalation", "escalation"),
            sa.Index(f"{p}cases_final_next_due", "is_final", "next_due"),  # version 4
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
        # Version 3: each numbered document once, and the hashes of its first renderings.
        self.documents = sa.Table(
            f"{p}documents",
            self.metadata,
            sa.Column("identity", key_type(DOCUMENT_KEY_LENGTH), primary_key=True),
            sa.Column("code", sa.String(64), nullable=False),
            sa.Column("year", sa.Integer, nullable=False),
            sa.Column("number", sa.Integer, nullable=False),
            sa.Column("issued_on", sa.Date, nullable=False),
            **options,
        )
        self.renderings = sa.Table(
            f"{p}renderings",
            self.metadata,
            sa.Column("identity", key_type(DOCUMENT_KEY_LENGTH), primary_key=True),
            sa.Column("variant", key_type(DOCUMENT_KEY_LENGTH), primary_key=True),
            sa.Column("template_sha256", sa.String(64), nullable=False),
            sa.Column("context_sha256", sa.String(64), nullable=False),
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
    """Version 1: the tables of cases, records, effects and numbers, with their indexes."""
    tables.metadata.create_all(
        conn, tables=[tables.events, tables.cases, tables.outbox, tables.numbers]
    )


def _add_outbox_failures(conn: sa.Connection, tables: _Tables) -> None:
    """Version 2: the outbox records each delivery's last error and dead letters.

    Pending deliveries stay as they are (no error, not dead). A store created by this
    rectify has the columns already (``_create_v1`` creates the newest tables).
    """
    _add_columns(conn, tables.outbox, ("last_error", "dead"))


def _add_columns(conn: sa.Connection, table: sa.Table, names: tuple[str, ...]) -> None:
    """Add the columns ``names`` of ``table`` (as ``_Tables`` describes them) it lacks."""
    present = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
    quoted = conn.dialect.identifier_preparer.format_table(table)
    for name in names:
        if name not in present:
            column = sa.schema.CreateColumn(table.c[name]).compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {quoted} ADD COLUMN {column}"))


def _add_documents(conn: sa.Connection, tables: _Tables) -> None:
    """Version 3: the register of numbered documents and their renderings' hashes.

    Both tables are new; the numbers already taken stay in ``numbers``, whose series the
    register goes on with. A table already there (a migration cut short where DDL does
    not roll back, as on MariaDB) is left as it is.
    """
    tables.metadata.create_all(conn, tables=[tables.documents, tables.renderings], checkfirst=True)


def _add_schedule(conn: sa.Connection, tables: _Tables) -> None:
    """Version 4: each case's next escalation moment, indexed for sweeps.

    Existing cases get 0 (not known): the first sweep looks at each open one once and
    keeps its moment. A store created by this rectify has the column and index already.
    """
    cases = tables.cases
    _add_columns(conn, cases, ("next_due",))
    indexes = {index["name"] for index in sa.inspect(conn).get_indexes(cases.name)}
    for index in cases.indexes:
        if index.name not in indexes:
            index.create(conn)


# Forward-only: migration ``i`` brings the schema from version ``i`` to ``i + 1``. A later
# migration alters the tables of the version before it (``_Tables`` describes the newest),
# and finds them already altered in a store that ``_create_v1`` has just made; a table a
# later version adds is created by its migration only, in new and older stores alike.
_MIGRATIONS: Final[tuple[Callable[[sa.Connection, _Tables], None], ...]] = (
    _create_v1,
    _add_outbox_failures,
    _add_documents,
    _add_schedule,
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)
