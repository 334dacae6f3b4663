"""Text made safe for a terminal: stored and typed text must not drive the clerk's screen.

A case's data, actors and reasons come from ledgers and from whoever fired an event; an
escape sequence among them (``ESC [2J`` clears the screen, ``ESC ]0;`` retitles the window,
a carriage return overwrites the line, U+202E reverses what follows) would run in the
terminal of everyone who lists the case. Every line the command line prints that echoes such
text goes through :func:`printable`.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["printable"]

#: Bidirectional formatting characters, which reorder the text around them (Trojan Source).
_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Control (C0, DEL, C1), surrogate, and line or paragraph separator categories.
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})
_LATIN1: Final = 0xFF  # the last code point a ``\xNN`` escape spells


def printable(text: str) -> str:
    r"""Return ``text`` with every control, bidi or separator character as a Python escape.

    ``\x1b`` for ESC, ``\r``, ``\t`` and ``\n`` for those, ``\u202e`` for a right-to-left
    override; everything else, Chinese text included, is kept as it is.
    """
    if text.isprintable() and not any(c in _BIDI for c in text):
        return text  # the common case: nothing to escape
    return "".join(_escape(c) for c in text)


def _escape(char: str) -> str:
    if char in _BIDI or unicodedata.category(char) in _UNSAFE_CATEGORIES:
        if char in "\t\n\r":
            return repr(char)[1:-1]
        code = ord(char)
        return f"\\x{code:02x}" if code <= _LATIN1 else f"\\u{code:04x}"
    return char
