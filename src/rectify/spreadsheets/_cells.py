"""Reading the place and building cells of a row into values.

Owns the cell readers of the identification columns: :func:`parse_height` (6层, 18, 6F, 六层,
24米 or 24米（8层） into floors and metres, within range), :func:`parse_person` (names and
phone numbers from the building head's cell, refusing masked or mis-sized numbers) and
:func:`split_community` (town and community from 镇街/社区). Each raises
:class:`~rectify.spreadsheets._values.CellError` with the problem's code and reason.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from rectify.spreadsheets._text import cell_text, clean_text
from rectify.spreadsheets._values import CellError

__all__ = ["parse_height", "parse_person", "split_community"]

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
