"""Writing the ledger and its totals as XLSX or CSV, safe to open in a spreadsheet.

Owns :func:`write_ledger` (the Attachment 1 layout with each case's category, state,
deadline and escalation level, and the optional columns any case has), :func:`ledger_totals`
and :func:`write_ledger_totals` (one line per community and a 合计 line), masking phone
numbers unless the reader's role may see them, and neutralising every cell a spreadsheet
could take for a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first gets a
leading ``'``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

import attrs

from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._contexts import PHONE_ROLES
from rectify.documents._reports import facts
from rectify.engine._case import Case
from rectify.engine._engine import TIMEZONE, local_date
from rectify.exceptions import RectifyError
from rectify.spreadsheets._reading import need_openpyxl
from rectify.spreadsheets._text import FORMULA_START, cell_text
from rectify.spreadsheets._values import LEDGER_HEADERS, Cell, LedgerTotal
from rectify.templating._formatting import mask_phone

__all__ = ["ledger_totals", "write_ledger", "write_ledger_totals"]

Format = Literal["xlsx", "csv"]

#: The optional columns an export adds after the fixed ones, when any case has a value.
_OPTIONAL_OUT: Final = (
    ("building", "楼栋"),
    ("location", "隐患部位"),
    ("severity", "严重程度"),
    ("responsible_party", "整改责任人"),
    ("measures", "整改措施"),
    ("note", "备注"),
)
_EXPORT_HEADERS: Final = (
    *LEDGER_HEADERS,
    "隐患类别",
    "当前状态",
    "整改期限",
    "督办等级",
    "案件编号",
)
_CASE_ID_COLUMN: Final = _EXPORT_HEADERS.index("案件编号")
_TOTALS_HEADERS: Final = ("镇街/社区", "小区数", "楼栋数", "隐患数", "已销号", "未销号", "逾期")


def _neutralise(value: str) -> str:
    """Return ``value`` so that no spreadsheet runs it as a formula ('=… stays text)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _level_titles(specs: Iterable[WorkflowSpec]) -> dict[tuple[str, int, int], str]:
    out: dict[tuple[str, int, int], str] = {}
    for spec in specs:
        for ladder in spec.escalation.ladders if spec.escalation else ():
            for level in ladder.levels:
                out.setdefault((spec.id, spec.version, level.level), level.title)
    return out


def _height_text(data: Mapping[str, object]) -> str:
    floors, height = data.get("floors"), data.get("height")
    metres = f"{height}米" if height not in (None, "") else ""
    storeys = f"{floors}层" if floors not in (None, "") else ""
    return f"{metres}（{storeys}）" if metres and storeys else metres or storeys


def _date_cell(value: object) -> Cell:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None if value in (None, "") else str(value)


def _sort_key(case: Case) -> tuple[str, ...]:
    keys = ("town", "community", "community_name", "address", "building")
    return (*(str(case.data.get(k, "")) for k in keys), case.id)


def _ledger_table(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    categories: CategoryTable | None,
    reader_role: str | None,
) -> tuple[tuple[str, ...], list[list[Cell]]]:
    spec_list = list(specs)
    by_key = {(s.id, s.version): s for s in spec_list}
    levels = _level_titles(spec_list)
    reveal = reader_role in PHONE_ROLES
    chosen = sorted(cases, key=_sort_key)
    optional = [(k, h) for k, h in _OPTIONAL_OUT if any(c.data.get(k) for c in chosen)]
    rows: list[list[Cell]] = []
    for case in chosen:
        data = case.data

        def text(key: str, data: Mapping[str, object] = data) -> str:
            value = data.get(key)
            return "" if value is None else str(value)

        spec = by_key.get((case.workflow, case.version))
        state = spec.state(case.state).title if spec and spec.has_state(case.state) else case.state
        level = ""
        if case.escalation is not None:
            title = levels.get((case.workflow, case.version, case.escalation), "")
            level = f"L{case.escalation} {title}".strip()
        town, community = text("town"), text("community")
        category = text("category")
        if categories is not None and category in categories.codes:
            category = categories.category(category).title
        extra: list[Cell] = []
        for key, _ in optional:
            value = text(key)
            if key == "severity" and categories and value in categories.severity_names:
                value = categories.severity(value).title
            extra.append(value)
        head = f"{text('building_head')} {text('phone')}".strip()
        row: list[Cell] = [
            f"{town}/{community}" if town and community else town or community,
            text("community_name"),
            text("address"),
            head,
            _height_text(data),
            text("description"),
            _date_cell(data.get("due")),
            category,
            state,
            case.deadline,
            level,
            case.id,
            *extra,
        ]
        rows.append(row if reveal else _private(row))
    return (*_EXPORT_HEADERS, *(h for _, h in optional)), rows


def _private(row: Sequence[Cell]) -> list[Cell]:
    """Mask the phone and ID-card numbers in every text cell but the case id."""
    return [
        mask_phone(cell) if isinstance(cell, str) and col != _CASE_ID_COLUMN else cell
        for col, cell in enumerate(row)
    ]


def _format(path: Path, fmt: Format | None) -> Format:
    if fmt is not None:
        if fmt not in ("xlsx", "csv"):
            raise RectifyError(f"unknown ledger format {fmt!r}; use 'xlsx' or 'csv'")
        return fmt
    return "csv" if path.suffix.lower() == ".csv" else "xlsx"


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return _neutralise(cell_text(value))


def _write_csv(
    path: Path, header: Sequence[str], rows: Sequence[Sequence[Cell]], title: str | None
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    if title:
        writer.writerow([_neutralise(title)])
    writer.writerow(header)
    writer.writerows([_csv_text(v) for v in row] for row in rows)
    # The BOM makes Excel open the file as UTF-8 rather than the system's code page.
    path.write_bytes(codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8"))


_MAX_WIDTH: Final = 50
_MIN_WIDTH: Final = 6


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _xlsx_value(value: Cell) -> Cell:
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # noqa: PLC0415 - optional

        return _neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def _write_xlsx(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    title: str | None,
    sheet: str,
) -> None:
    need_openpyxl()
    import openpyxl  # noqa: PLC0415 - optional: only XLSX needs it
    from openpyxl.styles import Alignment, Font  # noqa: PLC0415 - optional
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - optional
    from openpyxl.worksheet.worksheet import Worksheet  # noqa: PLC0415 - optional

    book = openpyxl.Workbook()
    worksheet = book.active
    if not isinstance(worksheet, Worksheet):  # pragma: no cover - a new book has one sheet
        raise RectifyError("openpyxl made a workbook without a worksheet")
    worksheet.title = sheet
    top = 1
    if title:
        worksheet.cell(1, 1, _xlsx_value(title)).font = Font(bold=True, size=14)
        worksheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
        top = 2
    for col, name in enumerate(header, start=1):
        cell = worksheet.cell(top, col, _xlsx_value(name))
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    widths = [_width(name) for name in header]
    for r, row in enumerate(rows, start=top + 1):
        for col, value in enumerate(row, start=1):
            cell = worksheet.cell(r, col, _xlsx_value(value))
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
                widths[col - 1] = max(widths[col - 1], 10)
            elif value is not None:
                widths[col - 1] = max(widths[col - 1], _width(cell_text(value)))
    for col, width in enumerate(widths, start=1):
        letter = get_column_letter(col)
        worksheet.column_dimensions[letter].width = min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH)
    worksheet.freeze_panes = f"A{top + 1}"
    book.save(path)


def _write(
    path: str | os.PathLike[str],
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    fmt: Format | None,
    title: str | None,
    sheet: str,
) -> None:
    target = Path(path)
    if _format(target, fmt) == "csv":
        _write_csv(target, header, rows, title)
    else:
        _write_xlsx(target, header, rows, title, sheet)


def write_ledger(
    cases: Iterable[Case],
    path: str | os.PathLike[str],
    *,
    specs: Iterable[WorkflowSpec],
    fmt: Format | None = None,
    reader_role: str | None = None,
    categories: CategoryTable | None = None,
    title: str | None = None,
) -> int:
    """Write the ledger in the Attachment 1 layout, with each case's state; return the rows.

    The seven Attachment 1 columns come first, then 隐患类别, 当前状态, 整改期限 (the open
    deadline), 督办等级 and 案件编号, then 楼栋, 隐患部位, 严重程度, 整改责任人, 整改措施
    and 备注 where any case has them; :func:`read_ledger` reads the file back to the same
    case ids and data. Phone and ID-card numbers, in any writing and in any text cell but
    the case id (the description, address, measures...), are masked unless ``reader_role``
    may see them (:data:`~rectify.documents.PHONE_ROLES`); every cell that begins with ``=``, ``+``,
    ``-``, ``@`` (or a tab or carriage return) is prefixed with ``'`` so that no
    spreadsheet runs it as a formula.

    Args:
        cases: The cases to list.
        path: Where to write.
        specs: The workflows of the cases (state and escalation titles).
        fmt: ``"xlsx"`` (bold, frozen header; columns sized) or ``"csv"`` (UTF-8 with a
            BOM, so that Excel opens it); by default from the file's suffix.
        reader_role: Who reads it; phone numbers are masked unless the role may see them.
        categories: The category table, for category and severity titles (the shipped one
            by default).
        title: A title row above the header (铜梁区虎峰镇老旧小区台账).
    """
    if categories is None:
        from rectify.definitions._load import load_categories  # noqa: PLC0415 - _load imports much

        categories = load_categories()
    header, rows = _ledger_table(cases, specs, categories, reader_role)
    _write(path, header, rows, fmt=fmt, title=title, sheet="台账")
    return len(rows)


def ledger_totals(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], *, as_of: dt.date | None = None
) -> tuple[LedgerTotal, ...]:
    """Return the ledger totals per community: estates, buildings, hazards, closed, open, overdue.

    Estates are the distinct 小区名称, buildings the distinct (小区名称, 地址, 楼栋) of the
    community; ``as_of`` (today in Asia/Shanghai by default) decides what is overdue.
    """
    day = as_of or local_date(dt.datetime.now(TIMEZONE))
    by_key = {(s.id, s.version): s for s in specs}
    groups: dict[str, list[Case]] = {}
    counts: dict[str, list[int]] = {}
    for case in cases:
        spec = by_key.get((case.workflow, case.version))
        if spec is None or not spec.has_state(case.state):
            continue
        f = facts(case, spec, day)
        groups.setdefault(f.community, []).append(case)
        tally = counts.setdefault(f.community, [0, 0, 0, 0])
        tally[0] += not f.dismissed
        tally[1] += f.rectified
        tally[2] += f.open
        tally[3] += f.overdue
    out = []
    for name in sorted(groups):
        group = groups[name]
        estates = {str(c.data.get("community_name", "")) for c in group}
        buildings = {
            tuple(str(c.data.get(k, "")) for k in ("community_name", "address", "building"))
            for c in group
        }
        out.append(LedgerTotal(name, len(estates), len(buildings), *counts[name]))
    return tuple(out)


def write_ledger_totals(
    cases: Iterable[Case],
    path: str | os.PathLike[str],
    *,
    specs: Iterable[WorkflowSpec],
    fmt: Format | None = None,
    as_of: dt.date | None = None,
    title: str | None = "老旧小区总数台账统计表",
) -> tuple[LedgerTotal, ...]:
    """Write the ledger totals (one line per community and a 合计 line); return the totals."""
    totals = ledger_totals(cases, specs, as_of=as_of)
    rows = [t.cells() for t in totals]
    rows.append(
        [
            "合计",
            *(sum(getattr(t, k) for t in totals) for k in list(attrs.fields_dict(LedgerTotal))[1:]),
        ]
    )
    _write(path, _TOTALS_HEADERS, rows, fmt=fmt, title=title, sheet="统计表")
    return totals
