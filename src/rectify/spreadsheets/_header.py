"""The ledger's columns and finding them in a sheet (header matching).

Owns the columns the reader knows (镇街/社区, 小区名称, 地址,
消防安全管理人（楼栋长）及联系方式, 建筑高度（层数）, 隐患内容, 整改时限, the optional
隐患类别, 严重程度, 楼栋, 隐患部位, 整改责任人, 整改措施, 备注, 案件编号, and the columns an
export adds) with the headers people write for each, and :func:`find_header`, which finds
the header under any title rows, reads a two-row (merged) header, and reports unknown,
repeated and missing columns as problems of the header row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from rectify.spreadsheets._text import SPACES, cell_text, clean_text, header_key
from rectify.spreadsheets._values import LedgerProblem

__all__ = ["BY_KEY", "HEADER_SEARCH", "Header", "find_header"]


@attrs.frozen
class _Field:
    """A column the reader knows: its key, the header written on export, the headers read."""

    key: str
    header: str
    aliases: tuple[str, ...]


_FIELDS: Final = (
    _Field(
        "community", "镇街/社区", ("镇街社区", "镇街", "社区", "所属社区", "街镇社区", "镇社区")
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
    _Field("building", "楼栋", ("楼栋", "楼栋号", "栋号", "楼号", "幢号")),
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
)
BY_KEY: Final = {f.key: f for f in _FIELDS}
_ALIASES: Final = {alias: f.key for f in _FIELDS for alias in f.aliases}
_REQUIRED: Final = ("community", "community_name", "description")
#: A header row names at least this many of the fields a ledger must or may have.
_MIN_HEADER_FIELDS: Final = 3
HEADER_SEARCH: Final = 30


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

    def label(self, key: str) -> str:
        """Return the header of a field's column as the sheet writes it (or as exported)."""
        column = next((c for c in self.columns if c.key == key), None)
        return column.label if column else BY_KEY[key].header


def _field_of(text: str) -> str | None:
    key = header_key(text)
    if not key:
        return None
    if key in _ALIASES:
        return _ALIASES[key]
    # A canonical header with something added: 隐患内容（具体描述）.
    for field in _FIELDS:
        canonical = header_key(field.header)
        if len(canonical) >= 4 and key.startswith(canonical):  # noqa: PLR2004
            return field.key
    if key.startswith(("建筑高度", "高度", "楼高")):
        return "height" if "层" in key else "height_m"
    if key.startswith(("消防安全管理人", "楼栋长")):
        return "head"
    return None


def _label(value: object) -> str:
    return SPACES.sub("", clean_text(cell_text(value)))


def find_header(rows: Sequence[Sequence[object]]) -> Header | None:
    """Return the header among the first rows of a sheet, or ``None`` when there is none."""
    for index, row in enumerate(rows[:HEADER_SEARCH]):
        keys = {_field_of(cell_text(v)) for v in row} - {None}
        if len(keys) >= _MIN_HEADER_FIELDS and keys & {"description", "community_name"}:
            return _read_header(rows, index)
    return None


def _is_sub_header(row: Sequence[object]) -> bool:
    texts = [_label(v) for v in row]
    texts = [t for t in texts if t]
    return bool(texts) and all(_field_of(t) is not None for t in texts)


def _read_header(rows: Sequence[Sequence[object]], index: int) -> Header:
    upper = [_label(v) for v in rows[index]]
    lower: list[str] = []
    start = index + 1
    if start < len(rows) and _is_sub_header(rows[start]):
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
        key = (_field_of(sub) if sub else None) or _field_of(above)
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
    for key in _REQUIRED:
        if key not in seen:
            problems.append(
                LedgerProblem(index + 1, BY_KEY[key].header, "缺少此列", "missing-column")
            )
    return Header(index + 1, start, tuple(columns), tuple(problems), frozenset(labelled))
