r"""The grammar of case ids, checked wherever a new case id enters rectify.

A case id names a case in the store and is part of the name of every file rectify writes
about the case, so it may hold nothing a file system or a terminal reads as structure:

- 1 to :data:`CASE_ID_MAX` characters;
- each an ASCII letter or digit, a CJK ideograph (the unified ideographs, extension A and
  beyond, the compatibility ideographs, and 〇), ``-``, ``_`` or ``.``;
- not starting with ``-`` or ``.`` (an option, a hidden file) and without ``..`` anywhere.

So no path separator (``/``, ``\``), no whitespace, no control or format character (the
right-to-left override U+202E included), and no full-width punctuation (``／``, ``：``): a
full-width letter or digit is refused too, so that ids never differ by width alone. The ids
rectify makes (``HZ-1a2b3c4d5e``, the demo's ``-000`` and ``-R1`` suffixes) all match.

Ids stored before the grammar existed are still read, verified and listed; only
:meth:`Engine.open <rectify.engine.Engine.open>` (and so every new case) refuses them.
"""

from __future__ import annotations

import re
from typing import Final

from rectify.exceptions import CaseIdError

__all__ = ["CASE_ID_MAX", "case_id_problem", "check_case_id"]

#: The longest case id, in characters.
CASE_ID_MAX: Final = 64
_IDEOGRAPHS: Final = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_ALLOWED: Final = re.compile(f"[A-Za-z0-9{_IDEOGRAPHS}_.-]")


def case_id_problem(value: object) -> tuple[str, str] | None:
    """Return why ``value`` is not a case id, as ``(code, detail)``, or ``None`` if it is one.

    ``code`` is one of ``not-text``, ``empty``, ``too-long``, ``character`` (``detail`` is
    the first character refused, as ``U+XXXX``), ``leading`` (``detail`` is the first
    character) and ``dots``; the callers word it (in English here, in Chinese at import).
    """
    if not isinstance(value, str):
        return "not-text", type(value).__name__
    if not value:
        return "empty", ""
    if len(value) > CASE_ID_MAX:
        return "too-long", str(len(value))
    for char in value:
        if not _ALLOWED.fullmatch(char):
            return "character", f"U+{ord(char):04X}"
    if value[0] in "-.":
        return "leading", value[0]
    if ".." in value:
        return "dots", ""
    return None


_REASONS: Final = {
    "not-text": "must be text, not {}",
    "empty": "is empty",
    "too-long": "has {} characters; at most " + str(CASE_ID_MAX) + " are allowed",
    "character": "holds the character {}, which is not allowed",
    "leading": "starts with {!r}",
    "dots": "holds '..'",
}


def check_case_id(value: object) -> str:
    """Return ``value`` if it follows the case id grammar (the module's docstring).

    Raises:
        CaseIdError: It does not; ``reason`` says why.
    """
    problem = case_id_problem(value)
    if problem is None:
        return str(value)
    code, detail = problem
    shown = value if isinstance(value, str) else repr(value)
    raise CaseIdError(shown, _REASONS[code].format(detail), code=code)
