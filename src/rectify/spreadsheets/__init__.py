"""Ledger spreadsheets (台账): reading CSV/XLSX ledgers into cases, and writing them out.

Owns the ledger's columns, reading rows with per-row and per-column problems, inferring a
hazard's category from its text, stable case ids, and writing ledgers and totals with
formulas neutralised and phones masked.

May import: ``rectify.documents``, ``rectify.engine``, ``rectify.calendar``,
``rectify.definitions`` and the foundation. Never a store: the ``Ledger`` stores what an
import returns.
"""

from __future__ import annotations

from rectify.spreadsheets._reading import read_ledger
from rectify.spreadsheets._values import (
    LEDGER_HEADERS,
    DuplicateRow,
    InferredCategory,
    LedgerImport,
    LedgerProblem,
    LedgerRow,
    LedgerTotal,
)
from rectify.spreadsheets._writing import ledger_totals, write_ledger, write_ledger_totals

__all__ = [
    "LEDGER_HEADERS",
    "DuplicateRow",
    "InferredCategory",
    "LedgerImport",
    "LedgerProblem",
    "LedgerRow",
    "LedgerTotal",
    "ledger_totals",
    "read_ledger",
    "write_ledger",
    "write_ledger_totals",
]
