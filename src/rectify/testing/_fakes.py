"""Fakes for tests: a calendar whose holidays a test chooses, and a clock it moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from rectify.calendar._deadlines import count_working_days, require_date

__all__ = ["FakeCalendar", "FakeClock"]

_SATURDAY = 5
_SHANGHAI = ZoneInfo("Asia/Shanghai")


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
        """Return whether ``day`` is a working day.

        Raises:
            TypeError: ``day`` is a datetime, or not a date (as ``OfficialCalendar``).
        """
        return self._working(require_date(day))

    def _working(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < _SATURDAY and day not in self.holidays

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """Return the ``days``-th working day after ``start``.

        With 0: ``start`` when it is a working day, else the next working day.

        Raises:
            TypeError: ``start`` is a datetime, or not a date (as ``OfficialCalendar``).
        """
        return count_working_days(self._working, start, days)


class FakeClock:
    """A clock that stands still until a test moves it (a ``rectify.Clock``).

    Args:
        start: The first "now" (timezone-aware; naive times are taken in Asia/Shanghai).
    """

    def __init__(self, start: dt.datetime) -> None:
        self.current = start if start.tzinfo else start.replace(tzinfo=_SHANGHAI)

    def now(self) -> dt.datetime:
        """Return the current fake time."""
        return self.current

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock forward by ``delta`` and return the new now."""
        if delta < dt.timedelta(0):
            raise ValueError("a clock does not go backwards")
        self.current += delta
        return self.current

    def set(self, when: dt.datetime) -> dt.datetime:
        """Move the clock to ``when`` (not before now) and return it."""
        when = when if when.tzinfo else when.replace(tzinfo=_SHANGHAI)
        return self.advance(when - self.current)
