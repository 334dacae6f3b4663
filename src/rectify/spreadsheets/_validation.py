"""Turning a sheet's rows of cells into importable rows, with every problem reported.

Owns :func:`parse_rows`, the ledger's parser that works on rows of cells only (so a host with rows
already, from a web upload or a database, needs no file): it finds the header, carries merged
identification cells down, reads each row into case data through a row reader that collects
the row's problems, and returns a :class:`~rectify.spreadsheets._values.LedgerImport` whose
problems name the row number the spreadsheet shows, the column's header and the reason, with
duplicate rows and cells filled in columns without a header reported too: nothing is dropped
silently. :func:`parse_sheet` is that parser for any layout of sheet (the estate register and
earlier years' sheet read through it too), given how to read one row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

import attrs

from rectify.definitions._categories import Category, CategoryTable
from rectify.definitions._spec import CalendarDays
from rectify.engine._category import CATEGORY_CONFIDENCE, CATEGORY_INFERRED
from rectify.engine._ids import CASE_ID_MAX, case_id_problem
from rectify.engine._payload import encodable
from rectify.spreadsheets._cells import parse_height, parse_person, split_community
from rectify.spreadsheets._header import HEADER_SEARCH, LEDGER, Header, Layout, find_header
from rectify.spreadsheets._inference import (
    Immediate,
    Rules,
    category_of,
    infer,
    parse_date,
    severity_of,
    stable_id,
)
from rectify.spreadsheets._text import cell_text, clean_text
from rectify.spreadsheets._values import (
    LEDGER_HEADERS,
    CellError,
    DuplicateRow,
    InferredCategory,
    LedgerImport,
    LedgerProblem,
    LedgerRow,
)

__all__ = ["ParsedSheet", "RowRead", "parse_rows", "parse_sheet"]

#: The columns an export derives from the case (序号, 当前状态, 当前环节期限 - 整改期限 in
#: older exports -, 督办等级, 隐患编号 and 类别核实): not read.
_IGNORED: Final = frozenset(
    {"serial", "state", "deadline", "level", "case_number", "category_check"}
)
#: Merged identification cells carry down a level only while every level above was empty.
_LEVELS: Final = (
    ("community",),
    ("community_name",),
    ("address", "building"),
    ("head", "head_name", "phone", "height", "height_m"),
)


def _carry(values: dict[str, object], last: dict[str, object]) -> None:
    """Fill blank identification cells from the row above, level by level (merged cells)."""
    chain = True
    for level in _LEVELS:
        present = [k for k in level if k in values]
        filled = any(cell_text(values[k]).strip() for k in present)
        for key in present:
            if chain and not cell_text(values[key]).strip():
                values[key] = last.get(key)
            last[key] = values[key]
        chain = chain and not filled


class _RowReader:
    """Reads one data row into case data, collecting the row's problems."""

    def __init__(self, number: int, values: Mapping[str, object], header: Header) -> None:
        self.number = number
        self.values = values
        self.header = header
        self.problems: list[LedgerProblem] = []
        self.data: dict[str, object] = {}

    def text(self, key: str, *, tight: bool = False) -> str:
        value = cell_text(self.values.get(key))
        if not encodable(value):
            self.problem(key, "bad-text", "含有无法保存的字符（孤立的代理码位）")
            return ""
        return clean_text(value, tight=tight)

    def problem(self, key: str, code: str, reason: str) -> None:
        self.problems.append(LedgerProblem(self.number, self.header.label(key), reason, code))

    def put(self, key: str, value: object) -> None:
        if value not in ("", None):
            self.data[key] = value


def _read_place(r: _RowReader, town: str | None) -> None:
    """Read the community and its town (``town`` if the cell names none), estate and building."""
    community = r.text("community", tight=True)
    if not community:
        r.problem("community", "missing", "不能为空")
    else:
        try:
            found, name = split_community(community, town)
        except CellError as exc:
            r.problem("community", exc.code, exc.reason)
        else:
            r.put("town", found)
            r.put("community", name)
    name = r.text("community_name", tight=True)
    if not name:
        r.problem("community_name", "missing", "不能为空")
    r.put("community_name", name)
    r.put("address", r.text("address", tight=True))
    r.put("building", r.text("building", tight=True))


def _read_building(r: _RowReader) -> None:
    names: list[str] = []
    phones: list[str] = []
    for key in ("head", "head_name", "phone"):
        if key in r.values:
            try:
                name, phone = parse_person(r.text(key))
            except CellError as exc:
                r.problem(key, exc.code, exc.reason)
                continue
            names += [name] if name else []
            phones += [phone] if phone else []
    r.put("building_head", "、".join(names))
    r.put("phone", "、".join(phones))
    floors: int | None = None
    height: int | float | None = None
    for key in ("height", "height_m"):
        if key in r.values:
            try:
                f, h = parse_height(r.values[key], metres=key == "height_m")
            except CellError as exc:
                r.problem(key, exc.code, exc.reason)
                continue
            floors, height = f or floors, h or height
    r.put("floors", floors)
    r.put("height", height)


def _read_category(
    r: _RowReader, rules: Rules, description: str
) -> tuple[Category | None, InferredCategory | None]:
    """Read the 隐患类别 cell, or infer the category from ``description`` when it is blank.

    An unsure inference is imported all the same, marked for the clerk to check (the
    ``category_inferred`` and ``category_confidence`` of the case's data).
    """
    cell = r.text("category")
    if cell:
        try:
            return category_of(cell, rules.table), None
        except CellError as exc:
            r.problem("category", exc.code, exc.reason)
            return None, None
    if not description:
        return None, None
    found = infer(description, rules)
    if found is None:
        r.problem("category", "no-category", "为空，且隐患内容中没有可识别的关键词：请填写隐患类别")
        return None, None
    inferred = InferredCategory(
        r.number,
        found.code,
        found.words,
        found.also,
        found.confidence,
        found.sure,
        found.by,
        found.rival,
    )
    if not found.sure:
        r.put(CATEGORY_INFERRED, found.words)
        r.put(CATEGORY_CONFIDENCE, found.confidence)
    return rules.table.category(found.code), inferred


def _read_hazard(r: _RowReader, rules: Rules) -> InferredCategory | None:
    description = r.text("description")
    if not description:
        r.problem("description", "missing", "不能为空")
    category, inferred = _read_category(r, rules, description)
    severity: str | None = category.severity if category else None
    if cell := r.text("severity"):
        try:
            severity = severity_of(cell, rules.table)
        except CellError as exc:
            r.problem("severity", exc.code, exc.reason)
            severity = None
    if category is not None:
        r.put("category", category.code)
    r.put("severity", severity)
    r.put("description", description)
    for key in ("location", "responsible_party", "measures", "note"):
        r.put(key, r.text(key))
    _read_due(r, severity, rules.table)
    return inferred


def _read_due(r: _RowReader, severity: str | None, table: CategoryTable) -> None:
    try:
        due = parse_date(r.values.get("due"))
    except CellError as exc:
        r.problem("due", exc.code, exc.reason)
        return
    if isinstance(due, Immediate):
        if severity is not None and severity in table.severity_names:
            level = table.severity(severity)
            if level.period != CalendarDays(0):
                r.problem(
                    "due",
                    "immediate-date",
                    f"写的是「{r.text('due')}」，但该隐患按「{level.title}」整改：请填写日期",
                )
        return
    r.put("due", due)


def _case_id(r: _RowReader) -> str:
    """Return the row's case id: the cell's (checked against the grammar), or a stable one.

    The cell is read as ``text`` reads it (full-width letters and digits made half-width),
    but a character that reading would drop (a control character, inner white space) is a
    problem of the row, not silently removed from the id.
    """
    raw = cell_text(r.values.get("case_id")).strip()
    if not raw:
        return stable_id(r.data)
    given = r.text("case_id")
    if not encodable(raw):
        return given  # reported as bad-text by ``text``
    probe = given if len(given) == len(raw) else raw
    problem = case_id_problem(probe)
    if problem is not None:
        r.problem("case_id", "bad-case-id", _id_reason(probe, *problem))
    return given


_ID_SHOWN: Final = 40  # characters of a refused id shown in its problem's reason
_ID_REASONS: Final = {
    "too-long": "有 {} 个字符，超过 " + str(CASE_ID_MAX) + " 个",
    "character": "含有不允许的字符 {}",
    "leading": "不能以「{}」开头",
    "dots": "不能含「..」",
}


def _id_reason(value: str, code: str, detail: str) -> str:
    """Return why ``value`` is refused as a case id, in words safe to print on a terminal."""
    shown = "".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in value[:_ID_SHOWN])
    more = "…" if len(value) > _ID_SHOWN else ""
    return (
        f"案件编号「{shown}{more}」{_ID_REASONS[code].format(detail)}；"
        f"案件编号只能由半角字母、数字、汉字和 - _ . 组成，1 至 {CASE_ID_MAX} 个字符"
    )


#: The column a field is read from, where the field is not the column's own key.
_SOURCES: Final = {
    "town": "community",
    "building_head": "head",
    "building_head_phone": "head",
    "phone": "head",
    "floors": "height",
    "height": "height",
    "grid_worker_phone": "grid_worker",
}


def _differs(a: Mapping[str, object], b: Mapping[str, object], header: Header) -> tuple[str, ...]:
    """Return the headers of the columns whose values differ between two rows' data."""
    order = list(header.layout.by_key)
    keys = {_SOURCES.get(k, k) for k in set(a) | set(b) if a.get(k) != b.get(k)}
    columns = sorted((k for k in keys if k in header.layout.by_key), key=order.index)
    return tuple(dict.fromkeys(header.label(c) for c in columns))


@attrs.frozen
class ParsedSheet:
    """What a sheet holds: rows to import, problems, inferences, duplicates, its header row."""

    rows: tuple[LedgerRow, ...]
    problems: tuple[LedgerProblem, ...]
    inferred: tuple[InferredCategory, ...]
    duplicates: tuple[DuplicateRow, ...]
    header_row: int


#: Reads one row: its case id, workflow and inferred category, or ``None`` with problems.
RowRead = Callable[[_RowReader], "tuple[str, str, InferredCategory | None] | None"]


def parse_sheet(
    rows: Iterable[Sequence[object]],
    layout: Layout,
    read: RowRead,
    *,
    carry: Callable[[dict[str, object], dict[str, object]], None],
    wanted: str,
    one_of: tuple[str, ...] = (),
    ignored: frozenset[str] = _IGNORED,
) -> ParsedSheet:
    """Return what the rows of a sheet of ``layout`` hold, each row read by ``read``.

    The header is looked for in the first rows (``wanted`` names the columns it must have in
    the problem when there is none; ``one_of`` are columns at least one of which it must
    have; the columns ``ignored`` are not read). Blank rows are skipped, cells under no
    header reported, merged cells filled by ``carry`` (the row's values, the last values
    seen), and a row whose case id an earlier
    row had is a duplicate, not imported.
    """
    stream = iter(rows)  # read once, row by row: a ledger may have a million rows
    head = [list(row) for row in itertools.islice(stream, HEADER_SEARCH + 1)]
    header = find_header(head, layout)
    if header is None:
        problem = LedgerProblem(
            1, "", f"前{HEADER_SEARCH}行中没有找到表头（{wanted}）", "no-header"
        )
        return ParsedSheet((), (problem,), (), (), 0)
    problems = list(header.problems)
    if one_of and not {c.key for c in header.columns} & set(one_of):
        missing = "或".join(layout.by_key[k].header for k in one_of)
        problems.append(LedgerProblem(header.row, missing, "缺少此列", "missing-column"))
    if any(p.code == "missing-column" for p in problems):
        return ParsedSheet((), tuple(problems), (), (), header.row)
    out: list[LedgerRow] = []
    inferred: list[InferredCategory] = []
    duplicates: list[DuplicateRow] = []
    seen: dict[str, LedgerRow] = {}
    last: dict[str, object] = {}
    stray: dict[int, list[int]] = {}
    body = itertools.chain(head[header.data_start :], (list(row) for row in stream))
    for index, cells in enumerate(body, start=header.data_start):
        if not any(cell_text(v).strip() for v in cells):
            continue
        for i, value in enumerate(cells):
            if i not in header.labelled and cell_text(value).strip():
                stray.setdefault(i, []).append(index + 1)
        values: dict[str, object] = {
            c.key: cells[c.index] if c.index < len(cells) else None
            for c in header.columns
            if c.key not in ignored
        }
        carry(values, last)
        reader = _RowReader(index + 1, values, header)
        found = read(reader)
        if reader.problems or found is None:
            problems.extend(reader.problems)
            continue
        case_id, workflow, guess = found
        row = LedgerRow(index + 1, case_id, workflow, reader.data)
        if (first := seen.get(case_id)) is not None:
            differs = _differs(first.data, row.data, header)
            duplicates.append(DuplicateRow(row.row, first.row, case_id, differs))
            continue
        seen[case_id] = row
        out.append(row)
        if guess is not None:
            inferred.append(guess)
    problems[len(header.problems) : len(header.problems)] = [
        _stray(header.row, i, numbers) for i, numbers in sorted(stray.items())
    ]
    return ParsedSheet(tuple(out), tuple(problems), tuple(inferred), tuple(duplicates), header.row)


def parse_rows(
    rows: Iterable[Sequence[object]],
    table: CategoryTable,
    town: str | None,
    source: str,
) -> LedgerImport:
    """Return what the rows of a sheet hold: rows to import, problems, inferences, duplicates."""
    rules = Rules.of(table, town)

    def read(reader: _RowReader) -> tuple[str, str, InferredCategory | None] | None:
        _read_place(reader, rules.town)
        _read_building(reader)
        guess = _read_hazard(reader, rules)
        case_id = _case_id(reader) if reader.data.get("description") else ""
        if reader.problems:
            return None
        return case_id, table.severity(str(reader.data["severity"])).workflow, guess

    sheet = parse_sheet(rows, LEDGER, read, carry=_carry, wanted="、".join(LEDGER_HEADERS))
    return LedgerImport(
        sheet.rows,
        sheet.problems,
        sheet.inferred,
        sheet.duplicates,
        source,
        sheet.header_row,
        table,
    )


def _column_letter(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


_STRAY_SHOWN: Final = 5


def _stray(header_row: int, index: int, rows: Sequence[int]) -> LedgerProblem:
    shown = "、".join(str(r) for r in rows[:_STRAY_SHOWN])
    more = f"等{len(rows)}行" if len(rows) > _STRAY_SHOWN else "行"
    return LedgerProblem(
        header_row,
        f"{_column_letter(index)}列",
        f"此列没有表头，第{shown}{more}填在此列的内容未导入：请补上表头（如「联系电话」）",
        "unlabelled-column",
    )
