"""Changing a case's severity: the severity-based deadline is recomputed and the change recorded.

``GRADED`` is a small workflow whose working state takes its deadline from the severity
(``{from_severity: true}``), entered one step after opening so that "counted from the day the
state was entered" can be told apart from "counted from the opening".
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import rectify
from rectify import Actor, Case, Engine, NaiveDatetimeError
from rectify.engine import DeadlineSet, change_severity
from rectify.exceptions import CaseFinalError, DeadlineError, OutOfOrderError, PayloadError
from rectify.testing import FakeCalendar
from tests.conftest import WORKFLOWS

TZ = ZoneInfo("Asia/Shanghai")
D = dt.date

GRADED = """\
workflow: graded
version: 1
title: 分级整改
roles: {community: 社区, town_office: 镇消安办}
initial: intake
states:
  intake:
    title: 待受理
    deadline: {working_days: 2}
  working:
    title: 整改中
    deadline: {from_severity: true}
  closed:
    title: 已销号
    final: true
    outcome: rectified
events:
  accept: {title: 受理, from: intake, to: working, roles: [community]}
  close: {title: 销号, from: working, to: closed, roles: [community]}
"""

COMMUNITY = Actor("c-1", "community")
TOWN = Actor("t-1", "town_office")


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=TZ)


@pytest.fixture(scope="module")
def engine() -> Engine:
    table = rectify.load_categories()
    campaign = rectify.calendar.load_campaign(WORKFLOWS / "campaign-2024.yaml")
    return Engine(
        rectify.load_workflow(GRADED),
        calendar=FakeCalendar(),
        phases=campaign.phase_ends,
        severities={s.name: s.period for s in table.severities},
    )


def working(engine: Engine, severity: str = "general") -> Case:
    """Return a case opened on Monday 6 May and accepted (entering ``working``) on the 8th."""
    case = engine.open("G-1", {"category": "FAC.LIGHT", "severity": severity}, COMMUNITY, at(5, 6))
    return engine.fire(case.case, "accept", COMMUNITY, at(5, 8)).case


def test_deadline_follows_the_severity_when_the_state_is_entered(engine: Engine) -> None:
    case = working(engine, "general")
    assert (case.state, case.deadline) == ("working", D(2024, 6, 7))  # 8 May + 30 days


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("general_short", D(2024, 5, 15)),  # 8 May + 7, not 6 May + 7
        ("immediate", D(2024, 5, 8)),
        ("engineering", D(2024, 6, 30)),  # the concentrated phase
        ("phased", D(2024, 12, 25)),  # canopies and nets
        ("suspected_major", D(2024, 5, 17)),  # 7 working days from 8 May
    ],
)
def test_change_recomputes_the_deadline_from_the_day_the_state_was_entered(
    engine: Engine, severity: str, expected: dt.date
) -> None:
    case = working(engine, "general")
    outcome = change_severity(engine, case, severity, TOWN, at(5, 20), reason="复核后调整")
    assert outcome.case.deadline == expected
    assert outcome.case.data["severity"] == severity
    assert outcome.effects == (DeadlineSet("G-1", "working", expected),)


def test_change_is_recorded_with_its_reason_and_both_severities(engine: Engine) -> None:
    case = working(engine, "general")
    outcome = change_severity(
        engine, case, "engineering", TOWN, at(5, 20), reason="需改造管网，按工程类整改"
    )
    record = outcome.record
    assert (record.seq, record.event, record.source, record.target) == (
        case.seq + 1,
        "@severity",
        "working",
        "working",
    )
    assert (record.actor, record.role, record.at) == ("t-1", "town_office", at(5, 20))
    assert dict(record.payload) == {"from": "general", "to": "engineering"}
    assert record.reason == "需改造管网，按工程类整改"
    assert record.prev == case.history[-1].digest
    assert outcome.case.state == "working"
    rectify.engine.verify_history(outcome.case)


def test_severity_change_replays_to_the_same_case(engine: Engine) -> None:
    case = working(engine, "general")
    case = change_severity(engine, case, "general_short", TOWN, at(5, 10), reason="影响较小").case
    case = change_severity(engine, case, "engineering", TOWN, at(5, 20), reason="需改造").case
    assert case.deadline == D(2024, 6, 30)
    assert rectify.engine.replay(engine, case.history) == case
    closed = engine.fire(case, "close", COMMUNITY, at(6, 1)).case
    assert rectify.engine.replay(engine, closed.history) == closed


def test_same_deadline_after_a_change_sets_no_new_deadline(engine: Engine) -> None:
    case = working(engine, "engineering")
    assert case.deadline == D(2024, 6, 30)
    # An earliest-of rule could tie; here the same severity again changes nothing.
    outcome = change_severity(engine, case, "engineering", TOWN, at(5, 20), reason="复核维持")
    assert outcome.case.deadline == D(2024, 6, 30)
    assert outcome.effects == ()
    assert outcome.record.event == "@severity"


def test_change_in_a_state_not_timed_by_severity_keeps_its_deadline(engine: Engine) -> None:
    opened = engine.open("G-1", {"severity": "general"}, COMMUNITY, at(5, 6)).case
    assert opened.deadline == D(2024, 5, 8)  # 2 working days
    outcome = change_severity(engine, opened, "engineering", TOWN, at(5, 7), reason="工程类")
    assert outcome.case.deadline == D(2024, 5, 8)
    assert outcome.effects == ()
    # ...but the new severity times the next state.
    accepted = engine.fire(outcome.case, "accept", COMMUNITY, at(5, 8)).case
    assert accepted.deadline == D(2024, 6, 30)
    assert rectify.engine.replay(engine, accepted.history) == accepted


def test_change_on_a_field_timed_hazard_records_but_keeps_the_partys_date() -> None:
    hazard = Engine(rectify.load_workflow(WORKFLOWS / "hazard.yaml"), calendar=FakeCalendar())
    case = hazard.open("H-1", {"severity": "general"}, COMMUNITY, at(5, 6)).case
    case = hazard.fire(
        case,
        "assign",
        COMMUNITY,
        at(5, 7),
        payload={"responsible_party": "物业", "measures": "整改", "due": D(2024, 6, 30)},
    ).case
    outcome = change_severity(hazard, case, "general_short", TOWN, at(5, 8), reason="简单")
    assert outcome.case.deadline == case.deadline
    assert outcome.effects == ()
    assert outcome.case.data["severity"] == "general_short"
    assert rectify.engine.replay(hazard, outcome.case.history) == outcome.case


def test_change_needs_a_reason(engine: Engine) -> None:
    case = working(engine)
    for reason in ("", "   "):
        with pytest.raises(PayloadError) as info:
            change_severity(engine, case, "engineering", TOWN, at(5, 20), reason=reason)
        assert info.value.field == "reason"
        assert info.value.event == "@severity"


def test_change_on_a_closed_case_is_refused(engine: Engine) -> None:
    closed = engine.fire(working(engine), "close", COMMUNITY, at(5, 9)).case
    with pytest.raises(CaseFinalError):
        change_severity(engine, closed, "engineering", TOWN, at(5, 20), reason="迟到")


def test_change_dated_before_the_last_event_is_refused(engine: Engine) -> None:
    with pytest.raises(OutOfOrderError):
        change_severity(engine, working(engine), "engineering", TOWN, at(5, 7), reason="倒签")


def test_change_with_a_naive_datetime_is_refused(engine: Engine) -> None:
    with pytest.raises(NaiveDatetimeError):
        change_severity(
            engine, working(engine), "engineering", TOWN, dt.datetime(2024, 5, 20), reason="x"
        )


def test_change_to_an_unknown_severity_is_a_deadline_error(engine: Engine) -> None:
    with pytest.raises(DeadlineError, match="'catastrophic'"):
        change_severity(engine, working(engine), "catastrophic", TOWN, at(5, 20), reason="x")
