"""Writing the ledger and its totals as XLSX or CSV, safe to open in a spreadsheet.

Owns :func:`write_ledger` (the Attachment 1 layout with each case's category, state,
running deadline and escalation level, and the optional columns any case has),
:func:`ledger_totals` and :func:`write_ledger_totals` (one line per community and a 合计
line, counted by :func:`~rectify.documents.count` as every report is), masking phone numbers
unless the reader's role may see them, and neutralising every cell a spreadsheet could take
for a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first gets a leading
``'``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

import attrs

from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._contexts import CASE_NUMBER, PHONE_ROLES
from rectify.documents._reports import Facts, Totals, count, facts, hazard_facts
from rectify.engine._case import Case
from rectify.engine._engine import TIMEZONE, local_date
from rectify.exceptions import RectifyError
from rectify.spreadsheets._reading import need_openpyxl
from rectify.spreadsheets._text import FORMULA_START, cell_text
from rectify.spreadsheets._values import LEDGER_HEADERS, Cell, LedgerTotal
from rectify.templating._formatting import mask_phone, percent

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
#: The running deadline of the case's current state (triage, rectification, re-inspection):
#: not the rectification deadline, which is 整改时限.
_RUNNING_DEADLINE: Final = "当前环节期限"
_EXPORT_HEADERS: Final = (
    *LEDGER_HEADERS,
    "隐患类别",
    "当前状态",
    _RUNNING_DEADLINE,
    "督办等级",
    "案件编号",
    "隐患编号",  # the readable case number documents print (a case opened without one: empty)
)
_CASE_ID_COLUMN: Final = _EXPORT_HEADERS.index("案件编号")
#: What the 整改时限 cell of a hazard to be put right on the spot says (as the HTML ledger).
_IMMEDIATE_TEXT: Final = "立即改正"
#: The totals' columns, in the order of :meth:`LedgerTotal.cells`.
_TOTALS_HEADERS: Final = (
    "镇街/社区",
    "小区数",
    "楼栋数",
    "发现隐患",
    "已销号",
    "未销号",
    "逾期",
    "转出",
    "不构成隐患",
    "重复上报",
    "整改率",
)
_RATE_COLUMN: Final = _TOTALS_HEADERS.index("整改率")


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


def _rectify_by_cell(case: Case, spec: WorkflowSpec | None) -> Cell:
    """Return the 整改时限 cell: the rectification deadline, or 立即改正 for an immediate case.

    As the reports have it (:attr:`~rectify.documents.Facts.rectify_by` and ``immediate``);
    a case of a workflow not given keeps the cell it was imported with.
    """
    if spec is None or not spec.has_state(case.state):
        return _date_cell(case.data.get("due"))
    f = facts(case, spec, local_date(case.updated_at))  # neither depends on the day
    if f.rectify_by is not None:
        return _date_cell(f.rectify_by)
    return _IMMEDIATE_TEXT if f.immediate else None


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
    kinds = {(s.id, s.version): s.kind for s in spec_list}
    levels = _level_titles(spec_list)
    reveal = reader_role in PHONE_ROLES
    # The ledger lists hazards: not the buildings to survey, the tasks or earlier years' items.
    chosen = sorted(
        (c for c in cases if kinds.get((c.workflow, c.version), "hazard") == "hazard"),
        key=_sort_key,
    )
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
            _rectify_by_cell(case, spec),
            category,
            state,
            case.deadline,
            level,
            case.id,
            text(CASE_NUMBER),
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


def _csv_text(value: Cell, *, rate: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if rate and isinstance(value, int | float):
        return percent(value)
    return _neutralise(cell_text(value))


def _write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    title: str | None,
    rates: Collection[int],
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    if title:
        writer.writerow([_neutralise(title)])
    writer.writerow(header)
    writer.writerows([_csv_text(v, rate=i in rates) for i, v in enumerate(row)] for row in rows)
    # The BOM makes Excel open the file as UTF-8 rather than the system's code page.
    path.write_bytes(codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8"))


_MAX_WIDTH: Final = 50
_MIN_WIDTH: Final = 6
_RATE_FORMAT: Final = "0.0%"


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
    *,
    rates: Collection[int],
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
            elif col - 1 in rates and isinstance(value, int | float):
                cell.number_format = _RATE_FORMAT
                widths[col - 1] = max(widths[col - 1], len(percent(value)))
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
    rates: Collection[int] = (),
) -> None:
    """Write the rows; the columns ``rates`` (0-based) hold fractions shown as percentages."""
    target = Path(path)
    if _format(target, fmt) == "csv":
        _write_csv(target, header, rows, title, rates)
    else:
        _write_xlsx(target, header, rows, title, sheet, rates=rates)


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

    The seven Attachment 1 columns come first, 整改时限 being the rectification deadline
    (:attr:`~rectify.documents.Facts.rectify_by`, or 立即改正 for a hazard to be put right
    on the spot), then 隐患类别, 当前状态, 当前环节期限 (the running deadline of the
    current state: triage, rectification or re-inspection), 督办等级 and 案件编号, then
    楼栋, 隐患部位, 严重程度, 整改责任人, 整改措施 and 备注 where any case has them;
    :func:`read_ledger` reads the file back to the same case ids and data. Phone and
    ID-card numbers, in any writing and in any text cell but the case id (the description,
    address, measures...), are masked unless ``reader_role`` may see them
    (:data:`~rectify.documents.PHONE_ROLES`); every cell that begins with ``=``, ``+``,
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


def _places(rows: Iterable[Facts]) -> tuple[int, int]:
    """Return the estates (distinct 小区名称) and buildings (小区名称, 地址, 楼栋) of ``rows``."""
    keys = ("community_name", "address", "building")
    buildings = {tuple(str(f.case.data.get(k, "")) for k in keys) for f in rows}
    return len({b[0] for b in buildings}), len(buildings)


def _line(community: str, estates: int, buildings: int, totals: Totals) -> LedgerTotal:
    counts = attrs.asdict(totals)
    return LedgerTotal(community=community, estates=estates, buildings=buildings, **counts)


def _totals(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], as_of: dt.date | None
) -> tuple[tuple[LedgerTotal, ...], LedgerTotal]:
    """Return the line of each community and the 合计 line, from the reports' counts."""
    day = as_of or local_date(dt.datetime.now(TIMEZONE))
    rows = hazard_facts(cases, specs, day)
    groups: dict[str, list[Facts]] = defaultdict(list)
    for f in rows:
        groups[f.community].append(f)
    lines = tuple(
        _line(name, *_places(groups[name]), count(groups[name])) for name in sorted(groups)
    )
    # As the HTML totals have it: the communities' estates and buildings added up.
    estates, buildings = sum(t.estates for t in lines), sum(t.buildings for t in lines)
    return lines, _line("合计", estates, buildings, count(rows))


def ledger_totals(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], *, as_of: dt.date | None = None
) -> tuple[LedgerTotal, ...]:
    """Return the ledger totals per community, counted as every report counts them.

    The counts are :func:`~rectify.documents.count` of the hazards of each community on
    ``as_of`` (one row a hazard, as :func:`~rectify.documents.ledger_totals_context` and the
    circular have them): found, closed, open, overdue, transferred, dismissed and
    duplicate, and the rate. Estates are the distinct 小区名称, buildings the distinct
    (小区名称, 地址, 楼栋) of the community.

    ``as_of`` is today in Asia/Shanghai by default, and decides what is overdue and which
    cases were found by then. For a past day give the cases as of that day
    (``Ledger.cases_as_of(day)``): the cases as they are now would count what happened
    since as done by then.
    """
    return _totals(cases, specs, as_of)[0]


def write_ledger_totals(
    cases: Iterable[Case],
    path: str | os.PathLike[str],
    *,
    specs: Iterable[WorkflowSpec],
    fmt: Format | None = None,
    as_of: dt.date | None = None,
    title: str | None = "老旧小区总数台账统计表",
) -> tuple[LedgerTotal, ...]:
    """Write the ledger totals (one line per community and a 合计 line); return the totals.

    The lines are :func:`ledger_totals` (give the cases as of ``as_of`` for a past day);
    the 合计 line counts every hazard, its rate is the town's (not a sum of rates). The
    columns are 镇街/社区, 小区数, 楼栋数, 发现隐患, 已销号, 未销号, 逾期, then the ones
    that do not count towards the rate (转出, 不构成隐患, 重复上报), then 整改率 (a
    percentage: a number formatted ``0.0%`` in XLSX, ``85.3%`` in CSV).
    """
    lines, total = _totals(cases, specs, as_of)
    rows = [t.cells() for t in (*lines, total)]
    _write(
        path,
        _TOTALS_HEADERS,
        rows,
        fmt=fmt,
        title=title,
        sheet="统计表",
        rates=(_RATE_COLUMN,),
    )
    return lines
