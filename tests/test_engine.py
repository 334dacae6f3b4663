"""The case engine: opening, firing, refusing, binding, threads, recurrence and merging.

The lifecycle scripts and helpers at the top are also used by ``test_history`` and
``test_replay``. Dates are in April-June 2024 on a ``FakeCalendar`` that mirrors that year's
Qingming holiday: Thursday 4 and Friday 5 April off, Sunday 7 April a make-up workday.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

import attrs
import pytest

import rectify
from rectify import (
    Actor,
    Case,
    Engine,
    EventOption,
    EventRefusedError,
    Evidence,
    NaiveDatetimeError,
    Outcome,
    RectifyError,
    WorkflowDefinitionError,
)
from rectify.engine import (
    DeadlineCleared,
    DeadlineSet,
    Effect,
    Escalated,
    GuardContext,
    NoticeDue,
    verify_history,
)
from rectify.exceptions import (
    CaseFinalError,
    EventNotAllowedError,
    EvidenceMissingError,
    GuardRefusedError,
    OutOfOrderError,
    PayloadError,
    RoleNotPermittedError,
    SeparationOfDutiesError,
    UnknownEventError,
)
from rectify.testing import FakeCalendar
from tests.conftest import WORKFLOWS

TZ = ZoneInfo("Asia/Shanghai")
QINGMING = FakeCalendar(
    holidays=[dt.date(2024, 4, 4), dt.date(2024, 4, 5)], workdays=[dt.date(2024, 4, 7)]
)

GRID = Actor("g-1", "grid_worker")
COMMUNITY = Actor("c-1", "community")
INSPECTOR = Actor("c-2", "community")
PROPERTY = Actor("p-1", "property")
TOWN = Actor("t-1", "town_office")
PARTY = Actor("rp-1", "responsible_party")
POLICE = Actor("pol-1", "police")
FIREMAN = Actor("f-1", "fire_station")
REINSPECTOR = Actor("f-2", "fire_station")
GOVERNMENT = Actor("gov-1", "government")

HOSE_DATA: Mapping[str, object] = {
    "community": "Xinhe",
    "address": "Building 3, 12 Xinhe Road",
    "category": "FAC.HOSE",
    "floors": 6,
    "found_on": dt.date(2024, 4, 2),
}


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """Return a time in 2024, Asia/Shanghai."""
    return dt.datetime(2024, month, day, hour, minute, tzinfo=TZ)


def evidence(*kinds: str) -> tuple[Evidence, ...]:
    return tuple(Evidence.of(kind, f"{kind}.jpg", kind.encode()) for kind in kinds)


@attrs.frozen
class Step:
    """One event of a scripted lifecycle."""

    event: str
    actor: Actor
    at: dt.datetime
    payload: Mapping[str, object] = attrs.field(factory=dict)
    evidence: tuple[str, ...] = ()
    reason: str | None = None


def fire(engine: Engine, case: Case, step: Step) -> Outcome:
    return engine.fire(
        case,
        step.event,
        step.actor,
        step.at,
        payload=step.payload,
        evidence=evidence(*step.evidence),
        reason=step.reason,
    )


def run_steps(engine: Engine, case: Case, steps: Sequence[Step]) -> Case:
    """Fire every step in turn and return the last case."""
    for step in steps:
        case = fire(engine, case, step).case
    return case


@functools.cache
def engine(name: str) -> Engine:
    """Return an engine for a shipped workflow on the Qingming calendar."""
    return Engine(rectify.load_workflow(WORKFLOWS / f"{name}.yaml"), calendar=QINGMING)


def workflow_text(name: str) -> str:
    return (WORKFLOWS / f"{name}.yaml").read_text(encoding="utf-8")


# --- the scripted lifecycles ------------------------------------------------------------

HAZARD_OPENED = at(4, 2, 9)
HAZARD_PATH: tuple[Step, ...] = (
    Step(
        "assign",
        COMMUNITY,
        at(4, 3),
        {"responsible_party": "Sunshine Property", "measures": "Refit hoses", "due": "2024-04-30"},
    ),
    Step(
        "plan",
        PROPERTY,
        at(4, 8),
        {"measures": "Buy and fit 12 hoses", "due": dt.date(2024, 4, 26)},
        ("plan_document",),
    ),
    Step("extend", TOWN, at(4, 20), {"due": "2024-05-10"}, reason="hoses back-ordered"),
    Step("report_fixed", PROPERTY, at(5, 6), {"summary": "12 hoses fitted"}, ("photo_after",)),
    Step("verify", INSPECTOR, at(5, 8), evidence=("inspection_record",)),
    Step("close", INSPECTOR, at(5, 9)),
)

IMMEDIATE_OPENED = at(4, 2, 9)
ON_THE_SPOT_PATH: tuple[Step, ...] = (
    Step("correct_on_spot", GRID, at(4, 2, 9, 10), evidence=("photo_before", "photo_after")),
    Step("close", GRID, at(4, 3)),
)
REFUSAL_PATH: tuple[Step, ...] = (
    Step(
        "refuse",
        GRID,
        at(4, 2, 9, 15),
        {"refusal": "the owner will not move the car"},
        ("photo_before", "refusal_record"),
    ),
    Step("refer", GRID, at(4, 2, 11), {"agency": "police"}),
    Step(
        "record_order",
        POLICE,
        at(4, 3),
        {
            "organ": "Xinhe Police Station",
            "document_number": "Xinhe [2024] 17",
            "order_kind": "deadline_correction",
            "due": "2024-04-10",
        },
        ("order_document",),
    ),
    Step("comply", PARTY, at(4, 9), evidence=("photo_after",)),
    Step("verify", POLICE, at(4, 10)),
)

MAJOR_OPENED = at(4, 2, 9)
DETERMINATION: Mapping[str, object] = {
    "panel_size": 3,
    "votes_for": 2,
    "standard": "GB35181-2017",
}
MAJOR_PATH: tuple[Step, ...] = (
    Step("determine", FIREMAN, at(4, 8), DETERMINATION, ("determination_record",)),
    Step(
        "list",
        GOVERNMENT,
        at(4, 10),
        {"due": "2024-06-30", "supervisor": "Deputy town head"},
        ("listing_order",),
    ),
    Step("report_fixed", PARTY, at(6, 20), {"summary": "Shop moved out"}, ("photo_after",)),
    Step("reinspect", REINSPECTOR, at(6, 24), evidence=("inspection_record",)),
    Step("close_case", REINSPECTOR, at(6, 26)),
    Step("delist", GOVERNMENT, at(6, 28)),
)


def open_hazard(case_id: str = "H-1", when: dt.datetime = HAZARD_OPENED) -> Case:
    return engine("hazard").open(case_id, HOSE_DATA, GRID, when).case


def open_immediate(case_id: str = "I-1") -> Case:
    data = {"category": "PAS.LANE", "address": "Lane behind building 3"}
    return engine("immediate").open(case_id, data, GRID, IMMEDIATE_OPENED).case


def open_major(case_id: str = "M-1") -> Case:
    data = {"category": "MIX.SHOP", "address": "Ground floor, building 9"}
    return engine("major").open(case_id, data, FIREMAN, MAJOR_OPENED).case


def hazard_at(event: str, case_id: str = "H-1") -> Case:
    """Return a hazard case just before ``event`` of the scripted path."""
    steps = HAZARD_PATH[: [s.event for s in HAZARD_PATH].index(event)]
    return run_steps(engine("hazard"), open_hazard(case_id), steps)


def closed_hazard(case_id: str = "H-1") -> Case:
    return run_steps(engine("hazard"), open_hazard(case_id), HAZARD_PATH)


# --- opening a case ---------------------------------------------------------------------


def test_open_puts_the_case_in_the_initial_state_with_its_data_and_first_deadline() -> None:
    outcome = engine("hazard").open("H-1", HOSE_DATA, GRID, HAZARD_OPENED)
    case = outcome.case
    assert (case.id, case.workflow, case.version, case.state) == ("H-1", "hazard", 1, "discovered")
    assert dict(case.data) == dict(HOSE_DATA)
    # Tuesday 2 April + 3 working days: Wed 3, (Qingming 4-6 off), Sun 7 make-up, Mon 8.
    assert case.deadline == dt.date(2024, 4, 8)
    assert outcome.effects == (DeadlineSet("H-1", "discovered", dt.date(2024, 4, 8)),)
    assert (case.escalation, case.recurrence_of, case.duplicate_of, case.recurrence_count) == (
        None,
        None,
        None,
        0,
    )


def test_open_writes_an_open_record_that_starts_the_chain() -> None:
    case = open_hazard()
    (record,) = case.history
    assert (record.seq, record.event, record.source, record.target) == (
        0,
        "@open",
        None,
        "discovered",
    )
    assert (record.actor, record.role, record.at) == ("g-1", "grid_worker", HAZARD_OPENED)
    assert dict(record.payload) == {
        "case_id": "H-1",
        "workflow": "hazard",
        "version": 1,
        "data": dict(HOSE_DATA),
    }
    assert (record.evidence, record.reason, record.prev) == ((), None, "")
    assert re.fullmatch(r"[0-9a-f]{64}", record.digest)
    assert (case.seq, case.opened_at, case.updated_at) == (0, HAZARD_OPENED, HAZARD_OPENED)
    verify_history(case)


@pytest.mark.parametrize(
    ("opened", "calendar", "due"),
    [
        pytest.param(at(4, 9), FakeCalendar(), dt.date(2024, 4, 12), id="within-a-week"),
        pytest.param(at(4, 12), FakeCalendar(), dt.date(2024, 4, 17), id="across-a-weekend"),
        pytest.param(
            at(4, 10),
            FakeCalendar(holidays=[dt.date(2024, 4, 11)]),
            dt.date(2024, 4, 16),  # Fri 12, Mon 15, Tue 16
            id="across-a-holiday-and-a-weekend",
        ),
        pytest.param(
            at(4, 3),
            FakeCalendar(holidays=[dt.date(2024, 4, 4), dt.date(2024, 4, 5)]),
            dt.date(2024, 4, 10),  # Mon 8, Tue 9, Wed 10
            id="across-a-holiday-without-make-up-day",
        ),
        pytest.param(
            at(4, 3), QINGMING, dt.date(2024, 4, 9), id="with-a-make-up-workday"
        ),  # Sun 7, Mon 8, Tue 9,
        pytest.param(at(4, 13), FakeCalendar(), dt.date(2024, 4, 17), id="opened-on-a-saturday"),
    ],
)
def test_open_counts_the_discovered_deadline_in_working_days(
    opened: dt.datetime, calendar: FakeCalendar, due: dt.date
) -> None:
    spec = engine("hazard").spec
    case = Engine(spec, calendar=calendar).open("H-1", HOSE_DATA, GRID, opened).case
    assert case.deadline == due


def test_open_counts_from_the_date_in_shanghai_not_the_date_in_utc() -> None:
    # 17:00 UTC on Thursday 11 April is 01:00 on Friday 12 April in Shanghai.
    late = dt.datetime(2024, 4, 11, 17, 0, tzinfo=dt.UTC)
    case = Engine(engine("hazard").spec, calendar=FakeCalendar()).open("H-1", {}, GRID, late).case
    assert case.deadline == dt.date(2024, 4, 17)


def test_open_refuses_a_naive_datetime() -> None:
    with pytest.raises(NaiveDatetimeError, match="no timezone"):
        engine("hazard").open("H-1", HOSE_DATA, GRID, dt.datetime(2024, 4, 2, 9))


@pytest.mark.parametrize(
    ("value", "kind"),
    [([1, 2], "list"), ({"a": 1}, "dict"), ({"x"}, "set"), (b"raw", "bytes")],
)
def test_open_refuses_data_that_is_not_scalar(value: object, kind: str) -> None:
    with pytest.raises(PayloadError) as caught:
        engine("hazard").open("H-1", {"address": "x", "extra": value}, GRID, HAZARD_OPENED)
    err = caught.value
    assert (err.case_id, err.state, err.event, err.field) == ("H-1", "discovered", "@open", "extra")
    assert err.problem == f"must be text, a number, a date or a boolean, not {kind}"


def test_open_without_a_calendar_cannot_count_working_days() -> None:
    bare = Engine(engine("hazard").spec)
    with pytest.raises(rectify.exceptions.DeadlineError, match="working-day calendar"):
        bare.open("H-1", HOSE_DATA, GRID, HAZARD_OPENED)


# --- the shipped lifecycles -------------------------------------------------------------


def test_hazard_goes_from_discovered_to_closed_with_its_effects_at_each_step() -> None:
    expected: list[tuple[str, tuple[Effect, ...]]] = [
        (
            "assigned",
            (
                # Wed 3 April + 5 working days: Sun 7, Mon 8, 9, 10, Thu 11.
                DeadlineSet("H-1", "assigned", dt.date(2024, 4, 11)),
                NoticeDue("H-1", "rectification_slip", 1, "assign"),
            ),
        ),
        ("planned", (DeadlineSet("H-1", "planned", dt.date(2024, 4, 26)),)),  # the plan's due
        ("planned", (DeadlineSet("H-1", "planned", dt.date(2024, 5, 10)),)),  # the due
        ("fixed", (DeadlineSet("H-1", "fixed", dt.date(2024, 5, 9)),)),  # Mon 6 May + 3
        ("verified", (DeadlineSet("H-1", "verified", dt.date(2024, 5, 10)),)),  # Wed 8 + 2
        ("closed", (DeadlineCleared("H-1", "closed"),)),
    ]
    case = open_hazard()
    for step, (state, effects) in zip(HAZARD_PATH, expected, strict=True):
        outcome = fire(engine("hazard"), case, step)
        assert (step.event, outcome.case.state, outcome.effects) == (step.event, state, effects)
        assert outcome.case.deadline == next(
            (e.due for e in effects if isinstance(e, DeadlineSet)), None
        )
        assert outcome.record.seq == case.seq + 1
        case = outcome.case
    assert engine("hazard").is_final(case)
    assert [r.event for r in case.history] == ["@open", *(s.event for s in HAZARD_PATH)]
    assert dict(case.data) == {
        **HOSE_DATA,
        "responsible_party": "Sunshine Property",
        "measures": "Buy and fit 12 hoses",
        "due": dt.date(2024, 5, 10),  # the approved extension replaced the planned 26 April
        "summary": "12 hoses fitted",
    }
    verify_history(case)


def test_fire_records_the_event_its_actor_payload_evidence_and_reason() -> None:
    case = hazard_at("extend")
    outcome = fire(engine("hazard"), case, HAZARD_PATH[2])
    record = outcome.record
    assert (record.seq, record.event, record.source, record.target) == (
        3,
        "extend",
        "planned",
        "planned",
    )
    assert (record.actor, record.role, record.at) == ("t-1", "town_office", at(4, 20))
    assert dict(record.payload) == {"due": dt.date(2024, 5, 10)}  # normalised to a date
    assert record.reason == "hoses back-ordered"
    assert record.prev == case.history[-1].digest
    plan_record = case.history[2]
    assert plan_record.evidence == evidence("plan_document")


def test_immediate_case_corrected_on_the_spot_is_closed_the_same_way() -> None:
    outcome = engine("immediate").open("I-1", {"category": "PAS.LANE"}, GRID, IMMEDIATE_OPENED)
    assert (outcome.case.state, outcome.effects) == (
        "found",
        (DeadlineSet("I-1", "found", dt.date(2024, 4, 2)),),  # calendar_days: 0, the same day
    )
    expected = [
        ("corrected", (DeadlineSet("I-1", "corrected", dt.date(2024, 4, 3)),)),
        ("closed", (DeadlineCleared("I-1", "closed"),)),
    ]
    case = outcome.case
    for step, (state, effects) in zip(ON_THE_SPOT_PATH, expected, strict=True):
        outcome = fire(engine("immediate"), case, step)
        assert (step.event, outcome.case.state, outcome.effects) == (step.event, state, effects)
        case = outcome.case
    assert case.escalation is None
    assert case.history[1].evidence == evidence("photo_before", "photo_after")
    verify_history(case)


def test_immediate_refusal_is_referred_escalated_ordered_complied_and_verified() -> None:
    expected = [
        ("refused", (DeadlineSet("I-2", "refused", dt.date(2024, 4, 2)),)),
        (
            "referred",
            (
                # Tue 2 April + 3 working days: Wed 3, Sun 7 (make-up), Mon 8.
                DeadlineSet("I-2", "referred", dt.date(2024, 4, 8)),
                Escalated("I-2", 1, 2),
            ),
        ),
        # The earliest of the order's due (10 April) and 10 working days (18 April).
        ("ordered", (DeadlineSet("I-2", "ordered", dt.date(2024, 4, 10)),)),
        ("complied", (DeadlineSet("I-2", "complied", dt.date(2024, 4, 12)),)),
        ("closed", (DeadlineCleared("I-2", "closed"),)),
    ]
    case = open_immediate("I-2")
    escalations: list[int | None] = []
    for step, (state, effects) in zip(REFUSAL_PATH, expected, strict=True):
        outcome = fire(engine("immediate"), case, step)
        assert (step.event, outcome.case.state, outcome.effects) == (step.event, state, effects)
        case = outcome.case
        escalations.append(case.escalation)
    assert escalations == [None, 1, 1, 1, 1]  # rises with the referral and never falls
    assert case.data["organ"] == "Xinhe Police Station"
    assert case.data["order_kind"] == "deadline_correction"
    verify_history(case)


def test_immediate_order_deadline_is_ten_working_days_when_the_order_gives_more() -> None:
    case = run_steps(engine("immediate"), open_immediate(), REFUSAL_PATH[:2])
    late_order = attrs.evolve(
        REFUSAL_PATH[2], payload={**REFUSAL_PATH[2].payload, "due": "2024-06-30"}
    )
    outcome = fire(engine("immediate"), case, late_order)
    # Wed 3 April + 10 working days: 7, 8, 9, 10, 11, 12, 15, 16, 17, Thu 18 April.
    assert outcome.effects == (DeadlineSet("I-1", "ordered", dt.date(2024, 4, 18)),)


def test_major_hazard_goes_from_suspected_to_delisted_with_its_effects() -> None:
    outcome = engine("major").open("M-1", {"category": "MIX.SHOP"}, FIREMAN, MAJOR_OPENED)
    # Tue 2 April + 7 working days: 3, 7, 8, 9, 10, 11, Fri 12 April.
    assert outcome.effects == (DeadlineSet("M-1", "suspected", dt.date(2024, 4, 12)),)
    expected = [
        ("determined", (DeadlineSet("M-1", "determined", dt.date(2024, 4, 11)),)),
        (
            "listed",
            (
                DeadlineSet("M-1", "listed", dt.date(2024, 6, 30)),
                NoticeDue("M-1", "supervision_order", 2, "list"),
            ),
        ),
        ("rectified", (DeadlineSet("M-1", "rectified", dt.date(2024, 6, 25)),)),
        ("reinspected", (DeadlineSet("M-1", "reinspected", dt.date(2024, 7, 1)),)),
        ("case_closed", (DeadlineSet("M-1", "case_closed", dt.date(2024, 7, 3)),)),
        ("delisted", (DeadlineCleared("M-1", "delisted"),)),
    ]
    case = outcome.case
    for step, (state, effects) in zip(MAJOR_PATH, expected, strict=True):
        outcome = fire(engine("major"), case, step)
        assert (step.event, outcome.case.state, outcome.effects) == (step.event, state, effects)
        case = outcome.case
    assert engine("major").spec.state(case.state).outcome == "rectified"
    verify_history(case)


@pytest.mark.parametrize(
    ("size", "votes", "reason"),
    [
        (2, 2, "a determination needs at least 3 people, not 2"),
        (3, 1, "a majority must agree; 1 of 3 did"),
        (4, 2, "a majority must agree; 2 of 4 did"),
        (3, 4, "votes_for (4) must be between 0 and panel_size (3)"),
        (3, -1, "votes_for (-1) must be between 0 and panel_size (3)"),
    ],
)
def test_panel_quorum_refuses_a_determination_without_quorum_or_majority(
    size: int, votes: int, reason: str
) -> None:
    case = open_major()
    step = attrs.evolve(
        MAJOR_PATH[0], payload={**DETERMINATION, "panel_size": size, "votes_for": votes}
    )
    with pytest.raises(GuardRefusedError) as caught:
        fire(engine("major"), case, step)
    err = caught.value
    assert (err.case_id, err.state, err.event, err.guard, err.reason) == (
        "M-1",
        "suspected",
        "determine",
        "panel_quorum",
        reason,
    )
    assert f"guard 'panel_quorum' refused: {reason}" in str(err)


@pytest.mark.parametrize(("size", "votes"), [(3, 2), (3, 3), (5, 3), (9, 5)])
def test_panel_quorum_lets_a_majority_of_at_least_three_determine(size: int, votes: int) -> None:
    step = attrs.evolve(
        MAJOR_PATH[0], payload={**DETERMINATION, "panel_size": size, "votes_for": votes}
    )
    assert fire(engine("major"), open_major(), step).case.state == "determined"


def expert_review() -> Case:
    convene = Step("convene_experts", FIREMAN, at(4, 3), reason="composite elements disputed")
    outcome = fire(engine("major"), open_major(), convene)
    # Wed 3 April + 10 working days: 7, 8, 9, 10, 11, 12, 15, 16, 17, Thu 18 April.
    assert outcome.effects == (DeadlineSet("M-1", "expert_review", dt.date(2024, 4, 18)),)
    return outcome.case


@pytest.mark.parametrize(
    ("size", "votes", "reason"),
    [
        (3, 3, "an expert panel needs at least 7 experts, not 3"),
        (6, 6, "an expert panel needs at least 7 experts, not 6"),
        (7, 4, "two thirds of the panel must agree; 4 of 7 did"),
        (9, 5, "two thirds of the panel must agree; 5 of 9 did"),
    ],
)
def test_panel_quorum_after_expert_review_needs_seven_experts_and_two_thirds(
    size: int, votes: int, reason: str
) -> None:
    case = expert_review()
    step = attrs.evolve(
        MAJOR_PATH[0],
        at=at(4, 15),
        payload={**DETERMINATION, "panel_size": size, "votes_for": votes},
    )
    with pytest.raises(GuardRefusedError) as caught:
        fire(engine("major"), case, step)
    assert (caught.value.state, caught.value.guard, caught.value.reason) == (
        "expert_review",
        "panel_quorum",
        reason,
    )


@pytest.mark.parametrize(("size", "votes"), [(7, 5), (9, 6), (12, 8)])
def test_panel_quorum_after_expert_review_accepts_two_thirds_of_seven_or_more(
    size: int, votes: int
) -> None:
    step = attrs.evolve(
        MAJOR_PATH[0],
        at=at(4, 15),
        payload={**DETERMINATION, "panel_size": size, "votes_for": votes},
    )
    outcome = fire(engine("major"), expert_review(), step)
    # Mon 15 April + 3 working days.
    assert outcome.effects == (DeadlineSet("M-1", "determined", dt.date(2024, 4, 18)),)


# --- refusals ---------------------------------------------------------------------------


def refuse(case: Case, step: Step, workflow: str = "hazard") -> EventRefusedError:
    """Fire ``step`` expecting a refusal; check the case is unchanged and return the error."""
    before = attrs.evolve(case)  # an equal, separately built value
    with pytest.raises(EventRefusedError) as caught:
        fire(engine(workflow), case, step)
    assert case == before
    assert caught.value.case_id == case.id
    assert caught.value.state == case.state
    assert caught.value.event == step.event
    return caught.value


def test_unknown_event_is_refused_with_the_workflows_events() -> None:
    err = refuse(open_hazard(), Step("approve", COMMUNITY, at(4, 3)))
    assert isinstance(err, UnknownEventError)
    names = tuple(e.name for e in engine("hazard").spec.events)
    assert err.known == names
    assert str(err) == (
        "case 'H-1' in state 'discovered': event 'approve' refused: no such event; the "
        f"workflow has: {', '.join(names)}"
    )


def test_event_not_allowed_from_the_state_lists_the_events_allowed_now() -> None:
    err = refuse(open_hazard(), Step("verify", COMMUNITY, at(4, 3)))
    assert isinstance(err, EventNotAllowedError)
    assert err.allowed == ("assign", "mark_duplicate", "dismiss", "refer_major")
    assert str(err).endswith(
        "not allowed in this state; allowed now: assign, mark_duplicate, dismiss, refer_major"
    )


def test_any_event_on_a_closed_case_is_refused_as_final() -> None:
    case = closed_hazard()
    for event in ("close", "assign", "extend"):
        err = refuse(case, Step(event, TOWN, at(5, 10)))
        assert isinstance(err, CaseFinalError)
        assert str(err).endswith("the case is closed (final state)")


def test_role_not_permitted_names_the_role_and_the_roles_that_may() -> None:
    err = refuse(open_hazard(), attrs.evolve(HAZARD_PATH[0], actor=GRID))
    assert isinstance(err, RoleNotPermittedError)
    assert (err.role, err.roles) == ("grid_worker", ("community", "town_office"))
    assert str(err).endswith(
        "role 'grid_worker' may not fire it; roles that may: community, town_office"
    )


def test_guard_refusal_names_the_guard_and_its_reason() -> None:
    step = attrs.evolve(MAJOR_PATH[0], payload={**DETERMINATION, "panel_size": 2})
    err = refuse(open_major(), step, "major")
    assert isinstance(err, GuardRefusedError)
    assert (err.guard, err.reason) == (
        "panel_quorum",
        "a determination needs at least 3 people, not 2",
    )


ASSIGN = HAZARD_PATH[0]


@pytest.mark.parametrize(
    ("payload", "field", "problem"),
    [
        pytest.param(
            {"responsible_party": "P", "measures": "M"}, "due", "is required (date)", id="missing"
        ),
        pytest.param(
            {**ASSIGN.payload, "due": None}, "due", "is required (date)", id="required-none"
        ),
        pytest.param(
            {**ASSIGN.payload, "responsible_party": ""},
            "responsible_party",
            "must be non-empty text",
            id="str-empty",
        ),
        pytest.param(
            {**ASSIGN.payload, "measures": "  \n"},
            "measures",
            "must be non-empty text",
            id="text-blank",
        ),
        pytest.param(
            {**ASSIGN.payload, "measures": 7},
            "measures",
            "must be non-empty text",
            id="text-not-a-string",
        ),
        pytest.param(
            {**ASSIGN.payload, "due": "not a date"},
            "due",
            "must be a date such as 2024-06-30, not 'not a date'",
            id="date-not-a-date",
        ),
        pytest.param(
            {**ASSIGN.payload, "due": at(4, 30)},
            "due",
            f"must be a date such as 2024-06-30, not {at(4, 30)!r}",
            id="date-given-a-datetime",
        ),
        pytest.param(
            {**ASSIGN.payload, "colour": "red"},
            "colour",
            "is not a field of this event; fields: responsible_party, measures, due, inspectors, "
            "witness",
            id="unknown-field",
        ),
    ],
)
def test_assign_refuses_a_bad_payload(
    payload: Mapping[str, object], field: str, problem: str
) -> None:
    err = refuse(open_hazard(), attrs.evolve(ASSIGN, payload=payload))
    assert isinstance(err, PayloadError)
    assert (err.field, err.problem) == (field, problem)
    assert str(err).endswith(f"payload field {field!r} {problem}")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (True, "must be a whole number, not True"),
        (3.0, "must be a whole number, not 3.0"),
        ("3", "must be a whole number, not '3'"),
    ],
)
def test_int_field_refuses_a_bool_a_float_and_text(value: object, problem: str) -> None:
    step = attrs.evolve(MAJOR_PATH[0], payload={**DETERMINATION, "panel_size": value})
    err = refuse(open_major(), step, "major")
    assert isinstance(err, PayloadError)
    assert (err.field, err.problem) == ("panel_size", problem)


def test_choice_field_refuses_a_value_not_among_its_choices() -> None:
    case = run_steps(engine("immediate"), open_immediate(), REFUSAL_PATH[:1])
    err = refuse(case, attrs.evolve(REFUSAL_PATH[1], payload={"agency": "army"}), "immediate")
    assert isinstance(err, PayloadError)
    assert (err.field, err.problem) == (
        "agency",
        "must be one of: police, fire_station (got 'army')",
    )


def test_event_without_fields_refuses_any_field() -> None:
    step = Step("close", INSPECTOR, at(5, 9), {"note": "done"})
    err = refuse(hazard_at("close"), step)
    assert isinstance(err, PayloadError)
    assert (err.field, err.problem) == ("note", "is not a field of this event; fields: none")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_event_that_must_say_why_refuses_a_missing_or_blank_reason(reason: str | None) -> None:
    step = Step("wait", TOWN, at(4, 9), {"waiting_for": "water company"}, reason=reason)
    err = refuse(hazard_at("extend"), step)
    assert isinstance(err, PayloadError)
    assert (err.field, err.problem) == ("reason", "is required: this event must say why")


def test_missing_evidence_is_refused_with_the_kinds_missing() -> None:
    case = hazard_at("plan")
    err = refuse(case, attrs.evolve(HAZARD_PATH[1], evidence=()))
    assert isinstance(err, EvidenceMissingError)
    assert err.missing == ("plan_document",)
    wrong_kind = refuse(case, attrs.evolve(HAZARD_PATH[1], evidence=("photo_after",)))
    assert isinstance(wrong_kind, EvidenceMissingError)
    assert wrong_kind.missing == ("plan_document",)
    both = refuse(open_immediate(), attrs.evolve(ON_THE_SPOT_PATH[0], evidence=()), "immediate")
    assert isinstance(both, EvidenceMissingError)
    assert both.missing == ("photo_before", "photo_after")
    assert str(both).endswith("evidence missing: photo_before, photo_after")


def test_whoever_reported_the_fix_may_not_verify_it() -> None:
    case = hazard_at("report_fixed")
    reported = fire(engine("hazard"), case, attrs.evolve(HAZARD_PATH[3], actor=COMMUNITY)).case
    err = refuse(reported, attrs.evolve(HAZARD_PATH[4], actor=COMMUNITY))
    assert isinstance(err, SeparationOfDutiesError)
    assert (err.actor, err.other) == ("c-1", "report_fixed")
    assert str(err).endswith(
        "actor 'c-1' fired 'report_fixed' on this case and may not also fire 'verify'"
    )
    # Nor fail it; another person of the same role may verify.
    fail = Step("fail_verification", COMMUNITY, at(5, 8), {"findings": "x"}, ("inspection_record",))
    assert isinstance(refuse(reported, fail), SeparationOfDutiesError)
    assert fire(engine("hazard"), reported, HAZARD_PATH[4]).case.state == "verified"


def test_event_dated_before_the_last_one_is_refused_as_out_of_order() -> None:
    case = hazard_at("plan")  # last event: assign at 3 April 10:00
    early = attrs.evolve(HAZARD_PATH[1], at=at(4, 3, 9, 59))
    err = refuse(case, early)
    assert isinstance(err, OutOfOrderError)
    assert (err.at, err.last) == ("2024-04-03T09:59:00+08:00", "2024-04-03T10:00:00+08:00")
    # The same instant as the last event is in order.
    same = attrs.evolve(HAZARD_PATH[1], at=at(4, 3))
    assert fire(engine("hazard"), case, same).case.state == "planned"


def test_fire_refuses_a_naive_datetime() -> None:
    naive = attrs.evolve(ASSIGN, at=dt.datetime(2024, 4, 3, 10))
    with pytest.raises(NaiveDatetimeError):
        fire(engine("hazard"), open_hazard(), naive)


def test_engine_refuses_a_case_of_another_workflow() -> None:
    with pytest.raises(RectifyError, match="follows immediate v1; this engine runs hazard v1"):
        fire(engine("hazard"), open_immediate(), ASSIGN)


# --- what an actor may do now -----------------------------------------------------------


def options(case: Case, actor: Actor, workflow: str = "hazard") -> dict[str, EventOption]:
    return {o.event: o for o in engine(workflow).allowed_events(case, actor)}


def test_allowed_events_lists_every_event_and_why_not() -> None:
    seen = options(open_hazard(), COMMUNITY)
    assert list(seen) == [e.name for e in engine("hazard").spec.events]
    assert [name for name, o in seen.items() if o.allowed] == [
        "assign",
        "mark_duplicate",
        "dismiss",
    ]
    assert seen["assign"] == EventOption(
        "assign", "交办", True, None, ("responsible_party", "measures", "due"), ()
    )
    assert seen["refer_major"].reason == (
        "role 'community' may not fire it; roles that may: town_office, fire_station"
    )
    assert seen["verify"].reason == (
        "not allowed in this state; allowed now: assign, mark_duplicate, dismiss, refer_major"
    )
    assert seen["dismiss"].evidence == ("inspection_record",)


def test_allowed_events_differ_by_role() -> None:
    case = hazard_at("report_fixed")
    party = options(case, PROPERTY)
    town = options(case, TOWN)
    assert [n for n, o in party.items() if o.allowed] == ["report_fixed"]
    assert [n for n, o in town.items() if o.allowed] == ["wait", "extend", "refer_major"]


def test_allowed_events_shows_separation_of_duties() -> None:
    case = hazard_at("report_fixed")
    reported = fire(engine("hazard"), case, attrs.evolve(HAZARD_PATH[3], actor=COMMUNITY)).case
    mine = options(reported, COMMUNITY)
    assert not mine["verify"].allowed
    assert mine["verify"].reason == (
        "actor 'c-1' fired 'report_fixed' on this case and may not also fire 'verify'"
    )
    assert options(reported, INSPECTOR)["verify"].allowed


def test_allowed_events_of_a_closed_case_are_none() -> None:
    seen = options(closed_hazard(), TOWN)
    assert not any(o.allowed for o in seen.values())
    assert {o.reason for o in seen.values()} == {"the case is closed (final state)"}


# --- binding guards and actions ---------------------------------------------------------


def major_with_guard(name: str) -> rectify.WorkflowSpec:
    text = workflow_text("major").replace("guards: [panel_quorum]", f"guards: [{name}]")
    return rectify.load_workflow(text)


def hazard_with_action(name: str) -> rectify.WorkflowSpec:
    text = workflow_text("hazard").replace(
        "    notice: rectification_slip\n",
        f"    notice: rectification_slip\n    actions: [{name}]\n",
    )
    return rectify.load_workflow(text)


def test_engine_refuses_a_workflow_naming_a_guard_it_lacks() -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        Engine(major_with_guard("board_vote"), calendar=QINGMING)
    codes = [d.code for d in caught.value.errors]
    assert codes == ["unknown-guard"]
    assert "board_vote" in caught.value.errors[0].message


def test_engine_refuses_a_workflow_naming_an_action_it_lacks() -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        Engine(hazard_with_action("stamp_ledger"), calendar=QINGMING)
    (diagnostic,) = caught.value.errors
    assert diagnostic.code == "unknown-action"
    assert "'stamp_ledger'" in diagnostic.message
    assert diagnostic.location.path == "events.assign.actions"


def test_host_guard_sees_the_event_being_fired_and_can_refuse_it() -> None:
    seen: list[GuardContext] = []

    def board_vote(ctx: GuardContext) -> str | None:
        seen.append(ctx)
        return None if ctx.payload["votes_for"] == ctx.payload["panel_size"] else "not unanimous"

    host = Engine(
        major_with_guard("board_vote"), guards={"board_vote": board_vote}, calendar=QINGMING
    )
    case = host.open("M-1", {}, FIREMAN, MAJOR_OPENED).case
    step = MAJOR_PATH[0]
    with pytest.raises(GuardRefusedError) as caught:
        fire(host, case, step)
    assert (caught.value.guard, caught.value.reason) == ("board_vote", "not unanimous")
    ctx = seen[0]
    assert (ctx.case, ctx.event, ctx.target, ctx.actor, ctx.at) == (
        case,
        "determine",
        "determined",
        FIREMAN,
        step.at,
    )
    assert (dict(ctx.payload), ctx.evidence) == (dict(DETERMINATION), evidence(*step.evidence))
    unanimous = attrs.evolve(step, payload={**DETERMINATION, "votes_for": 3})
    assert fire(host, case, unanimous).case.state == "determined"


def test_host_action_runs_after_the_guards_and_its_data_is_merged_into_the_case() -> None:
    seen: list[GuardContext] = []

    def stamp_ledger(ctx: GuardContext) -> Mapping[str, object]:
        seen.append(ctx)
        return {"ledger_no": f"XH-{ctx.case.id}", "slip_issued": ctx.at.date()}

    host = Engine(
        hazard_with_action("stamp_ledger"),
        actions={"stamp_ledger": stamp_ledger},
        calendar=QINGMING,
    )
    case = host.open("H-1", HOSE_DATA, GRID, HAZARD_OPENED).case
    outcome = fire(host, case, ASSIGN)
    assert outcome.case.data["ledger_no"] == "XH-H-1"
    assert outcome.case.data["slip_issued"] == dt.date(2024, 4, 3)
    assert outcome.case.data["responsible_party"] == "Sunshine Property"
    (ctx,) = seen
    assert (ctx.case, ctx.event, ctx.target, ctx.actor) == (case, "assign", "assigned", COMMUNITY)
    assert ctx.payload["due"] == dt.date(2024, 4, 30)
    # A refused event runs no action.
    with pytest.raises(PayloadError):
        fire(host, case, attrs.evolve(ASSIGN, payload={}))
    assert len(seen) == 1


def test_action_returning_none_adds_nothing() -> None:
    host = Engine(
        hazard_with_action("nothing"), actions={"nothing": lambda ctx: None}, calendar=QINGMING
    )
    case = host.open("H-1", HOSE_DATA, GRID, HAZARD_OPENED).case
    assert dict(fire(host, case, ASSIGN).case.data) == {
        **HOSE_DATA,
        **ASSIGN.payload,
        "due": dt.date(2024, 4, 30),
    }


# --- escalation -------------------------------------------------------------------------

LADDER = """
workflow: ladder
version: 1
title: Ladder
roles: {clerk: Clerk}
initial: open
states:
  open: {title: Open, deadline: {calendar_days: 5}}
  done: {title: Done, final: true, outcome: rectified}
events:
  remind: {title: Remind, from: open, to: open, escalate_to: 0}
  urge: {title: Urge, from: open, to: open, escalate_to: 1}
  supervise: {title: Supervise, from: open, to: open, escalate_to: 2}
  finish: {title: Finish, from: open, to: done}
"""


def test_escalation_only_rises_and_reports_each_rise_once() -> None:
    ladder = Engine(rectify.load_workflow(LADDER))
    clerk = Actor("k-1", "clerk")
    case = ladder.open("L-1", {}, clerk, at(4, 2)).case
    levels: list[tuple[int | None, tuple[object, ...]]] = []
    for n, event in enumerate(["remind", "remind", "supervise", "urge", "supervise"], start=1):
        outcome = ladder.fire(case, event, clerk, at(4, 2, 10 + n))
        case = outcome.case
        levels.append((case.escalation, outcome.effects))
    assert levels == [
        (0, (Escalated("L-1", 0, 1),)),
        (0, ()),
        (2, (Escalated("L-1", 2, 3),)),
        (2, ()),
        (2, ()),
    ]


# --- threads ----------------------------------------------------------------------------

THREADS = 8
CASES_PER_THREAD = 200


def lifecycle(engine_: Engine, case_id: str, n: int) -> Case:
    """Open and close one hazard case; ``n`` varies its data and times."""
    opened = HAZARD_OPENED + dt.timedelta(minutes=n % 60)
    case = engine_.open(case_id, {**HOSE_DATA, "floors": n}, GRID, opened).case
    return run_steps(engine_, case, HAZARD_PATH)


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Make threads switch often, so that races have the chance to show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("eager_switching")
def test_one_engine_runs_many_cases_from_many_threads_as_it_would_in_one() -> None:
    shared = Engine(engine("hazard").spec, calendar=QINGMING)
    jobs = [
        [(f"T{t}-{n}", t * CASES_PER_THREAD + n) for n in range(CASES_PER_THREAD)]
        for t in range(THREADS)
    ]
    results: list[list[Case]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(t: int) -> None:
        try:
            start.wait()
            results[t] = [lifecycle(shared, case_id, n) for case_id, n in jobs[t]]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequential = Engine(engine("hazard").spec, calendar=QINGMING)
    expected = [[lifecycle(sequential, case_id, n) for case_id, n in batch] for batch in jobs]
    assert results == expected
    for batch in results:
        for case in batch:
            assert case.state == "closed"
            verify_history(case)


# --- look-back and duplicates -----------------------------------------------------------


def test_recurrence_links_the_new_case_to_the_closed_one_and_counts() -> None:
    first = closed_hazard("H-1")
    again = engine("hazard").open("H-2", HOSE_DATA, GRID, at(6, 1), recurrence_of=first).case
    assert (again.state, again.recurrence_of, again.recurrence_count) == ("discovered", "H-1", 1)
    assert again.history[0].payload["recurrence_of"] == "H-1"
    assert again.history[0].payload["recurrence_count"] == 1
    closed_again = run_steps(
        engine("hazard"),
        again,
        [attrs.evolve(s, at=s.at.replace(month=s.at.month + 2)) for s in HAZARD_PATH],
    )
    third = engine("hazard").open("H-3", HOSE_DATA, GRID, at(9, 1), recurrence_of=closed_again).case
    assert (third.recurrence_of, third.recurrence_count) == ("H-2", 2)
    assert first.recurrence_count == 0  # the old case is not touched
    verify_history(third)


def test_an_open_case_cannot_recur() -> None:
    still_open = hazard_at("verify")
    with pytest.raises(RectifyError, match="'H-1' is still open; only a closed case can recur"):
        engine("hazard").open("H-2", HOSE_DATA, GRID, at(6, 1), recurrence_of=still_open)


def test_merge_closes_the_duplicate_and_records_it_on_the_case_it_joins() -> None:
    into = hazard_at("plan", "H-1")
    duplicate = engine("hazard").open("H-9", {"address": "12 Xinhe Road"}, GRID, at(4, 5)).case
    merged, joined = engine("hazard").merge(
        duplicate, into, COMMUNITY, at(4, 6), reason="same hose box, reported twice"
    )
    assert (merged.case.state, merged.case.duplicate_of) == ("duplicate", "H-1")
    assert engine("hazard").spec.state(merged.case.state).outcome == "merged"
    assert engine("hazard").is_final(merged.case)
    assert merged.record.event == "mark_duplicate"
    assert dict(merged.record.payload) == {"duplicate_of": "H-1"}
    assert merged.record.reason == "same hose box, reported twice"
    assert merged.effects == (DeadlineCleared("H-9", "duplicate"),)

    assert joined.case.state == into.state
    assert joined.case.history[:-1] == into.history
    record = joined.record
    assert (record.seq, record.event, record.source, record.target) == (
        into.seq + 1,
        "@merge",
        "assigned",
        "assigned",
    )
    assert dict(record.payload) == {
        "duplicate": "H-9",
        "head": merged.record.digest,
        "data": {"address": "12 Xinhe Road"},
    }
    assert (record.actor, record.reason) == ("c-1", "same hose box, reported twice")
    assert joined.effects == ()
    verify_history(merged.case)
    verify_history(joined.case)
    # The joined case goes on as before.
    assert fire(engine("hazard"), joined.case, HAZARD_PATH[1]).case.state == "planned"


def test_merge_refuses_a_closed_target_and_a_role_that_may_not() -> None:
    duplicate = engine("hazard").open("H-9", {}, GRID, at(4, 5)).case
    with pytest.raises(CaseFinalError):
        engine("hazard").merge(duplicate, closed_hazard(), COMMUNITY, at(5, 10), reason="same")
    with pytest.raises(RoleNotPermittedError):
        engine("hazard").merge(duplicate, open_hazard(), GRID, at(4, 6), reason="same")
    with pytest.raises(PayloadError, match="reason"):
        engine("hazard").merge(duplicate, open_hazard(), COMMUNITY, at(4, 6), reason=" ")


def test_merge_refuses_a_duplicate_past_triage() -> None:
    with pytest.raises(RectifyError, match="no event of hazard leads from state 'planned'"):
        engine("hazard").merge(
            hazard_at("report_fixed", "H-9"), open_hazard(), COMMUNITY, at(5, 1), reason="x"
        )


def test_merge_dated_before_the_targets_last_event_is_out_of_order() -> None:
    into = hazard_at("plan", "H-1")  # last event 3 April 10:00
    duplicate = engine("hazard").open("H-9", {}, GRID, at(4, 2, 12)).case
    with pytest.raises(OutOfOrderError) as caught:
        engine("hazard").merge(duplicate, into, COMMUNITY, at(4, 3, 9), reason="same")
    assert (caught.value.case_id, caught.value.event) == ("H-1", "@merge")


def test_merge_refuses_a_naive_datetime_like_open_and_fire() -> None:
    duplicate = engine("hazard").open("H-9", {}, GRID, at(4, 2, 12)).case
    naive = dt.datetime(2024, 4, 5, 9)  # naive on purpose
    with pytest.raises(NaiveDatetimeError, match="no timezone"):
        engine("hazard").merge(duplicate, open_hazard(), COMMUNITY, naive, reason="same")


# --- text, evidence and roles the engine refuses at the door ----------------------------


def test_a_lone_surrogate_in_a_payload_is_a_payload_error_not_a_unicode_error() -> None:
    case = hazard_at("assign")
    with pytest.raises(rectify.exceptions.PayloadError) as caught:
        engine("hazard").fire(
            case,
            "assign",
            COMMUNITY,
            at(4, 3),
            payload={"responsible_party": "物业\ud800", "measures": "m", "due": "2024-04-26"},
        )
    assert caught.value.field == "responsible_party"
    assert "UTF-8" in caught.value.problem


def test_a_lone_surrogate_in_a_reason_is_refused() -> None:
    case = hazard_at("assign")
    with pytest.raises(rectify.exceptions.PayloadError) as caught:
        engine("hazard").fire(
            case,
            "mark_duplicate",
            COMMUNITY,
            at(4, 3),
            payload={"duplicate_of": "H-9"},
            reason="重复\udfff",
        )
    assert caught.value.field == "reason"


def test_evidence_of_a_kind_the_workflow_does_not_declare_is_refused() -> None:
    case = hazard_at("assign")
    selfie = rectify.Evidence.of("selfie", "me.jpg", b"me")
    record = rectify.Evidence.of("inspection_record", "r.pdf", b"r")
    with pytest.raises(rectify.exceptions.PayloadError) as caught:
        engine("hazard").fire(
            case, "dismiss", COMMUNITY, at(4, 3), evidence=[record, selfie], reason="不构成"
        )
    assert caught.value.field == "evidence"
    assert "selfie" in caught.value.problem


def test_an_actor_in_a_role_the_workflow_does_not_declare_cannot_open_a_case() -> None:
    with pytest.raises(rectify.exceptions.RoleNotPermittedError) as caught:
        engine("hazard").open("H-1", HOSE_DATA, rectify.Actor("x", "janitor"), at(4, 3))
    assert caught.value.role == "janitor"


def test_a_case_cannot_be_merged_into_itself() -> None:
    case = hazard_at("assign")
    with pytest.raises(rectify.RectifyError, match="cannot be merged into itself"):
        engine("hazard").merge(case, case, COMMUNITY, at(4, 3), reason="同一处")


def test_case_data_must_hold_finite_numbers() -> None:
    with pytest.raises(rectify.exceptions.PayloadError, match="finite number"):
        engine("hazard").open("H-1", {**HOSE_DATA, "height": float("inf")}, GRID, at(4, 2))
