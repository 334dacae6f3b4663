"""Escalation ladders and sweeps: which level comes when, with which notice, to whom.

The ladders are the shipped ones (``hazard``, ``immediate``, ``major``) on a
``FakeCalendar``. The properties drive random cases along their workflows and sweep them on
different schedules; an independent oracle says what a sweep at every instant would record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rectify
from rectify import Actor, Case, Engine, Evidence
from rectify.definitions import AfterDeadline, BeforeDeadline, OnEvent, OpenFor
from rectify.engine import Escalated, NoticeDue, is_overdue
from rectify.engine._engine import local_date
from rectify.testing import FakeCalendar
from tests.conftest import WORKFLOWS

TZ = ZoneInfo("Asia/Shanghai")
D = dt.date
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

GRID = Actor("g-1", "grid_worker")
COMMUNITY = Actor("c-1", "community")
TOWN = Actor("t-1", "town_office")
PARTY = Actor("p-1", "responsible_party")
POLICE = Actor("po-1", "police")
FIRE = Actor("f-1", "fire_station")
GOVERNMENT = Actor("gov-1", "government")


def proof(kind: str) -> Evidence:
    return Evidence.of(kind, f"{kind}.jpg", kind.encode())


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, minute, tzinfo=TZ)


def midnight(month: int, day: int) -> dt.datetime:
    return dt.datetime(2024, month, day, tzinfo=TZ)


def _engine(name: str) -> Engine:
    return Engine(rectify.load_workflow(WORKFLOWS / f"{name}.yaml"), calendar=FakeCalendar())


ENGINES = {name: _engine(name) for name in ("hazard", "immediate", "major")}
HAZARD, IMMEDIATE, MAJOR = ENGINES["hazard"], ENGINES["immediate"], ENGINES["major"]


def swept(engine: Engine, case: Case, now: dt.datetime) -> Case:
    """Return ``case`` after a sweep at ``now``."""
    result = rectify.engine.sweep(engine, [case], now)
    return result.cases[0] if result.cases else case


def escalations(case: Case) -> list[tuple[int, dt.datetime]]:
    """Return the level and time of each ``@escalate`` record."""
    out: list[tuple[int, dt.datetime]] = []
    for record in case.history:
        if record.event == "@escalate":
            level = record.payload["level"]
            assert isinstance(level, int)
            out.append((level, record.at))
    return out


# -- the moves of each workflow ------------------------------------------------------------

Move = tuple[str, Actor, dict[str, object], tuple[Evidence, ...], str | None]


def hazard_moves(state: str, due: dt.date) -> list[Move]:
    moves: dict[str, list[Move]] = {
        "discovered": [
            (
                "assign",
                COMMUNITY,
                {"responsible_party": "物业", "measures": "整改", "due": due},
                (),
                None,
            )
        ],
        "assigned": [
            ("plan", PARTY, {"measures": "方案", "due": due}, (proof("plan_document"),), None),
            ("extend", TOWN, {"due": due}, (), "延期"),
        ],
        "planned": [
            ("report_fixed", PARTY, {"summary": "已整改"}, (proof("photo_after"),), None),
            ("wait", TOWN, {"waiting_for": "供水公司"}, (), "等待供水"),
            ("extend", TOWN, {"due": due}, (), "延期"),
        ],
        "waiting": [("resume", TOWN, {}, (), None)],
        "fixed": [
            ("verify", COMMUNITY, {}, (proof("inspection_record"),), None),
            (
                "fail_verification",
                COMMUNITY,
                {"findings": "仍有问题"},
                (proof("inspection_record"),),
                None,
            ),
        ],
        "verified": [("close", COMMUNITY, {}, (), None)],
    }
    return moves.get(state, [])


def immediate_moves(state: str, due: dt.date) -> list[Move]:
    before = proof("photo_before")
    moves: dict[str, list[Move]] = {
        "found": [
            ("correct_on_spot", GRID, {}, (before, proof("photo_after")), None),
            ("refuse", GRID, {"refusal": "拒不挪车"}, (before, proof("refusal_record")), None),
        ],
        "corrected": [
            ("close", GRID, {}, (), None),
            ("relapse", GRID, {}, (before,), None),
        ],
        "refused": [("refer", GRID, {"agency": "police"}, (), None)],
        "referred": [
            (
                "record_order",
                POLICE,
                {
                    "organ": "某派出所",
                    "document_number": "公（消）限字〔2024〕1号",
                    "order_kind": "deadline_correction",
                    "due": due,
                },
                (proof("order_document"),),
                None,
            )
        ],
        "ordered": [("comply", PARTY, {}, (proof("photo_after"),), None)],
        "complied": [
            ("verify", COMMUNITY, {}, (), None),
            ("fail_verification", COMMUNITY, {"findings": "车辆仍在"}, (), None),
        ],
    }
    return moves.get(state, [])


def major_moves(state: str, due: dt.date) -> list[Move]:
    ruling = (proof("determination_record"),)
    inspection = (proof("inspection_record"),)
    moves: dict[str, list[Move]] = {
        "suspected": [
            (
                "determine",
                FIRE,
                {"panel_size": 3, "votes_for": 2, "standard": "GB35181-2017"},
                ruling,
                None,
            ),
            ("convene_experts", FIRE, {}, (), "需专家论证"),
        ],
        "expert_review": [
            (
                "determine",
                FIRE,
                {"panel_size": 7, "votes_for": 5, "standard": "GB35181-2017"},
                ruling,
                None,
            )
        ],
        "determined": [
            (
                "list",
                GOVERNMENT,
                {"due": due, "supervisor": "镇长"},
                (proof("listing_order"),),
                None,
            )
        ],
        "listed": [
            ("extend", GOVERNMENT, {"due": due}, (), "工程量大"),
            ("report_fixed", PARTY, {"summary": "已整改"}, (proof("photo_after"),), None),
        ],
        "rectified": [
            ("reinspect", FIRE, {}, inspection, None),
            ("fail_reinspection", FIRE, {"findings": "未消除"}, inspection, None),
        ],
        "reinspected": [("close_case", FIRE, {}, (), None)],
        "case_closed": [("delist", GOVERNMENT, {}, (), None)],
    }
    return moves.get(state, [])


MOVES: dict[str, Callable[[str, dt.date], list[Move]]] = {
    "hazard": hazard_moves,
    "immediate": immediate_moves,
    "major": major_moves,
}
OPENER = {"hazard": COMMUNITY, "immediate": GRID, "major": FIRE}


def fire(engine: Engine, case: Case, move: Move, when: dt.datetime) -> rectify.Outcome:
    event, actor, payload, evidence, reason = move
    return engine.fire(case, event, actor, when, payload=payload, evidence=evidence, reason=reason)


def drive(kind: str, events: list[str], start: dt.datetime, due: dt.date) -> Case:
    """Open a case of ``kind`` at ``start`` and fire ``events`` one hour apart."""
    engine = ENGINES[kind]
    case = engine.open(f"{kind}-1", {}, OPENER[kind], start).case
    when = start
    for event in events:
        when += HOUR
        move = next(m for m in MOVES[kind](case.state, due) if m[0] == event)
        case = fire(engine, case, move, when).case
    return case


# -- the hazard ladder ------------------------------------------------------------------------

HAZARD_PLANNED = ["assign", "plan"]


def hazard_planned(due: dt.date) -> Case:
    return drive("hazard", HAZARD_PLANNED, at(5, 6), due)


def test_hazard_ladder_has_the_domain_offsets_and_recipients() -> None:
    escalation = HAZARD.spec.escalation
    assert escalation is not None
    ladder = escalation.ladder_for(None)
    assert [(lv.level, lv.triggers, lv.notice, lv.notify) for lv in ladder.levels] == [
        (
            0,
            (BeforeDeadline(3),),
            "reminder",
            ("responsible_party", "building_head", "grid_worker"),
        ),
        (1, (AfterDeadline(1),), "overdue_warning", ("responsible_party", "community")),
        (
            2,
            (AfterDeadline(7), OnEvent("fail_verification", 2)),
            "supervision_order",
            ("community", "town_office", "responsible_party"),
        ),
        (3, (AfterDeadline(30),), "escalation_report", ("town_office", "government")),
    ]


@pytest.mark.parametrize(
    ("level", "moment", "notice", "to"),
    [
        (0, midnight(6, 17), "reminder", ("responsible_party", "building_head", "grid_worker")),
        (1, midnight(6, 21), "overdue_warning", ("responsible_party", "community")),
        (
            2,
            midnight(6, 27),
            "supervision_order",
            ("community", "town_office", "responsible_party"),
        ),
        (3, midnight(7, 20), "escalation_report", ("town_office", "government")),
    ],
)
def test_hazard_level_comes_at_its_offset_from_the_deadline_with_its_notice(
    level: int, moment: dt.datetime, notice: str, to: tuple[str, ...]
) -> None:
    case = hazard_planned(D(2024, 6, 20))
    assert case.deadline == D(2024, 6, 20)
    # Reach the level before: sweeping at that level's own moment.
    earlier = [midnight(6, 17), midnight(6, 21), midnight(6, 27)][:level]
    for when in earlier:
        case = swept(HAZARD, case, when)
    assert case.escalation == (level - 1 if level else None)
    just_before = rectify.engine.sweep(HAZARD, [case], moment - dt.timedelta(seconds=1))
    assert just_before.cases == ()
    assert just_before.effects == ()
    result = rectify.engine.sweep(HAZARD, [case], moment + dt.timedelta(hours=5))
    (after,) = result.cases
    record = after.history[-1]
    assert after.escalation == level
    assert result.effects == (
        Escalated("hazard-1", level, record.seq),
        NoticeDue("hazard-1", notice, record.seq, "@escalate", to=to, level=level),
    )
    assert (record.event, record.source, record.target) == ("@escalate", "planned", "planned")
    assert (record.actor, record.role, record.at) == ("rectify", "rectify", moment)
    assert dict(record.payload)["level"] == level
    assert after.state == "planned"


def test_overdue_case_sweeps_up_the_ladder_lowest_first_after_a_long_gap() -> None:
    case = hazard_planned(D(2024, 6, 20))
    result = rectify.engine.sweep(HAZARD, [case], at(8, 1))
    (after,) = result.cases
    assert escalations(after) == [
        (0, midnight(6, 17)),
        (1, midnight(6, 21)),
        (2, midnight(6, 27)),
        (3, midnight(7, 20)),
    ]
    assert [e.level for e in result.effects if isinstance(e, Escalated)] == [0, 1, 2, 3]
    assert [e.notice for e in result.effects if isinstance(e, NoticeDue)] == [
        "reminder",
        "overdue_warning",
        "supervision_order",
        "escalation_report",
    ]
    assert is_overdue(after, D(2024, 8, 1))


def test_two_failed_verifications_raise_a_hazard_to_town_supervision() -> None:
    due = D(2024, 8, 30)
    cycle = ["report_fixed", "fail_verification"]
    once = drive("hazard", [*HAZARD_PLANNED, *cycle], at(5, 6), due)
    assert (once.state, once.deadline) == ("planned", due)
    assert rectify.engine.sweep(HAZARD, [once], at(5, 6, 14)).effects == ()
    twice = drive("hazard", [*HAZARD_PLANNED, *cycle, *cycle], at(5, 6), due)
    assert twice.history[-1].at == at(5, 6, 15)
    # Swept back in `planned` (in `fixed` its own 3-working-day deadline would count).
    result = rectify.engine.sweep(HAZARD, [twice], at(5, 6, 16))
    (after,) = result.cases
    assert escalations(after) == [(2, at(5, 6, 15))], "only level 2 is due; 0 and 1 are not"
    assert result.effects[1] == NoticeDue(
        "hazard-1",
        "supervision_order",
        after.seq,
        "@escalate",
        to=("community", "town_office", "responsible_party"),
        level=2,
    )


def test_a_reminder_due_before_the_last_event_is_dated_at_that_event() -> None:
    case = drive("hazard", ["assign"], at(6, 10), D(2024, 6, 20))
    move = hazard_moves("assigned", D(2024, 6, 20))[0]
    case = fire(HAZARD, case, move, at(6, 18)).case  # planned on the 18th, due the 20th
    (after,) = rectify.engine.sweep(HAZARD, [case], at(6, 18, 12)).cases
    assert escalations(after) == [(0, at(6, 18))]


# -- the immediate ladder ---------------------------------------------------------------------


def test_immediate_refusal_raises_to_town_supervision_at_once() -> None:
    case = drive("immediate", ["refuse"], at(5, 6), D(2024, 5, 20))
    result = rectify.engine.sweep(IMMEDIATE, [case], at(5, 6, 10, 30))
    (after,) = result.cases
    assert escalations(after) == [(2, at(5, 6, 10))]
    assert result.effects == (
        Escalated("immediate-1", 2, after.seq),
        NoticeDue(
            "immediate-1",
            "supervision_order",
            after.seq,
            "@escalate",
            to=("community", "town_office"),
            level=2,
        ),
    )


def test_a_late_sweep_after_a_refusal_records_what_prompt_sweeps_would() -> None:
    case = drive("immediate", ["refuse"], at(5, 6), D(2024, 5, 20))
    # Level 2 came due at the refusal (10:00), level 1 only at midnight: swept promptly,
    # the case is at 2 before 1 comes due, so a late sweep must not record 1 first.
    prompt = swept(IMMEDIATE, swept(IMMEDIATE, case, at(5, 6, 11)), at(5, 7, 5))
    late = swept(IMMEDIATE, case, at(5, 7, 5))
    assert escalations(late) == escalations(prompt) == [(2, at(5, 6, 10))]
    assert late == prompt


def test_immediate_referral_raises_to_at_least_one_and_never_lowers() -> None:
    refused = drive("immediate", ["refuse"], at(5, 6), D(2024, 5, 20))
    referred = fire(IMMEDIATE, refused, immediate_moves("refused", D(2024, 5, 20))[0], at(5, 6, 11))
    assert referred.case.escalation == 1
    assert Escalated("immediate-1", 1, referred.record.seq) in referred.effects
    # Swept after the refusal, the case is at 2; the referral leaves it there.
    high = swept(IMMEDIATE, refused, at(5, 6, 10, 30))
    again = fire(IMMEDIATE, high, immediate_moves("refused", D(2024, 5, 20))[0], at(5, 6, 11))
    assert again.case.escalation == 2
    assert not any(isinstance(e, Escalated) for e in again.effects)


def test_immediate_case_left_uncorrected_is_overdue_the_next_day() -> None:
    case = drive("immediate", [], at(5, 6), D(2024, 5, 20))
    assert case.deadline == D(2024, 5, 6)  # same day
    assert rectify.engine.sweep(IMMEDIATE, [case], at(5, 6, 23)).effects == ()
    result = rectify.engine.sweep(IMMEDIATE, [case], midnight(5, 7))
    (after,) = result.cases
    assert escalations(after) == [(1, midnight(5, 7))]
    assert result.effects[1] == NoticeDue(
        "immediate-1",
        "overdue_warning",
        after.seq,
        "@escalate",
        to=("responsible_party", "community"),
        level=1,
    )


# -- the major ladder -------------------------------------------------------------------------

MAJOR_LISTED = ["determine", "list"]


def test_major_listing_raises_to_level_four() -> None:
    case = drive("major", MAJOR_LISTED, at(5, 6), D(2024, 12, 31))
    assert (case.state, case.deadline) == ("listed", D(2024, 12, 31))
    result = rectify.engine.sweep(MAJOR, [case], at(5, 6, 12))
    (after,) = result.cases
    assert escalations(after) == [(4, at(5, 6, 11))]
    # The listing order came from the `list` event itself; level 4 only records the listing.
    assert result.effects == (Escalated("major-1", 4, after.seq),)


def test_major_hazard_open_183_days_is_reported_upward() -> None:
    case = swept(MAJOR, drive("major", MAJOR_LISTED, at(5, 6), D(2024, 12, 31)), at(5, 7))
    upward = midnight(5, 6) + dt.timedelta(days=183)
    assert upward == midnight(11, 5)
    assert rectify.engine.sweep(MAJOR, [case], upward - dt.timedelta(seconds=1)).effects == ()
    result = rectify.engine.sweep(MAJOR, [case], upward)
    (after,) = result.cases
    assert escalations(after) == [(4, at(5, 6, 11)), (5, upward)]
    assert result.effects[1] == NoticeDue(
        "major-1", "escalation_report", after.seq, "@escalate", to=("government",), level=5
    )


def test_major_overdue_levels_below_the_listing_are_not_recorded_after_it() -> None:
    case = swept(MAJOR, drive("major", MAJOR_LISTED, at(5, 6), D(2024, 6, 30)), at(5, 7))
    later = swept(MAJOR, case, at(7, 20))  # overdue by 20 days: levels 1 and 2 are below 4
    assert escalations(later) == [(4, at(5, 6, 11))]
    assert later.escalation == 4


# -- which cases a sweep touches ------------------------------------------------------------------


def test_sweep_counts_every_case_and_returns_only_the_escalated_ones() -> None:
    due = hazard_planned(D(2024, 6, 20))
    quiet = attrs.evolve(hazard_planned(D(2024, 12, 20)), id="hazard-2")
    result = rectify.engine.sweep(list(ENGINES.values()), [due, quiet], at(6, 22))
    assert result.swept == 2
    assert [c.id for c in result.cases] == ["hazard-1"]


def test_sweep_leaves_cases_of_a_workflow_it_has_no_engine_for_alone() -> None:
    case = hazard_planned(D(2024, 6, 20))
    result = rectify.engine.sweep([IMMEDIATE, MAJOR], [case], at(8, 1))
    assert (result.cases, result.effects, result.swept) == ((), (), 1)


def test_closed_case_never_escalates() -> None:
    case = drive(
        "hazard", [*HAZARD_PLANNED, "report_fixed", "verify", "close"], at(5, 6), D(2024, 6, 20)
    )
    assert case.state == "closed"
    assert case.deadline is None
    assert rectify.engine.sweep(HAZARD, [case], at(12, 31)).effects == ()


def test_paused_case_does_not_escalate_on_its_deadline() -> None:
    case = drive("hazard", [*HAZARD_PLANNED, "wait"], at(5, 6), D(2024, 6, 20))
    assert (case.state, case.deadline) == ("waiting", D(2024, 6, 20))
    assert rectify.engine.sweep(HAZARD, [case], at(12, 31)).effects == ()
    # Resumed on 1 July after 56 days: due 15 August; overdue from the 16th.
    resumed = fire(HAZARD, case, hazard_moves("waiting", D(2024, 6, 20))[0], at(7, 1)).case
    assert resumed.deadline == D(2024, 8, 15)
    assert escalations(swept(HAZARD, resumed, midnight(8, 16))) == [
        (0, midnight(8, 12)),
        (1, midnight(8, 16)),
    ]


def test_reminder_before_the_rectification_deadline_is_not_used_up_by_triage() -> None:
    # The hazard ladder counts deadlines only in `planned` (its `states`), so the triage
    # deadline of `discovered` does not spend L0 before the party is even named.
    case = HAZARD.open("hazard-1", {}, COMMUNITY, at(5, 6)).case
    case = swept(HAZARD, case, at(5, 6, 18))  # a nightly sweep on the day of discovery
    case = fire(HAZARD, case, hazard_moves("discovered", D(2024, 6, 20))[0], at(5, 7)).case
    case = fire(HAZARD, case, hazard_moves("assigned", D(2024, 6, 20))[0], at(5, 8)).case
    assert (0, midnight(6, 17)) in escalations(swept(HAZARD, case, at(6, 17, 1)))


# -- the oracle: what sweeping at every instant records -------------------------------------------


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), TZ)


def trigger_moments(
    case: Case, level: rectify.definitions.Level, ladder: rectify.definitions.Ladder
) -> Iterator[dt.datetime]:
    in_scope = not ladder.states or case.state in ladder.states
    for trigger in level.triggers:
        if isinstance(trigger, BeforeDeadline | AfterDeadline):
            assert not trigger.working, "the shipped ladders count calendar days"
            if case.deadline is not None and case.paused_since is None and in_scope:
                sign = -1 if isinstance(trigger, BeforeDeadline) else 1
                yield _midnight(case.deadline + sign * trigger.days * DAY)
        elif isinstance(trigger, OnEvent):
            seen = [r.at for r in case.history if r.event == trigger.event]
            if len(seen) >= trigger.count:
                yield seen[trigger.count - 1]
        else:
            assert isinstance(trigger, OpenFor)
            yield _midnight(local_date(case.opened_at) + trigger.days * DAY)


def oracle(engine: Engine, case: Case, now: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """Return the levels (and record times) a sweep at every instant up to ``now`` adds."""
    escalation = engine.spec.escalation
    if escalation is None or engine.is_final(case):
        return []
    ladder = escalation.ladder_for(None)
    due = sorted(
        (min(moments), level.level)
        for level in ladder.levels
        if (moments := list(trigger_moments(case, level, ladder))) and min(moments) <= now
    )
    current = -1 if case.escalation is None else case.escalation
    last = case.updated_at
    out: list[tuple[int, dt.datetime]] = []
    for moment, level in due:
        if level > current:
            current, last = level, max(moment, last)
            out.append((level, last))
    return out


# -- properties --------------------------------------------------------------------------------

START = at(5, 6)
gaps = st.one_of(
    st.integers(0, 180).map(lambda m: dt.timedelta(minutes=m)),
    st.integers(1, 24 * 25).map(lambda h: dt.timedelta(hours=h)),
)


@attrs.frozen
class Walk:
    """A case driven along its workflow, and what happened on the way."""

    engine: Engine
    case: Case
    now: dt.datetime
    levels: tuple[int, ...]  # the level after each step while open (-1 before the first)


@st.composite
def walks(draw: st.DrawFn, *, kinds: tuple[str, ...] = tuple(MOVES), sweeps: bool = False) -> Walk:
    """Open a case and fire random events (and, with ``sweeps``, sweep) at random times."""
    kind = draw(st.sampled_from(kinds))
    engine = ENGINES[kind]
    now = START + draw(gaps)
    case = engine.open(f"{kind}-1", {}, OPENER[kind], now).case
    levels = [-1]
    for _ in range(draw(st.integers(0, 10))):
        now += draw(gaps)
        if sweeps and draw(st.booleans()):
            case = swept(engine, case, now)
        else:
            options = MOVES[kind](case.state, local_date(now) + draw(st.integers(0, 60)) * DAY)
            if not options:
                break
            case = fire(engine, case, draw(st.sampled_from(options)), now).case
        if not engine.is_final(case):
            levels.append(-1 if case.escalation is None else case.escalation)
    return Walk(engine, case, now, tuple(levels))


def schedule(start: dt.datetime, end: dt.datetime, step: dt.timedelta | None) -> list[dt.datetime]:
    """Sweep times from ``start`` every ``step`` up to ``end``, always ending at ``end``."""
    times: list[dt.datetime] = []
    if step is not None:
        when = start
        while when < end:
            times.append(when)
            when += step
    return [*times, end]


def run(engine: Engine, case: Case, times: list[dt.datetime]) -> Case:
    for when in times:
        case = swept(engine, case, when)
    return case


@given(walk=walks(sweeps=True), later=gaps)
def test_sweeping_twice_at_the_same_moment_yields_nothing_the_second_time(
    walk: Walk, later: dt.timedelta
) -> None:
    now = walk.now + later
    first = rectify.engine.sweep(walk.engine, [walk.case], now)
    case = first.cases[0] if first.cases else walk.case
    second = rectify.engine.sweep(walk.engine, [case], now)
    assert (second.cases, second.effects, second.swept) == ((), (), 1)


@given(walk=walks(), hours=st.integers(0, 24 * 45))
def test_hourly_daily_and_one_late_sweep_record_the_same_levels(walk: Walk, hours: int) -> None:
    start, end = walk.case.updated_at, walk.case.updated_at + hours * HOUR
    expected = oracle(walk.engine, walk.case, end)
    results = {
        name: run(walk.engine, walk.case, schedule(start, end, step))
        for name, step in (("hourly", HOUR), ("daily", DAY), ("once", None))
    }
    for name, case in results.items():
        assert escalations(case) == expected, name
    assert results["hourly"] == results["daily"] == results["once"]
    levels = [level for level, _ in expected]
    assert levels == sorted(set(levels)), "each level once, in rising order"


@given(walk=walks(kinds=("major",)), days=st.integers(0, 400), step=st.integers(1, 30))
def test_sweeps_over_months_agree_with_one_late_sweep(walk: Walk, days: int, step: int) -> None:
    start, end = walk.case.updated_at, walk.case.updated_at + days * DAY
    periodic = run(walk.engine, walk.case, schedule(start, end, step * DAY))
    once = run(walk.engine, walk.case, [end])
    assert periodic == once
    assert escalations(once) == oracle(walk.engine, walk.case, end)


@given(walk=walks(sweeps=True))
def test_level_never_falls_while_the_case_is_open(walk: Walk) -> None:
    assert list(walk.levels) == sorted(walk.levels)


@given(walk=walks(sweeps=True), later=st.integers(0, 400))
def test_a_final_case_never_escalates(walk: Walk, later: int) -> None:
    if not walk.engine.is_final(walk.case):
        return
    assert rectify.engine.sweep(walk.engine, [walk.case], walk.now + later * DAY).effects == ()


@given(
    walk=walks(kinds=("hazard",), sweeps=True),
    pause=gaps,
    later=st.integers(0, 400),
)
def test_a_paused_case_does_not_escalate_on_deadline_triggers(
    walk: Walk, pause: dt.timedelta, later: int
) -> None:
    case = walk.case
    if case.state != "planned":
        return
    waiting = fire(HAZARD, case, hazard_moves("planned", D(2024, 1, 1))[1], walk.now + pause).case
    result = rectify.engine.sweep(HAZARD, [waiting], walk.now + pause + later * DAY)
    raised = [e.level for e in result.effects if isinstance(e, Escalated)]
    # Only the event trigger of level 2 (two failed verifications) may still fire.
    failures = sum(r.event == "fail_verification" for r in case.history)
    level = -1 if case.escalation is None else case.escalation
    assert raised == ([2] if failures >= 2 and level < 2 else [])
    assert not is_overdue(waiting, local_date(walk.now) + later * DAY)


@given(walk=walks(sweeps=True), later=gaps)
def test_swept_cases_verify_and_replay_to_the_same_case(walk: Walk, later: dt.timedelta) -> None:
    case = swept(walk.engine, walk.case, walk.now + later)
    rectify.engine.verify_history(case)
    assert rectify.engine.replay(walk.engine, case.history) == case
