"""Stores: where a :class:`rectify.Ledger` keeps cases, histories and pending effects.

``MemoryStore`` is for tests and small hosts. ``SQLStore`` keeps cases durably in SQLite
(the embedded default), PostgreSQL or MariaDB/MySQL::

    from rectify.stores import open_store

    store = open_store("data/rectify.db")                       # SQLite
    store = open_store("postgresql+psycopg://rectify@db/town")  # pip install rectify[postgres]
    store = open_store("mysql+pymysql://rectify@db/town")       # pip install rectify[mysql]
    store = open_store("memory:")                               # a MemoryStore

Owns the ``Store`` protocol, the memory store, the SQL store (SQLAlchemy Core, forward-only
schema migrations, outbox, number book) and the JSON codec of cases and records.

May import: ``rectify.engine`` (the values it stores) and the foundation; never documents.
"""

from __future__ import annotations

from rectify.stores._sql import SQLStore, open_store
from rectify.stores._store import (
    AuditRow,
    CaseQuery,
    CaseSummary,
    Delivery,
    MemoryStore,
    Store,
)

__all__ = [
    "AuditRow",
    "CaseQuery",
    "CaseSummary",
    "Delivery",
    "MemoryStore",
    "SQLStore",
    "Store",
    "open_store",
]
