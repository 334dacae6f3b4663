"""Cases, records and effects as JSON for stores (and back), losslessly.

Dates and datetimes are tagged (``{"$date": "2024-06-30"}``) so they come back as dates.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

from rectify.engine._case import (
    Case,
    DeadlineCleared,
    DeadlineSet,
    Effect,
    Escalated,
    Evidence,
    NoticeDue,
    Record,
)

__all__ = [
    "case_from_json",
    "case_to_json",
    "decode",
    "effect_from_json",
    "effect_to_json",
    "encode",
    "record_from_json",
    "record_to_json",
]

_EFFECTS: Final = {
    cls.__name__: cls for cls in (NoticeDue, DeadlineSet, DeadlineCleared, Escalated)
}


_PLAIN: Final = frozenset({str, int, float, bool, type(None)})
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _tag(value: object) -> object:
    kind = type(value)
    # The usual types first, by identity (isinstance against an ABC is slow on a hot path).
    if kind in _PLAIN:
        return value
    if kind is dict or kind is MappingProxyType:
        return {str(k): _tag(v) for k, v in value.items()}  # type: ignore[attr-defined]
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _tag(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tag(v) for v in value]
    return value


def _untag(value: object) -> object:
    if isinstance(value, dict):
        if len(value) == 1:
            if "$date" in value:
                return dt.date.fromisoformat(value["$date"])
            if "$datetime" in value:
                return dt.datetime.fromisoformat(value["$datetime"])
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def _tag_map(value: Mapping[str, object]) -> dict[str, object]:
    return {str(k): _tag(v) for k, v in value.items()}


def _untag_map(value: Mapping[str, object]) -> dict[str, object]:
    return {str(k): _untag(v) for k, v in value.items()}


def encode(value: object) -> str:
    """Return ``value`` as JSON with dates tagged."""
    return _ENCODER.encode(_tag(value))


def decode(text: str) -> object:
    """Return the value ``encode`` wrote."""
    return _untag(json.loads(text))


def record_to_json(record: Record) -> dict[str, object]:
    """Return a record as JSON-ready values (dates tagged)."""
    out = _tag_map(attrs.asdict(record, recurse=False))
    out["evidence"] = [[e.kind, e.name, e.sha256] for e in record.evidence]
    return out


def record_from_json(data: Mapping[str, object]) -> Record:
    """Return the record ``record_to_json`` wrote."""
    values = _untag_map(data)
    evidence = values.pop("evidence", None)
    items = evidence if isinstance(evidence, list) else []
    return Record(**values, evidence=tuple(Evidence(*e) for e in items))  # type: ignore[arg-type]


def case_to_json(case: Case) -> dict[str, object]:
    """Return a case without its history as JSON-ready values (the projection)."""
    fields = attrs.asdict(case, recurse=False)
    fields.pop("history")
    fields.pop("next_due")  # kept beside the case by a store, not in it (see ``Case``)
    return _tag_map(fields)


def case_from_json(data: Mapping[str, object], history: tuple[Record, ...]) -> Case:
    """Return the case ``case_to_json`` wrote, with its history."""
    return Case(**_untag_map(data), history=history)  # type: ignore[arg-type]


def effect_to_json(effect: Effect) -> dict[str, object]:
    """Return an effect as JSON-ready values, with its kind."""
    out = _tag_map(attrs.asdict(effect, recurse=False))
    out["kind"] = type(effect).__name__
    return out


def effect_from_json(data: Mapping[str, object]) -> Effect:
    """Return the effect ``effect_to_json`` wrote."""
    values = _untag_map(data)
    cls = _EFFECTS[str(values.pop("kind"))]
    if isinstance(values.get("to"), list):
        values["to"] = tuple(values["to"])  # type: ignore[arg-type]
    effect: Effect = cls(**values)  # type: ignore[arg-type]
    return effect
