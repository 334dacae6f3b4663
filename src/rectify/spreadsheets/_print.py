"""Laying a table out on a worksheet so that it prints as an office expects.

Owns :func:`lay_out_table`, which every XLSX rectify writes goes through: a 序号 column
first (1..n over the counted rows; a 合计 line below them gets none and is bold), a bold
title row merged across the table, a header row that wraps, thin borders on every cell of
the table, wrapped text aligned to the top, column widths from the content (a CJK
character counts double, capped so that long text wraps), and the page set up for print:
A4 landscape, fitted to one page wide, narrow margins, the header row repeated on every
page, centred horizontally, 第 N 页 共 M 页 in the footer, and the panes frozen below the
header. It writes the values it is given as they are: neutralising formulas is the caller's.

Also owns the cells of a table of rows (:class:`TableColumn`, :func:`table_cells`) with
personal data masked for a public copy: phone numbers, special-group households, and free
text that names a special group (:func:`mask_group_text`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, Literal

import attrs

from rectify.engine._engine import local_date
from rectify.spreadsheets._text import cell_text
from rectify.spreadsheets._values import Cell
from rectify.templating._formatting import mask_groups, mask_phone, percent

if TYPE_CHECKING:  # openpyxl is optional: only writing XLSX needs it
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = [
    "FOOTER",
    "GROUPS_WITHHELD",
    "MAX_WIDTH",
    "MIN_WIDTH",
    "SERIAL",
    "SPECIAL_GROUPS",
    "TableColumn",
    "column_widths",
    "lay_out_table",
    "mask_group_text",
    "table_cells",
    "text_width",
]

#: The serial-number column every printed table starts with.
SERIAL: Final = "序号"
#: The footer of every printed page (&P is the page, &N the number of pages).
FOOTER: Final = "第 &P 页 共 &N 页"
#: Column widths, in characters (a CJK character counts two).
MIN_WIDTH: Final = 6
MAX_WIDTH: Final = 40
#: A header wraps rather than widen its column past this, and takes at most three lines.
_HEADER_WIDTH: Final = 12
_HEADER_LINES: Final = 3
_PADDING: Final = 2
_DATE_WIDTH: Final = 10
_DATE_FORMAT: Final = "yyyy-mm-dd"
_RATE_FORMAT: Final = "0.0%"
_TITLE_SIZE: Final = 14  # points, against the body's 11
_BODY_SIZE: Final = 11
_TITLE_HEIGHT: Final = 24  # points: one line of the title
_HEADER_FILL: Final = "D9D9D9"  # light grey: prints on any printer
_NOTE_AUTHOR: Final = "rectify"
#: Excel's "narrow" margins, in inches.
_MARGINS: Final = {"left": 0.25, "right": 0.25, "top": 0.75, "bottom": 0.75}
_HEADER_MARGIN: Final = 0.3


#: Words that name a special group (those a fire endangers most): free text holding one
#: (3单元11楼独居老人家中未安装烟感) says where such a household lives.
SPECIAL_GROUPS: Final = re.compile(
    "独居|孤寡|空巢|留守儿童|残疾|残障|失能|失智|卧床|行动不便|特殊群体|特困|低保"
)
#: What a public copy shows instead of free text that names a special-group household.
GROUPS_WITHHELD: Final = "涉及特殊群体（详情不公开）"


def mask_group_text(text: str) -> str:
    """Return ``text``, or :data:`GROUPS_WITHHELD` when it names a special group."""
    return GROUPS_WITHHELD if SPECIAL_GROUPS.search(unicodedata.normalize("NFKC", text)) else text


ColumnKind = Literal["text", "note", "number", "date", "rate", "groups"]


@attrs.frozen
class TableColumn:
    """A column of a table: the row key it shows, its header, and what it holds.

    ``kind`` is ``text`` (the default), ``note`` (free text that may say where a
    special-group household lives: withheld in a public copy when it names a group),
    ``number``, ``date``, ``rate`` (a fraction, shown as a percentage) or ``groups``
    (special-group households: 独居老人2户, reduced in a public copy to their count by
    :func:`~rectify.documents.mask_groups`).
    """

    key: str
    header: str
    kind: ColumnKind = "text"


def _value(value: object) -> Cell:
    """Return a row's value as a cell: 是/否 for a flag, a list joined with 、, a day for a time.

    A time is its day in Asia/Shanghai (a naive one is taken as written).
    """
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.date() if value.tzinfo is None else local_date(value)
    if value is None or isinstance(value, str | int | float | dt.date):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return "、".join(str(v) for v in value)
    return str(value)


def table_cells(
    rows: Iterable[Mapping[str, object]], columns: Sequence[TableColumn], *, reveal: bool
) -> list[list[Cell]]:
    """Return the cells of ``rows`` under ``columns`` (a missing key is an empty cell).

    Unless ``reveal``, phone and ID-card numbers are masked in every text cell, the
    special-group households of a ``groups`` column are reduced to their count, and a
    ``note`` that names a special group is withheld.
    """
    out: list[list[Cell]] = []
    for row in rows:
        cells: list[Cell] = []
        for column in columns:
            raw = row.get(column.key)
            if column.kind == "groups" and not reveal:
                raw = mask_groups(raw) or None
            cell = _value(raw)
            if isinstance(cell, str) and not reveal:
                cell = mask_phone(mask_group_text(cell) if column.kind == "note" else cell)
            cells.append(cell)
        out.append(cells)
    return out


def text_width(text: str) -> int:
    """Return how many character widths ``text`` takes: its longest line, CJK counting two."""
    return max(
        (
            sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line)
            for line in text.splitlines()
        ),
        default=0,
    )


def _cell_width(value: Cell, *, rate: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.date):
        return _DATE_WIDTH
    if rate and isinstance(value, int | float):
        return len(percent(value))
    return text_width(cell_text(value))


def column_widths(
    header: Sequence[str], rows: Sequence[Sequence[Cell]], rates: Collection[int] = ()
) -> list[int]:
    """Return the width of each column: from its content, between 6 and 40 characters.

    A long header wraps (onto at most three lines) rather than widen a column of short
    values; text longer than 40 wraps in its cell.
    """
    widths: list[int] = []
    for col, name in enumerate(header):
        heading = text_width(name)
        data = max(
            (_cell_width(row[col], rate=col in rates) for row in rows if col < len(row)),
            default=0,
        )
        wanted = max(data, min(heading, _HEADER_WIDTH), math.ceil(heading / _HEADER_LINES))
        widths.append(min(max(wanted + _PADDING, MIN_WIDTH), MAX_WIDTH))
    return widths


def lay_out_table(
    sheet: Worksheet,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None,
    rates: Collection[int] = (),
    counted: int | None = None,
    notes: Mapping[str, str] | None = None,
) -> None:
    """Write ``header`` and ``rows`` on ``sheet`` as a table ready to print.

    Args:
        sheet: An empty worksheet.
        header: The table's columns; a 序号 column is put before them.
        rows: The rows, their values as they are to be written.
        title: The title row above the header (merged across the table), if any.
        rates: The columns (0-based, of ``header``) holding fractions shown as percentages.
        counted: How many rows, from the first, are numbered; the rest (a 合计 line) are
            bold and have no number. Every row by default.
        notes: What a column means, by its header: a note on the header cell (shown on
            the screen, not printed), for columns a clerk could take for one another.
    """
    from openpyxl.comments import Comment  # noqa: PLC0415 - optional
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # noqa: PLC0415

    numbered = len(rows) if counted is None else counted
    table = [(index + 1 if index < numbered else None, *row) for index, row in enumerate(rows)]
    widths = column_widths((SERIAL, *header), table, {col + 1 for col in rates})
    top = 1
    if title:
        _title_row(sheet, title, widths)
        top = 2
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for col, name in enumerate((SERIAL, *header), start=1):
        cell = sheet.cell(top, col, name)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.fill = PatternFill("solid", fgColor=_HEADER_FILL)
        cell.border = border
        if notes and name in notes:
            cell.comment = Comment(notes[name], _NOTE_AUTHOR)
    for index, row in enumerate(table):
        for col, value in enumerate(row, start=1):
            cell = sheet.cell(top + 1 + index, col, value)
            cell.border = border
            cell.alignment = Alignment(
                vertical="top", wrap_text=True, horizontal="center" if col == 1 else None
            )
            if index >= numbered:
                cell.font = Font(bold=True)
            if isinstance(value, dt.date):
                cell.number_format = _DATE_FORMAT
            elif col - 2 in rates and isinstance(value, int | float):
                cell.number_format = _RATE_FORMAT
    _set_up_page(sheet, widths, header_row=top, last_row=top + len(rows))


def _title_row(sheet: Worksheet, title: str, widths: Sequence[int]) -> None:
    """Write the title, bold and centred, merged across the table, tall enough to show."""
    from openpyxl.styles import Alignment, Font  # noqa: PLC0415 - optional

    cell = sheet.cell(1, 1, title)
    cell.font = Font(bold=True, size=_TITLE_SIZE)
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(widths))
    # A merged cell does not grow to its text: a title wider than the table needs lines.
    lines = math.ceil(text_width(title) * _TITLE_SIZE / _BODY_SIZE / sum(widths))
    sheet.row_dimensions[1].height = _TITLE_HEIGHT * max(lines, 1)


def _set_up_page(
    sheet: Worksheet, widths: Sequence[int], *, header_row: int, last_row: int
) -> None:
    """Size the columns, freeze the header and set the page up for print."""
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - optional
    from openpyxl.worksheet.header_footer import HeaderFooterItem  # noqa: PLC0415 - optional
    from openpyxl.worksheet.page import PageMargins  # noqa: PLC0415 - optional
    from openpyxl.worksheet.properties import PageSetupProperties  # noqa: PLC0415 - optional

    for col, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(col)].width = width
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as the rows need
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_margins = PageMargins(**_MARGINS, header=_HEADER_MARGIN, footer=_HEADER_MARGIN)
    sheet.print_options.horizontalCentered = True
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.print_area = f"A1:{get_column_letter(len(widths))}{last_row}"
    footer = sheet.oddFooter
    if footer is None:  # pragma: no cover - a new worksheet has its footers
        footer = sheet.oddFooter = HeaderFooterItem()
    footer.center.text = FOOTER
