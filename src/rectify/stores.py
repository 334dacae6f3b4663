"""Stores: where a :class:`rectify.Ledger` keeps cases, histories and pending effects.

``MemoryStore`` is for tests and small hosts. ``SQLStore`` keeps cases durably in SQLite
(the embedded default), PostgreSQL or MariaDB/MySQL::

    from rectify.stores import open_store

    store = open_store("data/rectify.db")                       # SQLite
    store = open_store("postgresql+psycopg://rectify@db/town")  # pip install rectify[postgres]
    store = open_store("mysql+pymysql://rectify@db/town")       # pip install rectify[mysql]
    store = open_store("memory:")                               # a MemoryStore
"""

from __future__ import annotations

from rectify._sql import SQLStore, open_store
from rectify._store import CaseQuery, Delivery, MemoryStore, Store

__all__ = ["CaseQuery", "Delivery", "MemoryStore", "SQLStore", "Store", "open_store"]
