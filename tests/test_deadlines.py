"""Deadline rules turned into dates, overdue and due-soon, clock pauses and extensions.

Rules are evaluated by ``due_date`` directly and through the engine with the shipped
``hazard`` workflow. Dates are in 2024 on a ``FakeCalendar`` (Monday to Friday), except where
the official calendar is the point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import attrs
import pytest

import rectify
from rectify import Actor, Case, Engine, Evidence, NaiveDatetimeError
from rectify.calendar._deadlines import due_date
from rectify.definitions import (
    CalendarDays,
    CampaignDate,
    Earliest,
    FieldDate,
    FixedDate,
    FromSeverity,
    WorkingDays,
)
from rectify.engine import DeadlineSet, due_within, is_overdue
from rectify.exceptions import DeadlineError
from rectify.testing import FakeCalendar
from tests.conftest import WORKFLOWS

TZ = ZoneInfo("Asia/Shanghai")
D = dt.date
MONDAY = D(2024, 5, 6)
JUNE_30 = D(2024, 6, 30)

COMMUNITY = Actor("c-1", "community")
TOWN = Actor("t-1", "town_office")
PARTY = Actor("p-1", "responsible_party")
PLAN = Evidence.of("plan_document", "plan.pdf", b"plan")


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=TZ)


@pytest.fixture(scope="module")
def table() -> rectify.definitions.CategoryTable:
    return rectify.load_categories()


@pytest.fixture(scope="module")
def campaign() -> rectify.calendar.Campaign:
    return rectify.calendar.load_campaign(WORKFLOWS / "campaign-2024.yaml")


@pytest.fixture(scope="module")
def severities(
    table: rectify.definitions.CategoryTable,
) -> dict[str, rectify.definitions.DeadlineRule]:
    return {s.name: s.period for s in table.severities}


@pytest.fixture(scope="module")
def hazard() -> Engine:
    return Engine(rectify.load_workflow(WORKFLOWS / "hazard.yaml"), calendar=FakeCalendar())


def rule_date(
    rule: rectify.definitions.DeadlineRule,
    start: dt.date = MONDAY,
    data: Mapping[str, object] | None = None,
    *,
    calendar: rectify.calendar.WorkingCalendar | None = None,
    phases: Mapping[str, dt.date] | None = None,
    severities: Mapping[str, rectify.definitions.DeadlineRule] | None = None,
) -> dt.date:
    return due_date(
        rule,
        start,
        data or {},
        calendar=calendar if calendar is not None else FakeCalendar(),
        phases=phases or {},
        severities=severities or {},
    )


def planned(engine: Engine, due: dt.date = JUNE_30) -> Case:
    """Return a hazard case in ``planned`` on 8 May with the party's date ``due``."""
    case = engine.open("H-1", {"category": "FAC.HOSE"}, COMMUNITY, at(5, 6)).case
    case = engine.fire(
        case,
        "assign",
        COMMUNITY,
        at(5, 7),
        payload={"responsible_party": "物业", "measures": "补齐水带", "due": due},
    ).case
    return engine.fire(
        case,
        "plan",
        PARTY,
        at(5, 8),
        payload={"measures": "采购水带", "due": due},
        evidence=[PLAN],
    ).case


# -- every kind of rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, MONDAY), (1, D(2024, 5, 7)), (5, D(2024, 5, 13)), (10, D(2024, 5, 20))],
)
def test_working_days_rule_counts_working_days_from_the_start(days: int, expected: dt.date) -> None:
    assert rule_date(WorkingDays(days)) == expected


def test_working_days_rule_counts_on_the_calendar_it_is_given() -> None:
    # The inspection rules' 3 working days from Friday 27 Sep 2024 end after National Day.
    official = rectify.OfficialCalendar()
    assert rule_date(WorkingDays(3), D(2024, 9, 27), calendar=official) == D(2024, 10, 8)
    fake = FakeCalendar(holidays=[D(2024, 5, 7)], workdays=[D(2024, 5, 11)])
    assert rule_date(WorkingDays(2), MONDAY, calendar=fake) == D(2024, 5, 9)
    assert rule_date(WorkingDays(4), MONDAY, calendar=fake) == D(2024, 5, 11)


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, MONDAY), (1, D(2024, 5, 7)), (7, D(2024, 5, 13)), (30, D(2024, 6, 5))],
)
def test_calendar_days_rule_counts_every_day(days: int, expected: dt.date) -> None:
    official = rectify.OfficialCalendar()
    assert rule_date(CalendarDays(days), calendar=official) == expected
    assert rule_date(CalendarDays(3), D(2024, 9, 30)) == D(2024, 10, 3)  # holidays count


def test_campaign_rule_is_the_phase_end(campaign: rectify.calendar.Campaign) -> None:
    phases = campaign.phase_ends
    assert rule_date(CampaignDate("concentrated"), phases=phases) == D(2024, 6, 30)
    assert rule_date(CampaignDate("canopies"), phases=phases) == D(2024, 12, 25)
    assert rule_date(CampaignDate("survey"), phases=phases) == D(2024, 4, 10)


def test_fixed_date_rule_ignores_the_start() -> None:
    assert rule_date(FixedDate(D(2024, 12, 25)), D(2024, 3, 1)) == D(2024, 12, 25)
    assert rule_date(FixedDate(D(2024, 12, 25)), D(2024, 11, 1)) == D(2024, 12, 25)


def test_field_date_rule_reads_the_case_data() -> None:
    assert rule_date(FieldDate("due"), data={"due": D(2024, 6, 30)}) == D(2024, 6, 30)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("immediate", MONDAY),
        ("general_short", D(2024, 5, 13)),
        ("general", D(2024, 6, 5)),
        ("engineering", D(2024, 6, 30)),
        ("phased", D(2024, 12, 25)),
        ("suspected_major", D(2024, 5, 15)),  # 7 working days
    ],
)
def test_from_severity_rule_uses_the_category_tables_period(
    severities: dict[str, rectify.definitions.DeadlineRule],
    campaign: rectify.calendar.Campaign,
    severity: str,
    expected: dt.date,
) -> None:
    got = rule_date(
        FromSeverity(),
        data={"severity": severity},
        phases=campaign.phase_ends,
        severities=severities,
    )
    assert got == expected


def test_from_severity_of_a_category_follows_its_default_severity(
    table: rectify.definitions.CategoryTable,
    severities: dict[str, rectify.definitions.DeadlineRule],
    campaign: rectify.calendar.Campaign,
) -> None:
    def due(code: str) -> dt.date:
        data = {"category": code, "severity": table.category(code).severity}
        return rule_date(
            FromSeverity(), data=data, phases=campaign.phase_ends, severities=severities
        )

    assert due("FAC.HYD.IN") == D(2024, 6, 30)
    assert due("STR.CANOPY") == D(2024, 12, 25)
    assert due("FAC.HOSE") == D(2024, 5, 13)
    assert due("PAS.LANE") == MONDAY


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (D(2024, 5, 10), D(2024, 5, 10)),  # the party's date is sooner
        (D(2024, 6, 30), D(2024, 5, 20)),  # 10 working days is sooner
        (D(2024, 5, 20), D(2024, 5, 20)),  # a tie
    ],
)
def test_earliest_rule_takes_the_soonest_of_its_rules(due: dt.date, expected: dt.date) -> None:
    rule = Earliest((FieldDate("due"), WorkingDays(10)))
    assert rule_date(rule, data={"due": due}) == expected


def test_earliest_rule_nests_every_kind(
    severities: dict[str, rectify.definitions.DeadlineRule], campaign: rectify.calendar.Campaign
) -> None:
    rule = Earliest(
        (
            CampaignDate("concentrated"),
            FromSeverity(),
            Earliest((FixedDate(D(2024, 6, 1)), CalendarDays(40))),
        )
    )
    got = rule_date(
        rule, data={"severity": "general"}, phases=campaign.phase_ends, severities=severities
    )
    assert got == D(2024, 6, 1)


# -- what a rule can lack --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"due": None},
        {"due": "2024-06-30"},  # text is not a date
        {"due": dt.datetime(2024, 6, 30, tzinfo=TZ)},  # nor is a moment
    ],
)
def test_field_rule_without_a_date_in_the_field_is_a_deadline_error(
    data: dict[str, object],
) -> None:
    with pytest.raises(DeadlineError, match="'due'"):
        rule_date(FieldDate("due"), data=data)


def test_unknown_campaign_phase_is_a_deadline_error_listing_the_known_ones(
    campaign: rectify.calendar.Campaign,
) -> None:
    with pytest.raises(DeadlineError) as info:
        rule_date(CampaignDate("nosuch"), phases=campaign.phase_ends)
    assert "'nosuch'" in str(info.value)
    assert "canopies, concentrated, consolidation, survey" in str(info.value)
    with pytest.raises(DeadlineError, match="known: none"):
        rule_date(CampaignDate("concentrated"))


@pytest.mark.parametrize("data", [{}, {"severity": "catastrophic"}, {"severity": 3}])
def test_missing_or_unknown_severity_is_a_deadline_error(
    severities: dict[str, rectify.definitions.DeadlineRule], data: dict[str, object]
) -> None:
    with pytest.raises(DeadlineError, match="general_short"):
        rule_date(FromSeverity(), data=data, severities=severities)


def test_working_days_without_a_calendar_is_a_deadline_error() -> None:
    with pytest.raises(DeadlineError, match="calendar"):
        due_date(WorkingDays(3), MONDAY, {}, calendar=None, phases={}, severities={})
    # Rules that need no calendar work without one.
    assert due_date(CalendarDays(3), MONDAY, {}, calendar=None, phases={}, severities={}) == D(
        2024, 5, 9
    )


@pytest.mark.parametrize("rule", [CalendarDays(3), WorkingDays(3), FixedDate(D(2024, 6, 30))])
def test_a_datetime_start_is_refused_whatever_the_rule(
    rule: rectify.definitions.DeadlineRule,
) -> None:
    start = dt.datetime(2024, 5, 6, 9, tzinfo=TZ)
    with pytest.raises(TypeError, match=r"start must be a date, not the datetime"):
        due_date(rule, start, {}, calendar=FakeCalendar(), phases={}, severities={})


def test_earliest_fails_when_any_of_its_rules_cannot_be_evaluated() -> None:
    with pytest.raises(DeadlineError, match="'due'"):
        rule_date(Earliest((WorkingDays(3), FieldDate("due"))))


def test_engine_without_a_calendar_refuses_to_open_a_working_day_case() -> None:
    engine = Engine(rectify.load_workflow(WORKFLOWS / "hazard.yaml"))
    with pytest.raises(DeadlineError, match="calendar"):
        engine.open("H-1", {}, COMMUNITY, at(5, 6))


def test_engine_on_an_uncovered_year_raises_calendar_error() -> None:
    engine = Engine(
        rectify.load_workflow(WORKFLOWS / "hazard.yaml"), calendar=rectify.OfficialCalendar()
    )
    with pytest.raises(rectify.CalendarError, match="2031"):
        engine.open("H-1", {}, COMMUNITY, dt.datetime(2031, 5, 6, 9, tzinfo=TZ))


def test_engine_counts_statutory_days_on_the_official_calendar() -> None:
    engine = Engine(
        rectify.load_workflow(WORKFLOWS / "hazard.yaml"), calendar=rectify.OfficialCalendar()
    )
    found = dt.datetime(2024, 9, 27, 16, tzinfo=TZ)
    outcome = engine.open("H-1", {}, COMMUNITY, found)
    assert outcome.case.deadline == D(2024, 10, 8)  # Sep 29, Sep 30, Oct 8
    assert DeadlineSet("H-1", "discovered", D(2024, 10, 8)) in outcome.effects


# -- aware datetimes only ----------------------------------------------------------------------


def test_engine_refuses_a_naive_datetime_to_open(hazard: Engine) -> None:
    with pytest.raises(NaiveDatetimeError, match="timezone"):
        hazard.open("H-1", {}, COMMUNITY, dt.datetime(2024, 5, 6, 9))


def test_engine_refuses_a_naive_datetime_to_fire(hazard: Engine) -> None:
    case = hazard.open("H-1", {}, COMMUNITY, at(5, 6)).case
    with pytest.raises(NaiveDatetimeError):
        hazard.fire(
            case,
            "assign",
            COMMUNITY,
            dt.datetime(2024, 5, 7, 9),
            payload={"responsible_party": "物业", "measures": "补齐", "due": D(2024, 6, 30)},
        )
    assert issubclass(NaiveDatetimeError, ValueError)


def test_engine_refuses_a_naive_datetime_to_sweep(hazard: Engine) -> None:
    case = hazard.open("H-1", {}, COMMUNITY, at(5, 6)).case
    with pytest.raises(NaiveDatetimeError):
        rectify.engine.sweep(hazard, [case], dt.datetime(2024, 6, 1))


def test_engine_takes_the_date_in_shanghai_whatever_the_timezone(hazard: Engine) -> None:
    # 20:00 UTC on 6 May is 04:00 on 7 May in Shanghai: the clock starts on the 7th.
    utc = dt.datetime(2024, 5, 6, 20, tzinfo=dt.UTC)
    assert hazard.open("H-1", {}, COMMUNITY, utc).case.deadline == D(2024, 5, 10)


# -- overdue and due soon ----------------------------------------------------------------------


def test_deadline_is_inclusive_to_the_end_of_its_day(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    assert case.deadline == D(2024, 6, 30)
    assert not is_overdue(case, D(2024, 6, 29))
    assert not is_overdue(case, D(2024, 6, 30))
    assert is_overdue(case, D(2024, 7, 1))


@pytest.mark.parametrize(
    ("day", "days", "expected"),
    [
        (D(2024, 6, 27), 3, True),
        (D(2024, 6, 26), 3, False),
        (D(2024, 6, 30), 0, True),  # due today is due within 0 days
        (D(2024, 7, 1), 3, False),  # past due is overdue, not due soon
    ],
)
def test_due_within_counts_days_up_to_the_deadline(
    hazard: Engine, day: dt.date, days: int, expected: bool
) -> None:
    assert due_within(planned(hazard, D(2024, 6, 30)), day, days) is expected


def test_a_case_without_a_deadline_is_never_overdue_or_due(hazard: Engine) -> None:
    case = attrs.evolve(planned(hazard), deadline=None)
    assert not is_overdue(case, D(2031, 1, 1))
    assert not due_within(case, D(2024, 6, 30), 365)


def test_a_paused_case_is_not_overdue(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    case = hazard.fire(
        case, "wait", TOWN, at(6, 20), payload={"waiting_for": "供水公司"}, reason="等待供水"
    ).case
    assert case.paused_since == at(6, 20)
    assert not is_overdue(case, D(2024, 8, 1))


# -- pauses -------------------------------------------------------------------------------------


def wait(engine: Engine, case: Case, when: dt.datetime) -> Case:
    return engine.fire(
        case, "wait", TOWN, when, payload={"waiting_for": "供水公司"}, reason="等待供水"
    ).case


def test_pause_keeps_the_deadline_and_resume_shifts_it_by_the_paused_days(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    paused = wait(hazard, case, at(5, 10))
    assert (paused.state, paused.deadline, paused.paused_days) == ("waiting", D(2024, 6, 30), 0)
    outcome = hazard.fire(paused, "resume", TOWN, at(5, 20, 15))
    resumed = outcome.case
    assert resumed.state == "planned"
    assert resumed.paused_since is None
    assert resumed.paused_days == 10
    assert resumed.deadline == D(2024, 7, 10)
    assert DeadlineSet("H-1", "planned", D(2024, 7, 10)) in outcome.effects


def test_paused_days_add_up_over_several_pauses(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    case = hazard.fire(wait(hazard, case, at(5, 10)), "resume", TOWN, at(5, 13)).case
    case = hazard.fire(wait(hazard, case, at(5, 20)), "resume", TOWN, at(5, 27)).case
    assert case.paused_days == 3 + 7
    assert case.deadline == D(2024, 6, 30) + dt.timedelta(days=10)


def test_a_pause_within_one_day_shifts_nothing(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    case = hazard.fire(wait(hazard, case, at(5, 10, 9)), "resume", TOWN, at(5, 10, 17)).case
    assert (case.paused_days, case.deadline) == (0, D(2024, 6, 30))


def test_pause_counts_calendar_days_in_shanghai(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    # 23:30 on 10 May to 00:30 on 11 May, Shanghai time: one calendar day.
    case = wait(hazard, case, dt.datetime(2024, 5, 10, 23, 30, tzinfo=TZ))
    case = hazard.fire(case, "resume", TOWN, dt.datetime(2024, 5, 10, 16, 30, tzinfo=dt.UTC)).case
    assert (case.paused_days, case.deadline) == (1, D(2024, 7, 1))


def test_pause_and_resume_replay_to_the_same_case(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    case = hazard.fire(wait(hazard, case, at(5, 10)), "resume", TOWN, at(5, 20)).case
    rectify.engine.verify_history(case)
    assert rectify.engine.replay(hazard, case.history) == case


# -- extensions ---------------------------------------------------------------------------------


def extend(engine: Engine, case: Case, due: dt.date, when: dt.datetime) -> rectify.Outcome:
    return engine.fire(case, "extend", TOWN, when, payload={"due": due}, reason="水带缺货")


def test_extension_counts_and_sets_the_deadline_from_due(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    outcome = extend(hazard, case, D(2024, 9, 30), at(6, 1))
    assert outcome.case.state == "planned"
    assert outcome.case.extensions == 1
    assert outcome.case.deadline == D(2024, 9, 30)
    assert outcome.effects == (DeadlineSet("H-1", "planned", D(2024, 9, 30)),)
    assert outcome.record.reason == "水带缺货"
    assert dict(outcome.record.payload) == {"due": D(2024, 9, 30)}


def test_extensions_add_up(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    case = extend(hazard, case, D(2024, 7, 31), at(6, 1)).case
    case = extend(hazard, case, D(2024, 8, 31), at(7, 20)).case
    assert (case.extensions, case.deadline) == (2, D(2024, 8, 31))


def test_extension_in_assigned_overrides_its_working_day_deadline(hazard: Engine) -> None:
    case = hazard.open("H-1", {}, COMMUNITY, at(5, 6)).case
    case = hazard.fire(
        case,
        "assign",
        COMMUNITY,
        at(5, 7),
        payload={"responsible_party": "物业", "measures": "补齐", "due": D(2024, 6, 30)},
    ).case
    assert case.deadline == D(2024, 5, 14)  # 5 working days
    case = extend(hazard, case, D(2024, 5, 31), at(5, 8)).case
    assert (case.state, case.extensions, case.deadline) == ("assigned", 1, D(2024, 5, 31))


def test_extension_needs_a_reason(hazard: Engine) -> None:
    case = planned(hazard)
    with pytest.raises(rectify.exceptions.PayloadError, match="reason"):
        hazard.fire(case, "extend", TOWN, at(6, 1), payload={"due": D(2024, 9, 30)})


def test_extended_deadline_survives_a_pause(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    case = extend(hazard, case, D(2024, 9, 30), at(5, 9)).case
    case = hazard.fire(wait(hazard, case, at(5, 10)), "resume", TOWN, at(5, 20)).case
    assert case.extensions == 1
    assert case.paused_days == 10
    assert case.deadline == D(2024, 10, 10), "the approved extension plus the paused days"


def test_extended_deadline_survives_a_same_day_pause(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    case = extend(hazard, case, D(2024, 9, 30), at(5, 9)).case
    case = hazard.fire(wait(hazard, case, at(5, 10, 9)), "resume", TOWN, at(5, 10, 11)).case
    assert case.deadline == D(2024, 9, 30)


def test_extension_and_pause_replay_to_the_same_case(hazard: Engine) -> None:
    case = planned(hazard, D(2024, 6, 30))
    case = extend(hazard, case, D(2024, 9, 30), at(5, 9)).case
    case = hazard.fire(wait(hazard, case, at(5, 10)), "resume", TOWN, at(5, 20)).case
    case = extend(hazard, case, D(2024, 11, 30), at(6, 1)).case
    rectify.engine.verify_history(case)
    assert rectify.engine.replay(hazard, case.history) == case
