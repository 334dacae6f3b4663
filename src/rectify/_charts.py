"""Small inline SVG charts for printed reports: no plotting library, no external assets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from markupsafe import Markup, escape

__all__ = ["count_chart", "progress_chart"]

_ROW: Final = 22
_LABEL: Final = 150
_BAR: Final = 330
_FIGURE: Final = 110
_WIDTH: Final = _LABEL + _BAR + _FIGURE
_FONT: Final = 'font-family="Noto Sans CJK SC, Microsoft YaHei, SimSun, sans-serif" font-size="12"'


def _frame(rows: int, title: str, body: list[str]) -> Markup:
    height = rows * _ROW + 30
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every value is escaped


def progress_chart(rows: Sequence[tuple[str, int, int]], title: str) -> Markup:
    """Return horizontal bars of done/total per row (a community's rectification rate)."""
    body: list[str] = []
    for i, (label, done, total) in enumerate(rows):
        y = 10 + i * _ROW
        share = done / total if total else 0.0
        body.append(
            f'<text x="{_LABEL - 8}" y="{y + 14}" text-anchor="end" {_FONT}>{escape(label)}</text>'
            f'<rect x="{_LABEL}" y="{y + 2}" width="{_BAR}" height="{_ROW - 8}" fill="#e8e8e8"/>'
            f'<rect x="{_LABEL}" y="{y + 2}" width="{round(_BAR * share, 1)}" '
            f'height="{_ROW - 8}" fill="#b22222"/>'
            f'<text x="{_LABEL + _BAR + 8}" y="{y + 14}" {_FONT}>{done}/{total} '
            f"{share * 100:.0f}%</text>"
        )
    return _frame(len(rows), title, body)


def count_chart(rows: Sequence[tuple[str, int]], title: str) -> Markup:
    """Return horizontal bars of counts per row, scaled to the largest."""
    top = max((count for _, count in rows), default=0) or 1
    body: list[str] = []
    for i, (label, count) in enumerate(rows):
        y = 10 + i * _ROW
        body.append(
            f'<text x="{_LABEL - 8}" y="{y + 14}" text-anchor="end" {_FONT}>{escape(label)}</text>'
            f'<rect x="{_LABEL}" y="{y + 2}" width="{round(_BAR * count / top, 1)}" '
            f'height="{_ROW - 8}" fill="#555"/>'
            f'<text x="{_LABEL + _BAR * count / top + 6:.1f}" y="{y + 14}" {_FONT}>{count}</text>'
        )
    return _frame(len(rows), title, body)
