"""The ledger (台账) as a spreadsheet: import from CSV and XLSX, export to both.

The layout is Attachment 1 of the town's work plan: 镇街/社区, 小区名称, 地址,
消防安全管理人（楼栋长）及联系方式, 建筑高度（层数）, 隐患内容, 整改时限, with optional columns
(隐患类别, 严重程度, 楼栋, 隐患部位, 整改责任人, 整改措施, 备注, 案件编号).

Reading is in two layers. :func:`read_ledger` turns a file (CSV in UTF-8 or GBK/GB18030,
or XLSX through openpyxl) into rows of cells; the parser works on rows of cells only, so a
host that has rows already (from a web upload, a database) passes them directly. The parser
finds the header under any title rows, reads two-row (merged) headers, carries merged
identification cells down, and reports every row it cannot import with the row number the
spreadsheet shows, the column's header and the reason: nothing is dropped silently.

Each row gets a stable case id, a hash of its normalised community, estate, address,
building and hazard text, so importing the same ledger again opens nothing twice
(:meth:`~rectify.Ledger.import_cases` skips ids already stored).

Writing (:func:`write_ledger`, :func:`write_ledger_totals`) produces the same layout with each
case's state, deadline and escalation level; phone numbers are masked unless the reader's
role may see them, and every cell that a spreadsheet could take for a formula is neutralised.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import importlib.util
import io
import os
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

import attrs

from rectify.definitions._categories import Category, CategoryTable
from rectify.definitions._spec import CalendarDays, WorkflowSpec
from rectify.documents._contexts import PHONE_ROLES
from rectify.documents._reports import facts
from rectify.engine._case import Case
from rectify.engine._engine import TIMEZONE, local_date
from rectify.engine._payload import encodable
from rectify.exceptions import RectifyError
from rectify.templating._formatting import mask_phone

__all__ = [
    "LEDGER_HEADERS",
    "DuplicateRow",
    "InferredCategory",
    "LedgerImport",
    "LedgerProblem",
    "LedgerRow",
    "LedgerTotal",
    "ledger_totals",
    "read_ledger",
    "write_ledger",
    "write_ledger_totals",
]

#: The seven columns of Attachment 1, in order.
LEDGER_HEADERS: Final = (
    "镇街/社区",
    "小区名称",
    "地址",
    "消防安全管理人（楼栋长）及联系方式",
    "建筑高度（层数）",
    "隐患内容",
    "整改时限",
)

Cell = str | int | float | dt.date | None
Format = Literal["xlsx", "csv"]

# -- columns ---------------------------------------------------------------------------


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
    _Field("deadline", "整改期限", ("整改期限",)),
    _Field("level", "督办等级", ("督办等级",)),
)
_BY_KEY: Final = {f.key: f for f in _FIELDS}
_ALIASES: Final = {alias: f.key for f in _FIELDS for alias in f.aliases}
_IGNORED: Final = frozenset({"serial", "state", "deadline", "level"})
_REQUIRED: Final = ("community", "community_name", "description")
#: A header row names at least this many of the fields a ledger must or may have.
_MIN_HEADER_FIELDS: Final = 3
_HEADER_SEARCH: Final = 30
#: Merged identification cells carry down a level only while every level above was empty.
_LEVELS: Final = (
    ("community",),
    ("community_name",),
    ("address", "building"),
    ("head", "head_name", "phone", "height", "height_m"),
)
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
_TOTALS_HEADERS: Final = ("镇街/社区", "小区数", "楼栋数", "隐患数", "已销号", "未销号", "逾期")

# -- text ------------------------------------------------------------------------------

_CJK: Final = "\u2e80-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_NEAR_CJK: Final = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_SPACES: Final = re.compile(r"\s+")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PUNCT: Final = re.compile(r"[()\[\]{}<>/\\|,.:;、!?*＊\"'`~·\-_—…《》〈〉【】「」『』〔〕“”‘’]")
_HALF: Final = {
    c: c - 0xFEE0 for r in ((0xFF10, 0xFF1A), (0xFF21, 0xFF3B), (0xFF41, 0xFF5B)) for c in range(*r)
}
#: A leading character that a spreadsheet reads as the start of a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _clean(text: str, *, tight: bool = False) -> str:
    """Return ``text`` with runs of white space as one space, control characters removed.

    Full-width digits and letters become half-width; punctuation stays as written. With
    ``tight``, spaces next to Chinese characters go too (虎峰 社区 → 虎峰社区).
    """
    text = _CONTROL.sub("", text).translate(_HALF)
    text = _SPACES.sub(" ", text).strip()
    return _NEAR_CJK.sub("", text) if tight else text


def _key(text: str) -> str:
    """Return ``text`` as compared: NFKC, no white space, case-folded."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _header_key(text: str) -> str:
    return _PUNCT.sub("", _key(text))


def _cell_text(value: object) -> str:
    """Return a cell as text, as a person reads it (18.0 → 18, dates as 2024-06-30)."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "是" if value else "否"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else str(value)
    elif isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    # Undo an export's neutralisation of a formula-like cell ('=… → =…).
    if len(text) > 1 and text[0] == "'" and text[1] in _FORMULA_START:
        text = text[1:]
    return text


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


# -- results ---------------------------------------------------------------------------


@attrs.frozen
class LedgerRow:
    """One importable row: where it was, its case id, its workflow and the case data."""

    row: int
    case_id: str
    workflow: str
    data: Mapping[str, object]

    def item(self) -> tuple[str, str, Mapping[str, object]]:
        """Return ``(case_id, workflow, data)`` as :meth:`Ledger.import_cases` takes it."""
        return self.case_id, self.workflow, self.data


@attrs.frozen
class LedgerProblem:
    """Why a row (or the header) could not be imported as it is.

    ``row`` is the row number the spreadsheet shows (1-based), ``column`` the header of the
    column concerned ("" for the whole row), ``code`` a stable name for hosts
    (``missing``, ``bad-date``, ``bad-height``, ``bad-phone``, ``masked-phone``,
    ``unknown-category``, ``no-category``, ``unknown-severity``, ``immediate-date``,
    ``bad-community``, ``bad-case-id``, ``bad-text``, ``missing-column``,
    ``unknown-column``, ``repeated-column``, ``no-header``) and ``reason`` says it in words.
    """

    row: int
    column: str
    reason: str
    code: str = attrs.field(default="", eq=False)


@attrs.frozen
class InferredCategory:
    """A category read from the hazard text: the row, the category, the keyword matched.

    ``also`` names other categories whose keywords the text holds too (a cell that lists
    several hazards, which may be better split into rows).
    """

    row: int
    category: str
    keyword: str
    also: tuple[str, ...] = ()


@attrs.frozen
class DuplicateRow:
    """A row with the same case id as an earlier row of the file; it is not imported.

    ``differs`` names the columns whose values differ from the first row's.
    """

    row: int
    first_row: int
    case_id: str
    differs: tuple[str, ...] = ()


@attrs.frozen
class LedgerImport:
    """What :func:`read_ledger` found: rows to import, problems, inferences, duplicates."""

    rows: tuple[LedgerRow, ...]
    problems: tuple[LedgerProblem, ...]
    inferred: tuple[InferredCategory, ...]
    duplicates: tuple[DuplicateRow, ...]
    source: str = "<rows>"
    header_row: int = 0
    categories: CategoryTable | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def ok(self) -> bool:
        """Return whether every row imports (no problem, no duplicate)."""
        return not self.problems and not self.duplicates

    @property
    def bad_rows(self) -> tuple[int, ...]:
        """Return the numbers of the rows that have a problem, in order."""
        return tuple(sorted({p.row for p in self.problems if p.row > self.header_row}))

    def cases(self) -> list[tuple[str, str, Mapping[str, object]]]:
        """Return the rows as :meth:`Ledger.import_cases` takes them."""
        return [row.item() for row in self.rows]

    def summary(self) -> str:
        """Return a report for the person who filled the ledger, in Chinese."""
        where = f"（表头在第{self.header_row}行）" if self.header_row else ""
        lines = [
            f"台账导入：{self.source}{where}",
            f"可导入{len(self.rows)}行；有问题{len(self.bad_rows)}行（{len(self.problems)}处）；"
            f"重复{len(self.duplicates)}行；按隐患内容推断类别{len(self.inferred)}行。",
        ]
        workflows = sorted({row.workflow for row in self.rows})
        if workflows:
            counts = "，".join(
                f"{w} {sum(r.workflow == w for r in self.rows)}行" for w in workflows
            )
            lines.append(f"按流程：{counts}。")
        sheet = [p for p in self.problems if p.row <= self.header_row or not self.header_row]
        rows = [p for p in self.problems if p not in sheet]
        for title, group in (
            ("表头：", sheet),
            ("问题（这些行未导入，改正后重新导入即可，已导入的行不会重复）：", rows),
        ):
            if group:
                lines.append(title)
                lines.extend(
                    f"  第{p.row}行" + (f"「{p.column}」" if p.column else "") + f"：{p.reason}"
                    for p in group
                )
        if self.duplicates:
            lines.append("重复（与前面的行是同一处隐患，未重复导入）：")
            for d in self.duplicates:
                differs = f"；不同之处：{'、'.join(d.differs)}" if d.differs else ""
                lines.append(f"  第{d.row}行与第{d.first_row}行重复（{d.case_id}）{differs}")
        if self.inferred:
            lines.append("推断的隐患类别（请核对）：")
            for i in self.inferred:
                title = self._title(i.category)
                also = f"；还涉及{'、'.join(i.also)}，可考虑拆分" if i.also else ""
                lines.append(f"  第{i.row}行 → {i.category} {title}（关键词「{i.keyword}」）{also}")
        return "\n".join(lines)

    def _title(self, code: str) -> str:
        if self.categories is not None and code in self.categories.codes:
            return self.categories.category(code).title
        return ""


# -- parsing cells ---------------------------------------------------------------------


class _CellError(Exception):
    """A cell that cannot be read: the problem's code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_ZH: Final = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_ZH_NUMBER: Final = re.compile(r"[零〇一二两三四五六七八九十]+")
_MAX_FLOORS: Final = 150
_MAX_HEIGHT: Final = 600.0
_FLOORS: Final = re.compile(
    r"(\d+(?:\.\d+)?|[零〇一二两三四五六七八九十]+)(层|f|楼)", re.IGNORECASE
)
_METRES: Final = re.compile(r"(\d+(?:\.\d+)?)(米|m)", re.IGNORECASE)
_NUMBER: Final = re.compile(r"\d+(?:\.\d+)?")
_HEIGHT_FILLER: Final = re.compile(r"[()\[\]/,;、\s]|地上|共|约")


def _zh_int(text: str) -> int | None:
    """Return a Chinese numeral up to 99 (六, 十八, 二十三) as a number; ``None`` if not one."""
    if not text or not _ZH_NUMBER.fullmatch(text):
        return None
    if "十" not in text:
        return _ZH[text] if len(text) == 1 else None
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return None
    high = _ZH[tens] if tens else 1
    low = _ZH[units] if units else 0
    return high * 10 + low


def _floors_value(text: str, raw: str) -> int:
    number = _zh_int(text)
    if number is None:
        if not text.isdigit():
            raise _CellError("bad-height", f"「{raw}」的层数不是整数")
        number = int(text)
    if not 1 <= number <= _MAX_FLOORS:
        raise _CellError("bad-height", f"层数{number}超出范围（1–{_MAX_FLOORS}）")
    return number


def _metres_value(text: str) -> int | float:
    value = float(text)
    if not 0 < value <= _MAX_HEIGHT:
        raise _CellError("bad-height", f"高度{text}米超出范围（0–{_MAX_HEIGHT:g}米）")
    return int(value) if value.is_integer() else value


def _parse_height(value: object, *, metres: bool) -> tuple[int | None, int | float | None]:
    """Return (floors, height in metres) from 6层, 18, 6F, 六层, 24米 or 24米（8层）."""
    raw = _clean(_cell_text(value))
    if not raw:
        return None, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = raw
    else:
        text = unicodedata.normalize("NFKC", raw)
    floors: int | None = None
    height: int | float | None = None
    rest = text
    if (m := _METRES.search(rest)) is not None:
        height = _metres_value(m.group(1))
        rest = rest[: m.start()] + " " + rest[m.end() :]
    if (m := _FLOORS.search(rest)) is not None:
        floors = _floors_value(m.group(1), raw)
        rest = rest[: m.start()] + " " + rest[m.end() :]
    rest = _HEIGHT_FILLER.sub("", rest)
    if floors is None and height is None:
        if _NUMBER.fullmatch(rest) or _zh_int(rest) is not None:
            if metres and _NUMBER.fullmatch(rest):
                return None, _metres_value(rest)
            return _floors_value(rest, raw), None
        raise _CellError(
            "bad-height", f"看不懂「{raw}」：请写层数（如6层、6F、六层）或高度（如24米）"
        )
    if rest:
        raise _CellError("bad-height", f"看不懂「{raw}」中的「{rest}」")
    return floors, height


_DATE: Final = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T ]?\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_COMPACT_DATE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})")
_BEFORE: Final = re.compile(r"(之前|以前|前|止)$")
_IMMEDIATE_WORDS: Final = frozenset(
    {"立即", "立即整改", "立行立改", "当场", "当场整改", "马上", "即查即改"}
)
_YEARS: Final = (2000, 2099)
_EXCEL_SERIALS: Final = (20000, 80000)  # 1954 to 2119: a bare number in a date column
_EXCEL_EPOCH: Final = dt.date(1899, 12, 30)


class _Immediate:
    """The deadline cell says "at once" (立即整改): the severity's period applies."""


_IMMEDIATE: Final = _Immediate()


def _parse_date(value: object) -> dt.date | _Immediate | None:
    """Return a deadline: a date, ``_IMMEDIATE`` for 立即整改, ``None`` when blank."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if _EXCEL_SERIALS[0] <= value <= _EXCEL_SERIALS[1]:
            return _in_range(_EXCEL_EPOCH + dt.timedelta(days=int(value)), str(value))
        raise _CellError("bad-date", f"「{_cell_text(value)}」不是日期")
    raw = _clean(_cell_text(value), tight=True)
    if not raw:
        return None
    if raw in _IMMEDIATE_WORDS:
        return _IMMEDIATE
    text = _BEFORE.sub("", unicodedata.normalize("NFKC", raw)).strip()
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if match is None:
        raise _CellError(
            "bad-date", f"「{raw}」不是日期：请写成2024-06-30、2024/6/30、2024.6.30或2024年6月30日"
        )
    year, month, day = (int(g) for g in match.groups())
    try:
        date = dt.date(year, month, day)
    except ValueError:
        what = f"没有{month}月" if not 1 <= month <= 12 else f"{year}年{month}月没有{day}日"  # noqa: PLR2004
        raise _CellError("bad-date", f"「{raw}」不是有效日期：{what}") from None
    return _in_range(date, raw)


def _in_range(date: dt.date, raw: str) -> dt.date:
    if not _YEARS[0] <= date.year <= _YEARS[1]:
        raise _CellError("bad-date", f"「{raw}」超出范围（{_YEARS[0]}–{_YEARS[1]}年）")
    return date


_MASKED: Final = re.compile(r"\d+\s*[*＊]{2,}\s*\d+")
_PHONE: Final = re.compile(
    r"(?<!\d)(?:\+?86[-\s]?)?"
    r"(1\d{2}[-\s]?\d{4}[-\s]?\d{4}|0\d{2,3}[-\s]?\d{7,8}|[2-8]\d{2,3}[-\s]?\d{4})(?!\d)"
)
_LONG_DIGITS: Final = re.compile(r"\d[\d\-\s]{3,}\d")
_PHONE_LABELS: Final = re.compile(
    r"(联系电话|联系方式|电话|手机号码|手机号|手机|tel|Tel|TEL)[:：]?"
)
_NAME_SEPARATORS: Final = re.compile(r"[\s()（）\[\]【】/／,，;；、:：|]+")
_MIN_DIGITS: Final = 5


def _parse_person(value: object) -> tuple[str, str]:
    """Return (names, phones) from 李华 15223133801, 李华/152-2313-3801, 李华（152…）."""
    raw = _clean(_cell_text(value))
    text = unicodedata.normalize("NFKC", raw)
    if (masked := _MASKED.search(text)) is not None:
        raise _CellError("masked-phone", f"电话号码「{masked.group()}」已打码：请填写完整号码")
    phones: list[str] = []

    def take(match: re.Match[str]) -> str:
        phones.append(re.sub(r"\D", "", match.group(1)))
        return " "

    rest = _PHONE.sub(take, text)
    if (bad := _LONG_DIGITS.search(rest)) is not None and sum(
        c.isdigit() for c in bad.group()
    ) >= _MIN_DIGITS:
        raise _CellError("bad-phone", f"电话号码「{bad.group().strip()}」位数不对：手机号应为11位")
    rest = _PHONE_LABELS.sub(" ", rest)
    names = [n for n in _NAME_SEPARATORS.split(rest) if n]
    return "、".join(names), "、".join(phones)


def _split_community(text: str, town: str | None) -> tuple[str, str]:
    """Return (town, community) from 虎峰镇/虎峰社区, 虎峰镇虎峰社区 or 虎峰社区."""
    parts = [p for p in re.split(r"\s*[/／\\|]\s*", text) if p]
    if len(parts) == 2:  # noqa: PLR2004 - town and community
        return parts[0], parts[1]
    whole = "".join(parts)
    if town and whole.startswith(town) and len(whole) > len(town):
        return town, whole[len(town) :]
    match = re.fullmatch(r"(.+?(?:镇|街道|乡))(.+(?:社区|村|居委会|居民委员会))", whole)
    if match is not None:
        return match.group(1), match.group(2)
    if re.fullmatch(r".+(?:镇|街道|乡)", whole) and not re.search(r"(社区|村)", whole):
        raise _CellError("bad-community", f"「{whole}」只有镇街，缺少社区")
    return town or "", whole


# -- the parser ------------------------------------------------------------------------


@attrs.frozen
class _Column:
    index: int
    key: str
    label: str


@attrs.frozen
class _Header:
    row: int  # the 1-based row number of the header (of its first row when two)
    data_start: int  # the 0-based index of the first row below the header
    columns: tuple[_Column, ...]
    problems: tuple[LedgerProblem, ...]
    labelled: frozenset[int]  # every column with a header, read or not

    def label(self, key: str) -> str:
        column = next((c for c in self.columns if c.key == key), None)
        return column.label if column else _BY_KEY[key].header


def _field_of(text: str) -> str | None:
    key = _header_key(text)
    if not key:
        return None
    if key in _ALIASES:
        return _ALIASES[key]
    # A canonical header with something added: 隐患内容（具体描述）.
    for field in _FIELDS:
        canonical = _header_key(field.header)
        if len(canonical) >= 4 and key.startswith(canonical):  # noqa: PLR2004
            return field.key
    if key.startswith(("建筑高度", "高度", "楼高")):
        return "height" if "层" in key else "height_m"
    if key.startswith(("消防安全管理人", "楼栋长")):
        return "head"
    return None


def _label(value: object) -> str:
    return _SPACES.sub("", _clean(_cell_text(value)))


def _find_header(rows: Sequence[Sequence[object]]) -> _Header | None:
    for index, row in enumerate(rows[:_HEADER_SEARCH]):
        keys = {_field_of(_cell_text(v)) for v in row} - {None}
        if len(keys) >= _MIN_HEADER_FIELDS and keys & {"description", "community_name"}:
            return _read_header(rows, index)
    return None


def _is_sub_header(row: Sequence[object]) -> bool:
    texts = [_label(v) for v in row]
    texts = [t for t in texts if t]
    return bool(texts) and all(_field_of(t) is not None for t in texts)


def _read_header(rows: Sequence[Sequence[object]], index: int) -> _Header:
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
                LedgerProblem(index + 1, _BY_KEY[key].header, "缺少此列", "missing-column")
            )
    return _Header(index + 1, start, tuple(columns), tuple(problems), frozenset(labelled))


def _carry(values: dict[str, object], last: dict[str, object]) -> None:
    """Fill blank identification cells from the row above, level by level (merged cells)."""
    chain = True
    for level in _LEVELS:
        present = [k for k in level if k in values]
        filled = any(_cell_text(values[k]).strip() for k in present)
        for key in present:
            if chain and not _cell_text(values[key]).strip():
                values[key] = last.get(key)
            last[key] = values[key]
        chain = chain and not filled


@attrs.frozen
class _Rules:
    table: CategoryTable
    town: str | None
    keywords: tuple[tuple[str, str, str], ...]  # (normalised keyword, code, keyword)

    @classmethod
    def of(cls, table: CategoryTable, town: str | None) -> _Rules:
        # Longest keyword first; among equals, the table's order of categories and keywords.
        ranked = sorted(
            (-len(_key(word)), order, place, _key(word), category.code, word)
            for order, category in enumerate(table.categories)
            for place, word in enumerate(category.keywords)
        )
        return cls(table, town, tuple((k, code, word) for *_, k, code, word in ranked))


def _infer(text: str, rules: _Rules) -> tuple[str, str, tuple[str, ...]] | None:
    haystack = _key(text)
    hits = [(code, word) for k, code, word in rules.keywords if k in haystack]
    if not hits:
        return None
    code, word = hits[0]
    also = tuple(dict.fromkeys(c for c, _ in hits if c != code))
    return code, word, also


def _category_of(cell: str, table: CategoryTable) -> Category:
    norm = unicodedata.normalize("NFKC", cell).strip()
    code = norm.split()[0].upper() if norm.split() else ""
    if code in table.codes:
        return table.category(code)
    key = _header_key(norm)
    for category in table.categories:
        if _header_key(category.title) == key:
            return category
    raise _CellError(
        "unknown-category", f"未知的隐患类别「{cell}」：请填写类别编号（如PAS.LANE）或类别名称"
    )


def _severity_of(cell: str, table: CategoryTable) -> str:
    name = _key(cell).replace("-", "_")
    if name in table.severity_names:
        return name
    key = _header_key(cell)
    for level in table.severities:
        if _header_key(level.title) == key:
            return level.name
    choices = "、".join(f"{s.name}（{s.title}）" for s in table.severities)
    raise _CellError("unknown-severity", f"未知的严重程度「{cell}」：可选{choices}")


class _RowReader:
    """Reads one data row into case data, collecting the row's problems."""

    def __init__(self, number: int, values: Mapping[str, object], header: _Header) -> None:
        self.number = number
        self.values = values
        self.header = header
        self.problems: list[LedgerProblem] = []
        self.data: dict[str, object] = {}

    def text(self, key: str, *, tight: bool = False) -> str:
        value = _cell_text(self.values.get(key))
        if not encodable(value):
            self.problem(key, "bad-text", "含有无法保存的字符（孤立的代理码位）")
            return ""
        return _clean(value, tight=tight)

    def problem(self, key: str, code: str, reason: str) -> None:
        self.problems.append(LedgerProblem(self.number, self.header.label(key), reason, code))

    def put(self, key: str, value: object) -> None:
        if value not in ("", None):
            self.data[key] = value


def _read_place(r: _RowReader, rules: _Rules) -> None:
    community = r.text("community", tight=True)
    if not community:
        r.problem("community", "missing", "不能为空")
    else:
        try:
            town, name = _split_community(community, rules.town)
        except _CellError as exc:
            r.problem("community", exc.code, exc.reason)
        else:
            r.put("town", town)
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
                name, phone = _parse_person(r.text(key))
            except _CellError as exc:
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
                f, h = _parse_height(r.values[key], metres=key == "height_m")
            except _CellError as exc:
                r.problem(key, exc.code, exc.reason)
                continue
            floors, height = f or floors, h or height
    r.put("floors", floors)
    r.put("height", height)


def _read_hazard(r: _RowReader, rules: _Rules) -> InferredCategory | None:
    description = r.text("description")
    if not description:
        r.problem("description", "missing", "不能为空")
    inferred: InferredCategory | None = None
    category: Category | None = None
    cell = r.text("category")
    if cell:
        try:
            category = _category_of(cell, rules.table)
        except _CellError as exc:
            r.problem("category", exc.code, exc.reason)
    elif description:
        found = _infer(description, rules)
        if found is None:
            r.problem(
                "category", "no-category", "为空，且隐患内容中没有可识别的关键词：请填写隐患类别"
            )
        else:
            category = rules.table.category(found[0])
            inferred = InferredCategory(r.number, *found)
    severity: str | None = category.severity if category else None
    if cell := r.text("severity"):
        try:
            severity = _severity_of(cell, rules.table)
        except _CellError as exc:
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
        due = _parse_date(r.values.get("due"))
    except _CellError as exc:
        r.problem("due", exc.code, exc.reason)
        return
    if isinstance(due, _Immediate):
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
    given = r.text("case_id")
    if given:
        if _SPACES.search(given):
            r.problem("case_id", "bad-case-id", f"案件编号「{given}」不能含空白")
        return given
    parts = (
        r.data.get("community", ""),
        r.data.get("community_name", ""),
        r.data.get("address", ""),
        r.data.get("building", ""),
        r.data.get("description", ""),
    )
    digest = hashlib.sha256("\x1f".join(_key(str(p)) for p in parts).encode("utf-8"))
    return "HZ-" + digest.hexdigest()[:10]


def _differs(a: Mapping[str, object], b: Mapping[str, object], header: _Header) -> tuple[str, ...]:
    sources: dict[str, str] = {
        "town": "community",
        "building_head": "head",
        "phone": "head",
        "floors": "height",
        "height": "height",
    }
    order = list(_BY_KEY)
    columns = sorted({sources.get(k, k) for k in set(a) | set(b) if a.get(k) != b.get(k)})
    labels = (header.label(c) for c in sorted(columns, key=order.index))
    return tuple(dict.fromkeys(labels))


def _parse(
    rows: Iterable[Sequence[object]],
    table: CategoryTable,
    town: str | None,
    source: str,
) -> LedgerImport:
    grid = [list(row) for row in rows]
    header = _find_header(grid)
    if header is None:
        wanted = "、".join(LEDGER_HEADERS)
        problem = LedgerProblem(
            1, "", f"前{_HEADER_SEARCH}行中没有找到表头（{wanted}）", "no-header"
        )
        return LedgerImport((), (problem,), (), (), source, 0, table)
    problems = list(header.problems)
    if any(p.code == "missing-column" for p in problems):
        return LedgerImport((), tuple(problems), (), (), source, header.row, table)
    rules = _Rules.of(table, town)
    out: list[LedgerRow] = []
    inferred: list[InferredCategory] = []
    duplicates: list[DuplicateRow] = []
    seen: dict[str, LedgerRow] = {}
    last: dict[str, object] = {}
    stray: dict[int, list[int]] = {}
    for index in range(header.data_start, len(grid)):
        cells = grid[index]
        if not any(_cell_text(v).strip() for v in cells):
            continue
        for i, value in enumerate(cells):
            if i not in header.labelled and _cell_text(value).strip():
                stray.setdefault(i, []).append(index + 1)
        values: dict[str, object] = {
            c.key: cells[c.index] if c.index < len(cells) else None
            for c in header.columns
            if c.key not in _IGNORED
        }
        _carry(values, last)
        reader = _RowReader(index + 1, values, header)
        _read_place(reader, rules)
        _read_building(reader)
        guess = _read_hazard(reader, rules)
        case_id = _case_id(reader) if reader.data.get("description") else ""
        if reader.problems:
            problems.extend(reader.problems)
            continue
        severity = str(reader.data["severity"])
        row = LedgerRow(index + 1, case_id, table.severity(severity).workflow, reader.data)
        if case_id in seen:
            first = seen[case_id]
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
    return LedgerImport(
        tuple(out),
        tuple(problems),
        tuple(inferred),
        tuple(duplicates),
        source,
        header.row,
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


# -- reading files ---------------------------------------------------------------------

_XLSX_MAGIC: Final = b"PK\x03\x04"
_XLS_MAGIC: Final = b"\xd0\xcf\x11\xe0"


def _need_openpyxl() -> None:
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
    _need_openpyxl()
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
                if _find_header(rows) is not None:
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
    return _parse(rows, categories, town, name)


# -- writing ---------------------------------------------------------------------------


def _neutralise(value: str) -> str:
    """Return ``value`` so that no spreadsheet runs it as a formula ('=… stays text)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


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

        def private(key: str) -> str:
            return mask_phone(text(key), reveal=reveal)

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
            extra.append(private(key) if key in ("responsible_party", "note") else value)
        head = f"{text('building_head')} {text('phone')}".strip()
        rows.append(
            [
                f"{town}/{community}" if town and community else town or community,
                text("community_name"),
                text("address"),
                mask_phone(head, reveal=reveal),
                _height_text(data),
                private("description"),
                _date_cell(data.get("due")),
                category,
                state,
                case.deadline,
                level,
                case.id,
                *extra,
            ]
        )
    return (*_EXPORT_HEADERS, *(h for _, h in optional)), rows


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
    return _neutralise(_cell_text(value))


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
    _need_openpyxl()
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
                widths[col - 1] = max(widths[col - 1], _width(_cell_text(value)))
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
    case ids and data. Phone numbers (in any text cell) are masked unless ``reader_role``
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


@attrs.frozen
class LedgerTotal:
    """One community's line of the ledger totals (due Apr 5).

    ``hazards`` counts the cases found less those dismissed at triage (not a hazard,
    merged as a duplicate, transferred as major); ``closed`` the rectified ones and
    ``open`` the rest; ``overdue`` the open ones past their deadline.
    """

    community: str
    estates: int
    buildings: int
    hazards: int
    closed: int
    open: int
    overdue: int

    def cells(self) -> list[Cell]:
        """Return the line as cells, in the order of the totals' columns."""
        return [
            self.community,
            self.estates,
            self.buildings,
            self.hazards,
            self.closed,
            self.open,
            self.overdue,
        ]


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
