"""Turning engine effects into documents: numbering, context, rendering."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from rectify.calendar._deadlines import WorkingCalendar
from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._contexts import Issuer, case_notice_context, check_notice_context
from rectify.engine._case import Case, NoticeDue
from rectify.templating._renderer import DEFAULT_LOCALE, Document, NoticeRenderer

__all__ = ["MemoryNumberBook", "Notices", "NumberBook"]


class NumberBook(Protocol):
    """Hands out document sequence numbers per organ code and year, never reusing one."""

    def next_number(self, code: str, year: int) -> int:
        """Return the next unused sequence number of ``code`` in ``year`` (from 1)."""
        ...


class MemoryNumberBook:
    """A number book in memory (tests, single-process hosts); a store keeps a durable one."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def next_number(self, code: str, year: int) -> int:
        """Return the next unused sequence number of ``code`` in ``year``."""
        with self._lock:
            number = self._last.get((code, year), 0) + 1
            self._last[(code, year)] = number
            return number


class Notices:
    """Renders the notices that engine effects name, numbering each document.

    Args:
        issuer: Who issues the documents (organ, office, number code, contact).
        numbers: The number book (an in-memory one by default).
        categories: The category table (titles and legal basis on the documents).
        calendar: The working-day calendar (the planned re-check date).
        host_folder: The host's own templates, overriding built-ins by name (sandboxed).
        locale: The default locale.
    """

    def __init__(
        self,
        issuer: Issuer,
        *,
        numbers: NumberBook | None = None,
        categories: CategoryTable | None = None,
        calendar: WorkingCalendar | None = None,
        host_folder: Path | None = None,
        locale: str = DEFAULT_LOCALE,
    ) -> None:
        self.issuer = issuer
        self.numbers = numbers or MemoryNumberBook()
        self.categories = categories
        self.calendar = calendar
        self.locale = locale
        self.renderer = NoticeRenderer(host_folder)

    def context(
        self,
        effect: NoticeDue,
        case: Case,
        spec: WorkflowSpec,
        *,
        issued_on: dt.date,
        reader_role: str | None = None,
    ) -> dict[str, object]:
        """Return the context of the notice ``effect`` names, with a fresh document number.

        A notice that cannot be worked out fails before it takes a number, so the numbers a
        town files have no gaps.
        """
        check_notice_context(
            effect,
            case,
            spec,
            issued_on=issued_on,
            calendar=self.calendar,
            categories=self.categories,
        )
        return case_notice_context(
            effect,
            case,
            spec,
            issuer=self.issuer,
            sequence=self.numbers.next_number(self.issuer.code, issued_on.year),
            issued_on=issued_on,
            categories=self.categories,
            calendar=self.calendar,
            reader_role=reader_role,
        )

    def render(
        self,
        notice: str,
        context: Mapping[str, object],
        *,
        fmt: str = "html",
        locale: str | None = None,
    ) -> Document:
        """Render ``notice`` with ``context`` (again, byte for byte, for the same context)."""
        return self.renderer.render(notice, context, fmt=fmt, locale=locale or self.locale)

    def render_effect(
        self,
        effect: NoticeDue,
        case: Case,
        spec: WorkflowSpec,
        *,
        issued_on: dt.date,
        reader_role: str | None = None,
        locale: str | None = None,
    ) -> tuple[Document, Document]:
        """Number and render the notice of ``effect`` as HTML and as text (one number)."""
        context = self.context(effect, case, spec, issued_on=issued_on, reader_role=reader_role)
        return (
            self.render(effect.notice, context, fmt="html", locale=locale),
            self.render(effect.notice, context, fmt="text", locale=locale),
        )
