"""Checking and normalising event payloads against the declared field types."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Final

from rectify.definitions._spec import EventSpec, PayloadField

__all__ = ["check_payload", "encodable"]

_PHONE: Final = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


def _convert(spec: PayloadField, value: object) -> tuple[object, str | None]:
    """Return the normalised value, or a problem description."""
    kind = spec.type
    if isinstance(value, str) and not _encodable(value):
        return value, "must be text that UTF-8 can encode (it holds a lone surrogate)"
    if kind in ("str", "text", "phone"):
        if not isinstance(value, str) or not value.strip():
            return value, "must be non-empty text"
        if kind == "phone" and not _PHONE.match(value):
            return value, f"must be a phone number, not {value!r}"
        return value, None
    if kind == "choice":
        if value not in spec.choices:
            return value, f"must be one of: {', '.join(spec.choices)} (got {value!r})"
        return value, None
    if kind == "bool":
        return value, None if isinstance(value, bool) else "must be true or false"
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value, None if ok else f"must be a whole number, not {value!r}"
    if kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and not math.isfinite(value):  # type: ignore[arg-type]
            return value, f"must be a finite number, not {value!r}"
        return value, None if ok else f"must be a number, not {value!r}"
    if kind == "date":
        return _date(value)
    return _datetime(value)


def encodable(text: str) -> bool:
    """Return whether ``text`` can be written as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_encodable = encodable


def _date(value: object) -> tuple[object, str | None]:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value, f"must be a date such as 2024-06-30, not {value!r}"
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value, None
    return value, f"must be a date such as 2024-06-30, not {value!r}"


def _datetime(value: object) -> tuple[object, str | None]:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value, f"must be a date and time, not {value!r}"
    if not isinstance(value, dt.datetime):
        return value, f"must be a date and time, not {value!r}"
    if value.tzinfo is None:
        return value, "must carry a timezone"
    return value, None


def check_payload(
    event: EventSpec, payload: Mapping[str, object]
) -> tuple[dict[str, object], tuple[str, str] | None]:
    """Return the normalised payload, or the first (field, problem) found."""
    declared = {f.name: f for f in (*event.require, *event.optional)}
    for name in payload:
        if name not in declared:
            allowed = ", ".join(declared) or "none"
            return {}, (name, f"is not a field of this event; fields: {allowed}")
    out: dict[str, object] = {}
    for spec in event.require:
        if spec.name not in payload or payload[spec.name] is None:
            return {}, (spec.name, f"is required ({spec.type})")
    for name, value in payload.items():
        if value is None:
            continue
        converted, problem = _convert(declared[name], value)
        if problem:
            return {}, (name, problem)
        out[name] = converted
    return out, None
