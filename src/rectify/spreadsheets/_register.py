"""The campaign's other sheets: the estate register and the earlier years' rectified hazards.

Owns reading the old-estate register (老旧小区总数台账 / 楼栋摸排表, one row per building) into
``survey`` cases (:func:`read_register`) and the earlier years' rectified hazards
(历年已整改隐患台账) into ``earlier`` cases (:func:`read_earlier`) and the stable ids of
both (:func:`building_id`, :func:`earlier_id`). The files are read as the hazard ledger is
(``_reading``): CSV or XLSX, title rows, merged cells carried down, header synonyms (a
:class:`Layout` each), every problem named by row and column, duplicate rows reported,
nothing dropped silently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final, TypeVar

import attrs

from rectify.definitions._categories import CategoryTable
from rectify.spreadsheets._cells import (
    manager_kind,
    parse_households,
    parse_person,
    parse_year,
    parse_yes_no,
    year_end,
)
from rectify.spreadsheets._header import (
    EARLIER,
    REGISTER,
    Layout,
)
from rectify.spreadsheets._inference import Immediate, Rules, parse_date
from rectify.spreadsheets._reading import _opened, _rows
from rectify.spreadsheets._text import cell_text, text_key
from rectify.spreadsheets._validation import (
    ParsedSheet,
    _read_building,
    _read_category,
    _read_place,
    _RowReader,
    parse_sheet,
)
from rectify.spreadsheets._values import (
    CellError,
    DuplicateRow,
    InferredCategory,
    LedgerProblem,
    LedgerRow,
    problem_lines,
)

__all__ = [
    "EarlierImport",
    "RegisterImport",
    "building_id",
    "earlier_id",
    "read_earlier",
    "read_register",
]

Source = str | os.PathLike[str] | bytes | Iterable[Sequence[object]]
T = TypeVar("T")

#: Columns read past: what an export derives (序号, 案件编号, 状态) and an earlier deadline.
_IGNORED: Final = frozenset({"serial", "case_id", "state", "due"})
#: A merged cell carries down a level only while every level above was empty (as in the
#: ledger). A register's building is its row's own: a blank one is missing, not merged.
_REGISTER_PLACE: Final = (("community",), ("community_name",), ("address",))
_EARLIER_PLACE: Final = (("community",), ("community_name",), ("address", "building"))
#: An estate's own cells: carried down to the rows of the same estate when left blank.
_ESTATE: Final = ("in_programme", "facilities_manager", "facilities_manager_kind", "grid_worker")
#: Which column a data key comes from, where it is not the column's own key.
_SOURCE: Final = {
    "town": "community",
    "building_head": "head",
    "building_head_phone": "head",
    "floors": "height",
    "grid_worker_phone": "grid_worker",
}


def _digest(prefix: str, parts: Iterable[object]) -> str:
    joined = "\x1f".join(text_key(str(p)) for p in parts)
    return prefix + hashlib.sha256(joined.encode("utf-8")).hexdigest()[:10]


def building_id(data: Mapping[str, object]) -> str:
    """Return a building's survey case id: ``BLD-`` and 10 hex of its place.

    The place is the community, estate, address and building, each as
    :func:`~rectify.spreadsheets._text.text_key` compares it, so the same register imported
    again (or written with other spaces or full-width digits) opens nothing twice.
    """
    keys = ("community", "community_name", "address", "building")
    return _digest("BLD-", (data.get(k, "") for k in keys))


def earlier_id(data: Mapping[str, object]) -> str:
    """Return an earlier year's item's case id: ``ERL-`` and 10 hex of its year, place, text."""
    keys = ("year", "community", "community_name", "address", "building", "description")
    return _digest("ERL-", (data.get(k, "") for k in keys))


class _Imported:
    """What both imports answer: whether all is well, the bad rows, the cases to open."""

    rows: tuple[LedgerRow, ...]
    problems: tuple[LedgerProblem, ...]
    duplicates: tuple[DuplicateRow, ...]
    header_row: int

    @property
    def ok(self) -> bool:
        """Return whether every row imports (no problem, no duplicate)."""
        return not self.problems and not self.duplicates

    @property
    def bad_rows(self) -> tuple[int, ...]:
        """Return the numbers of the rows that have a problem, in order."""
        return tuple(sorted({p.row for p in self.problems if p.row > self.header_row}))

    def cases(self) -> list[tuple[str, str, Mapping[str, object]]]:
        """Return the rows as ``(case_id, workflow, data)``, as the ledger takes them."""
        return [row.item() for row in self.rows]


@attrs.frozen
class RegisterImport(_Imported):
    """What :func:`read_register` found: buildings to import, problems, duplicate rows.

    ``cases()`` feeds :meth:`Ledger.import_cases`.
    """

    rows: tuple[LedgerRow, ...]
    problems: tuple[LedgerProblem, ...]
    duplicates: tuple[DuplicateRow, ...]
    source: str = "<rows>"
    header_row: int = 0

    def estates(self) -> dict[str, list[str]]:
        """Return each community's estates (小区名称), in the order the sheet lists them."""
        out: dict[str, list[str]] = {}
        for row in self.rows:
            names = out.setdefault(str(row.data["community"]), [])
            if (name := str(row.data["community_name"])) not in names:
                names.append(name)
        return out

    def summary(self) -> str:
        """Return a report for the community that filled the register, in Chinese."""
        where = f"（表头在第{self.header_row}行）" if self.header_row else ""
        estates = self.estates()
        lines = [
            f"老旧小区台账导入：{self.source}{where}",
            f"可导入{len(self.rows)}栋（{sum(map(len, estates.values()))}个小区）；"
            f"有问题{len(self.bad_rows)}行（{len(self.problems)}处）；"
            f"重复{len(self.duplicates)}行。",
        ]
        if estates:
            counts = "；".join(
                f"{c} {len(names)}个小区 {sum(str(r.data['community']) == c for r in self.rows)}栋"
                for c, names in estates.items()
            )
            lines.append(f"按社区：{counts}。")
        return "\n".join(lines + problem_lines(self.problems, self.duplicates, self.header_row))


@attrs.frozen
class EarlierImport(_Imported):
    """What :func:`read_earlier` found: items to import, problems, inferences, duplicates.

    ``cases()`` feeds :meth:`Ledger.import_earlier`.
    """

    rows: tuple[LedgerRow, ...]
    problems: tuple[LedgerProblem, ...]
    inferred: tuple[InferredCategory, ...]
    duplicates: tuple[DuplicateRow, ...]
    source: str = "<rows>"
    header_row: int = 0
    categories: CategoryTable | None = attrs.field(default=None, eq=False, repr=False)

    def summary(self) -> str:
        """Return a report for the person who filled the sheet, in Chinese."""
        where = f"（表头在第{self.header_row}行）" if self.header_row else ""
        unsure = sum(not i.sure for i in self.inferred)
        lines = [
            f"历年已整改隐患导入：{self.source}{where}",
            f"可导入{len(self.rows)}项；有问题{len(self.bad_rows)}行（{len(self.problems)}处）；"
            f"重复{len(self.duplicates)}行；按隐患内容推断类别{len(self.inferred)}行"
            f"（其中把握不足、已导入待核实{unsure}行）。",
        ]
        years = sorted({int(str(r.data["year"])) for r in self.rows})
        if years:
            counts = "；".join(
                f"{y}年 {sum(r.data['year'] == y for r in self.rows)}项" for y in years
            )
            lines.append(f"按年度：{counts}。")
        lines += problem_lines(self.problems, self.duplicates, self.header_row)
        if self.inferred:
            lines.append("推断的隐患类别（请核对；把握不足的已导入，待核实）：")
            lines.extend(
                f"  第{i.row}行 → {i.reason(self._title(i.category))}" for i in self.inferred
            )
        return "\n".join(lines)

    def _title(self, code: str) -> str:
        if self.categories is not None and code in self.categories.codes:
            return self.categories.category(code).title
        return ""


# -- reading rows ---------------------------------------------------------------------------


@attrs.frozen
class _Kind:
    """What one kind of sheet is: its columns, how its merged cells carry, its cases."""

    layout: Layout
    workflow: str
    place: tuple[tuple[str, ...], ...]  # the place's levels, carried down while above empty
    estate_cells: tuple[str, ...]  # carried down within an estate when blank
    block_cells: tuple[str, ...]  # carried down when blank (a merged block: the year)
    one_of: tuple[str, ...]  # a sheet must have at least one of these columns
    case_id: Callable[[Mapping[str, object]], str]


def _carry(values: dict[str, object], last: dict[str, object], kind: _Kind) -> None:
    """Fill the blank cells of merged blocks from the row above.

    The place carries down level by level while every level above was empty, as in the
    ledger; an estate's own cells carry down within the estate, a block's (the year) to any
    row below.
    """
    chain = True
    for level in kind.place:
        present = [k for k in level if k in values]
        filled = any(cell_text(values[k]).strip() for k in present)
        for key in present:
            if chain and not cell_text(values[key]).strip():
                values[key] = last.get(key)
            last[key] = values[key]
        chain = chain and not filled
    estate = (cell_text(values.get("community")), cell_text(values.get("community_name")))
    same = last.get("@estate") == estate
    last["@estate"] = estate
    for key, carries in (
        *((k, same) for k in kind.estate_cells),
        *((k, True) for k in kind.block_cells),
    ):
        if key in values:
            if carries and not cell_text(values[key]).strip():
                values[key] = last.get(key)
            last[key] = values[key]


def _parse(
    rows: Iterable[Sequence[object]],
    kind: _Kind,
    read: Callable[[_RowReader], InferredCategory | None],
) -> ParsedSheet:
    """Return what the rows of a sheet of ``kind`` hold, read a row at a time by ``read``."""

    def row(reader: _RowReader) -> tuple[str, str, InferredCategory | None] | None:
        guess = read(reader)
        return None if reader.problems else (kind.case_id(reader.data), kind.workflow, guess)

    layout = kind.layout
    return parse_sheet(
        rows,
        layout,
        row,
        carry=lambda values, last: _carry(values, last, kind),
        wanted="、".join(layout.by_key[k].header for k in layout.required),
        one_of=kind.one_of,
        ignored=_IGNORED,
    )


def _sheet(
    source: Source, sheet: str | None, parse: Callable[[Iterable[Sequence[object]]], ParsedSheet]
) -> tuple[ParsedSheet, str]:
    """Return what ``parse`` finds in a file (path or bytes) or in rows, and the source's name."""
    if isinstance(source, str | bytes | os.PathLike):
        with _opened(source) as (name, stream):
            return parse(_rows(stream, name, sheet)), name
    return parse(list(r) for r in source), "<rows>"


# -- the register -----------------------------------------------------------------------------


def read_register(source: Source, *, sheet: str | None = None) -> RegisterImport:
    """Read an old-estate register (老旧小区总数台账, 楼栋摸排表): one row per building.

    Columns: 社区 (or 镇街/社区), 小区名称, 地址, 楼栋, 建筑高度（层数）, 户数, 是否纳入改造,
    消防设施管理单位, 管理单位类型 (inferred from the unit's name when there is no such
    column or it is blank: a name with 物业, 指定, 业委会; 无 or blank), 网格员,
    楼栋长及联系方式 and 特殊群体; 社区, 小区名称 and 楼栋 must be there. An estate's own
    cells (是否纳入改造, the managing unit and its kind, 网格员) may be merged over its rows.

    Args:
        source: A ``.csv`` or ``.xlsx`` file (a path, or its bytes), or rows of cells.
        sheet: The sheet of a workbook; by default the active one, or the first that has
            a header.

    Returns:
        The buildings, each ``(building_id, "survey", data)`` (``result.cases()`` feeds
        :meth:`Ledger.import_cases`), the problems of the rows not imported and the
        duplicate rows (the same building twice).

    Raises:
        RectifyError: The file is not CSV text or an XLSX workbook (see ``read_ledger``).
        OSError: The file cannot be read.
    """

    def parse(rows: Iterable[Sequence[object]]) -> ParsedSheet:
        return _parse(rows, _BUILDINGS, _read_building_row)

    parsed, name = _sheet(source, sheet, parse)
    return RegisterImport(parsed.rows, parsed.problems, parsed.duplicates, name, parsed.header_row)


_BUILDINGS: Final = _Kind(REGISTER, "survey", _REGISTER_PLACE, _ESTATE, (), (), building_id)


def _read_building_row(r: _RowReader) -> None:
    _read_place(r, None)
    if not r.data.get("building"):
        r.problem("building", "missing", "不能为空")
    _read_building(r)
    if (phone := r.data.pop("phone", None)) is not None:
        r.put("building_head_phone", phone)
    _cell(r, "households", parse_households)
    _cell(r, "in_programme", parse_yes_no)
    if "facilities_manager" in r.values or r.text("facilities_manager_kind"):
        name = (
            r.text("facilities_manager", tight=True) if "facilities_manager" in r.values else None
        )
        try:
            kind = manager_kind(name, r.text("facilities_manager_kind", tight=True))
        except CellError as exc:
            r.problem("facilities_manager_kind", exc.code, exc.reason)
        else:
            r.put("facilities_manager", "" if kind == "无" else name)
            r.put("facilities_manager_kind", kind)
    if "grid_worker" in r.values:
        try:
            names, phones = parse_person(r.text("grid_worker"))
        except CellError as exc:
            r.problem("grid_worker", exc.code, exc.reason)
        else:
            r.put("grid_worker", names)
            r.put("grid_worker_phone", phones)
    r.put("special_groups", r.text("special_groups"))
    r.put("note", r.text("note"))


def _cell(r: _RowReader, key: str, parse: Callable[[object], T]) -> T | None:
    """Put what ``parse`` reads from the cell of ``key``; its error is a problem of the row."""
    try:
        value = parse(r.values.get(key))
    except CellError as exc:
        r.problem(key, exc.code, exc.reason)
        return None
    r.put(key, value)
    return value


# -- earlier years ----------------------------------------------------------------------------


_ITEMS: Final = _Kind(
    EARLIER, "earlier", _EARLIER_PLACE, (), ("year",), ("year", "rectified_on"), earlier_id
)


def read_earlier(
    source: Source, *, categories: CategoryTable, sheet: str | None = None
) -> EarlierImport:
    """Read earlier years' rectified hazards (历年已整改隐患台账): one row per hazard.

    Columns: 年度 (2022, 2022年), 社区, 小区名称, 地址, 楼栋, 隐患内容, 隐患类别 (inferred
    from the hazard text as the ledger import does when blank or absent), 整改责任人,
    整改措施 and 销号日期 (整改完成日期: a date in that year; a year alone, or a year and a
    month, means its last day); 社区, 小区名称 and 隐患内容 must be there, and 年度 or
    销号日期. The year may be merged over its rows.

    Args:
        source: A ``.csv`` or ``.xlsx`` file (a path, or its bytes), or rows of cells.
        categories: The category table the categories are read and inferred with.
        sheet: The sheet of a workbook; by default the active one, or the first that has
            a header.

    Returns:
        The items, each ``(earlier_id, "earlier", data)`` (``result.cases()`` feeds
        :meth:`Ledger.import_earlier`, which opens each at 12:00 on its ``rectified_on``),
        the problems of the rows not imported, the categories inferred and the duplicate
        rows.

    Raises:
        RectifyError: The file is not CSV text or an XLSX workbook (see ``read_ledger``).
        OSError: The file cannot be read.
    """
    rules = Rules.of(categories, None)

    def parse(rows: Iterable[Sequence[object]]) -> ParsedSheet:
        return _parse(rows, _ITEMS, read)

    def read(r: _RowReader) -> InferredCategory | None:
        return _read_earlier_row(r, rules)

    parsed, name = _sheet(source, sheet, parse)
    return EarlierImport(
        parsed.rows,
        parsed.problems,
        parsed.inferred,
        parsed.duplicates,
        name,
        parsed.header_row,
        categories,
    )


def _read_earlier_row(r: _RowReader, rules: Rules) -> InferredCategory | None:
    _read_place(r, None)
    description = r.text("description")
    if not description:
        r.problem("description", "missing", "不能为空")
    r.put("description", description)
    category, inferred = _read_category(r, rules, description)
    if category is not None:
        r.put("category", category.code)
    _rectified(r)
    for key in ("location", "responsible_party", "measures", "note"):
        r.put(key, r.text(key))
    return inferred


def _rectified(r: _RowReader) -> None:
    """Read the year and the day the item was closed; either gives the other."""
    before = len(r.problems)
    year = _cell(r, "year", parse_year)
    day = _cell(r, "rectified_on", _closed_on)
    if len(r.problems) > before:
        return
    if day is None:
        if year is None:
            both = f"「{r.header.label('year')}」和「{r.header.label('rectified_on')}」"
            r.problem("year", "missing", f"{both}都为空：请至少填写一项")
            return
        day = dt.date(year, 12, 31)
    elif year is not None and day.year != year:
        r.problem("rectified_on", "bad-date", f"{day.isoformat()}不在{year}年度内")
        return
    r.put("year", day.year)
    r.put("rectified_on", day)


def _closed_on(value: object) -> dt.date | None:
    """Return the day a 销号日期 cell gives (a year or a month: its last day), or ``None``."""
    if (end := year_end(value)) is not None:
        return end
    day = parse_date(value)
    if isinstance(day, Immediate):
        raise CellError("bad-date", f"「{cell_text(value)}」不是日期：请写销号的日期")
    return day
