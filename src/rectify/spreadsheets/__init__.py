"""Ledger spreadsheets (台账): reading CSV/XLSX ledgers into cases, and writing them out.

Owns the ledger's columns, reading rows with per-row and per-column problems, inferring a
hazard's category from its text, stable case ids, and writing ledgers, totals and other
tables (XLSX laid out for print) with formulas neutralised and personal data masked; and
reading the campaign's other sheets the same way: the old-estate register (one survey case
per building) and earlier years' rectified hazards (one ``earlier`` case each).

May import: ``rectify.documents``, ``rectify.engine``, ``rectify.calendar``,
``rectify.definitions`` and the foundation. Never a store: the ``Ledger`` stores what an
import returns.
"""

from __future__ import annotations

from rectify.spreadsheets._print import TableColumn
from rectify.spreadsheets._reading import read_ledger
from rectify.spreadsheets._register import (
    EarlierImport,
    RegisterImport,
    building_id,
    earlier_id,
    read_earlier,
    read_register,
)
from rectify.spreadsheets._values import (
    LEDGER_HEADERS,
    SURE_CONFIDENCE,
    DuplicateRow,
    InferredCategory,
    LedgerImport,
    LedgerProblem,
    LedgerRow,
    LedgerTotal,
)
from rectify.spreadsheets._writing import (
    ledger_totals,
    write_ledger,
    write_ledger_totals,
    write_table,
)

__all__ = [
    "LEDGER_HEADERS",
    "SURE_CONFIDENCE",
    "DuplicateRow",
    "EarlierImport",
    "InferredCategory",
    "LedgerImport",
    "LedgerProblem",
    "LedgerRow",
    "LedgerTotal",
    "RegisterImport",
    "TableColumn",
    "building_id",
    "earlier_id",
    "ledger_totals",
    "read_earlier",
    "read_ledger",
    "read_register",
    "write_ledger",
    "write_ledger_totals",
    "write_table",
]
