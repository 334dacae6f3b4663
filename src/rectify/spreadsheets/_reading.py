"""Reading a ledger file (CSV or XLSX) into rows of cells, and :func:`read_ledger`.

Owns the file layer of an import: CSV in UTF-8 (with or without a BOM), UTF-16 or
GBK/GB18030, comma- or tab-separated; XLSX through openpyxl (the active sheet, or the first
that has a ledger header); an old ``.xls`` refused with a message. :func:`read_ledger` hands
the rows (or rows a host passes in directly) to
:func:`~rectify.spreadsheets._validation.parse_rows`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import importlib.util
import io
import itertools
import os
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Final

from rectify._files import NotRegularFileError, open_regular
from rectify.definitions._categories import CategoryTable
from rectify.exceptions import RectifyError
from rectify.spreadsheets._header import HEADER_SEARCH, find_header
from rectify.spreadsheets._validation import parse_rows
from rectify.spreadsheets._values import LedgerImport

__all__ = ["csv_rows", "need_openpyxl", "read_ledger"]

_XLSX_MAGIC: Final = b"PK\x03\x04"
_XLS_MAGIC: Final = b"\xd0\xcf\x11\xe0"


def need_openpyxl() -> None:
    """Raise :class:`~rectify.exceptions.RectifyError` unless openpyxl is installed."""
    if importlib.util.find_spec("openpyxl") is None:  # pragma: no cover - dev installs it
        raise RectifyError("reading and writing .xlsx needs openpyxl: pip install 'rectify[xlsx]'")


_CHUNK: Final = 1 << 20
#: What openpyxl and the zip layer raise for a file that is not a workbook it can read: a
#: broken zip, missing parts, broken XML, values it cannot parse.
_BROKEN_XLSX: Final = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    EOFError,
    NotImplementedError,
    SyntaxError,  # xml.etree.ElementTree.ParseError, and lxml's XMLSyntaxError
    OSError,
)


def _encoding(stream: BinaryIO, name: str) -> str:
    """Return the encoding of CSV bytes, reading them once in chunks (constant memory).

    UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030 - as ``bytes.decode`` of the
    whole file would decide. Text with NUL characters is refused: no ledger holds them, and
    they mark a binary file or UTF-16 without its BOM.

    Raises:
        RectifyError: The bytes are none of these, or hold NUL characters.
    """
    head = stream.read(len(codecs.BOM_UTF8))
    if head.startswith(codecs.BOM_UTF8):
        candidates: tuple[str, ...] = ("utf-8-sig",)
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    else:
        candidates = ("utf-8", "gb18030")
    for encoding in candidates:
        stream.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        try:
            while chunk := stream.read(_CHUNK):
                if encoding == "utf-16":
                    _refuse_nul(decoder.decode(chunk), name)
                else:  # in UTF-8 and GB18030 a 0 byte is NUL and nothing else
                    _refuse_nul(chunk, name)
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    if candidates[0] != "utf-8":
        raise RectifyError(f"{name}: the CSV file's bytes do not match its {candidates[0]} BOM")
    raise RectifyError(f"{name}: the CSV file is neither UTF-8 nor GBK/GB18030 text")


def _refuse_nul(text: str | bytes, name: str) -> None:
    found = "\x00" in text if isinstance(text, str) else b"\x00" in text
    if found:
        raise RectifyError(
            f"{name}: the CSV file holds NUL characters: it is not a text ledger (save "
            "it again as CSV in UTF-8, or as .xlsx)"
        )


def csv_rows(stream: BinaryIO, name: str) -> Iterator[list[object]]:
    """Yield the rows of a CSV file, reading it as they are taken.

    The file is read twice: once in chunks to settle its encoding, then row by row.

    Raises:
        RectifyError: The file is not CSV text (see ``_encoding``), or a cell is longer
            than the csv module's field limit.
    """
    encoding = _encoding(stream, name)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        sample = text.read(4096)
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        try:
            for row in reader:
                cells: list[object] = list(row)
                yield cells
        except csv.Error as exc:
            raise RectifyError(f"{name}: line {reader.line_num}: {exc}") from exc
    finally:
        text.detach()  # the caller closes the file


def _xlsx_rows(stream: BinaryIO, name: str, sheet: str | None) -> Iterator[list[object]]:
    need_openpyxl()
    import openpyxl  # noqa: PLC0415 - optional: only XLSX needs it

    with warnings.catch_warnings():
        # openpyxl warns about styles and extensions it does not read; values are all we need.
        warnings.simplefilter("ignore", UserWarning)
        try:
            book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except _BROKEN_XLSX as exc:
            raise _unreadable(name, exc) from exc
        try:
            yield from _sheet_rows(book, name, sheet)
        except _BROKEN_XLSX as exc:
            raise _unreadable(name, exc) from exc
        finally:
            book.close()


def _unreadable(name: str, exc: BaseException) -> RectifyError:
    problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return RectifyError(
        f"{name} is not a readable .xlsx workbook ({problem}); is it another format "
        "renamed, or cut short? Save it again as .xlsx or .csv"
    )


def _sheet_rows(book: Any, name: str, sheet: str | None) -> Iterator[list[object]]:  # noqa: ANN401 - openpyxl's Workbook is untyped
    """Yield the rows of the sheet asked for, or the first with a ledger header.

    Only the first rows of each sheet are looked at to find the header; the rest of the
    chosen sheet is read as its rows are taken.
    """
    active = [book.active.title] if book.active is not None else []
    names = [sheet] if sheet else [*active, *book.sheetnames]
    if sheet and sheet not in book.sheetnames:
        raise RectifyError(f"{name}: no sheet {sheet!r}; sheets: {', '.join(book.sheetnames)}")
    first = None
    for title in dict.fromkeys(names):
        worksheet = book[title]
        if not hasattr(worksheet, "iter_rows"):  # pragma: no cover - a chart sheet
            continue
        worksheet.reset_dimensions()
        first = worksheet if first is None else first
        rows = (list(r) for r in worksheet.iter_rows(values_only=True))
        # The header is among the first rows (a two-row header reaches one further).
        head = list(itertools.islice(rows, HEADER_SEARCH + 1))
        if find_header(head) is not None:
            yield from head
            yield from rows
            return
    if first is not None:
        yield from (list(r) for r in first.iter_rows(values_only=True))


@contextlib.contextmanager
def _opened(source: str | os.PathLike[str] | bytes) -> Iterator[tuple[str, BinaryIO]]:
    if isinstance(source, bytes):
        yield "<bytes>", io.BytesIO(source)
        return
    path = Path(source)
    try:
        with open_regular(path) as (stream, _size):
            yield path.name, stream
    except NotRegularFileError as exc:  # a pipe with no writer would block forever
        what = "not a regular file (a pipe, a device or a folder)"
        raise RectifyError(f"{path.name}: {what}") from exc


def _rows(stream: BinaryIO, name: str, sheet: str | None) -> Iterator[list[object]]:
    magic = stream.read(len(_XLSX_MAGIC))
    stream.seek(0)
    if magic.startswith(_XLS_MAGIC):
        raise RectifyError(f"{name} is an old .xls workbook: save it as .xlsx or .csv first")
    if magic.startswith(_XLSX_MAGIC):
        return _xlsx_rows(stream, name, sheet)
    return csv_rows(stream, name)


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
        RectifyError: The file is not CSV text or an XLSX workbook (an old ``.xls``, a
            workbook cut short or in another format, text in an unknown encoding or with NUL
            characters, a cell longer than 131,072 characters); the message names the file.
        OSError: The file cannot be read.
    """
    if categories is None:
        from rectify.definitions._load import load_categories  # noqa: PLC0415 - _load imports much

        categories = load_categories()
    if isinstance(path_or_rows, str | bytes | os.PathLike):
        with _opened(path_or_rows) as (name, stream):
            return parse_rows(_rows(stream, name, sheet), categories, town, name)
    return parse_rows((list(r) for r in path_or_rows), categories, town, "<rows>")
