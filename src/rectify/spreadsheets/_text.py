"""Cell text as people read it and as the reader compares it.

Owns the normalising of a cell: :func:`cell_text` turns any cell value into the text a person
sees (18.0 → 18, dates as 2024-06-30, an export's neutralised ``'=…`` back to ``=…``),
:func:`clean_text` collapses white space and drops control characters, :func:`text_key` and
:func:`header_key` give the forms two texts are compared in (case ids, keywords, headers).
:data:`FORMULA_START` is shared with the writer, which neutralises what this module undoes.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Final

__all__ = ["FORMULA_START", "SPACES", "cell_text", "clean_text", "header_key", "text_key"]

_CJK: Final = "\u2e80-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_NEAR_CJK: Final = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
SPACES: Final = re.compile(r"\s+")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PUNCT: Final = re.compile(r"[()\[\]{}<>/\\|,.:;、!?*＊\"'`~·\-_—…《》〈〉【】「」『』〔〕“”‘’]")
_HALF: Final = {
    c: c - 0xFEE0 for r in ((0xFF10, 0xFF1A), (0xFF21, 0xFF3B), (0xFF41, 0xFF5B)) for c in range(*r)
}
#: A leading character that a spreadsheet reads as the start of a formula.
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def clean_text(text: str, *, tight: bool = False) -> str:
    """Return ``text`` with runs of white space as one space, control characters removed.

    Full-width digits and letters become half-width; punctuation stays as written. With
    ``tight``, spaces next to Chinese characters go too (虎峰 社区 → 虎峰社区).
    """
    text = _CONTROL.sub("", text).translate(_HALF)
    text = SPACES.sub(" ", text).strip()
    return _NEAR_CJK.sub("", text) if tight else text


def text_key(text: str) -> str:
    """Return ``text`` as compared: NFKC, no white space, case-folded."""
    return SPACES.sub("", unicodedata.normalize("NFKC", text)).casefold()


def header_key(text: str) -> str:
    """Return ``text`` as headers are compared: as :func:`text_key`, without punctuation."""
    return _PUNCT.sub("", text_key(text))


def cell_text(value: object) -> str:
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
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        text = text[1:]
    return text
