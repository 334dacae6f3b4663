"""Tools for testing hosts' workflows and rectify itself.

``FakeCalendar`` is a working-day calendar whose holidays and make-up workdays a test
chooses, so deadline arithmetic can be tested without the official calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

__all__ = ["FakeCalendar"]

_SATURDAY = 5


class FakeCalendar:
    """Monday to Friday are working days, except ``holidays``; ``workdays`` are extra ones.

    Args:
        holidays: Dates that are not working days.
        workdays: Weekend dates that are working days (make-up workdays, 调休).
    """

    def __init__(self, holidays: Iterable[dt.date] = (), workdays: Iterable[dt.date] = ()) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)

    def is_working_day(self, day: dt.date) -> bool:
        """Return whether ``day`` is a working day."""
        if day in self.workdays:
            return True
        return day.weekday() < _SATURDAY and day not in self.holidays

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """Return the ``days``-th working day after ``start`` (0: the first from ``start``)."""
        day = start
        if days == 0:
            while not self.is_working_day(day):
                day += dt.timedelta(days=1)
            return day
        counted = 0
        while counted < days:
            day += dt.timedelta(days=1)
            counted += self.is_working_day(day)
        return day
