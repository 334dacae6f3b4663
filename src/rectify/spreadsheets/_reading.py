"""Reading a ledger file (CSV or XLSX) into rows of cells, and :func:`read_ledger`.

Owns the file layer of an import: CSV in UTF-8 (with or without a BOM), UTF-16 or
GBK/GB18030, comma- or tab-separated; XLSX through openpyxl (the active sheet, or the first
that has a ledger header); an old ``.xls`` refused with a message. :func:`read_ledger` hands
the rows (or rows a host passes in directly) to
:func:`~rectify.spreadsheets._validation.parse_rows`.
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import io
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from rectify.definitions._categories import CategoryTable
from rectify.exceptions import RectifyError
from rectify.spreadsheets._header import find_header
from rectify.spreadsheets._validation import parse_rows
from rectify.spreadsheets._values import LedgerImport

__all__ = ["need_openpyxl", "read_ledger"]

_XLSX_MAGIC: Final = b"PK\x03\x04"
_XLS_MAGIC: Final = b"\xd0\xcf\x11\xe0"


def need_openpyxl() -> None:
    """Raise :class:`~rectify.exceptions.RectifyError` unless openpyxl is installed."""
    if importlib.util.find_spec("openpyxl") is None:  # pragma: no cover - dev installs it
        raise RectifyError("reading and writing .xlsx needs openpyxl: pip install 'rectify[xlsx]'")


def _decode(data: bytes) -> str:
    """Return CSV bytes as text: UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RectifyError("the CSV file is neither UTF-8 nor GBK/GB18030 text")


def _csv_rows(data: bytes) -> list[list[object]]:
    text = _decode(data)
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _xlsx_rows(data: bytes, sheet: str | None) -> list[list[object]]:
    need_openpyxl()
    import openpyxl  # noqa: PLC0415 - optional: only XLSX needs it

    with warnings.catch_warnings():
        # openpyxl warns about styles and extensions it does not read; values are all we need.
        warnings.simplefilter("ignore", UserWarning)
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            active = [book.active.title] if book.active is not None else []
            names = [sheet] if sheet else [*active, *book.sheetnames]
            if sheet and sheet not in book.sheetnames:
                raise RectifyError(f"no sheet {sheet!r}; sheets: {', '.join(book.sheetnames)}")
            first: list[list[object]] | None = None
            for name in dict.fromkeys(names):
                worksheet = book[name]
                if not hasattr(worksheet, "iter_rows"):  # pragma: no cover - a chart sheet
                    continue
                worksheet.reset_dimensions()
                rows: list[list[object]] = [list(r) for r in worksheet.iter_rows(values_only=True)]
                first = rows if first is None else first
                if find_header(rows) is not None:
                    return rows
            return first or []
        finally:
            book.close()


def _load(
    source: str | os.PathLike[str] | bytes, sheet: str | None
) -> tuple[str, list[list[object]]]:
    if isinstance(source, bytes):
        data, name = source, "<bytes>"
    else:
        path = Path(source)
        data, name = path.read_bytes(), path.name
    if data.startswith(_XLS_MAGIC):
        raise RectifyError(f"{name} is an old .xls workbook: save it as .xlsx or .csv first")
    if data.startswith(_XLSX_MAGIC):
        return name, _xlsx_rows(data, sheet)
    return name, _csv_rows(data)


def read_ledger(
    path_or_rows: str | os.PathLike[str] | bytes | Iterable[Sequence[object]],
    *,
    categories: CategoryTable | None = None,
    town: str | None = None,
    sheet: str | None = None,
) -> LedgerImport:
    """Read a ledger in the Attachment 1 layout; report every row it cannot import.

    Args:
        path_or_rows: A ``.csv`` or ``.xlsx`` file (a path, or its bytes), or rows of cells
            (the values of a sheet, header included).
        categories: The category table (the shipped one by default): category codes and
            titles, the keywords that infer a category from the hazard text (the longest
            match wins), each category's severity and each severity's workflow.
        town: The town, for rows whose 镇街/社区 cell names only the community.
        sheet: The sheet of a workbook; by default the active one, or the first that has
            a ledger header.

    Returns:
        The importable rows (``result.cases()`` feeds :meth:`Ledger.import_cases`), the
        problems of the rows that were not imported, the categories inferred and the
        duplicate rows.

    Raises:
        RectifyError: The file is not CSV text or an XLSX workbook (an old ``.xls``, say).
        OSError: The file cannot be read.
    """
    if categories is None:
        from rectify.definitions._load import load_categories  # noqa: PLC0415 - _load imports much

        categories = load_categories()
    if isinstance(path_or_rows, str | bytes | os.PathLike):
        name, rows = _load(path_or_rows, sheet)
    else:
        name, rows = "<rows>", [list(r) for r in path_or_rows]
    return parse_rows(rows, categories, town, name)
