"""Chinese (and English) formatting for documents: dates, numbering, document numbers, phones.

These are the Jinja2 filters of the notice templates, and plain functions for hosts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "display_width",
    "document_number",
    "en_date",
    "mask_phone",
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
# A phone number as people write it: digits, maybe a +country code, spaces or hyphens
# between groups (152 0000 3801, +86 152-0000-3801, 023-4567 0119).
_PHONE_RUN: Final = re.compile(r"\+?\d(?:[ \-]?\d){6,}")
_GROUP_SEPARATOR: Final = re.compile(r"([ \-])")
_DATE: Final = re.compile(r"(19|20)\d\d-\d{1,2}-\d{1,2}")
_MAX_NUMERAL: Final = 9999
_MOBILE: Final = 11
_SHORTEST_PHONE: Final = 7
# The most digits one number has: a mobile (starts with 1) 11, with the 86 country code 13,
# any other (a landline with its area code, 0755-8765 4321) 12.
_LONGEST_LANDLINE: Final = 12


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
    """Mask the phone numbers in ``phone`` as 152****3801 unless ``reveal``.

    Each run of 7 or more digits, spaces and hyphens between them allowed, is masked: a
    mobile number (11 digits or more) keeps its first three and last four digits, a shorter
    one its last two; a +86 country code is kept. A run longer than one number (two numbers
    side by side, 13812345678 13987654321) is cut where a number is complete and each is
    masked on its own. Other text (a name in the same cell, a date) is kept.
    """
    text = "" if phone is None else str(phone)
    return text if reveal else _PHONE_RUN.sub(_mask_run, text)


def _mask_run(match: re.Match[str]) -> str:
    """Mask a run of digit groups, cutting it between groups where one number is full.

    A cut needs a phone number on one side of it at least, so that a run whose grouping is
    odd (138123 456789) is still masked as one rather than left as two short pieces.
    """
    parts = _GROUP_SEPARATOR.split(match.group())  # group, separator, group, ...
    out: list[str] = []
    number = parts[0]
    for separator, group in zip(parts[1::2], parts[2::2], strict=True):
        have, more = _digit_count(number), _digit_count(group)
        if have + more > _longest(number) and max(have, more) >= _SHORTEST_PHONE:
            out += [_mask_number(number), separator]
            number = group
        else:
            number += separator + group
    out.append(_mask_number(number))
    return "".join(out)


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _longest(number: str) -> int:
    """Return the most digits the number that ``number`` begins can have."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if number.startswith("+") or digits.startswith("86"):
        return _MOBILE + 2
    return _MOBILE if digits.startswith("1") else _LONGEST_LANDLINE


def _mask_number(text: str) -> str:
    """Mask one number written as digit groups (a group too short to be one is kept)."""
    if _DATE.fullmatch(text):
        return text  # 2024-06-30 is a date, not a phone number
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < _SHORTEST_PHONE:
        return text  # 12 in 房间 12 13812345678 is not part of the number
    prefix = ""
    if text.startswith("+86") or (digits.startswith("86") and len(digits) == _MOBILE + 2):
        prefix, digits = "+86 ", digits[2:]
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
