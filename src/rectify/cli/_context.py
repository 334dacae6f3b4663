"""What every daily command starts from: the store, the times and names typed, the table.

This module owns opening a :class:`~rectify.ledger.Ledger` on the store that ``--db`` or
``RECTIFY_DB`` names (a SQLite path or a database URL, by default ``./rectify.db``) with the
shipped workflows, campaign and official calendar, and the ``RECTIFY_*`` variables that tune
it; reading a positive number from a ``RECTIFY_*`` variable, refusing anything else as a
usage error; parsing the times and days typed in ``--at``, ``--now``, ``--as-of`` and
``--overdue``; the ``--db`` and ``--as-of`` options the commands share; the titles the
clerk types and reads (:class:`~rectify.cli._wording.Names`), a community no stored case is
in, and the escaped tables the commands print.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import click

from rectify.calendar._calendar import OfficialCalendar
from rectify.cli._terminal import printable
from rectify.cli._wording import Names, unknown
from rectify.definitions._campaign import load_campaign
from rectify.definitions._holidays import load_holidays
from rectify.definitions._load import load_categories
from rectify.engine._case import Case
from rectify.engine._engine import TIMEZONE
from rectify.exceptions import StoreError
from rectify.ledger import Ledger
from rectify.stores._sql import CONNECT_TIMEOUT, open_store
from rectify.templating._formatting import display_width, pad

__all__ = ["as_of_option", "db_option"]

N = TypeVar("N", int, float)

_DEFAULT_DB = "rectify.db"
_MOST_SECONDS = 86_400.0  # a longer connect timeout is a typo
_YEARS = range(1900, 9000)  # an event dated outside these years is a typo

db_option = click.option(
    "--db",
    envvar="RECTIFY_DB",
    default=_DEFAULT_DB,
    show_default=True,
    help="The store: a SQLite file or a database URL (also RECTIFY_DB).",
)


@contextmanager
def _ledger(db: str, *, create: bool = False) -> Iterator[Ledger]:
    """Open a ledger on the store at ``db``; only ``create`` may set a new store up.

    ``RECTIFY_DB_TIMEOUT`` (seconds) bounds the wait for a database server, and
    ``RECTIFY_DB_SHARED=1`` lets a new store's tables into a database that holds others.

    Raises:
        StoreError: No store is at ``db`` (and not ``create``), or it cannot be opened.
        click.UsageError: ``RECTIFY_DB_TIMEOUT`` is not a positive number.
    """
    try:
        store = open_store(
            db,
            connect_timeout=_connect_timeout(),
            create=create,
            shared=os.environ.get("RECTIFY_DB_SHARED", "") == "1",
        )
    except OSError as exc:  # the folder of a SQLite path cannot be made (a file is in the way)
        reason = f"{exc.strerror} ({exc.filename})" if exc.filename else str(exc)
        raise StoreError(f"cannot open a store at {db}: {reason}") from exc
    holidays = os.environ.get("RECTIFY_HOLIDAYS")
    calendar = OfficialCalendar(
        load_holidays(holidays) if holidays else None,
        weekends_fallback=os.environ.get("RECTIFY_WEEKENDS_FALLBACK", "") == "1",
    )
    try:
        yield Ledger.with_workflows(store, campaign=load_campaign(), calendar=calendar)
    finally:
        store.close()


def _connect_timeout() -> float:
    """Return the seconds to wait for a database server (``RECTIFY_DB_TIMEOUT``)."""
    return _env_number(
        "RECTIFY_DB_TIMEOUT", float, CONNECT_TIMEOUT, most=_MOST_SECONDS, wanted="正数（秒）"
    )


def _env_number(
    name: str, parse: Callable[[str], N], default: N, *, most: float = math.inf, wanted: str
) -> N:
    """Return the positive number the environment variable ``name`` holds.

    Args:
        name: The variable (``RECTIFY_...``).
        parse: ``int`` or ``float``: what the text must spell.
        default: The value when the variable is unset or empty.
        most: The largest value taken; a larger one is a typo.
        wanted: What the value should be, in the clerk's words, for the error.

    Raises:
        click.UsageError: The text does not parse, or the value is not in (0, ``most``].
    """
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        value = parse(text)
    except ValueError as exc:
        raise click.UsageError(f"{name} {text!r} 应是{wanted}") from exc
    if not 0 < value <= most:  # also refuses nan
        raise click.UsageError(f"{name} {text!r} 应是{wanted}")
    return value


def _when(text: str | None, option: str = "--at") -> dt.datetime:
    if not text:
        return dt.datetime.now(TIMEZONE)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.UsageError(
            f"{option} {text!r} 不是日期和时间，应写作 2024-06-30T09:00 这样"
        ) from exc
    value = value if value.tzinfo else value.replace(tzinfo=TIMEZONE)
    # Deadlines are counted forward from it: near the end of the calendar they overflow.
    try:
        year = value.astimezone(TIMEZONE).year
    except OverflowError:
        year = 0
    if year not in _YEARS:
        raise click.UsageError(
            f"{option} {text!r} 超出范围，应在 {_YEARS.start} 年至 {_YEARS.stop - 1} 年之间"
        )
    return value


as_of_option = click.option(
    "--as-of", help="The date of issue and of the figures (YYYY-MM-DD; today by default)."
)


def _day(text: str | None, option: str = "--as-of") -> dt.date:
    if not text:
        return dt.datetime.now(TIMEZONE).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise click.UsageError(f"{option} {text!r} 不是日期，应写作 2024-08-22 这样") from exc


def _names(ledger: Ledger) -> Names:
    return Names((e.spec for e in ledger.engines), load_categories())


def _unknown_community(name: str, stored: Iterable[Case]) -> click.UsageError:
    known = sorted({str(c.data["community"]) for c in stored if c.data.get("community")})
    return unknown("社区", name, [(c, (c,)) for c in known])


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    rows = [[printable(cell) for cell in row] for row in rows]  # stored text, escaped
    widths = [
        max([display_width(h), *(display_width(r[i]) for r in rows)]) for i, h in enumerate(head)
    ]
    for row in (head, *rows):
        click.echo("  ".join(pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())
