"""The tamper-evident history: canonical encoding, the hash chain and its verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

from rectify.engine._case import Actor, Case, Evidence, Record
from rectify.exceptions import HistoryError

__all__ = ["canonical", "chain", "new_record", "seal", "verify_history"]


_PLAIN = frozenset({str, int, float, bool, type(None)})
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _plain(value: object) -> object:
    # Types are tagged so that a date and the string of that date hash differently.
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical(record: Record) -> bytes:
    """Return the canonical encoding of ``record`` without its own digest."""
    return _encode(record, record.prev)


def _encode(record: Record, prev: str) -> bytes:
    r = record
    return _body(
        r.seq,
        r.event,
        r.source,
        r.target,
        r.actor,
        r.role,
        r.at,
        r.payload,
        r.evidence,
        r.reason,
        prev,
    )


def _body(  # noqa: PLR0917 - the fields of a record, in order
    seq: int,
    event: str,
    source: str | None,
    target: str,
    actor: str,
    role: str,
    at: dt.datetime,
    payload: Mapping[str, object],
    evidence: tuple[Evidence, ...],
    reason: str | None,
    prev: str,
) -> bytes:
    # A JSON array of the fields in a fixed order: UTF-8, no spaces, mapping keys sorted.
    body = [
        seq,
        event,
        source,
        target,
        actor,
        role,
        at.isoformat(),
        _plain(payload),
        [[e.kind, e.name, e.sha256] for e in evidence],
        reason,
        prev,
    ]
    return _ENCODER.encode(body).encode()


def seal(record: Record, previous: Record | None) -> Record:
    """Return ``record`` chained to ``previous``: its ``prev`` and ``digest`` filled in."""
    r = record
    return new_record(
        previous,
        seq=r.seq,
        event=r.event,
        source=r.source,
        target=r.target,
        actor=Actor(r.actor, r.role),
        at=r.at,
        payload=r.payload,
        evidence=r.evidence,
        reason=r.reason,
    )


def new_record(
    previous: Record | None,
    *,
    seq: int,
    event: str,
    source: str | None,
    target: str,
    actor: Actor,
    at: dt.datetime,
    payload: Mapping[str, object],
    evidence: tuple[Evidence, ...] = (),
    reason: str | None = None,
) -> Record:
    """Return a new sealed record chained to ``previous`` (built once: the hot path)."""
    prev = previous.digest if previous else ""
    body = _body(
        seq, event, source, target, actor.id, actor.role, at, payload, evidence, reason, prev
    )
    return Record(
        seq,
        event,
        source,
        target,
        actor.id,
        actor.role,
        at,
        payload,
        evidence,
        reason,
        prev,
        hashlib.sha256(body).hexdigest(),
    )


def chain(records: list[Record]) -> tuple[Record, ...]:
    """Seal a list of records into a chain, in order."""
    out: list[Record] = []
    for record in records:
        out.append(seal(record, out[-1] if out else None))
    return tuple(out)


def verify_history(case: Case) -> None:
    """Check that the history of ``case`` is exactly what was appended.

    Detects edited records (digest mismatch), deletions, insertions and reordering
    (sequence gaps or broken links), and a case whose state is not where its history ends.
    A chain cannot tell on its own that its newest records were cut off together: a store
    keeps the digest of the last record beside the case for that.

    Raises:
        HistoryError: At the first record that does not verify, saying why.
    """
    previous: Record | None = None
    for index, record in enumerate(case.history):
        if record.seq != index:
            raise HistoryError(
                case_id=case.id,
                seq=record.seq,
                reason=f"expected sequence number {index} (deleted, inserted or reordered records)",
            )
        expected_prev = previous.digest if previous else ""
        if record.prev != expected_prev:
            raise HistoryError(
                case_id=case.id, seq=record.seq, reason="does not link to the record before it"
            )
        if hashlib.sha256(canonical(record)).hexdigest() != record.digest:
            raise HistoryError(
                case_id=case.id, seq=record.seq, reason="content does not match its digest (edited)"
            )
        previous = record
    if previous is not None and previous.target != case.state:
        raise HistoryError(
            case_id=case.id,
            seq=previous.seq,
            reason=f"the case is in state {case.state!r} but its history ends "
            f"in {previous.target!r}",
        )
