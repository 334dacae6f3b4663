"""The SQL store's rows: cases and records as rows of its tables, and back.

Owns the conversions between the engine's values and table rows: a case's projection row
(the columns queries filter on, its head and the whole case as JSON), a record's row of
the events table and the record read back from one, and the checks that a case fits the
columns' lengths before it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from rectify.engine._case import Case, Evidence, Record
from rectify.exceptions import StoreError
from rectify.stores._codec import case_to_json, decode
from rectify.stores._codec import encode as encode_value
from rectify.stores._sql_schema import _INDEXED_DATA, ID_LENGTH, NAME_LENGTH, VALUE_LENGTH

__all__: list[str] = []


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json(value: object) -> str:
    return _ENCODER.encode(value)


def _indexed(case: Case, field: str) -> str | None:
    value = case.data.get(field)
    if not isinstance(value, str):
        return None
    if len(value) > VALUE_LENGTH:
        raise StoreError(
            f"case {case.id!r}: data field {field!r} is longer than {VALUE_LENGTH} characters"
        )
    return value


def _check(case: Case) -> None:
    if not case.id or len(case.id) > ID_LENGTH:
        raise StoreError(f"case id {case.id!r} must have 1 to {ID_LENGTH} characters")
    for what, name in (("workflow", case.workflow), ("state", case.state)):
        if len(name) > NAME_LENGTH:
            raise StoreError(f"case {case.id!r}: {what} longer than {NAME_LENGTH} characters")


#: ``Case.next_due`` in the ``next_due`` column when it is not known: 0, the epoch, so a
#: sweep looks at the case.
UNSCHEDULED = 0


def _due_seconds(next_due: dt.datetime | None) -> int:
    """Return ``next_due`` as the column keeps it: whole seconds since the epoch, floored.

    Floored, so that a sweep at any instant from ``next_due`` on selects the case.
    """
    if next_due is None:
        return UNSCHEDULED
    return math.floor(next_due.timestamp())


def _projection(case: Case) -> dict[str, object]:
    return {
        "id": case.id,
        "workflow": case.workflow,
        "version": case.version,
        "state": case.state,
        **{field: _indexed(case, field) for field in _INDEXED_DATA},
        "deadline": case.deadline,
        "escalation": case.escalation,
        "is_final": case.final,
        "is_paused": case.paused_since is not None,
        "head_seq": case.seq,
        "head_digest": case.history[-1].digest if case.history else "",
        "data": encode_value(case.data),
        "case_json": encode_value(case_to_json(case)),
        "next_due": _due_seconds(case.next_due),
    }


def _event_row(case_id: str, record: Record) -> dict[str, object]:
    return {
        "case_id": case_id,
        "seq": record.seq,
        "event": record.event,
        "source": record.source,
        "target": record.target,
        "actor": record.actor,
        "role": record.role,
        "at": record.at.isoformat(),
        "payload": encode_value(record.payload),
        "evidence": _json([[e.kind, e.name, e.sha256] for e in record.evidence]),
        "reason": record.reason,
        "prev": record.prev,
        "digest": record.digest,
    }


def _record(row: Any) -> Record:  # noqa: ANN401 - a row of the events table
    payload = decode(row.payload)
    evidence = json.loads(row.evidence)
    return Record(
        int(row.seq),
        str(row.event),
        row.source,
        str(row.target),
        str(row.actor),
        str(row.role),
        dt.datetime.fromisoformat(row.at),
        payload if isinstance(payload, dict) else {},
        tuple(Evidence(str(k), str(n), str(h)) for k, n, h in evidence),
        row.reason,
        str(row.prev),
        str(row.digest),
    )
