"""Host holiday files: the dates a town adds to, or corrects in, the official calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs

from rectify.definitions._reader import Reader, read_definition
from rectify.definitions._yamlsource import Path, Source

__all__ = ["HolidayData", "load_holidays", "parse_holidays"]

_MAX_SPAN = 400  # days in one holiday range; a longer one is a typo


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
