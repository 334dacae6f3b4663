"""Replay (a case is the fold of its history) and migration between workflow versions."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import attrs

from rectify.engine._case import Actor, Case, Outcome, Record
from rectify.engine._category import CATEGORY, apply_category
from rectify.engine._engine import (
    MERGE,
    MIGRATE,
    OPEN,
    SEVERITY,
    Engine,
    before,
    instant,
    local_date,
    require_aware,
)
from rectify.engine._escalation import ESCALATE, apply_escalation
from rectify.engine._history import seal
from rectify.engine._severity import apply_severity
from rectify.exceptions import ArgumentError, NoSuchRecordError, RectifyError, ReplayError

__all__ = [
    "MIGRATE",
    "MigrationCheck",
    "case_as_of",
    "case_at",
    "last_seq_at",
    "migrate",
    "plan_migration",
    "replay",
]


def replay(engines: Engine | Sequence[Engine], records: Iterable[Record]) -> Case:
    """Rebuild a case by folding its history through the workflow.

    Given one engine, every record is replayed through it, whatever version the case was
    opened with: against the same version the result equals the case exactly; against
    another, the first record where the two part is reported. Given several engines (one
    per version), a ``@migrate`` record switches to the engine of the version it names.

    Raises:
        ReplayError: A record cannot be replayed; ``seq`` says where the workflows part.
    """
    pool = [engines] if isinstance(engines, Engine) else list(engines)
    if not pool:
        raise ReplayError(seq=0, reason="no workflow to replay against")
    engine, case = pool[0], None
    for record in records:
        if case is None:
            engine = _pick(pool, record.payload.get("version"), default=pool[0])
            case = _open(engine, record)
        elif record.event == MIGRATE:
            engine = _pick(pool, record.payload.get("to_version"), default=None, seq=record.seq)
            case = _apply_migration(engine, case, record)
        elif record.event == ESCALATE:
            case = apply_escalation(case, _reseal(case, record))
        elif record.event == SEVERITY:
            case = apply_severity(engine, case, _reseal(case, record))
        elif record.event == CATEGORY:
            case = apply_category(case, _reseal(case, record))
        elif record.event == MERGE:
            case = attrs.evolve(case, history=(*case.history, _reseal(case, record)))
        else:
            case = _fire(engine, case, record)
    if case is None:
        raise ReplayError(seq=0, reason="the history is empty")
    return case


def case_at(engines: Engine | Sequence[Engine], case: Case, seq: int) -> Case:
    """Return ``case`` as it was right after its record ``seq``.

    The case is the fold of its history, so the case as it was is the fold of the history
    up to that record: ``replay`` of that prefix through the engines of its workflow (every
    version it ran on). ``seq`` at or past the last record gives ``case`` itself.

    Raises:
        NoSuchRecordError: ``seq`` is not a record number (negative, or not an integer).
        ReplayError: The history up to ``seq`` does not replay against the engines.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise NoSuchRecordError(f"case {case.id!r} had no record {seq!r} (records start at 0)")
    if seq >= case.seq:
        return case
    return replay(engines, case.history[: seq + 1])


def last_seq_at(case: Case, moment: dt.date | dt.datetime) -> int:
    """Return the sequence number of the case's last record at ``moment``, -1 if none yet.

    A date means the end of that day in Asia/Shanghai (every record dated that day counts);
    a datetime (aware) counts the records at or before that instant.
    """
    # Records are in time order: the engine refuses an event dated before the last one.
    if not isinstance(moment, dt.date):
        raise ArgumentError(f"a moment is a date or an aware datetime, not {moment!r}")
    if isinstance(moment, dt.datetime):
        edge = instant(require_aware(moment, "moment"))
        return bisect.bisect_right([instant(r.at) for r in case.history], edge) - 1
    return bisect.bisect_right([local_date(r.at) for r in case.history], moment) - 1


def case_as_of(
    engines: Engine | Sequence[Engine], case: Case, moment: dt.date | dt.datetime
) -> Case | None:
    """Return ``case`` as it stood at ``moment``, or ``None`` if it was not opened yet.

    Every report, listing and export of a past moment is built from cases as of that
    moment, so that it holds the facts of that moment (its state, deadline, escalation
    level, data) and comes out the same whenever it is rendered again. A date means the end
    of that day in Asia/Shanghai; see :func:`last_seq_at` and :func:`case_at`.
    """
    seq = last_seq_at(case, moment)
    return None if seq < 0 else case_at(engines, case, seq)


def _pick(pool: list[Engine], version: object, *, default: Engine | None, seq: int = 0) -> Engine:
    found = next((e for e in pool if e.spec.version == version), default)
    if found is None:
        have = ", ".join(str(e.spec.version) for e in pool)
        raise ReplayError(seq=seq, reason=f"no engine for version {version}; given: {have}")
    return found


def _open(engine: Engine, record: Record) -> Case:
    if record.seq != 0 or record.event != OPEN:
        raise ReplayError(seq=record.seq, reason="a history starts with an @open record")
    if record.payload.get("workflow") != engine.spec.id:
        raise ReplayError(
            seq=0,
            reason=f"the case follows workflow "
            f"{record.payload.get('workflow')!r}, not {engine.spec.id!r}",
        )
    payload = {**record.payload, "version": engine.spec.version}
    return engine.opened(seal(attrs.evolve(record, payload=payload), None)).case


def _reseal(case: Case, record: Record) -> Record:
    return seal(attrs.evolve(record, seq=case.seq + 1), case.history[-1])


def _fire(engine: Engine, case: Case, record: Record) -> Case:
    try:
        outcome = engine.fire(
            case,
            record.event,
            Actor(record.actor, record.role),
            record.at,
            payload=record.payload,
            evidence=record.evidence,
            reason=record.reason,
        )
    except RectifyError as exc:
        raise ReplayError(seq=record.seq, reason=str(exc)) from exc
    if outcome.case.state != record.target:
        raise ReplayError(
            seq=record.seq,
            reason=f"the workflow leads to {outcome.case.state!r}"
            f", the history to {record.target!r}",
        )
    return outcome.case


@attrs.frozen
class MigrationCheck:
    """Whether one case can move to the new version, and where to, or why not."""

    case_id: str
    ok: bool
    target: str | None = None
    reason: str | None = None


def _check(engine: Engine, case: Case, state_map: Mapping[str, str]) -> MigrationCheck:
    spec = engine.spec
    if case.workflow != spec.id:
        return MigrationCheck(
            case.id, ok=False, reason=f"follows workflow {case.workflow!r}, not {spec.id!r}"
        )
    if case.final:
        return MigrationCheck(
            case.id, ok=False, reason="the case is closed; closed cases are never reopened"
        )
    if case.version == spec.version:
        return MigrationCheck(case.id, ok=False, reason=f"already on version {spec.version}")
    target = state_map.get(case.state, case.state)
    if not spec.has_state(target):
        return MigrationCheck(
            case.id,
            ok=False,
            reason=f"state {case.state!r} has no "
            f"counterpart in version {spec.version}; map it explicitly",
        )
    if spec.state(target).final:
        return MigrationCheck(
            case.id,
            ok=False,
            reason=f"state {target!r} is final in version "
            f"{spec.version}; an open case cannot move into it",
        )
    return MigrationCheck(case.id, ok=True, target=target)


def plan_migration(
    engine: Engine, cases: Iterable[Case], state_map: Mapping[str, str]
) -> tuple[MigrationCheck, ...]:
    """Dry-run a migration: say for each case whether it can move, and why not."""
    return tuple(_check(engine, case, state_map) for case in cases)


def migrate(
    engine: Engine,
    case: Case,
    state_map: Mapping[str, str],
    actor: Actor,
    at: dt.datetime,
    *,
    reason: str | None = None,
) -> Outcome:
    """Move an open case to ``engine``'s workflow version by an explicit state mapping.

    States missing from ``state_map`` keep their name. The move is a ``@migrate`` record.

    Raises:
        RectifyError: The case cannot move (see ``plan_migration`` for the reasons).
    """
    local_date(at)
    check = _check(engine, case, state_map)
    if not check.ok or check.target is None:
        raise RectifyError(f"case {case.id!r} cannot migrate: {check.reason}")
    if before(at, case.updated_at):
        raise RectifyError(f"case {case.id!r}: migration dated before its last event")
    payload = {
        "from_version": case.version,
        "to_version": engine.spec.version,
        "from_state": case.state,
        "to_state": check.target,
    }
    record = seal(
        Record(
            case.seq + 1,
            MIGRATE,
            case.state,
            check.target,
            actor.id,
            actor.role,
            at,
            payload,
            (),
            reason,
        ),
        case.history[-1],
    )
    return Outcome(_apply_migration(engine, case, record))


def _apply_migration(engine: Engine, case: Case, record: Record) -> Case:
    if not engine.spec.has_state(record.target):
        raise ReplayError(
            seq=record.seq, reason=f"version {engine.spec.version} has no state {record.target!r}"
        )
    if record.seq != case.seq + 1:
        record = _reseal(case, record)
    return attrs.evolve(
        case, version=engine.spec.version, state=record.target, history=(*case.history, record)
    )
