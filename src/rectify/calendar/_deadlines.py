"""Turning a deadline rule into a date, given a working-day calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Protocol

from rectify.definitions._spec import (
    CalendarDays,
    CampaignDate,
    DeadlineRule,
    Earliest,
    FieldDate,
    FixedDate,
    FromSeverity,
    WorkingDays,
)
from rectify.exceptions import ArgumentError, DeadlineError

__all__ = ["WorkingCalendar", "count_working_days", "due_date", "require_date"]


def require_date(value: object, name: str = "day") -> dt.date:
    """Return ``value`` if it is a plain date; the one check of every day a calendar is given.

    A ``datetime`` is a ``date`` to Python, but counting days from one would return a
    datetime and leave its time of day (and timezone) to chance, so it is refused too.

    Raises:
        ArgumentError: ``value`` is a datetime, or not a date at all (also a ``TypeError``).
    """
    if isinstance(value, dt.datetime):
        raise ArgumentError(
            f"{name} must be a date, not the datetime {value!r}; "
            "give its date in Asia/Shanghai instead"
        )
    if not isinstance(value, dt.date):
        raise ArgumentError(f"{name} must be a date (datetime.date), not {value!r}")
    return value


def count_working_days(
    is_working_day: Callable[[dt.date], bool], start: dt.date, days: int
) -> dt.date:
    """Return the ``days``-th working day after ``start`` by ``is_working_day``.

    With 0: ``start`` when it is a working day, else the next working day. Calendars build
    their ``add_working_days`` on this; ``start`` is checked here, once, so
    ``is_working_day`` may skip the check for the days counted from it.

    Raises:
        ArgumentError: ``start`` is a datetime, or not a date (also a ``TypeError``).
    """
    day = require_date(start, "start")
    if days == 0:
        while not is_working_day(day):
            day += dt.timedelta(days=1)
        return day
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        counted += is_working_day(day)
    return day


class WorkingCalendar(Protocol):
    """Which days are working days (an adapter: the official calendar, or a test fake)."""

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """Return the date ``days`` working days after ``start``.

        With 0, ``start`` itself when it is a working day, else the next working day.
        """
        ...


def due_date(
    rule: DeadlineRule,
    start: dt.date,
    data: Mapping[str, object],
    *,
    calendar: WorkingCalendar | None,
    phases: Mapping[str, dt.date],
    severities: Mapping[str, DeadlineRule],
) -> dt.date:
    """Return the date ``rule`` gives for a clock started on ``start``.

    Raises:
        DeadlineError: The rule needs something that is missing, or its date would fall
            past ``datetime.date.max``.
        ArgumentError: ``start`` is a datetime, or not a date (also a ``TypeError``).
    """
    require_date(start, "start")
    try:
        return _due_date(rule, start, data, calendar=calendar, phases=phases, severities=severities)
    except OverflowError as exc:
        raise DeadlineError(
            f"the deadline of a clock started on {start.isoformat()} falls past the last "
            f"date there is ({dt.date.max.isoformat()})"
        ) from exc


def _due_date(
    rule: DeadlineRule,
    start: dt.date,
    data: Mapping[str, object],
    *,
    calendar: WorkingCalendar | None,
    phases: Mapping[str, dt.date],
    severities: Mapping[str, DeadlineRule],
) -> dt.date:
    match rule:
        case WorkingDays(days):
            if calendar is None:
                raise DeadlineError(f"a rule of {days} working days needs a working-day calendar")
            return calendar.add_working_days(start, days)
        case CalendarDays(days):
            return start + dt.timedelta(days=days)
        case FixedDate(date):
            return date
        case CampaignDate(phase):
            if phase not in phases:
                known = ", ".join(sorted(phases)) or "none"
                raise DeadlineError(f"campaign phase {phase!r} is not known; known: {known}")
            return phases[phase]
        case FieldDate(field):
            value = data.get(field)
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                return value
            raise DeadlineError(f"the deadline comes from field {field!r}, which holds no date")
        case FromSeverity():
            severity = data.get("severity")
            if not isinstance(severity, str) or severity not in severities:
                known = ", ".join(sorted(severities)) or "none"
                raise DeadlineError(f"severity {severity!r} has no default period; known: {known}")
            return _due_date(
                severities[severity],
                start,
                data,
                calendar=calendar,
                phases=phases,
                severities=severities,
            )
        case Earliest(rules):
            return min(
                _due_date(r, start, data, calendar=calendar, phases=phases, severities=severities)
                for r in rules
            )
    raise AssertionError(rule)  # pragma: no cover - the union is exhaustive
