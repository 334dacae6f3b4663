"""Campaigns: phases with dates (deadline rules refer to them) and the reports they require."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from functools import cached_property
from typing import Final

import attrs

from rectify.definitions._reader import Reader, read_definition
from rectify.definitions._yamlsource import Path, Source

__all__ = [
    "Campaign",
    "Phase",
    "ReportDue",
    "ReportSpec",
    "load_campaign",
    "parse_campaign",
    "reports_due",
]

_REPORT_KEYS: Final = ("title_en", "due", "monthly", "from", "to", "notice")
_LAST_DAY_OF_ANY_MONTH: Final = 28  # a monthly day every month has


@attrs.frozen
class Phase:
    """A phase of a campaign; its end date is what ``{campaign: NAME}`` deadlines give."""

    name: str
    title: str
    starts: dt.date
    ends: dt.date
    title_en: str | None = None


@attrs.frozen
class ReportSpec:
    """A report the campaign requires: once by ``due``, or every month by day ``monthly``."""

    name: str
    title: str
    sender: str
    recipient: str
    due: dt.date | None = None
    monthly: int | None = None
    notice: str | None = None
    title_en: str | None = None

    def instances(self, campaign: Campaign) -> Iterator[dt.date]:
        """Yield the due date of every instance of this report during ``campaign``."""
        if self.due is not None:
            yield self.due
            return
        if self.monthly is None:
            return
        year, month = campaign.starts.year, campaign.starts.month
        while True:
            day = dt.date(year, month, self.monthly)
            if day > campaign.ends:
                return
            if day >= campaign.starts:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)  # noqa: PLR2004


@attrs.frozen
class Campaign:
    """A rectification campaign: its span, phases and required reports."""

    id: str
    title: str
    organ: str
    office: str
    starts: dt.date
    ends: dt.date
    phases: tuple[Phase, ...]
    reports: tuple[ReportSpec, ...] = ()
    title_en: str | None = None
    source: str = attrs.field(default="<campaign>", eq=False, repr=False)

    @cached_property
    def phase_ends(self) -> dict[str, dt.date]:
        """Return each phase's end date by phase name (what deadline rules read)."""
        return {p.name: p.ends for p in self.phases}

    def phase(self, name: str) -> Phase:
        """Return the phase called ``name`` (``KeyError`` if there is none)."""
        found = next((p for p in self.phases if p.name == name), None)
        if found is None:
            raise KeyError(f"no phase {name!r}; phases: {', '.join(self.phase_ends)}")
        return found


@attrs.frozen
class ReportDue:
    """One instance of a required report and where it stands on a given day."""

    report: str
    title: str
    due: dt.date
    status: str  # "due" (due within the look-ahead) or "late" (past due, not submitted)


def reports_due(
    campaign: Campaign,
    day: dt.date,
    *,
    submitted: Collection[tuple[str, dt.date]] = (),
    within: int = 7,
) -> tuple[ReportDue, ...]:
    """Return the reports due within ``within`` days of ``day`` and those late on ``day``.

    Args:
        campaign: The campaign.
        day: The day asked about.
        submitted: ``(report name, due date)`` of the instances already sent.
        within: How many days ahead counts as due.
    """
    out: list[ReportDue] = []
    for spec in campaign.reports:
        for due in spec.instances(campaign):
            if (spec.name, due) in submitted:
                continue
            if due < day:
                out.append(ReportDue(spec.name, spec.title, due, "late"))
            elif (due - day).days <= within:
                out.append(ReportDue(spec.name, spec.title, due, "due"))
    return tuple(sorted(out, key=lambda r: (r.due, r.report)))


def load_campaign(source: Source | None = None) -> Campaign:
    """Load a campaign file; by default the 2024 campaign shipped with rectify.

    Raises:
        WorkflowDefinitionError: The file has errors, each with its line and column.
        DefinitionError: The file cannot be read.
    """
    return read_definition(source, parse_campaign, default="campaign-2024.yaml")


def parse_campaign(reader: Reader) -> Campaign | None:
    """Build a campaign from ``reader.doc``, recording diagnostics; ``None`` when too broken."""
    top = reader.mapping(
        (),
        reader.doc.data,
        required=("campaign", "title", "organ", "office", "starts", "ends", "phases"),
        optional=("title_en", "reports"),
        what="a campaign",
    )
    if top is None:
        return None
    cid = (
        reader.name(("campaign",), top.get("campaign"), "campaign id")
        if ("campaign" in top)
        else None
    )
    title = reader.string(("title",), top.get("title"))
    organ = reader.string(("organ",), top.get("organ"))
    office = reader.string(("office",), top.get("office"))
    starts = reader.date(("starts",), top.get("starts"))
    ends = reader.date(("ends",), top.get("ends"))
    phases = reader.entries(
        ("phases",), top.get("phases"), lambda p, n, v: _phase(reader, p, n, v), "phase name"
    )
    reports = reader.entries(
        ("reports",),
        top.get("reports", {}),
        lambda p, n, v: _report(reader, p, n, v),
        "report name",
    )
    if cid is None or title is None or organ is None or office is None:
        return None
    if starts is None or ends is None:
        return None
    if ends < starts:
        reader.error(
            "bad-value", f"the campaign ends ({ends}) before it starts ({starts})", ("ends",)
        )
    for phase in phases:
        if not starts <= phase.starts <= phase.ends <= ends:
            reader.error(
                "bad-value",
                f"phase {phase.name!r} ({phase.starts} to {phase.ends}) "
                f"is not within the campaign ({starts} to {ends})",
                ("phases", phase.name),
            )
    return Campaign(
        cid,
        title,
        organ,
        office,
        starts,
        ends,
        phases,
        reports,
        reader.optional_text((), top, "title_en"),
        source=reader.doc.file,
    )


def _phase(reader: Reader, path: Path, name: str, value: object) -> Phase | None:
    table = reader.mapping(
        path,
        value,
        required=("title", "starts", "ends"),
        optional=("title_en",),
        what=f"phase {name!r}",
    )
    if table is None:
        return None
    title = reader.string((*path, "title"), table.get("title"))
    starts = reader.date((*path, "starts"), table.get("starts"))
    ends = reader.date((*path, "ends"), table.get("ends"))
    if title is None or starts is None or ends is None:
        return None
    if ends < starts:
        reader.error("bad-value", f"phase {name!r} ends before it starts", (*path, "ends"))
    return Phase(name, title, starts, ends, reader.optional_text(path, table, "title_en"))


def _report(reader: Reader, path: Path, name: str, value: object) -> ReportSpec | None:
    table = reader.mapping(
        path,
        value,
        required=("title", "from", "to"),
        optional=_REPORT_KEYS,
        what=f"report {name!r}",
    )
    if table is None:
        return None
    if ("due" in table) == ("monthly" in table):
        reader.error(
            "bad-rule",
            "a report has exactly one of 'due' (a date) or 'monthly' (a day of the month)",
            path,
        )
        return None
    due = reader.date((*path, "due"), table["due"]) if "due" in table else None
    monthly = (
        reader.integer(
            (*path, "monthly"), table["monthly"], minimum=1, maximum=_LAST_DAY_OF_ANY_MONTH
        )
        if "monthly" in table
        else None
    )
    title = reader.string((*path, "title"), table.get("title"))
    sender = reader.name((*path, "from"), table.get("from"), "role name")
    recipient = reader.name((*path, "to"), table.get("to"), "role name")
    notice = (
        reader.name((*path, "notice"), table["notice"], "notice name")
        if ("notice" in table)
        else None
    )
    if title is None or sender is None or recipient is None or (due is None and monthly is None):
        return None
    return ReportSpec(
        name,
        title,
        sender,
        recipient,
        due,
        monthly,
        notice,
        reader.optional_text(path, table, "title_en"),
    )
