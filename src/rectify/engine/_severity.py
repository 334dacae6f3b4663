"""Changing a case's severity: the open deadline is recomputed and the change recorded."""

from __future__ import annotations

import datetime as dt

import attrs

from rectify.calendar._deadlines import due_date
from rectify.definitions._spec import DeadlineRule, Earliest, FromSeverity
from rectify.engine._case import Actor, Case, DeadlineSet, Effect, Outcome, Record
from rectify.engine._engine import SEVERITY, Engine, before, local_date
from rectify.engine._history import seal
from rectify.exceptions import CaseFinalError, OutOfOrderError, PayloadError

__all__ = ["SEVERITY", "apply_severity", "change_severity"]


def _uses_severity(rule: DeadlineRule | None) -> bool:
    if isinstance(rule, FromSeverity):
        return True
    return isinstance(rule, Earliest) and any(_uses_severity(r) for r in rule.rules)


def change_severity(
    engine: Engine, case: Case, severity: str, actor: Actor, at: dt.datetime, *, reason: str
) -> Outcome:
    """Set ``case``'s severity, recomputing a severity-based open deadline, and record why.

    The deadline is counted again from the day the case entered its state.

    Raises:
        CaseFinalError: The case is closed.
        PayloadError: ``reason`` is empty.
        OutOfOrderError: ``at`` is before the last event.
    """
    local_date(at)
    if engine.is_final(case):
        raise CaseFinalError(case_id=case.id, state=case.state, event=SEVERITY)
    if not reason.strip():
        raise PayloadError(
            case_id=case.id,
            state=case.state,
            event=SEVERITY,
            field="reason",
            problem="is required: say why the severity changes",
        )
    if before(at, case.updated_at):
        raise OutOfOrderError(
            case_id=case.id,
            state=case.state,
            event=SEVERITY,
            at=at.isoformat(),
            last=case.updated_at.isoformat(),
        )
    payload = {"from": case.data.get("severity"), "to": severity}
    record = seal(
        Record(
            case.seq + 1,
            SEVERITY,
            case.state,
            case.state,
            actor.id,
            actor.role,
            at,
            payload,
            (),
            reason,
        ),
        case.history[-1],
    )
    changed = apply_severity(engine, case, record)
    effects: tuple[Effect, ...] = ()
    if changed.deadline != case.deadline and changed.deadline is not None:
        effects = (DeadlineSet(case.id, case.state, changed.deadline),)
    return Outcome(changed, effects)


def apply_severity(engine: Engine, case: Case, record: Record) -> Case:
    """Return ``case`` with a ``@severity`` record applied (also used by replay)."""
    data = {**case.data, "severity": record.payload.get("to")}
    case = attrs.evolve(case, data=data, history=(*case.history, record))
    rule = engine.spec.state(case.state).deadline
    if not _uses_severity(rule) or rule is None or case.paused_since is not None:
        return case
    entered = next(
        r for r in reversed(case.history) if r.target == case.state and r.source != case.state
    )
    due = due_date(
        rule,
        local_date(entered.at),
        case.data,
        calendar=engine.calendar,
        phases=engine.phases,
        severities=engine.severities,
    )
    return attrs.evolve(case, deadline=due)
