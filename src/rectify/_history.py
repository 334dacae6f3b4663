"""The tamper-evident history: canonical encoding, the hash chain and its verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

import attrs

from rectify._case import Case, Record
from rectify.exceptions import HistoryError

__all__ = ["canonical", "chain", "seal", "verify_history"]


def _plain(value: object) -> object:
    # Types are tagged so that a date and the string of that date hash differently.
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
    body = {
        "seq": record.seq,
        "event": record.event,
        "source": record.source,
        "target": record.target,
        "actor": record.actor,
        "role": record.role,
        "at": record.at.isoformat(),
        "payload": _plain(record.payload),
        "evidence": [[e.kind, e.name, e.sha256] for e in record.evidence],
        "reason": record.reason,
        "prev": prev,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def seal(record: Record, previous: Record | None) -> Record:
    """Return ``record`` chained to ``previous``: its ``prev`` and ``digest`` filled in."""
    prev = previous.digest if previous else ""
    digest = hashlib.sha256(_encode(record, prev)).hexdigest()
    return attrs.evolve(record, prev=prev, digest=digest)


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
