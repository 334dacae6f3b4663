"""Stateful tests of the case engine over every shipped workflow.

One hypothesis state machine per workflow file in ``workflows/`` (a document with a
``workflow:`` key). It keeps several cases open at once and fires at any of them events
made by a small pool of people acting in random roles: events allowed now, events from
other states, unknown names; payloads with valid values of each declared field type, and
sometimes invalid, missing or extra fields; evidence with kinds sometimes missing; reasons
sometimes missing; times mostly moving forward, sometimes before the last event.

An oracle written from the workflow definition (not from the engine) says which refusals
each attempt deserves and where an accepted event leads; the invariants check what must
hold of every case after every step.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import unittest
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import ClassVar, Final, TypeVar, cast
from zoneinfo import ZoneInfo

import attrs
import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

import rectify
from rectify import Actor, Case, Engine, Evidence, Record, RectifyError, WorkflowSpec
from rectify.calendar import load_campaign
from rectify.definitions import Earliest, EventSpec, FieldDate, PayloadField
from rectify.testing import FakeCalendar
from tests.conftest import WORKFLOWS

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
#: Zones an event time may be given in; the engine must compare instants, not wall clocks.
ZONES: Final = (SHANGHAI, dt.UTC, dt.timezone(dt.timedelta(hours=-5)))
START: Final = dt.datetime(2024, 3, 1, 8, 30, tzinfo=SHANGHAI)
#: The shipped campaign: its phase dates are what `{campaign: ...}` deadlines give.
CAMPAIGN: Final = load_campaign()
#: The people who act; each may act in any role, so separation of duties is exercised.
PEOPLE: Final = ("p1", "p2", "p3")
#: Roles that no shipped workflow declares.
STRANGER_ROLES: Final = ("janitor", "Community", "")
#: Event names no workflow declares (the engine's own ``@`` names are not firable).
UNKNOWN_EVENTS: Final = ("@open", "@merge", "teleport", "Close", "")
#: Evidence kinds no workflow declares.
STRANGER_EVIDENCE: Final = ("selfie",)
MAX_CASES: Final = 4
STEPS: Final = 30
_T = TypeVar("_T")

#: How a case may end in a state with outcome ``rectified``: the last events of its history.
#: Every closure goes through the workflow's verification step.
RECTIFIED_TAILS: Final[Mapping[str, tuple[tuple[str, ...], ...]]] = {
    "hazard": (("verify", "close"),),
    "immediate": (("correct_on_spot", "close"), ("comply", "verify")),
    "major": (("reinspect", "close_case", "delist"),),
    # An earlier year's hazard was rectified then: its look-back only confirms it.
    "earlier": (("confirm",),),
    # A building surveyed and a task done are not hazards: nothing of theirs is rectified.
    "survey": (),
    "task": (),
}
#: States a case reaches only through a re-inspection of a reported fix.
VERIFIED_STATES: Final = frozenset({"verified", "reinspected"})


def _workflow_files() -> list[Path]:
    files = []
    for path in sorted(WORKFLOWS.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "workflow" in document:
            files.append(path)
    return files


WORKFLOW_FILES: Final = _workflow_files()
_ENGINES: dict[Path, Engine] = {}


def _engine(path: Path) -> Engine:
    """Return the (stateless, shareable) engine of a workflow file."""
    if path not in _ENGINES:
        _ENGINES[path] = Engine(
            rectify.load_workflow(path), calendar=FakeCalendar(), phases=CAMPAIGN.phase_ends
        )
    return _ENGINES[path]


# --- the oracle -------------------------------------------------------------------------


def _quorum(case: Case, payload: Mapping[str, object]) -> bool:
    """GB 35181: 3+ people and a majority; after expert review 7+ experts, two thirds."""
    size, votes = payload.get("panel_size"), payload.get("votes_for")
    if type(size) is not int or type(votes) is not int or not 0 <= votes <= size:
        return False
    if case.state == "expert_review":
        return size >= 7 and Fraction(votes, size) >= Fraction(2, 3)
    return size >= 3 and Fraction(votes, size) > Fraction(1, 2)


GUARD_ORACLES: Final = {"panel_quorum": _quorum}


def _permitted(spec: WorkflowSpec, event: EventSpec) -> tuple[str, ...]:
    return event.roles if event.roles is not None else spec.role_names


def _latest(history: Sequence[Record], name: str) -> Record | None:
    return next((r for r in reversed(history) if r.event == name), None)


def _sources(event: EventSpec) -> frozenset[str]:
    return frozenset(t.source for t in event.transitions)


def _is_rectified(spec: WorkflowSpec, state: str) -> bool:
    return spec.state(state).outcome == "rectified"


@attrs.frozen
class Attempt:
    """One call of ``Engine.fire``; ``payload_ok`` says whether the generator made it valid."""

    event: str
    actor: Actor
    at: dt.datetime
    payload: Mapping[str, object]
    payload_ok: bool
    evidence: tuple[Evidence, ...]
    reason: str | None


Refusals = frozenset[type[RectifyError]]


def _evidence_refusals(
    spec: WorkflowSpec, event: EventSpec, attempt: Attempt
) -> set[type[RectifyError]]:
    given = {e.kind for e in attempt.evidence}
    out: set[type[RectifyError]] = set()
    if given - {kind for kind, _ in spec.evidence}:
        out.add(rectify.exceptions.PayloadError)  # a kind the workflow does not declare
    if any(kind not in given for kind in event.evidence):
        out.add(rectify.exceptions.EvidenceMissingError)
    return out


def expected(spec: WorkflowSpec, case: Case, attempt: Attempt) -> tuple[Refusals, str | None]:
    """Return the refusals ``attempt`` deserves on ``case``, or none and the state it leads to.

    The first four are structural and exact (the later checks cannot even be asked); the
    rest are every rule the attempt breaks: the engine must raise one of them.
    """
    if attempt.at.tzinfo is None:
        return frozenset({rectify.NaiveDatetimeError}), None
    if not spec.has_event(attempt.event):
        return frozenset({rectify.exceptions.UnknownEventError}), None
    if spec.state(case.state).final:
        return frozenset({rectify.exceptions.CaseFinalError}), None
    event = spec.event(attempt.event)
    branches = [t for t in event.transitions if t.source == case.state]
    if not branches:
        return frozenset({rectify.exceptions.EventNotAllowedError}), None
    broken: set[type[RectifyError]] = set()
    if attempt.actor.role not in _permitted(spec, event):
        broken.add(rectify.exceptions.RoleNotPermittedError)
    level = -1 if case.escalation is None else case.escalation
    if event.min_escalation is not None and level < event.min_escalation:
        broken.add(rectify.exceptions.EscalationLevelError)  # not escalated far enough yet
    for other in event.not_same_actor_as:
        last = _latest(case.history, other)
        if last is not None and last.actor == attempt.actor.id:
            broken.add(rectify.exceptions.SeparationOfDutiesError)
    if attempt.at.astimezone(dt.UTC) < case.updated_at.astimezone(dt.UTC):  # as instants
        broken.add(rectify.exceptions.OutOfOrderError)
    if not attempt.payload_ok or (event.reason and not (attempt.reason and attempt.reason.strip())):
        broken.add(rectify.exceptions.PayloadError)
    broken |= _evidence_refusals(spec, event, attempt)
    target = None
    if attempt.payload_ok:
        target = next(
            (
                t.target
                for t in branches
                if all(GUARD_ORACLES[g](case, attempt.payload) for g in t.guards)
            ),
            None,
        )
        if target is None:
            broken.add(rectify.exceptions.GuardRefusedError)
    return frozenset(broken), None if broken else target


# --- generators -------------------------------------------------------------------------
# Building a strategy is costly next to drawing from it (hypothesis validates it and works
# out its label), and a state machine draws thousands of times: strategies are built once,
# and an attempt is one composite draw.


@functools.cache
def _one_of(options: tuple[object, ...]) -> st.SearchStrategy[object]:
    return st.sampled_from(options)


def _pick(draw: st.DrawFn, options: Sequence[_T], label: str | None = None) -> _T:
    return cast("_T", draw(_one_of(tuple(options)), label))


@functools.cache
def _between(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@functools.cache
def _orders(items: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.permutations(items)


#: Non-blank text: some visible character, with anything (blanks too) either side; never
#: NUL, which the engine refuses in every text (PostgreSQL cannot store it).
_ANY: Final = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=5
)
_TEXT: Final = st.builds(
    "{}{}{}".format,
    _ANY,
    st.characters(exclude_categories=("Z", "Cc", "Cs")),
    _ANY,
).filter(lambda s: bool(s.strip()))
_MAYBE_TEXT: Final = st.none() | _TEXT
_COIN: Final = st.booleans()
#: A quarter of the time, yes.
_EARLY: Final = st.sampled_from((False, False, False, True))
_DATES: Final = st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31))
_AWARE: Final = st.datetimes(
    dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1), timezones=st.sampled_from(ZONES)
)
#: The rules an attempt may break. A single broken rule is what shows that the engine
#: checks that rule (with two, the other one may be what refused it), so it is common.
FLAWS: Final = (
    "event_unknown",
    "event_elsewhere",
    "role",
    "same_actor",
    "early",
    "naive",
    "payload",
    "evidence",
    "reason",
)
_FLAWS: Final = (
    st.just(frozenset[str]())
    | st.sampled_from(FLAWS).map(lambda flaw: frozenset({flaw}))
    | st.frozensets(st.sampled_from(FLAWS), min_size=2, max_size=3)
)

#: Values of each field type that the payload check must refuse.
INVALID: Final[Mapping[str, tuple[object, ...]]] = {
    "str": ("", "  \n\t", 7, ["x"]),
    "text": ("", " ", 3.5, b"bytes"),
    "phone": ("", "call me", "12", 13800138000),
    "int": ("7", 1.5, True, dt.date(2024, 1, 1)),
    "float": ("1.5", True, [1.0]),
    "bool": ("true", 1, 0),
    "choice": ("__none_of_them__", 0, ""),
    "date": ("2024-13-45", "tomorrow", 20240101, dt.datetime(2024, 1, 1, tzinfo=SHANGHAI)),
    "datetime": ("soon", dt.date(2024, 1, 1), dt.datetime(2024, 1, 1), "2024-01-01T08:00"),
}
_INVALID: Final = {kind: st.sampled_from(values) for kind, values in INVALID.items()}


@functools.cache
def valid_values(field: PayloadField) -> st.SearchStrategy[object]:
    """Return values the payload check must accept for ``field``."""
    match field.type:
        case "str" | "text":
            return _TEXT
        case "phone":
            return st.from_regex(r"\+?[0-9][0-9 -]{4,19}", fullmatch=True)
        case "int":
            return st.integers()
        case "float":
            return st.integers() | st.floats(allow_nan=False, allow_infinity=False)
        case "bool":
            return st.booleans()
        case "choice":
            return st.sampled_from(field.choices)
        case "date":
            return _DATES | _DATES.map(dt.date.isoformat)
        case "datetime":
            return _AWARE | _AWARE.map(dt.datetime.isoformat)
    raise AssertionError(f"no generator for field type {field.type!r}")


def _panel(draw: st.DrawFn, case: Case, *, passing: bool) -> dict[str, object]:
    """Draw a panel (size, votes) that passes ``panel_quorum`` sometimes, or always."""
    if passing:
        expert = case.state == "expert_review"
        size = draw(_between(7 if expert else 3, 15))
        least = -(-2 * size // 3) if expert else size // 2 + 1
        votes = draw(_between(least, size))
    else:
        size = draw(_between(0, 12))
        votes = draw(_between(-1, size + 1))
    return {"panel_size": size, "votes_for": votes}


def draw_payload(
    draw: st.DrawFn, event: EventSpec, case: Case, *, flawed: bool, passing: bool
) -> tuple[dict[str, object], bool]:
    """Draw a payload for ``event``: valid unless ``flawed`` (then valid only by chance)."""
    payload: dict[str, object] = {}
    if "panel_quorum" in event.guards:
        payload.update(_panel(draw, case, passing=passing))
    for field in event.require:
        if field.name not in payload:
            payload[field.name] = draw(valid_values(field))
    for field in event.optional:
        choice = _pick(draw, ("omit", "none", "value"))
        if choice == "value":
            payload[field.name] = draw(valid_values(field))
        elif choice == "none":
            payload[field.name] = None
    if not flawed:
        return payload, True
    fields = (*event.require, *event.optional)
    how = _pick(draw, ("invalid", "missing", "extra") if event.require else ("invalid", "extra"))
    if how == "extra" or not fields:
        declared = {f.name for f in fields}  # an extra field is one the event does not take
        payload[_pick(draw, [n for n in ("note", "Due", "", "remark") if n not in declared])] = "x"
        return payload, False
    if how == "missing":
        field = _pick(draw, event.require)
        if _pick(draw, (False, True)):
            payload[field.name] = None
        else:
            del payload[field.name]
        return payload, False
    field = _pick(draw, fields)
    payload[field.name] = draw(_INVALID[field.type])
    return payload, False


def _draw_event(
    draw: st.DrawFn, spec: WorkflowSpec, case: Case, flaws: frozenset[str], favour: Sequence[str]
) -> str:
    # An event the case's escalation level does not admit yet is a flaw of its own.
    level = -1 if case.escalation is None else case.escalation
    here = [
        e.name
        for e in spec.events
        if case.state in _sources(e)
        and (flaws or e.min_escalation is None or level >= e.min_escalation)
    ]
    elsewhere = [e.name for e in spec.events if e.name not in here]
    if "event_unknown" in flaws or not (here or elsewhere):
        return _pick(draw, UNKNOWN_EVENTS)
    if ("event_elsewhere" in flaws or not here) and elsewhere:
        return _pick(draw, elsewhere)
    # Prefer the happy path, and states this case has not been in, so that cases go deep
    # and off the happy path both.
    visited = {r.target for r in case.history}
    novel = [
        e.name
        for e in spec.events
        if any(t.source == case.state and t.target not in visited for t in e.transitions)
    ]
    preferred = [e for e in favour if e in here]
    pools = [tuple(pool) for pool in (preferred, novel, here) if pool]
    # An event the flaws can break (one with a duty to separate, evidence, a reason).
    breakable = tuple(n for n in here if _breakable(spec.event(n), case, flaws))
    prefer: bool = draw(_COIN)
    return _pick(draw, breakable if breakable and prefer else _pick(draw, pools))


def _breakable(event: EventSpec, case: Case, flaws: frozenset[str]) -> bool:
    duty = any(_latest(case.history, other) for other in event.not_same_actor_as)
    return bool(
        ("same_actor" in flaws and duty)
        or ("evidence" in flaws and event.evidence)
        or ("reason" in flaws and event.reason)
    )


def _draw_actor(
    draw: st.DrawFn,
    spec: WorkflowSpec,
    case: Case,
    known: EventSpec | None,
    flaws: frozenset[str],
) -> Actor:
    """Draw a permitted role and someone the duty rules allow, unless told otherwise."""
    permitted = _permitted(spec, known) if known else spec.role_names
    if "role" in flaws:
        role = _pick(draw, [*(r for r in spec.role_names if r not in permitted), *STRANGER_ROLES])
    else:
        role = _pick(draw, permitted)
    barred = {
        last.actor
        for other in (known.not_same_actor_as if known else ())
        if (last := _latest(case.history, other)) is not None
    }
    if "same_actor" in flaws and barred:
        return Actor(_pick(draw, sorted(barred)), role)
    return Actor(_pick(draw, [p for p in PEOPLE if p not in barred]), role)


def _draw_time(draw: st.DrawFn, case: Case, flaws: frozenset[str]) -> dt.datetime:
    """Draw a time after the last event (or at the same instant), in some time zone."""
    seconds = draw(_between(0, 3 * 86400))
    if "early" in flaws:
        at = case.updated_at - dt.timedelta(seconds=seconds + 1)
    else:
        at = case.updated_at + dt.timedelta(seconds=seconds)
    at = at.astimezone(_pick(draw, ZONES))
    return at.replace(tzinfo=None) if "naive" in flaws else at


def _draw_evidence(
    draw: st.DrawFn, spec: WorkflowSpec, known: EventSpec, flaws: frozenset[str]
) -> tuple[Evidence, ...]:
    """Draw the evidence the event needs, with extra kinds.

    With the ``evidence`` flaw, one needed kind is left out (when there is one) and the
    extras may include kinds the workflow does not declare.
    """
    kinds = list(known.evidence)
    if "evidence" in flaws and kinds:
        dropped = _pick(draw, kinds)
        kinds = [k for k in kinds if k != dropped]
    declared = [k for k, _ in spec.evidence]
    strangers = list(STRANGER_EVIDENCE) if "evidence" in flaws else []  # undeclared kinds
    extra = [*declared, *strangers]
    kinds += [_pick(draw, extra) for _ in range(draw(_between(0, 2)))] if extra else []
    kinds = draw(_orders(tuple(kinds)))
    return tuple(Evidence.of(k, f"{k}-{i}.jpg", f"{k}{i}".encode()) for i, k in enumerate(kinds))


def _draw_reason(draw: st.DrawFn, known: EventSpec, flaws: frozenset[str]) -> str | None:
    if known.reason and "reason" in flaws:
        return _pick(draw, (None, "", "  "))
    return draw(_TEXT if known.reason else _MAYBE_TEXT)


@st.composite
def attempts(
    draw: st.DrawFn,
    spec: WorkflowSpec,
    case: Case,
    *,
    valid: bool = False,
    favour: Sequence[str] = (),
) -> Attempt:
    """Draw one attempt on ``case``, breaking a few rules at random unless ``valid``.

    Each rule to break is a flaw; a flaw that cannot apply (no evidence to leave out, no
    duty to separate) is skipped. A ``valid`` attempt also passes the guards; otherwise the
    guard's verdict is left to chance. ``favour`` names events to prefer (the workflow's
    happy path), so that deep states are reached.
    """
    flaws = frozenset[str]() if valid else draw(_FLAWS)
    name = _draw_event(draw, spec, case, flaws, favour)
    known = spec.event(name) if spec.has_event(name) else None
    actor = _draw_actor(draw, spec, case, known, flaws)
    at = _draw_time(draw, case, flaws)
    if known is None:
        return Attempt(name, actor, at, {}, payload_ok=True, evidence=(), reason=None)
    flawed = "payload" in flaws
    payload, payload_ok = draw_payload(draw, known, case, flawed=flawed, passing=valid)
    evidence = _draw_evidence(draw, spec, known, flaws)
    return Attempt(name, actor, at, payload, payload_ok, evidence, _draw_reason(draw, known, flaws))


def fire(engine: Engine, case: Case, attempt: Attempt) -> rectify.Outcome:
    return engine.fire(
        case,
        attempt.event,
        attempt.actor,
        attempt.at,
        payload=attempt.payload,
        evidence=attempt.evidence,
        reason=attempt.reason,
    )


def _happy_path(spec: WorkflowSpec) -> tuple[str, ...]:
    """Return the events that move a case along the workflow's budget path."""
    if spec.budget is None:
        return ()
    steps = set(itertools.pairwise(spec.budget.path))
    return tuple(
        e.name for e in spec.events if any((t.source, t.target) in steps for t in e.transitions)
    )


def _fingerprint(case: Case) -> tuple[object, ...]:
    """Return a deep, plain copy of everything in ``case``."""
    records = tuple(
        (
            *attrs.astuple(r, recurse=False, filter=lambda a, _: a.name != "payload"),
            dict(r.payload),
        )
        for r in case.history
    )
    plain = attrs.astuple(
        case, recurse=False, filter=lambda a, _: a.name not in {"data", "history"}
    )
    return (*plain, dict(case.data), records)


# --- the state machine ------------------------------------------------------------------

_OPEN_DATA: Final = st.dictionaries(
    st.sampled_from(("category", "address", "description", "floors", "found_on", "due")),
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
    | _DATES,
    max_size=4,
)


def _date_fields(rule: object) -> list[str]:
    """Return the fields a deadline rule reads its date from."""
    if isinstance(rule, FieldDate):
        return [rule.field]
    if isinstance(rule, Earliest):
        return [f for sub in rule.rules for f in _date_fields(sub)]
    return []


@functools.cache
def _open_data(spec: WorkflowSpec) -> st.SearchStrategy[Mapping[str, object]]:
    """Return case data to open with: a date where the initial state's deadline reads one."""
    needed = _date_fields(spec.state(spec.initial).deadline)
    if not needed:
        return _OPEN_DATA
    dates = st.fixed_dictionaries(dict.fromkeys(needed, _DATES))
    return st.tuples(_OPEN_DATA, dates).map(lambda both: {**both[0], **both[1]})


class CaseMachine(RuleBasedStateMachine):
    """Cases of one workflow, opened and fired at at random; subclassed per workflow file."""

    engine: ClassVar[Engine]
    case_ids: ClassVar[Bundle[str]] = Bundle("case_ids")

    def __init__(self) -> None:
        super().__init__()
        self.spec = self.engine.spec
        self.favour = _happy_path(self.spec)
        self.merged_states = [s.name for s in self.spec.states if s.outcome == "merged"]
        self.cases: dict[str, Case] = {}
        self.clock = START
        # Refusals of the last step: (case id, the case before, its deep copy before).
        self.refused: list[tuple[str, Case, tuple[object, ...]]] = []
        self.escalation: dict[str, int] = {}
        self.checked: dict[str, Case] = {}

    # -- rules --------------------------------------------------------------------------

    @initialize(target=case_ids, data=st.data())
    def open_first_case(self, data: st.DataObject) -> str | MultipleResults[str]:
        return self._open(data, allow_bad=False)

    # No rule has a precondition: with swarm testing turning rules off, a precondition
    # that fails too often makes hypothesis abort the example. A rule that cannot do its
    # own work fires an event instead.

    @rule(target=case_ids, data=st.data())
    def open_case(self, data: st.DataObject) -> str | MultipleResults[str]:
        if len(self.cases) >= MAX_CASES:
            self._fire(data.draw(st.sampled_from(sorted(self.cases)), label="case"), data)
            return multiple()
        return self._open(data, allow_bad=True)

    def _open(self, data: st.DataObject, *, allow_bad: bool) -> str | MultipleResults[str]:
        self.refused = []
        case_id = f"c{len(self.cases)}"
        actor = Actor(
            data.draw(st.sampled_from(PEOPLE), label="opener"),
            data.draw(st.sampled_from(self.spec.role_names), label="opener role"),
        )
        self.clock += dt.timedelta(minutes=data.draw(st.integers(0, 3 * 24 * 60), label="delay"))
        fields: dict[str, object] = dict(data.draw(_open_data(self.spec), label="data"))
        bad = allow_bad and data.draw(st.integers(0, 3), label="bad data") == 0
        if bad:
            fields["photos"] = ["not", "a", "scalar"]
        repeats = None
        if self.cases:
            repeats = data.draw(st.none() | st.sampled_from(sorted(self.cases)), label="recurs")
        earlier = self.cases.get(repeats) if repeats else None
        reopens = earlier is not None and not self.spec.state(earlier.state).final
        refusals: set[type[RectifyError]] = {rectify.exceptions.PayloadError} if bad else set()
        refusals |= {RectifyError} if reopens else set()
        try:
            outcome = self.engine.open(case_id, fields, actor, self.clock, recurrence_of=earlier)
        except RectifyError as exc:
            refusal: RectifyError | None = exc
        else:
            refusal = None
        if refusal is not None:
            assert type(refusal) in refusals, f"{refusal!r}; expected {refusals}"
            return multiple()
        assert not refusals, f"opened, but expected one of {refusals}"
        case = outcome.case
        assert (case.id, case.state, case.seq, case.opened_at) == (
            case_id,
            self.spec.initial,
            0,
            self.clock,
        )
        assert case.data == fields
        assert case.recurrence_of == (earlier.id if earlier else None)
        assert case.recurrence_count == (earlier.recurrence_count + 1 if earlier else 0)
        self.cases[case_id] = case
        return case_id

    @rule(case_id=case_ids, data=st.data())
    def fire_event(self, case_id: str, data: st.DataObject) -> None:
        self._fire(case_id, data)

    # Firing is most of what happens to a case; a second rule doubles its share of steps.
    @rule(case_id=case_ids, data=st.data())
    def fire_another_event(self, case_id: str, data: st.DataObject) -> None:
        self._fire(case_id, data)

    def _fire(self, case_id: str, data: st.DataObject) -> None:
        self.refused = []
        case = self.cases[case_id]
        attempt = data.draw(attempts(self.spec, case, favour=self.favour), label="attempt")
        refusals, target = expected(self.spec, case, attempt)
        before = _fingerprint(case)
        try:
            outcome = fire(self.engine, case, attempt)
        except (rectify.EventRefusedError, rectify.NaiveDatetimeError) as exc:
            refusal: RectifyError | None = exc
        else:
            refusal = None
        if refusal is not None:
            assert type(refusal) in refusals, f"{refusal!r}; expected one of {refusals}"
            if isinstance(refusal, rectify.EventRefusedError):
                where = (refusal.case_id, refusal.state, refusal.event)
                assert where == (case.id, case.state, attempt.event)
            self.refused.append((case_id, case, before))
            return
        assert not refusals, f"accepted, but expected one of {refusals}"
        new = outcome.case
        record = outcome.record
        assert new.state == record.target == target
        assert new.history[:-1] == case.history
        assert (record.seq, record.event, record.source) == (
            case.seq + 1,
            attempt.event,
            case.state,
        )
        assert (record.actor, record.role, record.at) == (
            attempt.actor.id,
            attempt.actor.role,
            attempt.at,
        )
        assert record.evidence == attempt.evidence
        assert record.reason == attempt.reason
        assert set(record.payload) == {k for k, v in attempt.payload.items() if v is not None}
        assert new.data == {**case.data, **record.payload}
        assert (new.id, new.workflow, new.version) == (case.id, case.workflow, case.version)
        assert (new.recurrence_of, new.recurrence_count) == (
            case.recurrence_of,
            case.recurrence_count,
        )
        event(f"{self.spec.id}: reached {new.state}")
        self.cases[case_id] = new

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def refusals_change_nothing(self) -> None:
        for case_id, case, before in self.refused:
            assert self.cases[case_id] is case
            assert _fingerprint(case) == before

    @invariant()
    def histories_verify_and_replay(self) -> None:
        for case_id, case in self.cases.items():
            if self.checked.get(case_id) is case:
                continue  # unchanged since it was last checked
            rectify.engine.verify_history(case)
            assert rectify.engine.replay(self.engine, case.history) == case
            self.checked[case_id] = case

    @invariant()
    def sequence_and_time_run_forward(self) -> None:
        for case in self.cases.values():
            assert [r.seq for r in case.history] == list(range(len(case.history)))
            times = [r.at for r in case.history]
            assert all(a <= b for a, b in itertools.pairwise(times))

    @invariant()
    def roles_permitted_and_nothing_after_final(self) -> None:
        for case in self.cases.values():
            assert case.history[0].source is None
            for record in case.history[1:]:
                assert not self.spec.state(record.source or "").final, record
                if not record.event.startswith("@"):
                    permitted = _permitted(self.spec, self.spec.event(record.event))
                    assert record.role in permitted, record
            if self.spec.state(case.state).final:
                assert case.deadline is None

    @invariant()
    def duties_are_separated(self) -> None:
        for case in self.cases.values():
            history = case.history
            for index, record in enumerate(history):
                if record.event.startswith("@"):
                    continue
                earlier = history[:index]
                for other in self.spec.event(record.event).not_same_actor_as:
                    last = _latest(earlier, other)
                    assert last is None or last.actor != record.actor, record
                if record.target in VERIFIED_STATES and record.source != record.target:
                    fixed = _latest(earlier, "report_fixed")
                    assert fixed is not None, record
                    assert fixed.actor != record.actor, record

    @invariant()
    def closed_only_through_verification(self) -> None:
        tails = RECTIFIED_TAILS[self.spec.id]
        for case in self.cases.values():
            if _is_rectified(self.spec, case.state):
                # The engine's own records (a merge into this case) are not steps of the path.
                events = tuple(r.event for r in case.history if not r.event.startswith("@"))
                assert any(events[-len(t) :] == t for t in tails), events

    @invariant()
    def escalation_never_falls(self) -> None:
        for case_id, case in self.cases.items():
            level = -1 if case.escalation is None else case.escalation
            assert level >= self.escalation.get(case_id, -1)
            self.escalation[case_id] = level
            raised = [
                self.spec.event(r.event).escalate_to
                for r in case.history
                if not r.event.startswith("@")
            ]
            assert level >= max((n for n in raised if n is not None), default=-1)


@st.composite
def _merge_pairs(draw: st.DrawFn, spec: WorkflowSpec, cases: Mapping[str, Case]) -> tuple[str, str]:
    """Draw two cases to merge, mostly ones that can be (a fresh report, an open case)."""
    merging = {
        t.source
        for e in spec.events
        for t in e.transitions
        if spec.state(t.target).outcome == "merged"
    }
    ids = sorted(cases)
    fresh = [i for i in ids if cases[i].state in merging]
    prefer: bool = draw(_COIN)
    duplicate = _pick(draw, fresh if fresh and prefer else ids)
    others = [i for i in ids if i != duplicate]
    still_open = [i for i in others if not spec.state(cases[i].state).final]
    prefer = draw(_COIN)
    return duplicate, _pick(draw, still_open if still_open and prefer else others)


@st.composite
def _merge_inputs(
    draw: st.DrawFn, spec: WorkflowSpec, permitted: Sequence[str], last: dt.datetime
) -> tuple[Actor, dt.datetime, str]:
    """Draw who merges, when (mostly after ``last``) and why (sometimes not saying)."""
    # Mostly a role that may mark a duplicate, so that merges happen.
    roles = [*spec.role_names, *STRANGER_ROLES]
    prefer: bool = draw(_COIN)
    if permitted and prefer:
        roles = list(permitted)
    actor = Actor(_pick(draw, PEOPLE), _pick(draw, roles))
    seconds = draw(_between(0, 86400))
    at = last + dt.timedelta(seconds=-seconds - 1 if draw(_EARLY) else seconds)
    return actor, at, _pick(draw, ("same hydrant, reported twice", ""))


class MergingCaseMachine(CaseMachine):
    """Adds merging duplicates, for workflows with a state of outcome ``merged``."""

    @rule(case_id=CaseMachine.case_ids, data=st.data())
    def merge_cases(self, case_id: str, data: st.DataObject) -> None:
        if len(self.cases) < 2:  # a merge takes two
            self._fire(case_id, data)
            return
        self.refused = []
        duplicate_id, into_id = data.draw(_merge_pairs(self.spec, self.cases), label="pair")
        duplicate, into = self.cases[duplicate_id], self.cases[into_id]
        merging = next(
            (
                e
                for e in self.spec.events
                if any(
                    t.source == duplicate.state and t.target in self.merged_states
                    for t in e.transitions
                )
            ),
            None,
        )
        permitted = _permitted(self.spec, merging) if merging else ()
        last = max(duplicate.updated_at, into.updated_at)
        actor, at, reason = data.draw(_merge_inputs(self.spec, permitted, last), label="merge")

        refusals: set[type[RectifyError]] = set()
        if self.spec.state(into.state).final:
            refusals.add(rectify.exceptions.CaseFinalError)
        if at < into.updated_at:
            refusals.add(rectify.exceptions.OutOfOrderError)
        if merging is None:
            refusals.add(RectifyError)
        else:
            fields = {f.name for f in (*merging.require, *merging.optional)}
            payload = {"duplicate_of": into.id} if "duplicate_of" in fields else {}
            ok = all(f.name in payload for f in merging.require)
            attempt = Attempt(merging.name, actor, at, payload, ok, (), reason)
            refusals |= expected(self.spec, duplicate, attempt)[0]
        before = [
            (duplicate_id, duplicate, _fingerprint(duplicate)),
            (into_id, into, _fingerprint(into)),
        ]
        try:
            merged, kept = self.engine.merge(duplicate, into, actor, at, reason=reason)
        except RectifyError as exc:
            refusal: RectifyError | None = exc
        else:
            refusal = None
        if refusal is not None:
            assert type(refusal) in refusals, f"{refusal!r}; expected one of {refusals}"
            event(f"merge refused: {sorted(r.__name__ for r in refusals)}")
            self.refused.extend(before)
            return
        assert not refusals, f"merged, but expected one of {refusals}"
        assert merged.case.state in self.merged_states
        assert merged.case.duplicate_of == into.id
        assert kept.case.history[:-1] == into.history
        assert kept.case.state == into.state
        note = kept.record
        assert (note.event, note.payload["duplicate"], note.payload["head"]) == (
            "@merge",
            duplicate.id,
            merged.record.digest,
        )
        event(f"{self.spec.id}: merged")
        self.cases[duplicate_id] = merged.case
        self.cases[into_id] = kept.case


def _test_case(path: Path) -> type[unittest.TestCase]:
    engine = _engine(path)
    spec = engine.spec
    assert spec.id in RECTIFIED_TAILS, (
        f"{path.name}: say in RECTIFIED_TAILS how a {spec.id} case may reach a rectified state"
    )
    assert {g for e in spec.events for g in e.guards} <= set(GUARD_ORACLES)
    merges = any(s.outcome == "merged" for s in spec.states)
    base = MergingCaseMachine if merges else CaseMachine
    machine: type[CaseMachine] = type(f"{spec.id.title()}Machine", (base,), {"engine": engine})
    test_case = machine.TestCase
    test_case.settings = settings(stateful_step_count=STEPS)
    return test_case


for _path in WORKFLOW_FILES:
    globals()[f"Test{_engine(_path).spec.id.title()}Cases"] = _test_case(_path)


def test_every_workflow_file_is_covered() -> None:
    assert {_engine(p).spec.id for p in WORKFLOW_FILES} >= {"hazard", "immediate", "major"}


# --- a valid walk replays exactly -------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=[p.stem for p in WORKFLOW_FILES])
@given(data=st.data())
def test_a_walk_of_valid_events_replays_exactly(path: Path, data: st.DataObject) -> None:
    engine = _engine(path)
    spec = engine.spec
    opener = Actor(data.draw(st.sampled_from(PEOPLE)), data.draw(st.sampled_from(spec.role_names)))
    case = engine.open("walk", data.draw(_open_data(spec)), opener, START).case
    for _ in range(data.draw(st.integers(0, 25), label="steps")):
        if spec.state(case.state).final:
            break
        attempt = data.draw(attempts(spec, case, valid=True), label="attempt")
        refusals, target = expected(spec, case, attempt)
        assert not refusals  # the walk makes valid attempts only
        case = fire(engine, case, attempt).case
        assert case.state == target
    rectify.engine.verify_history(case)
    assert rectify.engine.replay(engine, case.history) == case
