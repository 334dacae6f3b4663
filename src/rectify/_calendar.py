"""The official working-day calendar: chinese-calendar plus holiday data from the host.

``chinese-calendar`` knows the State Council's holidays and make-up workdays (调休) only up
to its release. For other years the host supplies a holiday file; a year that no source
covers is an error naming the year, unless the host opted into a weekends-only fallback,
which then warns. Never silently wrong.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator, Mapping

import attrs
import chinese_calendar

from rectify._deadlines import count_working_days
from rectify._reader import Reader, read_definition
from rectify._yamlsource import Path, Source
from rectify.exceptions import CalendarError

__all__ = [
    "CalendarFallbackWarning",
    "HolidayData",
    "OfficialCalendar",
    "load_holidays",
    "parse_holidays",
]

_SATURDAY = 5
_MAX_SPAN = 400  # days in one holiday range; a longer one is a typo


class CalendarFallbackWarning(UserWarning):
    """Working days of a year were taken as Monday to Friday because no data covers it."""


@attrs.frozen
class HolidayData:
    """Holidays and make-up workdays by year, as a host supplies them.

    The listed dates override the official calendar: a town adds a local holiday, or
    corrects a date. A year listed here that ``chinese-calendar`` does not know is covered:
    its weekends and ``holidays`` are days off, its ``workdays`` working days.
    """

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    years: frozenset[int] = frozenset()


def load_holidays(source: Source) -> HolidayData:
    """Load a host holiday file (the format: docs/workflow-format.md, "The holiday file").

    Raises:
        WorkflowDefinitionError: The file has errors, each with its line and column.
        DefinitionError: The file cannot be read.
    """
    return read_definition(source, parse_holidays)


def parse_holidays(reader: Reader) -> HolidayData:
    """Build holiday data from ``reader.doc``, recording a diagnostic for each problem."""
    top = reader.mapping((), reader.doc.data, required=("years",), what="a holiday file")
    years = top.get("years") if top else None
    if not isinstance(years, dict):
        if top is not None:
            reader.wrong_type(("years",), years, "a mapping of years")
        return HolidayData()
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    covered: set[int] = set()
    for key, entry in years.items():
        path: Path = ("years", key)
        if not key.isdigit() or not 1900 < int(key) < 2200:  # noqa: PLR2004 - plausible years
            reader.error("bad-value", f"{key!r} is not a year", path, key=True)
            continue
        year = int(key)
        table = reader.mapping(path, entry, optional=("holidays", "workdays"), what="a year")
        if table is None:
            continue
        covered.add(year)
        for field, into in (("holidays", holidays), ("workdays", workdays)):
            for where, day in _days(reader, (*path, field), table.get(field, [])):
                if day.year != year:
                    reader.error("bad-value", f"{day} is not in {year}", where)
                elif field == "workdays" and day in holidays:
                    reader.error(
                        "bad-value", f"{day} is listed both as a holiday and as a workday", where
                    )
                into.add(day)
    return HolidayData(frozenset(holidays), frozenset(workdays), frozenset(covered))


def _days(reader: Reader, path: Path, value: object) -> Iterator[tuple[Path, dt.date]]:
    if not isinstance(value, list):
        reader.wrong_type(path, value, "a list of dates or {from, to} ranges")
        return
    for i, item in enumerate(value):
        sub = (*path, i)
        if isinstance(item, dict):
            table = reader.mapping(
                sub, item, required=("from", "to"), optional=("name",), what="a date range"
            )
            start = reader.date((*sub, "from"), table.get("from")) if table else None
            end = reader.date((*sub, "to"), table.get("to")) if table else None
            if start is None or end is None:
                continue
            if not 0 <= (end - start).days <= _MAX_SPAN:
                reader.error("bad-value", f"range {start} to {end} is empty or too long", sub)
                continue
            yield from ((sub, start + dt.timedelta(days=n)) for n in range((end - start).days + 1))
        else:
            day = reader.date(sub, item)
            if day is not None:
                yield sub, day


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
        """
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
                "weekends-only fallback"
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
        """
        return count_working_days(self.is_working_day, start, days)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Return the number of working days after ``start`` up to and including ``end``."""
        if end <= start:
            return 0
        return sum(
            self.is_working_day(start + dt.timedelta(days=n))
            for n in range(1, (end - start).days + 1)
        )


def _package_years() -> str:
    holidays: Mapping[dt.date, object] = chinese_calendar.holidays
    years = sorted({d.year for d in holidays})
    return f"{years[0]}-{years[-1]}" if years else "(no years)"
