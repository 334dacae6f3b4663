"""The official working-day calendar: chinese-calendar plus holiday data from the host.

``chinese-calendar`` knows the State Council's holidays and make-up workdays (调休) only up
to its release. For other years the host supplies a holiday file; a year that no source
covers is an error naming the year, unless the host opted into a weekends-only fallback,
which then warns. Never silently wrong.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping

import chinese_calendar

from rectify.calendar._deadlines import count_working_days, require_date
from rectify.definitions._holidays import HolidayData
from rectify.exceptions import CalendarError

__all__ = ["CalendarFallbackWarning", "OfficialCalendar"]

_SATURDAY = 5


class CalendarFallbackWarning(UserWarning):
    """Working days of a year were taken as Monday to Friday because no data covers it."""


class OfficialCalendar:
    """Working days on the official Chinese calendar, extended by the host's holiday data.

    Args:
        host: Holiday data the host supplies (years the package does not know, or overrides).
        weekends_fallback: For a year no source covers, count Monday to Friday as working
            days (with a ``CalendarFallbackWarning``) instead of raising ``CalendarError``.
    """

    def __init__(self, host: HolidayData | None = None, *, weekends_fallback: bool = False) -> None:
        self.host = host or HolidayData()
        self.weekends_fallback = weekends_fallback
        self._memo: dict[dt.date, bool] = {}
        self._warned: set[int] = set()

    def is_working_day(self, day: dt.date) -> bool:
        """Return whether ``day`` is a working day.

        Raises:
            CalendarError: No source covers ``day``'s year and no fallback was allowed.
            TypeError: ``day`` is a datetime, or not a date.
        """
        return self._working(require_date(day))

    def _working(self, day: dt.date) -> bool:
        """Return whether ``day`` (a checked date) is a working day, remembering the answer."""
        known = self._memo.get(day)
        if known is None:
            known = self._memo[day] = self._decide(day)
        return known

    def _decide(self, day: dt.date) -> bool:
        if day in self.host.holidays:
            return False
        if day in self.host.workdays:
            return True
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            pass
        if day.year in self.host.years:
            return day.weekday() < _SATURDAY
        if not self.weekends_fallback:
            raise CalendarError(
                f"no holiday data for {day.year}: chinese-calendar "
                f"{_package_years()} does not cover it; supply the year in a holiday file "
                f"(years: {{{day.year}: {{holidays: [...], workdays: [...]}}}}) or allow the "
                "weekends-only fallback",
                year=day.year,
            )
        if day.year not in self._warned:
            self._warned.add(day.year)
            warnings.warn(
                f"no holiday data for {day.year}: counting Monday to Friday as working days",
                CalendarFallbackWarning,
                stacklevel=3,
            )
        return day.weekday() < _SATURDAY

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """Return the ``days``-th working day after ``start``.

        With 0: ``start`` when it is a working day, else the next working day.

        Raises:
            CalendarError: No source covers a year counted through.
            TypeError: ``start`` is a datetime, or not a date.
        """
        return count_working_days(self._working, start, days)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Return the number of working days after ``start`` up to and including ``end``.

        Raises:
            CalendarError: No source covers a year counted through.
            TypeError: ``start`` or ``end`` is a datetime, or not a date.
        """
        require_date(start, "start")
        require_date(end, "end")
        if end <= start:
            return 0
        return sum(
            self._working(start + dt.timedelta(days=n)) for n in range(1, (end - start).days + 1)
        )

    def last_covered_day(self) -> dt.date:
        """Return the last day before the first year that no source covers.

        That is December 31 of chinese-calendar's last year, or of the last of the host's
        years that follow it without a gap. Deadlines and notice dates past it raise
        ``CalendarError`` (or fall back to weekends only, if the host allowed that).
        """
        year = _package_last_year()
        while year + 1 in self.host.years:
            year += 1
        return dt.date(year, 12, 31)


def _package_last_year() -> int:
    holidays: Mapping[dt.date, object] = chinese_calendar.holidays
    return max(d.year for d in holidays)


def _package_years() -> str:
    holidays: Mapping[dt.date, object] = chinese_calendar.holidays
    years = sorted({d.year for d in holidays})
    return f"{years[0]}-{years[-1]}" if years else "(no years)"
