"""Names of the files the command line writes, made from case ids and data.

Every file ``notices`` and ``demo`` write is named by :func:`safe_child`: the name is a
:func:`slug` (so no separator, ``..``, control character or leading dot survives, whatever
a case id stored before the id grammar existed, or a community's name, holds), and the
path is checked to resolve inside its folder (so a symbolic link planted there cannot send
the write elsewhere either).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Final

from rectify.exceptions import RectifyError

__all__ = ["notice_path", "safe_child", "slug"]

#: The most UTF-8 bytes of a slug: file systems allow 255 per name, a suffix needs a few.
SLUG_BYTES: Final = 200
_IDEOGRAPHS: Final = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_REFUSED: Final = re.compile(f"[^A-Za-z0-9{_IDEOGRAPHS}_.-]")
_DIGEST: Final = 8  # hex digits of the original name added to a slug that differs from it


def slug(name: str) -> str:
    r"""Return ``name`` as a safe file name: itself when it already is one.

    CJK ideographs, ASCII letters and digits, ``.``, ``_`` and ``-`` are kept, anything
    else becomes ``_``, leading dots and dashes go, and the result is at most
    :data:`SLUG_BYTES` bytes of UTF-8. A slug that differs from ``name`` ends in a short
    digest of ``name``, so two names that slug alike (``a/b``, ``a\b``) name two files.
    """
    safe = _REFUSED.sub("_", name).lstrip(".-")
    if safe == name and len(name.encode("utf-8")) <= SLUG_BYTES:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
    room = SLUG_BYTES - _DIGEST - 1
    cut = safe.encode("utf-8")[:room].decode("utf-8", "ignore")
    return f"{cut}-{digest}" if cut else digest


def safe_child(folder: Path, stem: str, suffix: str = "") -> Path:
    """Return the path of the file ``slug(stem) + suffix`` in ``folder``, checked to lie there.

    Args:
        folder: The folder to write in.
        stem: The file's name without its suffix; any text (it is slugged).
        suffix: A suffix of rectify's own, such as ``.html``.

    Raises:
        RectifyError: The path does not resolve inside ``folder`` (a link out of it, or a
            suffix that is not a plain one).
    """
    name = slug(stem) + suffix
    path = folder / name
    base = folder.resolve()
    resolved = path.resolve()
    if resolved.parent != base or _REFUSED.search(suffix):
        raise RectifyError(f"refusing to write {name!r}: it does not resolve inside {folder}")
    return path


def notice_path(folder: Path, delivery_id: str, notice: str, suffix: str) -> Path:
    """Return where ``notices`` writes a notice: ``CASE-SEQ-N-NOTICE`` + ``suffix`` in ``folder``.

    ``delivery_id`` is the outbox's ``CASE:SEQ:N``; a case id stored before the id grammar
    existed may hold anything, ``:`` included, and the slug makes the whole a safe name.

    Raises:
        RectifyError: The path does not resolve inside ``folder`` (see :func:`safe_child`).
    """
    return safe_child(folder, "-".join((*delivery_id.rsplit(":", 2), notice)), suffix)
