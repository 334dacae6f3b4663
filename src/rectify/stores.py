"""Stores: where a :class:`rectify.Ledger` keeps cases, histories and pending effects.

``MemoryStore`` is for tests and small hosts. The SQL store keeps cases durably in SQLite
(the embedded default), PostgreSQL or MariaDB/MySQL.
"""

from __future__ import annotations

from rectify._store import CaseQuery, Delivery, MemoryStore, Store

__all__ = ["CaseQuery", "Delivery", "MemoryStore", "Store"]
