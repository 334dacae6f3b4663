"""Writing the ledger and its totals as XLSX or CSV, safe to open in a spreadsheet.

Owns :func:`write_ledger` (the Attachment 1 layout with each case's category, state,
running deadline and escalation level, and the optional columns any case has),
:func:`ledger_totals` and :func:`write_ledger_totals` (one line per community and a 合计
line, counted by :func:`~rectify.documents.count` as every report is), :func:`write_table`
(any rows under columns the caller names), masking phone numbers and special-group
households unless the reader's role may see them, neutralising every cell a spreadsheet
could take for a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first gets a
leading ``'``), and replacing the file whole once written. Every XLSX is laid out for print
by ``_print``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import os
import re
import secrets
import zipfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, Final, Literal

import attrs

from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._contexts import CASE_NUMBER, PHONE_ROLES
from rectify.documents._reports import Totals, count, facts, places_by_community
from rectify.engine._case import Case
from rectify.engine._category import CATEGORY_CONFIDENCE, CATEGORY_INFERRED
from rectify.engine._engine import TIMEZONE, local_date
from rectify.exceptions import RectifyError
from rectify.spreadsheets._print import TableColumn, lay_out_table, mask_group_text, table_cells
from rectify.spreadsheets._reading import need_openpyxl
from rectify.spreadsheets._text import FORMULA_START, cell_text
from rectify.spreadsheets._values import LEDGER_HEADERS, Cell, LedgerTotal
from rectify.templating._formatting import mask_phone, percent

__all__ = ["ledger_totals", "write_ledger", "write_ledger_totals", "write_table"]

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
_CASE_ID: Final = "案件编号"
#: The columns of free text, where a hazard may say where a special-group household lives.
_FREE_TEXT: Final = frozenset({"隐患内容", "隐患部位", "整改责任人", "整改措施", "备注"})
#: What the columns a clerk could take for one another mean: the notes on their headers in
#: XLSX (a public copy has no 案件编号 column: it is only for importing the file again).
_COLUMN_NOTES: Final = {
    "整改时限": "隐患须整改完成的期限（立即改正：当场改正）",
    _RUNNING_DEADLINE: "当前办理环节（受理、整改、复查）的期限，不是整改时限",
    _CASE_ID: "系统编号：再导入时据此认出案件，请勿改动；文书上印的是隐患编号",
    "隐患编号": "文书上印的编号（如 正街-2024-013）",
}
#: The last column, when a case's category was inferred unsure and nobody has checked it.
_CHECK_HEADER: Final = "类别核实"
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
    levels = _level_titles(spec_list)
    reveal = reader_role in PHONE_ROLES
    # The ledger lists hazards: not the buildings to survey, the tasks or earlier years' items.
    chosen = sorted(
        (
            c
            for c in cases
            if (spec := by_key.get((c.workflow, c.version))) is None or spec.kind == "hazard"
        ),
        key=_sort_key,
    )
    optional = [(k, h) for k, h in _OPTIONAL_OUT if any(c.data.get(k) for c in chosen)]
    check = any(CATEGORY_INFERRED in c.data for c in chosen)
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
            *([_check_cell(data)] if check else []),
        ]
        rows.append(row)
    checked = (_CHECK_HEADER,) if check else ()
    header = (*_EXPORT_HEADERS, *(h for _, h in optional), *checked)
    return (header, rows) if reveal else _public(header, rows)


def _check_cell(data: Mapping[str, object]) -> str:
    """Return the 类别核实 cell: 待核实（把握 0.55） while an unsure inference is unchecked."""
    if CATEGORY_INFERRED not in data:
        return ""
    confidence = data.get(CATEGORY_CONFIDENCE)
    known = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    return f"待核实（把握 {confidence:.2f}）" if known else "待核实"


def _public(
    header: Sequence[str], rows: Iterable[Sequence[Cell]]
) -> tuple[tuple[str, ...], list[list[Cell]]]:
    """Return the public copy: no case id column, personal data masked.

    Phone and ID-card numbers are masked in every text cell, and free text that names a
    special group (3单元11楼独居老人家中未安装烟感) is withheld.
    """
    keep = [col for col, name in enumerate(header) if name != _CASE_ID]
    notes = {col for col, name in enumerate(header) if name in _FREE_TEXT}
    masked = [[_private(row[col], note=col in notes) for col in keep] for row in rows]
    return tuple(header[col] for col in keep), masked


def _private(cell: Cell, *, note: bool) -> Cell:
    """Mask the phone and ID-card numbers in a text cell, and a ``note`` naming a group."""
    if not isinstance(cell, str):
        return cell
    return mask_phone(mask_group_text(cell) if note else cell)


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
    file: BinaryIO,
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
    file.write(codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8"))


def _xlsx_text(value: str) -> str:
    """Return ``value`` as an XLSX cell can hold it, and neutralised."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # noqa: PLC0415 - optional

    return _neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))


def _xlsx_value(value: Cell) -> Cell:
    return _xlsx_text(value) if isinstance(value, str) else value


def _write_xlsx(
    file: BinaryIO,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    title: str | None,
    sheet: str,
    *,
    rates: Collection[int],
    counted: int | None,
    notes: Mapping[str, str] | None,
) -> None:
    """Write a workbook of one sheet laid out for print (:func:`lay_out_table`)."""
    import openpyxl  # noqa: PLC0415 - optional: only XLSX needs it
    from openpyxl.worksheet.worksheet import Worksheet  # noqa: PLC0415 - optional

    book = openpyxl.Workbook()
    worksheet = book.active
    if not isinstance(worksheet, Worksheet):  # pragma: no cover - a new book has one sheet
        raise RectifyError("openpyxl made a workbook without a worksheet")
    worksheet.title = sheet
    lay_out_table(
        worksheet,
        [_xlsx_text(name) for name in header],
        [[_xlsx_value(value) for value in row] for row in rows],
        title=_xlsx_text(title) if title else None,
        rates=rates,
        counted=counted,
        notes=notes,
    )
    buffer = io.BytesIO()
    book.save(buffer)
    file.write(_reproducible(buffer.getvalue()))


#: The time every XLSX rectify writes says it was made and changed (its zip entries too):
#: the same table writes the same bytes, and its title says the day it is of.
_STAMP: Final = "2000-01-01T00:00:00Z"
_ZIP_TIME: Final = (2000, 1, 1, 0, 0, 0)
_CORE_TIMES: Final = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*")


def _reproducible(data: bytes) -> bytes:
    """Return the workbook ``data`` with fixed times where openpyxl writes the clock's."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _CORE_TIMES.sub(rb"\g<1>" + _STAMP.encode(), body)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.external_attr = info.external_attr
            target.writestr(entry, body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[BinaryIO]:
    """Yield a new file beside ``target`` that takes its place once written whole.

    A reader never sees half a file, and a failed write leaves the old one as it was.

    Raises:
        RectifyError: ``target`` is a folder, a device or a pipe, or cannot be written.
    """
    if target.is_dir():
        raise RectifyError(f"cannot write {target}: it is a folder, not a file")
    if target.exists() and not target.is_file():
        raise RectifyError(f"cannot write {target}: it is not a regular file")
    temp = target.with_name(f".{target.stem[:40]}-{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise RectifyError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        temp.replace(target)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RectifyError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise


def _write(
    path: str | os.PathLike[str],
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    fmt: Format | None,
    title: str | None,
    sheet: str,
    rates: Collection[int] = (),
    counted: int | None = None,
    notes: Mapping[str, str] | None = None,
) -> None:
    """Write the rows, replacing ``path`` whole (a reader never sees half a file).

    The columns ``rates`` (0-based) hold fractions shown as percentages; in XLSX the first
    ``counted`` rows are numbered (every row by default) and the rest, a 合计 line, are
    bold, and the headers ``notes`` names carry its note.
    """
    target = Path(path)
    kind = _format(target, fmt)
    if kind == "xlsx":
        need_openpyxl()  # before anything is written
    with _replacing(target) as file:
        if kind == "csv":
            _write_csv(file, header, rows, title, rates)
        else:
            _write_xlsx(file, header, rows, title, sheet, rates=rates, counted=counted, notes=notes)


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
    current state: triage, rectification or re-inspection), 督办等级, 案件编号 (the id
    an import knows the case by) and 隐患编号 (the number documents print), then 楼栋,
    隐患部位, 严重程度, 整改责任人, 整改措施 and 备注 where any case has them, and last
    类别核实 where a case's category was inferred unsure on import and nobody has confirmed
    or changed it yet (``待核实（把握 0.55）``; ``rectify category`` or
    ``Ledger.change_category`` clears it); :func:`read_ledger` reads the file back to the
    same case ids and data (less the marks of an unsure inference). Unless
    ``reader_role`` may see them (:data:`~rectify.documents.PHONE_ROLES`), this is the
    public copy: phone and ID-card numbers, in any writing and in any text cell, are
    masked, free text that names a special group (3单元11楼独居老人家中未安装烟感) is
    withheld, and there is no 案件编号 column (nothing to import it by: the numbers are
    masked). Every cell that begins with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
    return) is prefixed with ``'`` so that no spreadsheet runs it as a formula.

    Args:
        cases: The cases to list.
        path: Where to write (replaced whole once written).
        specs: The workflows of the cases (state and escalation titles).
        fmt: ``"xlsx"`` (laid out for print: a 序号 column first, the title merged above
            the header, borders, A4 landscape one page wide, the header on every page; a
            note on the headers a clerk could confuse) or ``"csv"`` (UTF-8 with a BOM, so
            that Excel opens it); by default from the file's suffix.
        reader_role: Who reads it; personal data is masked unless the role may see it.
        categories: The category table, for category and severity titles (the shipped one
            by default).
        title: A title row above the header (铜梁区虎峰镇老旧小区台账).
    """
    if categories is None:
        from rectify.definitions._load import load_categories  # noqa: PLC0415 - _load imports much

        categories = load_categories()
    header, rows = _ledger_table(cases, specs, categories, reader_role)
    _write(path, header, rows, fmt=fmt, title=title, sheet="台账", notes=_COLUMN_NOTES)
    return len(rows)


def _line(community: str, estates: int, buildings: int, totals: Totals) -> LedgerTotal:
    counts = attrs.asdict(totals)
    return LedgerTotal(community=community, estates=estates, buildings=buildings, **counts)


def _totals(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], as_of: dt.date | None
) -> tuple[tuple[LedgerTotal, ...], LedgerTotal]:
    """Return the line of each community and the 合计 line, from the reports' counts."""
    day = as_of or local_date(dt.datetime.now(TIMEZONE))
    places, _ = places_by_community(cases, specs, day)
    lines = tuple(
        _line(name, estates, buildings, count(group)) for name, estates, buildings, group in places
    )
    # As the HTML totals have it: the communities' estates and buildings added up.
    estates, buildings = sum(t.estates for t in lines), sum(t.buildings for t in lines)
    return lines, _line("合计", estates, buildings, count(f for *_, g in places for f in g))


def ledger_totals(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], *, as_of: dt.date | None = None
) -> tuple[LedgerTotal, ...]:
    """Return the ledger totals per community, counted as every report counts them.

    The counts are :func:`~rectify.documents.count` of the hazards of each community on
    ``as_of`` (one row a hazard, as :func:`~rectify.documents.ledger_totals_context` and the
    circular have them): found, closed, open, overdue, transferred, dismissed and
    duplicate, and the rate. Estates and buildings are those of the old-estate register when
    one is kept, else those hazards were found in
    (:func:`~rectify.documents.places_by_community`).

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
    percentage: a number formatted ``0.0%`` in XLSX, ``85.3%`` in CSV). In XLSX a 序号
    column comes first, numbering the communities; the 合计 line has none and is bold.
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
        counted=len(lines),
    )
    return lines


def write_table(
    rows: Iterable[Mapping[str, object]],
    path: str | os.PathLike[str],
    *,
    columns: Sequence[TableColumn],
    fmt: Format | None = None,
    title: str | None = None,
    sheet: str = "Sheet1",
    reader_role: str | None = None,
    counted: int | None = None,
) -> int:
    """Write ``rows`` (a mapping each) as a table under ``columns``; return the rows written.

    As the ledger is written: XLSX laid out for print (序号, borders, A4 landscape...),
    CSV in UTF-8 with a BOM, formulas neutralised, phone and ID-card numbers masked unless
    ``reader_role`` may see them (:data:`~rectify.documents.PHONE_ROLES`), and so are the
    special-group households of a ``groups`` column.

    Args:
        rows: The rows; a key a row lacks is an empty cell.
        path: Where to write (replaced whole once written).
        columns: The columns, in order: the key each shows, its header, its kind.
        fmt: ``"xlsx"`` or ``"csv"``; by default from the file's suffix.
        title: A title row above the header.
        sheet: The worksheet's name (XLSX).
        reader_role: Who reads it; personal data is masked unless the role may see it.
        counted: How many rows, from the first, are numbered in XLSX; the rest (a 合计
            line) are bold and have no number. Every row by default.
    """
    cells = table_cells(rows, columns, reveal=reader_role in PHONE_ROLES)
    rates = [col for col, column in enumerate(columns) if column.kind == "rate"]
    header = [column.header for column in columns]
    _write(path, header, cells, fmt=fmt, title=title, sheet=sheet, rates=rates, counted=counted)
    return len(cells)
