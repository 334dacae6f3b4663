"""The ledger's columns and finding them in a sheet (header matching).

Owns the columns the reader knows (镇街/社区, 小区名称, 地址,
消防安全管理人（楼栋长）及联系方式, 建筑高度（层数）, 隐患内容, 整改时限, the optional
隐患类别, 严重程度, 楼栋, 隐患部位, 整改责任人, 整改措施, 备注, 案件编号, and the columns an
export adds) with the headers people write for each, and :func:`find_header`, which finds
the header under any title rows, reads a two-row (merged) header, and reports unknown,
repeated and missing columns as problems of the header row. A :class:`Layout` says which
columns one kind of sheet has: :data:`LEDGER` by default, :data:`REGISTER` for the estate
register (one row per building) and :data:`EARLIER` for the earlier years' rectified hazards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from rectify.spreadsheets._text import SPACES, cell_text, clean_text, header_key
from rectify.spreadsheets._values import LedgerProblem

__all__ = [
    "BY_KEY",
    "EARLIER",
    "HEADER_SEARCH",
    "LEDGER",
    "REGISTER",
    "Header",
    "Layout",
    "find_header",
]


@attrs.frozen
class _Field:
    """A column the reader knows: its key, the header written on export, the headers read."""

    key: str
    header: str
    aliases: tuple[str, ...]


_FIELDS: Final = (
    _Field(
        "community",
        "镇街/社区",
        ("镇街社区", "镇街", "社区", "所属社区", "街镇社区", "镇社区", "社区名称", "所在社区"),
    ),
    _Field("community_name", "小区名称", ("小区名称", "小区", "小区名", "小区楼盘名称")),
    _Field("address", "地址", ("地址", "小区地址", "详细地址", "楼栋地址")),
    _Field(
        "head",
        "消防安全管理人（楼栋长）及联系方式",
        (
            "消防安全管理人楼栋长及联系方式",
            "消防安全管理人及联系方式",
            "楼栋长及联系方式",
            "消防安全管理人楼栋长",
            "消防安全管理人",
            "楼栋长",
            "联系人及联系方式",
            "联系人",
        ),
    ),
    _Field("height", "建筑高度（层数）", ("建筑高度层数", "层数", "楼层数", "建筑层数", "楼层")),
    _Field("height_m", "建筑高度（米）", ("建筑高度", "建筑高度米", "高度", "高度米", "米")),
    _Field(
        "description",
        "隐患内容",
        (
            "隐患内容",
            "隐患",
            "隐患描述",
            "存在隐患",
            "存在问题",
            "问题描述",
            "隐患问题",
            "主要隐患",
        ),
    ),
    _Field("due", "整改时限", ("整改时限", "整改完成时限", "完成时限", "整改时间", "整改完成时间")),
    _Field("category", "隐患类别", ("隐患类别", "隐患类型", "隐患分类", "类别", "类型")),
    _Field("severity", "严重程度", ("严重程度", "隐患等级", "隐患级别")),
    _Field("building", "楼栋", ("楼栋", "楼栋号", "栋号", "楼号", "幢号", "楼栋名称", "楼栋编号")),
    _Field("location", "隐患部位", ("隐患部位", "部位", "具体部位")),
    _Field(
        "responsible_party",
        "整改责任人",
        ("整改责任人", "整改责任单位", "责任人", "责任单位", "整改责任主体"),
    ),
    _Field("measures", "整改措施", ("整改措施", "措施")),
    _Field("note", "备注", ("备注",)),
    _Field("case_id", "案件编号", ("案件编号",)),
    # Sub-columns of a two-row header (姓名 | 联系电话 under the building head's cell).
    _Field("head_name", "姓名", ("姓名", "楼栋长姓名", "管理人姓名")),
    _Field("phone", "联系电话", ("联系电话", "联系方式", "电话", "手机", "手机号码", "电话号码")),
    # What an export adds and an import leaves alone (derived from the case, not data).
    _Field("serial", "序号", ("序号",)),
    _Field("state", "当前状态", ("当前状态", "状态")),
    _Field("deadline", "当前环节期限", ("当前环节期限", "整改期限")),
    _Field("level", "督办等级", ("督办等级",)),
    _Field("case_number", "隐患编号", ("隐患编号",)),
    _Field("category_check", "类别核实", ("类别核实",)),
)
BY_KEY: Final = {f.key: f for f in _FIELDS}
_REQUIRED: Final = ("community", "community_name", "description")
#: A header row names at least this many of the fields a ledger must or may have.
_MIN_HEADER_FIELDS: Final = 3
HEADER_SEARCH: Final = 30


@attrs.frozen
class Layout:
    """The columns of one kind of sheet: the fields read, those it must have, its markers.

    The hazard ledger is :data:`LEDGER`; the estate register and the earlier years' sheet
    (``_register``) have their own. A header row names at least three of ``fields``, one
    of them an ``anchors`` field.
    """

    fields: tuple[_Field, ...]
    required: tuple[str, ...]
    anchors: frozenset[str]
    by_key: Mapping[str, _Field] = attrs.field(eq=False, repr=False)
    aliases: Mapping[str, str] = attrs.field(eq=False, repr=False)

    @classmethod
    def of(
        cls, fields: Sequence[_Field], required: Sequence[str], anchors: Sequence[str]
    ) -> Layout:
        """Return the layout of ``fields`` (an alias names the first field that has it)."""
        aliases: dict[str, str] = {}
        for f in fields:
            for alias in f.aliases:
                aliases.setdefault(alias, f.key)
        by_key = {f.key: f for f in fields}
        return cls(tuple(fields), tuple(required), frozenset(anchors), by_key, aliases)


#: The hazard ledger (Attachment 1 and the columns people add to it).
LEDGER: Final = Layout.of(_FIELDS, _REQUIRED, ("description", "community_name"))
#: The old-estate register (老旧小区总数台账, 楼栋摸排表): one row per building.
REGISTER: Final = Layout.of(
    (
        *(BY_KEY[k] for k in ("community", "community_name", "address", "building")),
        *(BY_KEY[k] for k in ("height", "height_m", "head", "head_name", "phone")),
        _Field("households", "户数", ("户数", "住户数", "总户数", "居民户数", "户数户")),
        _Field(
            "in_programme",
            "是否纳入改造",
            (
                "是否纳入改造",
                "是否纳入老旧小区改造",
                "是否纳入老旧小区改造项目",
                "纳入改造",
                "是否改造",
                "是否纳入老旧小区改造提升项目",
                "是否纳入改造项目",
                "是否纳入改造提升项目",
            ),
        ),
        _Field(
            "facilities_manager_kind",
            "管理单位类型",
            ("管理单位类型", "消防设施管理单位类型", "管理单位性质"),
        ),
        _Field(
            "facilities_manager",
            "消防设施管理单位",
            (
                "消防设施管理单位",
                "消防设施管理维保单位",
                "管理维保单位",
                "管理单位",
                "物业管理单位",
                "物业服务企业",
                "物业公司",
            ),
        ),
        _Field(
            "grid_worker",
            "网格员",
            ("网格员", "网格员姓名", "网格员及联系方式", "所属网格员", "网格管理员"),
        ),
        _Field(
            "special_groups",
            "特殊群体",
            ("特殊群体", "特殊人群", "特殊群体户数", "特殊群体情况", "特殊人群情况", "重点人群"),
        ),
        *(BY_KEY[k] for k in ("note", "serial", "case_id", "state")),
    ),
    ("community", "community_name", "building"),
    ("community_name",),
)
#: Earlier years' rectified hazards (历年已整改隐患台账): one row per hazard.
EARLIER: Final = Layout.of(
    (
        _Field("year", "年度", ("年度", "年份", "整改年度", "隐患年度", "排查年度")),
        *(BY_KEY[k] for k in ("community", "community_name", "address", "building")),
        *(BY_KEY[k] for k in ("description", "category", "location")),
        *(BY_KEY[k] for k in ("responsible_party", "measures")),
        _Field(
            "rectified_on",
            "销号日期",
            (
                "销号日期",
                "销号时间",
                "整改完成日期",
                "整改完成时间",
                "完成日期",
                "完成时间",
                "整改日期",
                "实际完成日期",
                "实际完成时间",
                "销案日期",
            ),
        ),
        _Field("due", "整改时限", ("整改时限", "整改期限", "完成时限")),
        *(BY_KEY[k] for k in ("note", "serial", "case_id", "state")),
    ),
    ("community", "community_name", "description"),
    ("description",),
)


@attrs.frozen
class _Column:
    index: int
    key: str
    label: str


@attrs.frozen
class Header:
    """Where a sheet's header is, the columns it names and the problems it has."""

    row: int  # the 1-based row number of the header (of its first row when two)
    data_start: int  # the 0-based index of the first row below the header
    columns: tuple[_Column, ...]
    problems: tuple[LedgerProblem, ...]
    labelled: frozenset[int]  # every column with a header, read or not
    layout: Layout = LEDGER

    def label(self, key: str) -> str:
        """Return the header of a field's column as the sheet writes it (or as exported)."""
        column = next((c for c in self.columns if c.key == key), None)
        return column.label if column else self.layout.by_key[key].header


def _field_of(text: str, layout: Layout) -> str | None:
    key = header_key(text)
    if not key:
        return None
    if key in layout.aliases:
        return layout.aliases[key]
    # A canonical header with something added: 隐患内容（具体描述）.
    for field in layout.fields:
        canonical = header_key(field.header)
        if len(canonical) >= 4 and key.startswith(canonical):  # noqa: PLR2004
            return field.key
    found: str | None = None
    if key.startswith(("建筑高度", "高度", "楼高")):
        found = "height" if "层" in key else "height_m"
    elif key.startswith(("消防安全管理人", "楼栋长")):
        found = "head"
    return found if found in layout.by_key else None


def _label(value: object) -> str:
    return SPACES.sub("", clean_text(cell_text(value)))


def find_header(rows: Sequence[Sequence[object]], layout: Layout = LEDGER) -> Header | None:
    """Return the header among the first rows of a sheet, or ``None`` when there is none."""
    for index, row in enumerate(rows[:HEADER_SEARCH]):
        keys = {_field_of(cell_text(v), layout) for v in row} - {None}
        if len(keys) >= _MIN_HEADER_FIELDS and keys & layout.anchors:
            return _read_header(rows, index, layout)
    return None


def _is_sub_header(row: Sequence[object], layout: Layout) -> bool:
    texts = [_label(v) for v in row]
    texts = [t for t in texts if t]
    return bool(texts) and all(_field_of(t, layout) is not None for t in texts)


def _read_header(rows: Sequence[Sequence[object]], index: int, layout: Layout) -> Header:
    upper = [_label(v) for v in rows[index]]
    lower: list[str] = []
    start = index + 1
    if start < len(rows) and _is_sub_header(rows[start], layout):
        lower = [_label(v) for v in rows[start]]
        start += 1
    width = max(len(upper), len(lower))
    upper += [""] * (width - len(upper))
    lower += [""] * (width - len(lower))
    columns: list[_Column] = []
    problems: list[LedgerProblem] = []
    seen: dict[str, str] = {}
    labelled: set[int] = set()
    above = ""
    for i, (top, sub) in enumerate(zip(upper, lower, strict=True)):
        # A header cell merged across columns holds its text in the first column only.
        above = top or (above if sub else "")
        label = f"{above}/{sub}" if above and sub and above != sub else above or sub
        if not label:
            continue
        labelled.add(i)
        key = (_field_of(sub, layout) if sub else None) or _field_of(above, layout)
        if key is None:
            problems.append(
                LedgerProblem(index + 1, label, "未识别的列，此列内容不会导入", "unknown-column")
            )
            continue
        if key in seen:
            problems.append(
                LedgerProblem(
                    index + 1, label, f"与「{seen[key]}」列重复，此列不会导入", "repeated-column"
                )
            )
            continue
        seen[key] = label
        columns.append(_Column(i, key, label))
    if "due" not in seen and "deadline" in seen:
        columns = [attrs.evolve(c, key="due") if c.key == "deadline" else c for c in columns]
    for key in layout.required:
        if key not in seen:
            problems.append(
                LedgerProblem(index + 1, layout.by_key[key].header, "缺少此列", "missing-column")
            )
    return Header(index + 1, start, tuple(columns), tuple(problems), frozenset(labelled), layout)
