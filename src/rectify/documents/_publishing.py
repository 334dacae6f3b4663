"""Turning engine effects into documents: numbering, context, rendering."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from rectify.calendar._deadlines import WorkingCalendar
from rectify.definitions._campaign import Campaign
from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._contexts import (
    Issuer,
    case_notice_context,
    check_notice_context,
    filing_view,
    issuer_for,
)
from rectify.engine._case import Case, NoticeDue
from rectify.exceptions import DocumentChangedError, NoticeError
from rectify.templating._renderer import DEFAULT_LOCALE, Document, NoticeRenderer

__all__ = [
    "DocumentRegister",
    "MemoryNumberBook",
    "Notices",
    "NumberBook",
    "notice_identity",
    "report_identity",
]


class NumberBook(Protocol):
    """Hands out document sequence numbers per organ code and year, never reusing one."""

    def next_number(self, code: str, year: int) -> int:
        """Return the next unused sequence number of ``code`` in ``year`` (from 1)."""
        ...


@runtime_checkable
class DocumentRegister(NumberBook, Protocol):
    """A number book that numbers each document once and remembers how it was rendered.

    A document has an identity (its kind and what it is of: a case's record, or a period
    and a community, and its reader). Its number and date are taken the first time it is
    registered; every later registration of the same identity returns them, so rendering a
    document again never takes a number. Each rendering (``variant``: the template and the
    reader) records its template and context hashes the first time, so a later rendering
    can be checked against them. Every store is a document register.
    """

    def register_document(
        self, identity: str, code: str, issued_on: dt.date
    ) -> tuple[int, dt.date]:
        """Return ``(number, issued_on)`` of document ``identity``.

        The first time, the next number of ``code`` in ``issued_on``'s year is taken and
        kept with ``issued_on``; later, what was kept is returned (``code`` and
        ``issued_on`` are then ignored).
        """
        ...

    def fingerprint_document(
        self, identity: str, variant: str, template_sha256: str, context_sha256: str
    ) -> tuple[str, str]:
        """Return the ``(template_sha256, context_sha256)`` kept for this rendering.

        The first time, the given hashes are kept and returned; later, the kept ones are
        returned (the caller compares them with its own).
        """
        ...


class MemoryNumberBook:
    """A number book in memory (tests, single-process hosts); a store keeps a durable one."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], int] = {}
        self._documents: dict[str, tuple[int, dt.date]] = {}
        self._renderings: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def next_number(self, code: str, year: int) -> int:
        """Return the next unused sequence number of ``code`` in ``year``."""
        with self._lock:
            return self._next(code, year)

    def _next(self, code: str, year: int) -> int:
        number = self._last.get((code, year), 0) + 1
        self._last[(code, year)] = number
        return number

    def register_document(
        self, identity: str, code: str, issued_on: dt.date
    ) -> tuple[int, dt.date]:
        """Return the number and date of document ``identity``, numbering it the first time."""
        with self._lock:
            if identity not in self._documents:
                self._documents[identity] = (self._next(code, issued_on.year), issued_on)
            return self._documents[identity]

    def fingerprint_document(
        self, identity: str, variant: str, template_sha256: str, context_sha256: str
    ) -> tuple[str, str]:
        """Return the hashes kept for this rendering, keeping the given ones the first time."""
        with self._lock:
            return self._renderings.setdefault(
                (identity, variant), (template_sha256, context_sha256)
            )


class Notices:
    """Renders the notices that engine effects name, numbering each document.

    Args:
        issuer: Who issues the documents that ``campaign`` has no rule for (all of them
            without a campaign); by default the campaign's ``default`` rule's office.
        campaign: The campaign whose ``offices``, ``series`` and ``documents`` say which
            office issues each kind of document, in which number series and to whom.
        numbers: The number book (an in-memory one by default).
        categories: The category table (titles and legal basis on the documents).
        calendar: The working-day calendar (the planned re-check date).
        host_folder: The host's own templates, overriding built-ins by name (sandboxed).
        locale: The default locale.

    Raises:
        ValueError: Neither an issuer nor a campaign with a ``default`` document rule.
    """

    def __init__(
        self,
        issuer: Issuer | None = None,
        *,
        campaign: Campaign | None = None,
        numbers: NumberBook | None = None,
        categories: CategoryTable | None = None,
        calendar: WorkingCalendar | None = None,
        host_folder: Path | None = None,
        locale: str = DEFAULT_LOCALE,
    ) -> None:
        fallback = issuer
        if fallback is None and campaign is not None:
            fallback = issuer_for(campaign, "default")
        if fallback is None:
            raise ValueError(
                "Notices needs an issuer, or a campaign with a 'default' document rule"
            )
        self.issuer = fallback
        self.campaign = campaign
        self.numbers = numbers or MemoryNumberBook()
        self.categories = categories
        self.calendar = calendar
        self.locale = locale
        self.renderer = NoticeRenderer(host_folder)

    def issuer_for(self, kind: str, community: str = "") -> Issuer:
        """Return who issues document ``kind`` (for ``community``, if a community's office does).

        The campaign's rule for ``kind`` decides; without one (or a campaign) the issuer
        given to the constructor does.

        Raises:
            NoticeError: ``kind`` is issued by each community's office and no community is
                given.
        """
        if self.campaign is None:
            return self.issuer
        try:
            found = issuer_for(self.campaign, kind, community)
        except ValueError as exc:
            raise NoticeError(str(exc), template=kind) from exc
        return found or self.issuer

    def filing(self, kind: str, issuer: Issuer) -> dict[str, object]:
        """Return where document ``kind`` goes (主送, 抄送, whether it is sent up)."""
        return filing_view(self.campaign, kind, issuer)

    def number(
        self, identity: str, issued_on: dt.date, issuer: Issuer | None = None
    ) -> tuple[int, dt.date]:
        """Return the number and date of the document ``identity``, numbering it once.

        The number is of ``issuer``'s series (the default issuer's by default). With a
        :class:`DocumentRegister` (every store, and the memory book) the first call takes
        a number and keeps it with ``issued_on``; later calls return both as kept, so
        rendering a document again never takes a number and keeps its first date. A
        document whose issuer has no series (a reminder) is registered all the same, for its
        date, in a series that is never printed. A plain :class:`NumberBook` gives a fresh
        number each time.
        """
        code = (issuer or self.issuer).code
        if isinstance(self.numbers, DocumentRegister):
            return self.numbers.register_document(identity, code, issued_on)
        return self.numbers.next_number(code, issued_on.year), issued_on

    def context(
        self,
        effect: NoticeDue,
        case: Case,
        spec: WorkflowSpec,
        *,
        issued_on: dt.date,
        reader_role: str | None = None,
    ) -> dict[str, object]:
        """Return the context of the notice ``effect`` names, numbered once (see ``number``).

        ``case`` must be the case as of the record that queued the notice (``effect.seq``:
        ``Ledger.case_at(effect.case_id, effect.seq)``), so that the notice holds what that
        record decided whenever it is rendered. A notice that cannot be worked out fails
        before it takes a number, so the numbers a town files have no gaps.

        Raises:
            NoticeError: ``case`` is not the case as of ``effect.seq``, or the notice cannot
                be worked out.
        """
        if case.id != effect.case_id or case.seq != effect.seq:
            raise NoticeError(
                f"the notice of case {effect.case_id!r} was queued by its record {effect.seq}, "
                f"but was given case {case.id!r} as of record {case.seq}; build it from "
                f"the case as of that record (Ledger.case_at)",
                template=effect.notice,
            )
        check_notice_context(
            effect,
            case,
            spec,
            issued_on=issued_on,
            calendar=self.calendar,
            categories=self.categories,
        )
        community = str(case.data.get("community") or "")
        issuer = self.issuer_for(effect.notice, community)
        sequence, issued_on = self.number(notice_identity(effect), issued_on, issuer)
        return case_notice_context(
            effect,
            case,
            spec,
            issuer=issuer,
            filing=self.filing(effect.notice, issuer),
            sequence=sequence,
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
        identity: str | None = None,
    ) -> Document:
        """Render ``notice`` with ``context`` (again, byte for byte, for the same context).

        Given the document's ``identity`` and a :class:`DocumentRegister`, the first
        rendering of each template and reader keeps its hashes, and a later one must give
        the same (the same bytes).

        Raises:
            DocumentChangedError: The rendering differs from the first one of ``identity``.
            NoticeError: The template cannot be rendered with ``context``.
        """
        document = self.renderer.render(notice, context, fmt=fmt, locale=locale or self.locale)
        if identity is not None and isinstance(self.numbers, DocumentRegister):
            reader = context.get("reader")
            role = reader.get("role") if isinstance(reader, Mapping) else None
            kept = self.numbers.fingerprint_document(
                identity,
                f"{document.template}|{role or ''}",
                document.template_sha256,
                document.context_sha256,
            )
            changed = [
                what
                for what, first, now in (
                    ("template", kept[0], document.template_sha256),
                    ("context", kept[1], document.context_sha256),
                )
                if first != now
            ]
            if changed:
                raise DocumentChangedError(
                    identity=identity, template=document.template, changed=" and ".join(changed)
                )
        return document

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
        identity = notice_identity(effect)
        return (
            self.render(effect.notice, context, fmt="html", locale=locale, identity=identity),
            self.render(effect.notice, context, fmt="text", locale=locale, identity=identity),
        )


def notice_identity(effect: NoticeDue) -> str:
    """Return the identity of the notice ``effect`` queues: its kind, case and record.

    ``rectification_slip/HZ-001/1`` (with ``/L2`` for an escalation level's notice): the same
    effect, rendered any number of times, is one document with one number.
    """
    level = "" if effect.level is None else f"/L{effect.level}"
    return f"{effect.notice}/{effect.case_id}/{effect.seq}{level}"


def report_identity(
    name: str, as_of: dt.date, *, period: tuple[int, int] | None = None, community: str = ""
) -> str:
    """Return the identity of report ``name`` as of ``as_of``: one document, one number.

    ``circular/2024-06/2024-06-22``, ``monthly_report/2024-06/2024-06-22/金龙社区``: the same
    report of the same period, community and day, rendered again, keeps its number.
    """
    parts = [name]
    if period is not None:
        parts.append(f"{period[0]:04d}-{period[1]:02d}")
    parts.append(as_of.isoformat())
    if community:
        parts.append(community)
    return "/".join(parts)
