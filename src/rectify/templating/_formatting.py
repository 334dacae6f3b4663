"""Chinese (and English) formatting for documents: dates, numbering, document numbers, phones.

These are the Jinja2 filters of the notice templates, and plain functions for hosts.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "display_width",
    "document_number",
    "en_date",
    "mask_groups",
    "mask_phone",
    "mask_values",
    "pad",
    "percent",
    "zh_date",
    "zh_numeral",
    "zh_ordinal",
]

_TZ: Final = ZoneInfo("Asia/Shanghai")
_DIGITS: Final = "零一二三四五六七八九"
_UNITS: Final = ((1000, "千"), (100, "百"), (10, "十"))
_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MAX_NUMERAL: Final = 9999

# --- phone and ID-card numbers ---------------------------------------------------------
# Text is searched in a folded copy, one character for one so that places match: any
# decimal digit (full-width ８) becomes its ASCII digit, and after NFKC every space
# (no-break, thin, ideographic) a space, every hyphen and dash (－ – —) a hyphen, ＋ a +,
# x an X. Groups of digits with up to three separators between them (space, hyphen, dot,
# slash, parentheses) are one run, which is cut into numbers.
_ANY_DIGIT: Final = re.compile(r"\d")
_DASHES: Final = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58")
_SEPARATORS: Final = frozenset(" -./()")
_LINE_BREAKS: Final = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_MOST_SEPARATORS: Final = 3  # between two groups of one number: "138 - 1234", "(023) 4567"
# A group of digits (an ID number's last may be X), maybe after a +country code.
_GROUP: Final = re.compile(r"\+?[0-9]+(?:X(?![0-9A-Za-z]))?")
_MOBILE_NUMBER: Final = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
_LANDLINE_NUMBER: Final = re.compile(r"0[1-9][0-9]{8,10}")  # area code 0xx or 0xxx, 7-8 digits
_ID_NUMBER: Final = re.compile(
    r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]"
)
# What follows an amount or a measure (1200000元, 1001-1005室) and never a phone number.
_AFTER_AMOUNTS: Final = frozenset("元万亿角块米层栋楼室号户人个件次天年月日平㎡%")
_CURRENCIES: Final = frozenset("¥$")
_ID_LENGTH: Final = 18
_MOBILE: Final = 11
_SHORTEST_PHONE: Final = 7
_MOST_KEPT: Final = 6  # digits a mask keeps on one side of its stars (an ID card's region)
# The most digits one number has: a mobile (starts with 1) 11, with the 86 country code 13
# (0086: 15), any other (a landline with its area code, 0755-8765 4321) 12.
_LONGEST_LANDLINE: Final = 12
_MONTHS_IN_YEAR: Final = 12
_LONGEST_MONTH: Final = 31


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return (value.astimezone(_TZ) if value.tzinfo else value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise TypeError(f"not a date: {value!r}")


def zh_date(value: object) -> str:
    """Return a date as 2024年3月11日 (datetimes are taken in Asia/Shanghai)."""
    day = _as_date(value)
    return f"{day.year}年{day.month}月{day.day}日"


def en_date(value: object) -> str:
    """Return a date as 11 March 2024."""
    day = _as_date(value)
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def zh_numeral(number: int) -> str:
    """Return 1..9999 in Chinese numerals: 1 → 一, 10 → 十, 21 → 二十一, 105 → 一百零五."""
    if not 0 < number <= _MAX_NUMERAL:
        return str(number)
    out, rest, gap = "", number, False
    for size, unit in _UNITS:
        digit, rest = divmod(rest, size)
        if digit:
            if gap and out:
                out += "零"
            out += _DIGITS[digit] + unit
            gap = False
        elif out:
            gap = True
    if rest:
        out += ("零" if gap and out else "") + _DIGITS[rest]
    return out[1:] if out.startswith("一十") else out


def zh_ordinal(number: int) -> str:
    """Return a list number as used in official documents: 1 → 一、."""
    return f"{zh_numeral(number)}、"


def document_number(organ: str, year: int, sequence: int) -> str:
    """Return a document number such as 虎峰镇消安〔2024〕12号."""
    return f"{organ}〔{year}〕{sequence}号"


def mask_phone(phone: object, *, reveal: bool = False) -> str:
    """Mask the phone and ID-card numbers in ``phone`` as 152****3801 unless ``reveal``.

    Numbers are found however they are written: full-width digits, and spaces, hyphens,
    dashes, dots, slashes or parentheses between digit groups (１３８－１２３４－５６７８,
    138.1234.5678, (023)45670119, +86-138-1234-5678, 0086 138 1234 5678). A number of 11
    digits or more keeps its first three and last four digits, a shorter one (7 to 10) its
    last two; a +86 (or 0086) country code is kept as ``+86``; an 18-character ID-card number
    keeps its first six and last four (500101********123X). Numbers side by side
    (13812345678 13987654321) are masked each on its own. Everything else is kept as
    written: dates (2024-06-30), document numbers, case ids (HZ-1a2b3c4d5e), amounts and
    measures (1200000元, 1001-1005室), codes after Latin letters (GB 50016-2014), and any
    run of fewer than 7 digits. A mobile, landline (with its area code) or ID-card number is
    masked wherever it stands.
    """
    text = "" if phone is None else str(phone)
    if reveal or not _ANY_DIGIT.search(text):
        return text
    folded = "".join(_fold(ch) for ch in text)
    out: list[str] = []
    done = 0
    for start, end, masked in _masks(folded):
        out += [text[done:start], masked]
        done = end
    out.append(text[done:])
    return "".join(out)


_HOUSEHOLDS: Final = re.compile(r"(\d+)\s*[户人名位]")


def mask_groups(groups: object, *, reveal: bool = False) -> str:
    """Hide who the special-group households are (独居老人2户、残疾人1户) unless ``reveal``.

    The groups and where they live are personal data, like a phone number: a public copy
    keeps only how many households there are (``3户（详情不公开）``), or ``已登记（详情不公开）``
    where the text gives no count. An empty text stays empty.
    """
    text = "" if groups is None else str(groups).strip()
    if reveal or not text:
        return text
    counts = [int(n) for n in _HOUSEHOLDS.findall(unicodedata.normalize("NFKC", text))]
    return f"{sum(counts)}户（详情不公开）" if counts else "已登记（详情不公开）"


def mask_values(value: object, *, reveal: bool = False) -> object:
    """Return ``value`` with every string in it masked by :func:`mask_phone`.

    Mappings, lists and tuples are copied with their strings masked (keys too, as a
    template may print them); other values (numbers, dates, None) are returned as they are.
    """
    if reveal:
        return value
    if isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, Mapping):
        return {mask_values(k): mask_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_values(v) for v in value)
    return value


@functools.lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    """Return the one character ``ch`` stands for when looking for numbers."""
    if ch.isdecimal():
        return str(unicodedata.decimal(ch))
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        return ch
    if folded.isspace():
        return ch if ch in _LINE_BREAKS else " "
    if folded in _DASHES:
        return "-"
    return "X" if folded == "x" else folded


def _masks(folded: str) -> Iterator[tuple[int, int, str]]:
    """Yield ``(start, end, masked)`` for each number in the folded text to mask."""
    for chain in _chains(folded):
        for first, last in _numbers(chain):
            start, end = chain[first].start(), chain[last - 1].end()
            digits = "".join(ch for ch in folded[start:end] if ch.isdigit() or ch == "X")
            if len(digits) < _SHORTEST_PHONE or _date(chain, first) == last:
                continue  # 12 in 房间 12 13812345678 is not part of the number, nor a date
            plus = folded[start] == "+"
            if not (plus or _is_phone(digits)) and _is_other_number(folded, start, end):
                continue
            if first == 0 and folded[start - 1 : start] == "(" and _closed(folded, chain):
                start -= 1  # (023)45670119, (+86)13812345678: the bracket goes with the code
            yield start, end, _mask_digits(digits, plus=plus)


def _chains(folded: str) -> Iterator[list[re.Match[str]]]:
    """Yield the runs of digit groups that only separators part.

    What is left of a masked number (the 138 and 5678 of 138****5678) stays out of every
    run, so that masking masked text changes nothing: 138****5678 139****4321 must not
    become a run 5678 139.
    """
    chain: list[re.Match[str]] = []
    for group in _GROUP.finditer(folded):
        gap = folded[chain[-1].end() : group.start()] if chain else ""
        if chain and not (
            0 < len(gap) <= _MOST_SEPARATORS and all(ch in _SEPARATORS for ch in gap)
        ):
            yield chain
            chain = []
        if not _masked_part(folded, group):
            chain.append(group)
        elif chain:
            yield chain
            chain = []
    if chain:
        yield chain


def _masked_part(folded: str, group: re.Match[str]) -> bool:
    """Say whether ``group`` is what a mask kept: at most 6 digits beside a ``*``."""
    start, end = group.span()
    beside = folded[start - 1 : start] + folded[end : end + 1]
    return "*" in beside and end - start <= _MOST_KEPT


def _closed(folded: str, chain: Sequence[re.Match[str]]) -> bool:
    """Say whether a bracket closes the first group of ``chain`` before the next group."""
    return len(chain) > 1 and folded[chain[0].end()] == ")"


def _numbers(chain: Sequence[re.Match[str]]) -> Iterator[tuple[int, int]]:
    """Cut a run of groups into numbers, ``(first, last)`` group indexes each.

    Whole ID-card and mobile numbers are taken first, then dates; the rest is cut between
    groups where one number is full, and only where a phone number is on one side at
    least, so that a run whose grouping is odd (138123 456789) is still masked as one.
    """
    sizes = [len(g.group().lstrip("+")) for g in chain]
    first = 0
    while first < len(chain):
        last = (
            _whole(chain, first, _ID_NUMBER)
            or _whole(chain, first, _MOBILE_NUMBER)
            or _date(chain, first)
            or _longest_run(chain, sizes, first)
        )
        yield first, last
        first = last


def _whole(chain: Sequence[re.Match[str]], first: int, shape: re.Pattern[str]) -> int:
    """Return the end of the groups from ``first`` that make a number of ``shape``, or 0."""
    digits = ""
    for last in range(first, len(chain)):
        digits += chain[last].group().lstrip("+")
        if shape.fullmatch(digits):
            return last + 1
        if len(digits) >= _ID_LENGTH:
            break
    return 0


def _date(chain: Sequence[re.Match[str]], first: int) -> int:
    """Return the end of a date (2024-06-30, 2024.6.30) starting at ``first``, or 0."""
    parts = [g.group() for g in chain[first : first + 3]]
    if len(parts) < 3 or not all(p.isdigit() for p in parts):  # noqa: PLR2004 - y, m, d
        return 0
    year, month, day = parts
    if len(year) != 4 or year[:2] not in ("19", "20") or len(month) > 2 or len(day) > 2:  # noqa: PLR2004
        return 0
    if not (0 < int(month) <= _MONTHS_IN_YEAR and 0 < int(day) <= _LONGEST_MONTH):
        return 0
    return first + 3


def _longest_run(chain: Sequence[re.Match[str]], sizes: Sequence[int], first: int) -> int:
    """Return the end of the number starting at ``first``: groups while they fit in one."""
    digits = chain[first].group()
    have, last = sizes[first], first + 1
    while last < len(chain) and not _date(chain, last):
        more = sizes[last]
        if have + more > _longest(digits) and max(have, more) >= _SHORTEST_PHONE:
            break
        digits += chain[last].group()
        have += more
        last += 1
    return last


def _longest(digits: str) -> int:
    """Return the most digits the number that ``digits`` begins can have."""
    if digits.startswith("0086"):
        return _MOBILE + 4
    if digits.startswith(("+", "86")):
        return _MOBILE + 2
    return _MOBILE if digits.startswith("1") else _LONGEST_LANDLINE


def _is_phone(digits: str) -> bool:
    return any(p.fullmatch(digits) for p in (_MOBILE_NUMBER, _LANDLINE_NUMBER, _ID_NUMBER))


def _is_other_number(folded: str, start: int, end: int) -> bool:
    """Say whether the digits at ``start:end`` are an amount, a measure or a code.

    An amount or measure has its unit after it (1200000元, 1001-1005室) or a currency
    sign before it; a code is glued to Latin letters or follows them and one separator
    (GB 50016-2014, HZ-1384567890, 1234567abc).
    """
    before, after = folded[:start].rstrip(" "), folded[end:].lstrip(" ")
    if after[:1] in _AFTER_AMOUNTS or before[-1:] in _CURRENCIES:
        return True
    head = folded[max(start - 2, 0) : start]
    return (
        _is_latin(head[-1:])
        or (head[-1:] in "-_/ " and _is_latin(head[:1]))
        or (_is_latin(folded[end : end + 1]))
    )


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _mask_digits(digits: str, *, plus: bool) -> str:
    """Mask one number given as its digits (and a final X)."""
    prefix = ""
    if (plus and digits.startswith("86")) or (
        digits.startswith("86") and len(digits) == _MOBILE + 2
    ):
        prefix, digits = "+86 ", digits[2:]
    elif digits.startswith("0086") and len(digits) == _MOBILE + 4:
        prefix, digits = "+86 ", digits[4:]
    if _ID_NUMBER.fullmatch(digits):
        return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    if len(digits) >= _MOBILE:
        return prefix + digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return prefix + "*" * (len(digits) - 2) + digits[-2:]


def percent(value: float, digits: int = 1) -> str:
    """Return a fraction (0.853) as a percentage (85.3%)."""
    return f"{value * 100:.{digits}f}%"


def display_width(text: str) -> int:
    """Return how many terminal columns ``text`` takes (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """Pad ``text`` with spaces to ``width`` terminal columns (on the left when ``right``)."""
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap
