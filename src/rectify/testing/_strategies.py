"""Hypothesis strategies for any workflow: payloads, actors, timelines, valid steps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Final
from zoneinfo import ZoneInfo

import attrs
from hypothesis import strategies as st

from rectify.definitions._spec import EventSpec, PayloadField, WorkflowSpec
from rectify.engine._case import Actor, Case, Evidence
from rectify.engine._engine import Engine

__all__ = [
    "GuardPayloads",
    "Step",
    "actors",
    "event_sequences",
    "field_values",
    "next_steps",
    "payloads",
    "timelines",
]

#: The last date a generated payload holds (see ``field_values``).
_LAST_DATE: Final = dt.date(2026, 11, 30)

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
_TEXT: Final = st.characters(blacklist_categories=("Cs", "Cc"))

#: Payload values a guard is likely to accept, by guard name: given the event and the
#: case, a strategy of fields to lay over the generated payload.
GuardPayloads = Mapping[str, Callable[[EventSpec, Case], st.SearchStrategy[dict[str, object]]]]


def _panel(event: EventSpec, case: Case) -> st.SearchStrategy[dict[str, object]]:
    # The built-in panel_quorum: three or more with a majority; seven or more with two
    # thirds after an expert review.
    size = st.integers(7, 15) if case.state == "expert_review" else st.integers(3, 11)
    return size.flatmap(
        lambda n: st.integers(-(-2 * n // 3) if n >= 7 else n // 2 + 1, n).map(  # noqa: PLR2004
            lambda votes: {"panel_size": n, "votes_for": votes}
        )
    )


BUILTIN_GUARD_PAYLOADS: Final[GuardPayloads] = {"panel_quorum": _panel}


def field_values(field: PayloadField) -> st.SearchStrategy[object]:
    """Return valid values of a payload field's type."""
    if field.type == "choice":
        return st.sampled_from(field.choices)
    return {
        "str": st.text(_TEXT, min_size=1, max_size=24).filter(str.strip),
        "text": st.text(_TEXT, min_size=1, max_size=80).filter(str.strip),
        "phone": st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
        "int": st.integers(0, 10_000),
        "float": st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        "bool": st.booleans(),
        # Dates stop short of the last year the official calendar knows (2026): a date late in
        # December puts the working days a notice counts after it (the re-check, the reply)
        # into a year no calendar covers, which the engine rightly refuses.
        "date": st.dates(dt.date(2024, 1, 1), _LAST_DATE),
        "datetime": st.datetimes(
            dt.datetime(2024, 1, 1),
            dt.datetime.combine(_LAST_DATE, dt.time()),
            timezones=st.just(SHANGHAI),
        ),
    }[field.type]


def payloads(event: EventSpec) -> st.SearchStrategy[dict[str, object]]:
    """Return valid payloads of ``event``: every required field, some optional ones."""
    required = st.fixed_dictionaries({f.name: field_values(f) for f in event.require})
    optional = st.fixed_dictionaries({}, optional={f.name: field_values(f) for f in event.optional})
    return st.tuples(required, optional).map(lambda pair: {**pair[1], **pair[0]})


def actors(
    spec: WorkflowSpec, people: Sequence[str] = ("p1", "p2", "p3", "p4")
) -> st.SearchStrategy[Actor]:
    """Return actors: a small pool of people, each in any declared role."""
    return st.builds(Actor, st.sampled_from(people), st.sampled_from(spec.role_names))


def timelines(
    start: dt.datetime, *, steps: int = 10, max_gap: dt.timedelta = dt.timedelta(days=20)
) -> st.SearchStrategy[list[dt.datetime]]:
    """Return increasing times from ``start``, gaps of minutes to weeks.

    Long gaps cross weekends, holidays and make-up workdays where they fall.
    """
    gaps = st.lists(st.timedeltas(dt.timedelta(0), max_gap), min_size=steps, max_size=steps)

    def accumulate(deltas: list[dt.timedelta]) -> list[dt.datetime]:
        out, now = [], start
        for delta in deltas:
            now += delta
            out.append(now)
        return out

    return gaps.map(accumulate)


@attrs.frozen
class Step:
    """One event to fire: who, when, with what."""

    event: str
    actor: Actor
    at: dt.datetime
    payload: Mapping[str, object] = attrs.field(factory=dict)
    evidence: tuple[Evidence, ...] = ()
    reason: str | None = None


def _barred(case: Case, event: EventSpec) -> set[str]:
    """Return the actors separation of duties bars from ``event`` on ``case``."""
    out = set()
    for other in event.not_same_actor_as:
        last = next((r for r in reversed(case.history) if r.event == other), None)
        if last is not None:
            out.add(last.actor)
    return out


@st.composite
def next_steps(
    draw: st.DrawFn,
    engine: Engine,
    case: Case,
    *,
    guard_payloads: GuardPayloads | None = None,
    people: Sequence[str] = ("p1", "p2", "p3", "p4"),
    max_gap: dt.timedelta = dt.timedelta(days=10),
) -> Step | None:
    """Draw a valid next step of ``case``.

    An event allowed now (from the case's state, its ``min_escalation`` reached), by a
    permitted role and an actor separation of duties does not bar, with its payload,
    evidence and reason.

    Returns ``None`` when nothing can happen (a final case). Guards may still refuse: pass
    ``guard_payloads`` (the built-in guards have theirs) to make that rare.
    """
    spec = engine.spec
    level = -1 if case.escalation is None else case.escalation
    choices = [
        e
        for e in spec.events
        if any(t.source == case.state for t in e.transitions)
        and (e.min_escalation is None or level >= e.min_escalation)  # not escalated enough yet
    ]
    if engine.is_final(case) or not choices:
        return None
    # Mostly an event that keeps the case going: a random walk would otherwise end most
    # cases at triage (duplicate, dismissed...) and rarely reach the later states.
    onward = [
        e
        for e in choices
        if any(t.source == case.state and not spec.state(t.target).final for t in e.transitions)
    ]
    keep_going: int = draw(st.integers(0, 4), label="onward?")
    pool = onward if onward and keep_going else choices
    event = draw(st.sampled_from(pool))
    roles = event.roles if event.roles is not None else spec.role_names
    barred = _barred(case, event)
    who = [p for p in people if p not in barred]
    actor = Actor(draw(st.sampled_from(who)), draw(st.sampled_from(roles)))
    payload = draw(payloads(event))
    generators = {**BUILTIN_GUARD_PAYLOADS, **(guard_payloads or {})}
    for guard in event.guards:
        if guard in generators:
            payload.update(draw(generators[guard](event, case)))
    evidence = tuple(Evidence.of(kind, f"{kind}.jpg", kind.encode()) for kind in event.evidence)
    reason = (
        draw(st.text(_TEXT, min_size=1, max_size=20).filter(str.strip)) if event.reason else None
    )
    at = case.updated_at + draw(st.timedeltas(dt.timedelta(0), max_gap))
    return Step(event.name, actor, at, payload, evidence, reason)


@st.composite
def event_sequences(
    draw: st.DrawFn,
    engine: Engine,
    *,
    start: dt.datetime = dt.datetime(2024, 3, 1, 9, tzinfo=SHANGHAI),
    data: Mapping[str, object] | None = None,
    max_steps: int = 12,
    guard_payloads: GuardPayloads | None = None,
) -> tuple[Case, list[Step]]:
    """Draw a case opened at ``start`` and a valid sequence of steps from it.

    The steps are fired while drawing (each depends on the case so far), so the returned
    list replays on the opened case; a step a guard refused is left out.
    """
    opener = draw(actors(engine.spec))
    case = engine.open("case-1", dict(data or {}), opener, start).case
    opened, steps = case, []
    for _ in range(draw(st.integers(0, max_steps))):
        step = draw(next_steps(engine, case, guard_payloads=guard_payloads))
        if step is None:
            break
        try:
            case = engine.fire(
                case,
                step.event,
                step.actor,
                step.at,
                payload=step.payload,
                evidence=step.evidence,
                reason=step.reason,
            ).case
        except Exception:  # noqa: S112 - a guard's refusal: draw another step
            continue
        steps.append(step)
    return opened, steps
