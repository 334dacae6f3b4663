"""Reading the campaign's cases into report rows: their fields, days and kinds.

Small helpers the campaign's reports share (``_register_reports``, ``_campaign_reports``): a
field as text, a whole number or a day, names sorted as people sort them (2栋 before 10栋),
and the cases of one kind of workflow opened by a day.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Final

from rectify.definitions._spec import WorkflowSpec
from rectify.engine._case import Case
from rectify.engine._engine import local_date

__all__: list[str] = []

_NUMBERS: Final = re.compile(r"(\d+)")
#: Where a row names no community.
_NONE: Final = "未注明"


def _text(data: Mapping[str, object], field: str) -> str:
    value = data.get(field)
    return "" if value is None else str(value).strip()


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _natural(text: str) -> tuple[object, ...]:
    """Return ``text`` as sorted by people: 2栋 before 10栋."""
    return tuple(int(part) if part.isdigit() else part for part in _NUMBERS.split(text))


def _joined(values: Iterable[str], sep: str = "、") -> str:
    """Return the distinct non-empty ``values`` in their order, joined by ``sep``."""
    return sep.join(dict.fromkeys(v for v in values if v))


def _of_kind(specs: Iterable[WorkflowSpec], kind: str) -> dict[tuple[str, int], WorkflowSpec]:
    return {(s.id, s.version): s for s in specs if s.kind == kind}


def _on_day(
    cases: Iterable[Case], specs: Mapping[tuple[str, int], WorkflowSpec], as_of: dt.date
) -> list[tuple[Case, WorkflowSpec]]:
    """Return the cases of ``specs`` opened by ``as_of``, each with its spec."""
    return [
        (c, specs[(c.workflow, c.version)])
        for c in cases
        if (c.workflow, c.version) in specs and local_date(c.opened_at) <= as_of
    ]
