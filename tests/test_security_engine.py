"""Bad input at the engine's entry points: wrong types, times out of range, DST, NUL text.

Every refusal here must be a :class:`~rectify.exceptions.RectifyError`, so a host that catches
the root at its boundary never sees a bare ``TypeError`` or ``OverflowError``. Times around
the DST fall-back of America/New_York (3 November 2024: 01:00-02:00 happens twice) check that
the engine orders events by instant, not by wall-clock reading.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import attrs
import pytest

import rectify
from rectify import Actor, Case, Engine, Evidence, Ledger
from rectify.calendar._deadlines import count_working_days
from rectify.engine import change_severity, escalate, is_overdue, migrate, sweep
from rectify.exceptions import (
    ArgumentError,
    DeadlineError,
    OutOfOrderError,
    PayloadError,
    RectifyError,
)
from rectify.stores import MemoryStore
from rectify.testing import FakeCalendar, FakeClock
from tests.conftest import WORKFLOWS

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
COMMUNITY = Actor("c-1", "community")
TOWN = Actor("t-1", "town_office")
DATA: Mapping[str, object] = {"community": "Xinhe", "address": "12 Xinhe Road", "floors": 6}
ASSIGN: Mapping[str, object] = {
    "responsible_party": "Sunshine",
    "measures": "Fit",
    "due": "2024-12-30",
}
# 3 November 2024 in New York: 01:30 EDT (05:30 UTC), then, after the clocks go back,
# 01:10 EST (06:10 UTC) - forty minutes later, though its wall-clock reading is earlier.
EDT_0130 = dt.datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK)
EST_0110 = dt.datetime(2024, 11, 3, 1, 10, fold=1, tzinfo=NEW_YORK)


@functools.cache
def engine(name: str = "hazard") -> Engine:
    return Engine(rectify.load_workflow(WORKFLOWS / f"{name}.yaml"), calendar=FakeCalendar())


def opened(at: dt.datetime) -> Case:
    return engine().open("HZ-1", DATA, COMMUNITY, at).case


def ledger() -> Ledger:
    clock = FakeClock(dt.datetime(2024, 3, 19, 9, tzinfo=SHANGHAI))
    return Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar(), clock=clock)


# -- wrong types are RectifyErrors (and still TypeErrors) ---------------------------------


def test_argument_error_is_both_a_rectify_error_and_a_type_error() -> None:
    assert issubclass(ArgumentError, RectifyError)
    assert issubclass(ArgumentError, TypeError)


def test_ledger_fire_with_a_string_time_raises_argument_error_naming_it() -> None:
    book = ledger()
    book.open("HZ-1", "hazard", DATA, COMMUNITY)
    with pytest.raises(ArgumentError, match=r"at must be an aware datetime.*'2024-03-19'"):
        book.fire("HZ-1", "assign", COMMUNITY, payload=ASSIGN, at="2024-03-19")  # type: ignore[arg-type]


def test_ledger_sweep_with_a_date_raises_argument_error_naming_it() -> None:
    with pytest.raises(ArgumentError, match=r"now must be .*datetime\.date\(2024, 3, 19\)"):
        ledger().sweep(dt.date(2024, 3, 19))  # type: ignore[arg-type]


def test_counting_working_days_from_a_datetime_raises_argument_error() -> None:
    start = dt.datetime(2024, 3, 19, 9, tzinfo=SHANGHAI)
    with pytest.raises(ArgumentError, match=r"start must be a date, not the datetime"):
        count_working_days(lambda _: True, start, 3)


@pytest.mark.parametrize(
    "day",
    [
        dt.datetime(2024, 3, 19, 9),
        dt.datetime(2024, 3, 19, 9, tzinfo=SHANGHAI),
        "2024-03-19",
        None,
    ],
    ids=["naive", "aware", "text", "none"],
)
def test_is_overdue_refuses_anything_but_a_date_with_argument_error(day: object) -> None:
    case = opened(dt.datetime(2024, 3, 19, 9, tzinfo=SHANGHAI))
    with pytest.raises(ArgumentError, match=r"day must be a date"):
        is_overdue(case, day)  # type: ignore[arg-type]


def test_is_overdue_still_answers_for_a_date() -> None:
    case = opened(dt.datetime(2024, 3, 19, 9, tzinfo=SHANGHAI))
    assert case.deadline is not None
    assert is_overdue(case, case.deadline + dt.timedelta(days=1))


# -- times at the end of the calendar ------------------------------------------------------


def test_opening_at_datetime_max_raises_deadline_error_naming_the_date() -> None:
    last = dt.datetime.max.replace(tzinfo=SHANGHAI)
    with pytest.raises(DeadlineError, match=r"9999-12-31"):
        engine().open("HZ-1", DATA, COMMUNITY, last)


def test_opening_at_datetime_max_in_utc_raises_deadline_error_naming_the_time() -> None:
    last = dt.datetime.max.replace(tzinfo=dt.UTC)
    with pytest.raises(DeadlineError, match=r"9999-12-31T23:59:59\.999999\+00:00"):
        engine().open("HZ-1", DATA, COMMUNITY, last)


# -- ordering by instant across a DST fall-back --------------------------------------------


def test_fire_after_the_fall_back_is_later_though_its_wall_time_is_earlier() -> None:
    case = opened(EDT_0130)
    moved = engine().fire(case, "assign", COMMUNITY, EST_0110, payload=ASSIGN).case
    assert (moved.state, moved.updated_at) == ("assigned", EST_0110)


def test_fire_before_the_fall_back_is_earlier_though_its_wall_time_is_later() -> None:
    case = opened(EST_0110)
    with pytest.raises(OutOfOrderError) as caught:
        engine().fire(case, "assign", COMMUNITY, EDT_0130, payload=ASSIGN)
    assert (caught.value.at, caught.value.last) == (EDT_0130.isoformat(), EST_0110.isoformat())


def test_merge_before_the_fall_back_is_refused_as_out_of_order() -> None:
    into = engine().open("HZ-1", DATA, COMMUNITY, EST_0110).case
    duplicate = engine().open("HZ-2", DATA, COMMUNITY, EDT_0130).case
    with pytest.raises(OutOfOrderError):
        engine().merge(duplicate, into, COMMUNITY, EDT_0130, reason="same hose")


def test_severity_change_before_the_fall_back_is_refused_as_out_of_order() -> None:
    case = opened(EST_0110)
    with pytest.raises(OutOfOrderError):
        change_severity(engine(), case, "major", TOWN, EDT_0130, reason="worse")


def test_migration_before_the_fall_back_is_refused() -> None:
    case = opened(EST_0110)
    second = Engine(attrs.evolve(engine().spec, version=2), calendar=FakeCalendar())
    with pytest.raises(RectifyError, match=r"dated before its last event"):
        migrate(second, case, {}, TOWN, EDT_0130)


def test_escalation_counts_an_event_before_the_fall_back_as_come() -> None:
    # A refusal at 01:30 EDT triggers level 2; a sweep at 01:10 EST is 40 minutes after it.
    immediate = engine("immediate")
    grid = Actor("g-1", "grid_worker")
    start = dt.datetime(2024, 11, 3, 1, 0, tzinfo=NEW_YORK)
    case = immediate.open("IM-1", DATA, grid, start).case
    refusal = [Evidence.of(k, f"{k}.jpg", b"x") for k in ("photo_before", "refusal_record")]
    payload = {"refusal": "will not move the car"}
    case = immediate.fire(case, "refuse", grid, EDT_0130, payload=payload, evidence=refusal).case
    escalated = escalate(immediate, case, EST_0110).case
    swept = sweep(immediate, [case], EST_0110).cases
    assert (escalated.escalation, [c.escalation for c in swept]) == (2, [2])


# -- NUL characters: refused on every backend ----------------------------------------------


def test_open_refuses_nul_in_case_data_naming_the_field() -> None:
    with pytest.raises(PayloadError, match=r"NUL") as caught:
        engine().open("HZ-1", {**DATA, "address": "12\x00 Xinhe"}, COMMUNITY, EST_0110)
    assert caught.value.field == "data address"


def test_open_refuses_nul_in_the_actor_id() -> None:
    with pytest.raises(PayloadError, match=r"NUL") as caught:
        engine().open("HZ-1", DATA, Actor("c\x00", "community"), EST_0110)
    assert caught.value.field == "actor"


def test_fire_refuses_nul_in_a_payload_string_naming_the_field() -> None:
    case = opened(EDT_0130)
    payload = {**ASSIGN, "measures": "Fit\x00 hoses"}
    with pytest.raises(PayloadError, match=r"NUL") as caught:
        engine().fire(case, "assign", COMMUNITY, EST_0110, payload=payload)
    assert caught.value.field == "measures"


def test_fire_refuses_nul_in_the_reason() -> None:
    record = [Evidence.of("inspection_record", "record.pdf", b"record")]
    with pytest.raises(PayloadError, match=r"NUL") as caught:
        engine().fire(
            opened(EDT_0130), "dismiss", COMMUNITY, EST_0110, evidence=record, reason="no\x00"
        )
    assert caught.value.field == "reason"


def test_fire_refuses_nul_in_an_evidence_name() -> None:
    case = engine().fire(opened(EDT_0130), "assign", COMMUNITY, EST_0110, payload=ASSIGN).case
    later = EST_0110 + dt.timedelta(hours=1)
    plan = Evidence.of("plan_document", "plan\x00.pdf", b"plan")
    payload = {"measures": "Fit", "due": "2024-12-30"}
    with pytest.raises(PayloadError, match=r"NUL") as caught:
        engine().fire(
            case, "plan", Actor("p-1", "property"), later, payload=payload, evidence=[plan]
        )
    assert caught.value.field == "evidence plan_document"


def test_tabs_and_newlines_in_free_text_are_still_accepted() -> None:
    case = engine().open("HZ-1", {**DATA, "address": "12\tXinhe\r\nRoad"}, COMMUNITY, EST_0110)
    assert case.case.data["address"] == "12\tXinhe\r\nRoad"
