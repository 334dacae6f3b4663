"""What a row's text means: its category, its deadline, its stable case id.

Owns inferring a hazard's category from its text (:class:`Rules`, :func:`infer`: the
category table's keywords, term sets, synonyms and titles, read by
:class:`~rectify.spreadsheets._lexicon.Lexicon`, with how sure the guess is), reading a
category or severity cell (:func:`category_of`, :func:`severity_of`), reading the deadline
text of 整改时限 (:func:`parse_date`: dates written several ways, Excel serials, and
立即整改, 当日, 即时, 现场整改... as :class:`Immediate`) and the stable case id
(:func:`stable_id`, a hash of the normalised community, estate, address, building and hazard
text, so importing the same ledger again opens nothing twice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Final

import attrs

from rectify.definitions._categories import Category, CategoryTable
from rectify.spreadsheets._lexicon import Guess, Lexicon
from rectify.spreadsheets._text import cell_text, clean_text, header_key, text_key
from rectify.spreadsheets._values import CellError

__all__ = [
    "Immediate",
    "Rules",
    "category_of",
    "infer",
    "parse_date",
    "severity_of",
    "stable_id",
]


@attrs.frozen
class Rules:
    """What reading categories needs: the table, the town, the table's lexicon."""

    table: CategoryTable
    town: str | None
    lexicon: Lexicon

    @classmethod
    def of(cls, table: CategoryTable, town: str | None) -> Rules:
        """Return the rules of ``table`` for a ledger of ``town``."""
        return cls(table, town, Lexicon.of(table))


def infer(text: str, rules: Rules) -> Guess | None:
    """Return the category a hazard text suggests and how sure that is, or ``None``."""
    return rules.lexicon.guess(text)


def category_of(cell: str, table: CategoryTable) -> Category:
    """Return the category a 隐患类别 cell names by its code (PAS.LANE) or its title."""
    norm = unicodedata.normalize("NFKC", cell).strip()
    code = norm.split()[0].upper() if norm.split() else ""
    if code in table.codes:
        return table.category(code)
    key = header_key(norm)
    for category in table.categories:
        if header_key(category.title) == key:
            return category
    raise CellError(
        "unknown-category", f"未知的隐患类别「{cell}」：请填写类别编号（如PAS.LANE）或类别名称"
    )


def severity_of(cell: str, table: CategoryTable) -> str:
    """Return the name of the severity a 严重程度 cell names by its name or its title."""
    name = text_key(cell).replace("-", "_")
    if name in table.severity_names:
        return name
    key = header_key(cell)
    for level in table.severities:
        if header_key(level.title) == key:
            return level.name
    choices = "、".join(f"{s.name}（{s.title}）" for s in table.severities)
    raise CellError("unknown-severity", f"未知的严重程度「{cell}」：可选{choices}")


_DATE: Final = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T ]?\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_COMPACT_DATE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})")
_BEFORE: Final = re.compile(r"(之前|以前|前|止)$")
#: A deadline cell that says "at once": one of these words, alone or followed by a verb of
#: ``_IMMEDIATE_AFTER`` (当日整改完毕, 立即清理, 当天内).
_IMMEDIATE_WORDS: Final = (
    "立行立改", "即查即改", "立查立改", "即知即改", "边查边改",
    "立即", "立刻", "马上", "即时", "即刻", "随即", "当场", "现场", "当日", "当天", "即日", "立改",
)  # fmt: skip
_IMMEDIATE_AFTER: Final = re.compile(
    r"(?:整改|改正|纠正|处理|处置|清理|清除|拆除|移除|搬离|落实)?(?:完毕|完成|到位)?内?"
)
_END_PUNCT: Final = re.compile(r"[。.!！、，,；;\s]+$")
_YEARS: Final = (2000, 2099)
_EXCEL_SERIALS: Final = (20000, 80000)  # 1954 to 2119: a bare number in a date column
_EXCEL_EPOCH: Final = dt.date(1899, 12, 30)


class Immediate:
    """The deadline cell says "at once" (立即整改): the severity's period applies."""


_IMMEDIATE: Final = Immediate()


def parse_date(value: object) -> dt.date | Immediate | None:
    """Return a deadline: a date, ``_IMMEDIATE`` for 立即整改, ``None`` when blank."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if _EXCEL_SERIALS[0] <= value <= _EXCEL_SERIALS[1]:
            return _in_range(_EXCEL_EPOCH + dt.timedelta(days=int(value)), str(value))
        raise CellError("bad-date", f"「{cell_text(value)}」不是日期")
    raw = clean_text(cell_text(value), tight=True)
    if not raw:
        return None
    if _is_immediate(raw):
        return _IMMEDIATE
    text = _BEFORE.sub("", unicodedata.normalize("NFKC", raw)).strip()
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if match is None:
        raise CellError(
            "bad-date", f"「{raw}」不是日期：请写成2024-06-30、2024/6/30、2024.6.30或2024年6月30日"
        )
    year, month, day = (int(g) for g in match.groups())
    try:
        date = dt.date(year, month, day)
    except ValueError:
        what = f"没有{month}月" if not 1 <= month <= 12 else f"{year}年{month}月没有{day}日"  # noqa: PLR2004
        raise CellError("bad-date", f"「{raw}」不是有效日期：{what}") from None
    return _in_range(date, raw)


def _is_immediate(raw: str) -> bool:
    """Return whether a deadline cell says "at once" (立即整改, 当日, 即时, 现场整改完毕)."""
    text = _END_PUNCT.sub("", unicodedata.normalize("NFKC", raw))
    return any(
        text.startswith(word) and _IMMEDIATE_AFTER.fullmatch(text, len(word)) is not None
        for word in _IMMEDIATE_WORDS
    )


def _in_range(date: dt.date, raw: str) -> dt.date:
    if not _YEARS[0] <= date.year <= _YEARS[1]:
        raise CellError("bad-date", f"「{raw}」超出范围（{_YEARS[0]}–{_YEARS[1]}年）")
    return date


def stable_id(data: Mapping[str, object]) -> str:
    """Return the case id of a row's data, the same on every import of the ledger.

    It hashes the community, estate, address, building and hazard text, each as
    :func:`~rectify.spreadsheets._text.text_key` compares it (NFKC, no white space,
    case-folded).
    """
    parts = (
        data.get("community", ""),
        data.get("community_name", ""),
        data.get("address", ""),
        data.get("building", ""),
        data.get("description", ""),
    )
    digest = hashlib.sha256("\x1f".join(text_key(str(p)) for p in parts).encode("utf-8"))
    return "HZ-" + digest.hexdigest()[:10]
