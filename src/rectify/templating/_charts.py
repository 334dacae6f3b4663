"""Small inline SVG charts for printed reports: no plotting library, no external assets.

The label column is as wide as the longest label needs (up to a limit; longer labels are
cut with an ellipsis), so category titles such as 应急照明、疏散指示标志缺失或损坏 are not
clipped at the chart's left edge.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Final

from markupsafe import Markup, escape

__all__ = ["count_chart", "progress_chart"]

_ROW: Final = 22
_BAR: Final = 330
_FIGURE: Final = 110
_FONT: Final = 'font-family="Noto Sans CJK SC, Microsoft YaHei, SimSun, sans-serif" font-size="12"'
#: The label column: at least this wide, at most this wide, and the gap before the bar.
_LABEL_MIN: Final = 60
_LABEL_MAX: Final = 250
_GAP: Final = 8
#: Estimated advance of a wide (CJK, full-width) and a narrow character at 12px.
_WIDE_PX: Final = 12.0
_NARROW_PX: Final = 7.0


def _advance(char: str) -> float:
    return _WIDE_PX if unicodedata.east_asian_width(char) in ("W", "F") else _NARROW_PX


def _width(text: str) -> float:
    return sum(_advance(c) for c in text)


def _fit(text: str, room: float) -> str:
    """Return ``text``, cut with an ellipsis if it needs more than ``room`` pixels."""
    if _width(text) <= room:
        return text
    out, used = "", _width("…")
    for char in text:
        if used + _advance(char) > room:
            break
        out += char
        used += _advance(char)
    return out + "…"


def _label_column(labels: Sequence[str]) -> int:
    need = max((_width(label) for label in labels), default=0.0) + 2 * _GAP
    return int(min(max(need, _LABEL_MIN), _LABEL_MAX))


def _frame(rows: int, label: int, title: str, body: list[str]) -> Markup:
    height = rows * _ROW + 30
    width = label + _BAR + _FIGURE
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every value is escaped


def progress_chart(rows: Sequence[tuple[str, int, int]], title: str) -> Markup:
    """Return horizontal bars of done/total per row (a community's rectification rate)."""
    label = _label_column([name for name, _, _ in rows])
    body: list[str] = []
    for i, (name, done, total) in enumerate(rows):
        y = 10 + i * _ROW
        share = done / total if total else 0.0
        text = escape(_fit(str(name), label - 2 * _GAP))
        body.append(
            f'<text x="{label - _GAP}" y="{y + 14}" text-anchor="end" {_FONT}>{text}</text>'
            f'<rect x="{label}" y="{y + 2}" width="{_BAR}" height="{_ROW - 8}" fill="#e8e8e8"/>'
            f'<rect x="{label}" y="{y + 2}" width="{round(_BAR * share, 1)}" '
            f'height="{_ROW - 8}" fill="#b22222"/>'
            f'<text x="{label + _BAR + _GAP}" y="{y + 14}" {_FONT}>{done}/{total} '
            f"{share * 100:.0f}%</text>"
        )
    return _frame(len(rows), label, title, body)


def count_chart(rows: Sequence[tuple[str, int]], title: str) -> Markup:
    """Return horizontal bars of counts per row, scaled to the largest."""
    label = _label_column([name for name, _ in rows])
    top = max((count for _, count in rows), default=0) or 1
    body: list[str] = []
    for i, (name, count) in enumerate(rows):
        y = 10 + i * _ROW
        text = escape(_fit(str(name), label - 2 * _GAP))
        body.append(
            f'<text x="{label - _GAP}" y="{y + 14}" text-anchor="end" {_FONT}>{text}</text>'
            f'<rect x="{label}" y="{y + 2}" width="{round(_BAR * count / top, 1)}" '
            f'height="{_ROW - 8}" fill="#555"/>'
            f'<text x="{label + _BAR * count / top + 6:.1f}" y="{y + 14}" {_FONT}>{count}</text>'
        )
    return _frame(len(rows), label, title, body)
