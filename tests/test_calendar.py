"""The official working-day calendar: chinese-calendar, host holiday files and the fallback.

The real-calendar tests use the State Council's 2024 arrangements as chinese-calendar ships
them: National Day Oct 1-7 off with make-up workdays Sun Sep 29 and Sat Oct 12; Spring
Festival Feb 10-17 off with make-up workdays Sun Feb 4 and Sun Feb 18. 2031 stands for a year
no source covers.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rectify
from rectify import CalendarError, OfficialCalendar
from rectify.calendar import CalendarFallbackWarning, load_holidays
from rectify.testing import FakeCalendar

D = dt.date
UNCOVERED = 2031

HOST_2031 = """\
# 2031年假期安排（主机提供）
years:
  2031:
    holidays:
      - 2031-01-01
      - {from: 2031-01-22, to: 2031-01-28, name: 春节}
    workdays: [2031-01-19]
"""


@pytest.fixture(scope="module")
def official() -> OfficialCalendar:
    return OfficialCalendar()


# -- the real 2024 calendar ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2024, 9, 27), True),  # Friday before the holiday
        (D(2024, 9, 28), False),  # an ordinary Saturday
        (D(2024, 9, 29), True),  # Sunday make-up workday (调休)
        (D(2024, 9, 30), True),
        *((D(2024, 10, n), False) for n in range(1, 8)),  # National Day, Oct 1-7
        (D(2024, 10, 8), True),
        (D(2024, 10, 12), True),  # Saturday make-up workday
        (D(2024, 10, 13), False),
        (D(2024, 2, 4), True),  # Sunday make-up workday before Spring Festival
        (D(2024, 2, 9), True),  # New Year's Eve is officially a working day in 2024
        *((D(2024, 2, n), False) for n in range(10, 18)),  # Spring Festival, Feb 10-17
        (D(2024, 2, 18), True),  # Sunday make-up workday after it
    ],
)
def test_official_calendar_knows_2024_holidays_and_make_up_workdays(
    official: OfficialCalendar, day: dt.date, working: bool
) -> None:
    assert official.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (D(2024, 9, 27), 1, D(2024, 9, 29)),  # Friday + 1 is the Sunday make-up day
        (D(2024, 9, 27), 3, D(2024, 10, 8)),  # Sep 29, Sep 30, then across the holiday
        (D(2024, 9, 30), 1, D(2024, 10, 8)),
        (D(2024, 10, 1), 3, D(2024, 10, 10)),  # an inspection on a holiday counts from Oct 8
        (D(2024, 10, 11), 1, D(2024, 10, 12)),  # Friday + 1 is the Saturday make-up day
        (D(2024, 2, 9), 1, D(2024, 2, 18)),  # New Year's Eve + 1 is the Sunday after
        (D(2024, 2, 2), 1, D(2024, 2, 4)),  # Friday + 1 is the Sunday before
        (D(2024, 2, 8), 3, D(2024, 2, 19)),  # Feb 9, Feb 18, Feb 19
    ],
)
def test_add_working_days_skips_holidays_and_counts_make_up_days(
    official: OfficialCalendar, start: dt.date, days: int, expected: dt.date
) -> None:
    assert official.add_working_days(start, days) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (D(2024, 9, 30), D(2024, 9, 30)),  # a working day is its own day 0
        (D(2024, 10, 3), D(2024, 10, 8)),  # a holiday moves to the next working day
        (D(2024, 9, 29), D(2024, 9, 29)),  # a make-up Sunday is a working day
        (D(2024, 9, 28), D(2024, 9, 29)),  # an ordinary Saturday moves to the make-up Sunday
        (D(2024, 2, 10), D(2024, 2, 18)),
    ],
)
def test_add_zero_working_days_is_the_first_working_day_from_start(
    official: OfficialCalendar, start: dt.date, expected: dt.date
) -> None:
    assert official.add_working_days(start, 0) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2024, 9, 27), D(2024, 10, 12), 7),  # Sep 29, 30, Oct 8, 9, 10, 11, 12
        (D(2024, 9, 30), D(2024, 10, 7), 0),  # the whole holiday
        (D(2024, 9, 30), D(2024, 10, 8), 1),
        (D(2024, 2, 9), D(2024, 2, 18), 1),
        (D(2024, 2, 3), D(2024, 2, 4), 1),  # the end day counts, the start day does not
        (D(2024, 10, 8), D(2024, 10, 8), 0),
        (D(2024, 10, 8), D(2024, 9, 30), 0),  # backwards is no working days, not negative
    ],
)
def test_working_days_between_counts_after_start_up_to_and_including_end(
    official: OfficialCalendar, start: dt.date, end: dt.date, expected: int
) -> None:
    assert official.working_days_between(start, end) == expected


# -- years no source covers ------------------------------------------------------------------


def test_uncovered_year_raises_calendar_error_naming_the_year_and_the_remedy() -> None:
    with pytest.raises(CalendarError) as info:
        OfficialCalendar().is_working_day(D(UNCOVERED, 3, 3))
    message = str(info.value)
    assert "2031" in message
    assert "holiday file" in message
    assert "fallback" in message
    assert isinstance(info.value, rectify.RectifyError)


def test_counting_into_an_uncovered_year_raises_rather_than_guessing() -> None:
    calendar = OfficialCalendar()
    assert calendar.is_working_day(D(2026, 12, 30)) is True  # the package's last year
    with pytest.raises(CalendarError, match="2027"):  # ...but not the next one
        calendar.add_working_days(D(2026, 12, 30), 5)


def test_weekends_fallback_warns_once_per_year_and_counts_monday_to_friday() -> None:
    calendar = OfficialCalendar(weekends_fallback=True)
    with pytest.warns(CalendarFallbackWarning) as first:
        wednesday = calendar.is_working_day(D(UNCOVERED, 1, 1))
    assert wednesday is True
    assert len(first) == 1
    assert "2031" in str(first[0].message)
    # The same year again: no second warning (filterwarnings=error would fail the test).
    assert calendar.is_working_day(D(UNCOVERED, 1, 4)) is False  # a Saturday
    assert calendar.add_working_days(D(UNCOVERED, 1, 3), 1) == D(UNCOVERED, 1, 6)
    with pytest.warns(CalendarFallbackWarning, match="2032") as second:
        saturday = calendar.is_working_day(D(UNCOVERED + 1, 1, 3))
    assert saturday is False
    assert len(second) == 1


def test_weekends_fallback_does_not_touch_years_the_package_covers() -> None:
    calendar = OfficialCalendar(weekends_fallback=True)
    assert calendar.is_working_day(D(2024, 10, 2)) is False  # no warning: the data is known
    assert calendar.is_working_day(D(2024, 10, 12)) is True


# -- host holiday files ------------------------------------------------------------------------


def test_host_holiday_file_loads_dates_ranges_and_workdays() -> None:
    data = load_holidays(HOST_2031)
    assert data.years == frozenset({UNCOVERED})
    assert data.holidays == frozenset({D(2031, 1, 1), *(D(2031, 1, n) for n in range(22, 29))})
    assert data.workdays == frozenset({D(2031, 1, 19)})


def test_host_holiday_file_extends_coverage_to_a_year_the_package_lacks() -> None:
    calendar = OfficialCalendar(load_holidays(HOST_2031))
    assert calendar.is_working_day(D(2031, 1, 1)) is False  # listed holiday, a Wednesday
    assert calendar.is_working_day(D(2031, 1, 2)) is True  # an ordinary Thursday
    assert calendar.is_working_day(D(2031, 1, 4)) is False  # an ordinary Saturday
    assert calendar.is_working_day(D(2031, 1, 19)) is True  # make-up Sunday
    assert calendar.is_working_day(D(2031, 1, 24)) is False  # inside the range
    assert calendar.add_working_days(D(2031, 1, 17), 1) == D(2031, 1, 19)  # Friday + 1
    assert calendar.add_working_days(D(2031, 1, 21), 1) == D(2031, 1, 29)  # over Jan 22-28


def test_host_holiday_file_leaves_other_uncovered_years_an_error() -> None:
    calendar = OfficialCalendar(load_holidays(HOST_2031))
    with pytest.raises(CalendarError, match="2032"):
        calendar.is_working_day(D(2032, 1, 5))


def test_host_dates_override_the_package_dates() -> None:
    text = """\
years:
  2024:
    holidays: [2024-10-08]        # a local day off the package says is a working day
    workdays: [2024-10-05]        # a Saturday in the holiday made a working day
"""
    calendar = OfficialCalendar(load_holidays(text))
    assert OfficialCalendar().is_working_day(D(2024, 10, 8)) is True
    assert calendar.is_working_day(D(2024, 10, 8)) is False
    assert OfficialCalendar().is_working_day(D(2024, 10, 5)) is False
    assert calendar.is_working_day(D(2024, 10, 5)) is True


def test_host_holiday_file_is_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "holidays-2031.yaml"
    path.write_text(HOST_2031, encoding="utf-8")
    assert load_holidays(path) == load_holidays(HOST_2031)


@pytest.mark.parametrize(
    ("text", "code", "line", "column", "where"),
    [
        (
            "years:\n  2031:\n    holidays: [2031-01-01]\n    extra: 1\n",
            "unknown-key",
            4,
            5,
            "extra",
        ),
        ("years:\n  20x1: {}\n", "bad-value", 2, 3, "years.20x1"),
        ("years:\n  2031:\n    holidays: [hello]\n", "wrong-type", 3, 16, "holidays[0]"),
        ("years:\n  2031:\n    workdays: 5\n", "wrong-type", 3, 15, "workdays"),
        (
            "years:\n  2031:\n    holidays:\n      - {from: 2031-03-05, to: 2031-03-01}\n",
            "bad-value",
            4,
            9,
            "holidays[0]",
        ),
        ("years:\n  2031:\n    holidays: [2030-05-01]\n", "bad-value", 3, 16, "holidays[0]"),
        ("years:\n  2031:\n    holidays:\n      - {from: 2031-03-05}\n", "missing-key", 4, 9, ""),
        ("years: [2031]\n", "wrong-type", 1, 8, "years"),
        ("holidays: [2031-01-01]\n", "missing-key", 1, 1, ""),
    ],
)
def test_bad_holiday_file_raises_definition_error_with_line_and_column(
    text: str, code: str, line: int, column: int, where: str
) -> None:
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        load_holidays(text)
    found = [
        (d.code, d.location.line, d.location.column)
        for d in info.value.errors
        if where in d.location.path
    ]
    assert (code, line, column) in found, info.value.errors
    assert f"<string>:{line}:{column}" in str(info.value)


def test_bad_holiday_file_reports_every_problem_at_once() -> None:
    text = "years:\n  2031:\n    holidays: [hello, 2030-05-01]\n    workdays: 5\n  20x1: {}\n"
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        load_holidays(text)
    lines = sorted({d.location.line for d in info.value.errors})
    assert lines == [3, 4, 5]


def test_unreadable_holiday_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(rectify.DefinitionError, match="cannot read"):
        load_holidays(f"{tmp_path}/missing.yaml")


# -- what a calendar is given -------------------------------------------------------------------

AT_NINE = dt.datetime(2024, 9, 27, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CALENDARS = [
    pytest.param(OfficialCalendar(), id="official"),
    pytest.param(FakeCalendar(), id="fake"),
]


@pytest.mark.parametrize("calendar", CALENDARS)
@pytest.mark.parametrize(
    "given",
    [AT_NINE, AT_NINE.replace(tzinfo=None), "2024-09-27", None],
    ids=["aware-datetime", "naive-datetime", "iso-text", "none"],
)
def test_a_datetime_or_a_non_date_is_refused_for_a_day_by_every_calendar(
    calendar: OfficialCalendar | FakeCalendar, given: object
) -> None:
    with pytest.raises(TypeError, match=re.escape(repr(given))):
        calendar.add_working_days(given, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape(repr(given))):
        calendar.add_working_days(given, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape(repr(given))):
        calendar.is_working_day(given)  # type: ignore[arg-type]


@pytest.mark.parametrize("given", [AT_NINE, "2024-09-27"], ids=["datetime", "iso-text"])
def test_working_days_between_refuses_a_datetime_or_a_non_date_at_either_end(
    official: OfficialCalendar, given: object
) -> None:
    with pytest.raises(TypeError, match=r"^start must be a date.*" + re.escape(repr(given))):
        official.working_days_between(given, D(2024, 10, 8))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^end must be a date.*" + re.escape(repr(given))):
        official.working_days_between(D(2024, 9, 20), given)  # type: ignore[arg-type]


def test_a_datetime_is_refused_with_a_message_saying_to_give_its_date(
    official: OfficialCalendar,
) -> None:
    with pytest.raises(TypeError, match=r"start must be a date, not the datetime .*give its date"):
        official.add_working_days(AT_NINE, 3)


# -- properties ---------------------------------------------------------------------------------

# chinese-calendar 1.11 covers 2004-2026; starts and counts keep every result inside it.
covered_days = st.dates(D(2005, 1, 1), D(2025, 12, 31))
counts = st.integers(1, 60)


@given(start=covered_days, days=st.integers(0, 60))
def test_a_deadline_in_working_days_falls_on_a_working_day(start: dt.date, days: int) -> None:
    calendar = OfficialCalendar()
    due = calendar.add_working_days(start, days)
    assert calendar.is_working_day(due)
    assert due >= start


@given(start=covered_days, days=counts)
def test_adding_n_working_days_then_counting_back_gives_n(start: dt.date, days: int) -> None:
    calendar = OfficialCalendar()
    due = calendar.add_working_days(start, days)
    assert calendar.working_days_between(start, due) == days
    # ...and it is the first day that far: the day before is one short.
    assert calendar.working_days_between(start, due - dt.timedelta(days=1)) == days - 1


YEAR_2031 = st.dates(D(UNCOVERED, 1, 1), D(UNCOVERED, 12, 31))


@st.composite
def host_years(draw: st.DrawFn) -> tuple[str, frozenset[dt.date], frozenset[dt.date]]:
    """Draw a host holiday file for 2031: single days and ranges off, some days on."""
    items: list[str] = []
    off: set[dt.date] = set()
    for start in draw(st.lists(YEAR_2031, max_size=12)):
        length = draw(st.integers(0, 9))
        end = min(start + dt.timedelta(days=length), D(UNCOVERED, 12, 31))
        if start == end and draw(st.booleans()):
            items.append(start.isoformat())
        else:
            items.append(f"{{from: {start.isoformat()}, to: {end.isoformat()}}}")
        off.update(start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    on = {d for d in draw(st.lists(YEAR_2031, max_size=12)) if d not in off}
    text = (
        f"years:\n  {UNCOVERED}:\n"
        f"    holidays: [{', '.join(items)}]\n"
        f"    workdays: [{', '.join(d.isoformat() for d in sorted(on))}]\n"
    )
    return text, frozenset(off), frozenset(on)


@given(host=host_years(), start=YEAR_2031, days=st.integers(0, 40))
def test_random_host_calendars_are_honoured_exactly(
    host: tuple[str, frozenset[dt.date], frozenset[dt.date]], start: dt.date, days: int
) -> None:
    text, off, on = host
    data = load_holidays(text)
    assert (data.holidays, data.workdays, data.years) == (off, on, frozenset({UNCOVERED}))
    calendar = OfficialCalendar(data)
    for n in range(365):
        day = D(UNCOVERED, 1, 1) + dt.timedelta(days=n)
        expected = day in on or (day.weekday() < 5 and day not in off)
        assert calendar.is_working_day(day) is expected, day
    fake = FakeCalendar(holidays=off, workdays=on)
    last_safe = D(UNCOVERED, 12, 31)
    if fake.add_working_days(start, days) <= last_safe:
        assert calendar.add_working_days(start, days) == fake.add_working_days(start, days)


def test_a_local_holiday_keeps_the_rest_of_the_official_year() -> None:
    # A town adding one day off in 2024 must not lose National Day or its make-up days.
    calendar = OfficialCalendar(load_holidays("years:\n  2024:\n    holidays: [2024-06-03]\n"))
    assert calendar.is_working_day(D(2024, 6, 3)) is False
    assert calendar.is_working_day(D(2024, 10, 1)) is False  # National Day, from the package
    assert calendar.is_working_day(D(2024, 9, 29)) is True  # its make-up Sunday


def test_a_date_both_off_and_on_is_reported_at_the_workday_entry() -> None:
    text = "years:\n  2031:\n    holidays: [2031-05-05]\n    workdays: [2031-05-05]\n"
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        load_holidays(text)
    assert [(d.code, d.location.line, d.location.column) for d in info.value.errors] == [
        ("bad-value", 4, 16)
    ]
