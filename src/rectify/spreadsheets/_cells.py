"""Reading the place and building cells of a row into values.

Owns the cell readers of the identification columns: :func:`parse_height` (6层, 18, 6F, 六层,
24米 or 24米（8层） into floors and metres, within range), :func:`parse_person` (names and
phone numbers from the building head's cell, refusing masked or mis-sized numbers) and
:func:`split_community` (town and community from 镇街/社区); and of the estate register's and
the earlier years' cells: :func:`parse_households`, :func:`parse_yes_no` (是否纳入改造),
:func:`manager_kind` (the kind of unit managing the fire facilities, given or read from its
name), :func:`parse_year` (2022年) and :func:`year_end` (a year or a month standing for its
last day). Each raises :class:`~rectify.spreadsheets._values.CellError` with the problem's
code and reason.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Final

from rectify.spreadsheets._text import cell_text, clean_text, header_key
from rectify.spreadsheets._values import CellError

__all__ = [
    "MANAGER_KINDS",
    "manager_kind",
    "parse_height",
    "parse_households",
    "parse_person",
    "parse_year",
    "parse_yes_no",
    "split_community",
    "year_end",
]

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
            raise CellError("bad-height", f"「{raw}」的层数不是整数")
        number = int(text)
    if not 1 <= number <= _MAX_FLOORS:
        raise CellError("bad-height", f"层数{number}超出范围（1–{_MAX_FLOORS}）")
    return number


def _metres_value(text: str) -> int | float:
    value = float(text)
    if not 0 < value <= _MAX_HEIGHT:
        raise CellError("bad-height", f"高度{text}米超出范围（0–{_MAX_HEIGHT:g}米）")
    return int(value) if value.is_integer() else value


def parse_height(value: object, *, metres: bool) -> tuple[int | None, int | float | None]:
    """Return (floors, height in metres) from 6层, 18, 6F, 六层, 24米 or 24米（8层）."""
    raw = clean_text(cell_text(value))
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
        raise CellError(
            "bad-height", f"看不懂「{raw}」：请写层数（如6层、6F、六层）或高度（如24米）"
        )
    if rest:
        raise CellError("bad-height", f"看不懂「{raw}」中的「{rest}」")
    return floors, height


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


def parse_person(value: object) -> tuple[str, str]:
    """Return (names, phones) from 李华 15223133801, 李华/152-2313-3801, 李华（152…）."""
    raw = clean_text(cell_text(value))
    text = unicodedata.normalize("NFKC", raw)
    if (masked := _MASKED.search(text)) is not None:
        raise CellError("masked-phone", f"电话号码「{masked.group()}」已打码：请填写完整号码")
    phones: list[str] = []

    def take(match: re.Match[str]) -> str:
        phones.append(re.sub(r"\D", "", match.group(1)))
        return " "

    rest = _PHONE.sub(take, text)
    if (bad := _LONG_DIGITS.search(rest)) is not None and sum(
        c.isdigit() for c in bad.group()
    ) >= _MIN_DIGITS:
        raise CellError("bad-phone", f"电话号码「{bad.group().strip()}」位数不对：手机号应为11位")
    rest = _PHONE_LABELS.sub(" ", rest)
    names = [n for n in _NAME_SEPARATORS.split(rest) if n]
    return "、".join(names), "、".join(phones)


def split_community(text: str, town: str | None) -> tuple[str, str]:
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
        raise CellError("bad-community", f"「{whole}」只有镇街，缺少社区")
    return town or "", whole


_MOST_HOUSEHOLDS: Final = 10_000  # in one building; more is a typo


def parse_households(value: object) -> int | None:
    """Return the households of a building from 120, 120户 or １２０; ``None`` when blank."""
    raw = clean_text(cell_text(value), tight=True)
    text = unicodedata.normalize("NFKC", raw).removesuffix("户").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or int(text) > _MOST_HOUSEHOLDS:
        raise CellError("bad-number", f"「{raw}」不是户数（0–{_MOST_HOUSEHOLDS}的整数）")
    return int(text)


_YES: Final = frozenset({"是", "已纳入", "纳入", "已列入", "列入", "√", "✓", "✔", "y", "yes", "1"})
_NO: Final = frozenset(
    {"否", "未纳入", "不纳入", "没有纳入", "未列入", "不列入", "×", "✗", "✘", "n", "no", "0"}
)


def parse_yes_no(value: object) -> bool | None:
    """Return 是/已纳入/√ as true, 否/未纳入/× as false; ``None`` when blank."""
    raw = clean_text(cell_text(value), tight=True)
    key = header_key(raw) or raw.strip()  # √ and × are punctuation to header_key
    if not key:
        return None
    if key in _YES or key.startswith(("是", "已纳入")):
        return True
    if key in _NO or key.startswith(("否", "未纳入", "不纳入")):
        return False
    raise CellError("bad-choice", f"看不懂「{raw}」：请填写是或否（已纳入、未纳入）")


#: The kinds of unit managing an estate's fire facilities (消防设施管理单位).
MANAGER_KINDS: Final = ("物业服务企业", "镇政府指定单位", "业主委员会", "无")
_NONE_WORDS: Final = ("无", "没有", "暂无", "无管理单位", "未明确")
_KIND_WORDS: Final = {
    "物业服务企业": ("物业服务企业", "物业", "物业公司", "物业服务公司", "物业管理公司"),
    "镇政府指定单位": ("镇政府指定单位", "镇政府指定", "政府指定", "指定单位", "指定管理单位"),
    "业主委员会": ("业主委员会", "业委会", "业主自管"),
    "无": _NONE_WORDS,
}
_KINDS: Final = {header_key(w): kind for kind, words in _KIND_WORDS.items() for w in words}
#: What in a unit's name tells its kind, in the order asked (a designated property company is
#: the town's designated unit).
_NAME_WORDS: Final = (
    (("指定",), "镇政府指定单位"),
    (("业委会", "业主委员会"), "业主委员会"),
    (("物业",), "物业服务企业"),
)


def manager_kind(name: str | None, given: str = "") -> str:
    """Return the kind of the unit ``name``: the kind ``given``, or read from the name.

    A name with 指定 is the town's designated unit, one with 业委会 or 业主委员会 the owners'
    committee, one with 物业 a property company; a blank name or 无 is 无. A kind given must
    agree with the name (无 exactly when there is no unit); ``None`` for a sheet without the
    unit's column.

    Raises:
        CellError: The kind given is none of :data:`MANAGER_KINDS` or disagrees with the
            name, or none is given and the name does not say.
    """
    choices = "、".join(MANAGER_KINDS)
    key = header_key(name or "")
    none = key in {"", *map(header_key, _NONE_WORDS)}
    if given:
        kind = _KINDS.get(header_key(given))
        if kind is None:
            raise CellError("bad-choice", f"未知的管理单位类型「{given}」：可选{choices}")
        if name is not None and (kind == "无") != none:
            raise CellError("bad-choice", f"「{given}」与管理单位「{name or '空'}」不符")
        return kind
    if none:
        return "无"
    for words, kind in _NAME_WORDS:
        if any(word in key for word in words):
            return kind
    raise CellError("no-kind", f"看不出「{name}」是哪类管理单位：请填写管理单位类型（{choices}）")


_YEARS: Final = (2000, 2099)
_YEAR: Final = re.compile(r"(\d{4})\s*年?度?")
_YEAR_MONTH: Final = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?份?")


def parse_year(value: object) -> int | None:
    """Return the year of 2022, 2022年 or 2022年度; ``None`` when blank."""
    raw = clean_text(cell_text(value), tight=True)
    if not raw:
        return None
    match = _YEAR.fullmatch(unicodedata.normalize("NFKC", raw))
    if match is None or not _YEARS[0] <= int(match.group(1)) <= _YEARS[1]:
        raise CellError("bad-year", f"「{raw}」不是年度：请写2022或2022年")
    return int(match.group(1))


def year_end(value: object) -> dt.date | None:
    """Return the last day of the year (2022年) or month (2022年6月) a cell names, or ``None``.

    ``None`` means the cell is not a year or a month alone (a date, or anything else).

    Raises:
        CellError: The year is out of range or there is no such month.
    """
    text = unicodedata.normalize("NFKC", clean_text(cell_text(value), tight=True))
    if match := _YEAR.fullmatch(text):
        year, month = int(match.group(1)), 12
    elif match := _YEAR_MONTH.fullmatch(text):
        year, month = int(match.group(1)), int(match.group(2))
    else:
        return None
    if not (_YEARS[0] <= year <= _YEARS[1] and 1 <= month <= 12):  # noqa: PLR2004
        raise CellError("bad-date", f"「{text}」不是有效的年份或月份")
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)
