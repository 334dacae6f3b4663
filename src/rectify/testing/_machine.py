"""A ready stateful test for any workflow, with built-in invariants and the host's rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rectify.definitions._spec import WorkingDays
from rectify.engine._case import Actor, Case
from rectify.engine._engine import Engine
from rectify.engine._escalation import escalate
from rectify.engine._history import verify_history
from rectify.engine._replay import replay
from rectify.exceptions import EventRefusedError, GuardRefusedError
from rectify.testing._strategies import SHANGHAI, GuardPayloads, actors, field_values, next_steps

__all__ = ["Invariant", "entered_only_from", "separated", "workflow_machine"]

#: A host's rule about a case: raise ``AssertionError`` (with a message) when it is broken.
Invariant = Callable[[Case], None]


def separated(first: str, second: str) -> Invariant:
    """Return the rule: whoever fired ``first`` never fires ``second`` after it.

    The rule is checked on the history itself, whatever the workflow file says, so it
    catches a workflow that forgot its ``not_same_actor_as``.
    """

    def check(case: Case) -> None:
        latest: str | None = None
        for record in case.history:
            if record.event == second and latest is not None:
                _expect(
                    record.actor != latest,
                    f"case {case.id}: {record.actor!r} fired {second!r} after firing {first!r}",
                )
            if record.event == first:
                latest = record.actor

    return check


def entered_only_from(state: str, *sources: str) -> Invariant:
    """Return the rule: a case enters ``state`` only from one of ``sources``."""

    def check(case: Case) -> None:
        for record in case.history:
            if record.target == state and record.source not in (state, *sources):
                raise AssertionError(
                    f"case {case.id}: entered {state!r} from {record.source!r} by "
                    f"{record.event!r}, not from {' or '.join(sources)}"
                )

    return check


def workflow_machine(
    engine: Engine,
    *,
    invariants: Sequence[Invariant] = (),
    guard_payloads: GuardPayloads | None = None,
    data: Mapping[str, object] | None = None,
    start: dt.datetime = dt.datetime(2024, 3, 1, 9, tzinfo=SHANGHAI),
    max_cases: int = 3,
    refusals: bool = True,
) -> type[RuleBasedStateMachine]:
    """Return a ``RuleBasedStateMachine`` that drives cases of ``engine``'s workflow.

    Rules open cases, fire valid events (random actors in permitted roles, payloads of the
    declared types, the evidence and reasons asked for), fire anything at all (refusals
    must change nothing), and sweep after random gaps. After every step, for every case:
    the hash chain verifies, replay rebuilds the case exactly, nothing follows a final
    state, every record's role may fire its event, separation of duties holds, working-day
    deadlines fall on working days, the escalation level never falls, and each of the
    host's ``invariants`` holds.

    With ``refusals=False`` the machine fires only valid events: a counterexample then
    shrinks to the few steps that matter (the refusal rule can also fire valid events,
    which the shrinker cannot turn into the shorter valid steps).

    Use it as ``TestHazard = workflow_machine(engine).TestCase`` in a test module.
    """
    spec = engine.spec
    machine_name = f"{spec.id.title().replace('_', '')}Cases"

    class WorkflowCases(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.cases: dict[str, Case] = {}
            self.levels: dict[str, int] = {}
            self.changed: set[str] = set()
            self.now = start

        def _store(self, case: Case) -> None:
            self.cases[case.id] = case
            self.changed.add(case.id)
            self.now = max(self.now, case.updated_at)

        @precondition(lambda self: len(self.cases) < max_cases)
        @rule(opener=actors(spec))
        def open_case(self, opener: Actor) -> None:
            case_id = f"case-{len(self.cases)}"
            self._store(engine.open(case_id, dict(data or {}), opener, self.now).case)

        @precondition(lambda self: bool(self.cases))
        @rule(data=st.data())
        def fire_valid(self, data: st.DataObject) -> None:
            case = self.cases[data.draw(st.sampled_from(sorted(self.cases)), label="case")]
            step = data.draw(next_steps(engine, case, guard_payloads=guard_payloads), label="step")
            if step is None:
                return
            try:
                outcome = engine.fire(
                    case,
                    step.event,
                    step.actor,
                    step.at,
                    payload=step.payload,
                    evidence=step.evidence,
                    reason=step.reason,
                )
            except GuardRefusedError:
                return
            self._check_deadline(case, outcome.case, step.event)
            self._store(outcome.case)

        def _check_deadline(self, before: Case, after: Case, event: str) -> None:
            rule_ = spec.event(event).deadline or spec.state(after.state).deadline
            entered = before.state != after.state or spec.event(event).deadline is not None
            calendar = engine.calendar
            if (
                entered
                and isinstance(rule_, WorkingDays)
                and after.deadline is not None
                and calendar is not None
                and before.paused_since is None
            ):
                _expect(
                    calendar.add_working_days(after.deadline, 0) == after.deadline,
                    (f"{after.id}: deadline {after.deadline} counted in working days is not one"),
                )

        @precondition(lambda self: refusals and bool(self.cases))
        @rule(data=st.data())
        def fire_anything(self, data: st.DataObject) -> None:
            case = self.cases[data.draw(st.sampled_from(sorted(self.cases)), label="case")]
            names = [e.name for e in spec.events] + ["no_such_event"]
            event = data.draw(st.sampled_from(names), label="event")
            actor = data.draw(actors(spec), label="actor")
            fields = spec.event(event).require if spec.has_event(event) else ()
            payload = {
                f.name: data.draw(field_values(f))
                for f in fields
                if data.draw(st.booleans(), label=f"give {f.name}")
            }
            gap = data.draw(st.timedeltas(dt.timedelta(days=-1), dt.timedelta(days=5)))
            try:
                outcome = engine.fire(
                    case,
                    event,
                    actor,
                    case.updated_at + gap,
                    payload=payload,
                    reason=data.draw(st.none() | st.just("因为")),
                )
            except EventRefusedError:
                _expect(self.cases[case.id] is case, "a refused event changed the case")
                return
            self._store(outcome.case)

        @precondition(lambda self: bool(self.cases))
        @rule(gap=st.timedeltas(dt.timedelta(0), dt.timedelta(days=40)))
        def sweep(self, gap: dt.timedelta) -> None:
            self.now += gap
            for case in list(self.cases.values()):
                outcome = escalate(engine, case, max(self.now, case.updated_at))
                if outcome.effects:
                    self._store(outcome.case)

        @invariant()
        def every_rule_holds(self) -> None:
            for case_id in sorted(self.changed):
                case = self.cases[case_id]
                verify_history(case)
                _expect(replay(engine, case.history) == case, f"{case_id}: replay differs")
                _structural(engine, case)
                level = -1 if case.escalation is None else case.escalation
                _expect(level >= self.levels.get(case_id, -1), f"{case_id}: escalation fell")
                self.levels[case_id] = level
                for check in invariants:
                    check(case)
            self.changed.clear()

    WorkflowCases.__name__ = WorkflowCases.__qualname__ = machine_name
    return WorkflowCases


def _expect(condition: bool, message: str) -> None:
    """Fail like an assertion (but also under ``python -O``) when ``condition`` is false."""
    if not condition:
        raise AssertionError(message)


def _structural(engine: Engine, case: Case) -> None:
    """Check what every history of a workflow must show: roles, duties, nothing after final."""
    spec = engine.spec
    final_at: int | None = None
    latest: dict[str, str] = {}
    for record in case.history:
        if record.event.startswith("@"):
            continue
        _expect(final_at is None, f"{case.id}: record {record.seq} after the final state")
        event = spec.event(record.event)
        roles: Any = event.roles if event.roles is not None else spec.role_names
        _expect(record.role in roles, f"{case.id}: {record.role!r} fired {record.event!r}")
        for other in event.not_same_actor_as:
            _expect(
                latest.get(other) != record.actor,
                f"{case.id}: {record.actor!r} fired {record.event!r} after {other!r}",
            )
        latest[record.event] = record.actor
        if spec.state(record.target).final:
            final_at = record.seq
