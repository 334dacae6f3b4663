"""Report contexts: progress reports, circulars, ledgers, look-backs and escalations.

The community's monthly progress report, the town's circular (通报), the ledger in the
Attachment 1 layout and its totals, the look-back (回头看) report and the report of all
escalated cases by level. :data:`REPORT_VARIABLES` is keyed by template name: the last one
renders with ``escalation_levels`` (``escalation_report`` is the case notice to the district).
The campaign's own reports (survey coverage, the estate register, task status, rectification
plans, the look-back drawn from the store) are built in ``_register_reports`` and
``_campaign_reports``, on the facts here; :func:`report_context` builds every report by its
template name.

Each function is pure: cases in, a context of plain values out.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, cast

import attrs

from rectify.definitions._campaign import Campaign, Phase
from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import CampaignDate, DeadlineRule, Earliest, WorkflowSpec
from rectify.documents._contexts import (
    PHONE_ROLES,
    Issuer,
    case_number,
    filing_view,
    hazard_view,
    reader_view,
    recurrence_number,
)
from rectify.engine._case import Case
from rectify.engine._engine import local_date
from rectify.templating._formatting import mask_phone

__all__ = [
    "PERIODIC_REPORTS",
    "REPORT_DAY",
    "REPORT_VARIABLES",
    "STATUSES",
    "TRANSFERRED_FROM",
    "Facts",
    "LookbackResult",
    "Totals",
    "circular_context",
    "count",
    "escalation_report_context",
    "facts",
    "hazard_facts",
    "ledger_context",
    "ledger_totals_context",
    "lookback_context",
    "lookback_rows",
    "monthly_report_context",
    "places_by_community",
    "report_context",
    "report_period",
    "town_in",
    "town_of",
]

_TOWN: Final = 2  # the escalation level of town supervision (督办)
_SPACES: Final = re.compile(r"\s+")
_COMMON: Final = frozenset({"issuer", "filing", "number", "issued_on", "reader", "as_of", "title"})
#: The variables each report template may use, by template name.
REPORT_VARIABLES: Final[Mapping[str, frozenset[str]]] = {
    "monthly_report": _COMMON
    | {"community", "period", "totals", "month", "by_category", "overdue_cases", "escalated_cases"},
    "circular": _COMMON
    | {"period", "totals", "ranking", "by_category", "escalated_cases", "progress", "heads_digest"}
    | {"deadlines", "summary", "tasks"},
    "ledger": _COMMON | {"rows", "community", "heads_digest"},
    "ledger_totals": _COMMON | {"rows", "totals", "due_on", "counted_from"},
    "lookback_report": _COMMON | {"rows", "by_community", "by_year", "totals"},
    "escalation_levels": _COMMON | {"levels", "totals"},
    "survey_coverage": _COMMON | {"rows", "totals", "unsurveyed", "community", "due_on"},
    "estate_register": _COMMON | {"rows", "totals", "community", "due_on"},
    "task_status": _COMMON | {"rows", "phases", "totals"},
    "rectification_plan": _COMMON
    | {"community", "estates", "by_community", "by_category", "totals", "due_on"},
}


#: The statuses a case has in every report, in the order reports list them: ``open``
#: (being rectified), ``closed`` (rectified and closed, 销号), ``transferred`` (handed to
#: another procedure such as the major-hazard one and not followed here), ``dismissed``
#: (not a hazard) and ``duplicate`` (a repeated report, merged).
STATUSES: Final = ("open", "closed", "transferred", "dismissed", "duplicate")
_STATUS_OF_OUTCOME: Final[Mapping[str | None, str]] = {
    None: "closed",
    "rectified": "closed",
    "transferred": "transferred",
    "dismissed": "dismissed",
    "merged": "duplicate",
}
#: The data field naming the case a case continues (a suspected major hazard opened in the
#: major-hazard procedure names the hazard case it was referred from).
TRANSFERRED_FROM: Final = "transferred_from"


@attrs.frozen
class Facts:
    """What reports need to know of one hazard on one day.

    ``status`` is one of :data:`STATUSES`. A hazard referred to another procedure that is
    followed here (a case whose data names it as ``transferred_from``) is one hazard: its
    facts are those of the case it continues in, ``successor``, under the first case's id.
    ``rectify_by`` is the rectification deadline (整改时限: the responsible party's date or a
    phase date; ``immediate`` when it is to be put right on the spot); the running
    deadline of the current state (triage, re-inspection) is ``case.deadline``.
    ``state_title_en`` is the state's English title (its ``title_en``, else its title).
    """

    case: Case
    community: str
    category: str
    status: str
    overdue: bool
    overdue_days: int
    level: int
    opened_on: dt.date
    closed_on: dt.date | None
    state_title: str
    rectify_by: dt.date | None = None
    immediate: bool = False
    successor: Case | None = None
    state_title_en: str = ""

    @property
    def open(self) -> bool:
        """Return whether the hazard is still being rectified."""
        return self.status == "open"

    @property
    def rectified(self) -> bool:
        """Return whether the hazard was rectified and closed (销号)."""
        return self.status == "closed"

    @property
    def relapse(self) -> bool:
        """Return whether the hazard is a relapse (a look-back found it again)."""
        return self.case.recurrence_of is not None


def _rectify_by(case: Case) -> dt.date | None:
    due = case.data.get("due")
    if isinstance(due, dt.date):
        return due
    try:
        return dt.date.fromisoformat(str(due)[:10]) if due else None
    except ValueError:
        return None


def facts(case: Case, spec: WorkflowSpec, as_of: dt.date) -> Facts:
    """Return the report facts of ``case`` on ``as_of`` (give the case as of that day)."""
    state = spec.state(case.state)
    status = _STATUS_OF_OUTCOME.get(state.outcome, "closed") if state.final else "open"
    closed_on = local_date(case.updated_at) if case.final else None
    overdue_days = (as_of - case.deadline).days if case.deadline and as_of > case.deadline else 0
    return Facts(
        case=case,
        community=str(case.data.get("community") or "未注明"),
        category=str(case.data.get("category") or ""),
        status=status,
        overdue=status == "open" and overdue_days > 0 and case.paused_since is None,
        overdue_days=overdue_days,
        level=-1 if case.escalation is None else case.escalation,
        opened_on=local_date(case.opened_at),
        closed_on=closed_on,
        state_title=state.title,
        rectify_by=_rectify_by(case),
        immediate=case.data.get("severity") == "immediate" or spec.id == "immediate",
        state_title_en=state.title_en or state.title,
    )


def hazard_facts(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], as_of: dt.date
) -> list[Facts]:
    """Return the facts of every hazard found by ``as_of``, one row a hazard.

    The rows every report, export and chart counts (:func:`count`): give the cases as of
    ``as_of``. A case continuing another (``transferred_from``) is folded into its row.
    Only cases of hazard workflows count (``kind: hazard``): a building to survey, a task
    or an earlier year's hazard is not one of this campaign's hazards.
    """
    by_key = {(s.id, s.version): s for s in specs if s.kind == "hazard"}
    rows = {
        c.id: facts(c, by_key[(c.workflow, c.version)], as_of)
        for c in cases
        if local_date(c.opened_at) <= as_of and (c.workflow, c.version) in by_key
    }
    for f in list(rows.values()):
        origin = rows.get(str(f.case.data.get(TRANSFERRED_FROM, "")))
        if origin is None or origin.status != "transferred" or origin.successor is not None:
            continue
        rows[origin.case.id] = attrs.evolve(
            origin,
            status=f.status,
            overdue=f.overdue,
            overdue_days=f.overdue_days,
            level=f.level,
            closed_on=f.closed_on,
            state_title=f"{origin.state_title}：{f.state_title}",
            rectify_by=f.rectify_by or origin.rectify_by,
            successor=f.case,
            state_title_en=f"{origin.state_title_en or origin.state_title}: "
            f"{f.state_title_en or f.state_title}",
        )
        del rows[f.case.id]
    return list(rows.values())


def _common(
    title: str,
    *,
    issuer: Issuer,
    sequence: int,
    issued_on: dt.date,
    as_of: dt.date,
    reader_role: str | None,
) -> dict[str, object]:
    return {
        "title": title,
        "issuer": issuer.view(),
        "filing": filing_view(None, "", issuer),
        "number": issuer.number(issued_on.year, sequence),
        "issued_on": issued_on,
        "as_of": as_of,
        "reader": reader_view(reader_role),
    }


@attrs.frozen
class Totals:
    """Counts over a group of hazards, one count a status (see :data:`STATUSES`).

    ``found`` is every hazard found; ``counted`` those that count towards the rate (found,
    less the transferred, dismissed and duplicate ones); ``rate`` is closed over counted.
    ``overdue`` and ``escalated`` (town supervision or higher) are open ones; ``relapses``
    the hazards a look-back found again. Every report, export and chart takes its counts
    from here, so no two outputs of one moment disagree.
    """

    found: int
    closed: int
    open: int
    transferred: int
    dismissed: int
    duplicate: int
    overdue: int
    escalated: int
    relapses: int

    @property
    def counted(self) -> int:
        """Return the hazards that count towards the rate."""
        return self.found - self.transferred - self.dismissed - self.duplicate

    @property
    def rate(self) -> float:
        """Return the rectification rate."""
        return self.closed / self.counted if self.counted else 0.0

    def view(self) -> dict[str, object]:
        """Return the totals as template values."""
        excluded = self.found - self.counted
        return {
            **attrs.asdict(self),
            "counted": self.counted,
            "excluded": excluded,
            "rate": self.rate,
        }


def count(rows: Iterable[Facts]) -> Totals:
    """Return the totals of ``rows``: the one place report counts are made."""
    statuses: Counter[str] = Counter()
    overdue = escalated = relapses = 0
    for f in rows:
        statuses[f.status] += 1
        overdue += f.overdue
        escalated += f.open and f.level >= _TOWN
        relapses += f.relapse
    return Totals(
        found=sum(statuses.values()),
        closed=statuses["closed"],
        open=statuses["open"],
        transferred=statuses["transferred"],
        dismissed=statuses["dismissed"],
        duplicate=statuses["duplicate"],
        overdue=overdue,
        escalated=escalated,
        relapses=relapses,
    )


def _totals(rows: Sequence[Facts]) -> dict[str, object]:
    return count(rows).view()


def _category_rows(
    rows: Sequence[Facts], categories: CategoryTable | None
) -> list[dict[str, object]]:
    groups: dict[str, list[Facts]] = defaultdict(list)
    for f in rows:
        groups[f.category].append(f)
    out = []
    for code in sorted(groups):
        title = code or "未分类"
        title_en = code or "Uncategorised"
        if categories is not None and code in categories.codes:
            category = categories.category(code)
            title, title_en = category.title, category.title_en or category.title
        out.append({"code": code, "title": title, "title_en": title_en, **_totals(groups[code])})
    return out


def _case_row(
    f: Facts, categories: CategoryTable | None, reader_role: str | None
) -> dict[str, object]:
    return {
        "id": f.case.id,
        "number": case_number(f.case),
        "hazard": hazard_view(f.case, categories, reader_role=reader_role),
        "state_title": f.state_title,
        "state_title_en": f.state_title_en or f.state_title,
        "status": f.status,
        "deadline": f.case.deadline if f.successor is None else f.successor.deadline,
        "rectify_by": f.rectify_by,
        "immediate": f.immediate,
        "overdue_days": f.overdue_days,
        "level": f.level,
        "recurrence_of": f.case.recurrence_of,
        "recurrence_of_number": recurrence_number(f.case),
        "successor": None if f.successor is None else f.successor.id,
        "successor_number": None if f.successor is None else case_number(f.successor),
    }


def town_in(towns: Iterable[object], name: str) -> str:
    """Return the one town ``towns`` name (blanks aside), else the town ``name`` begins with."""
    named = {str(t or "") for t in towns} - {""}
    return named.pop() if len(named) == 1 else town_of(name)


def town_of(name: str) -> str:
    """Return the town a name begins with (虎峰镇消防安全委员会办公室 → 虎峰镇), or ""."""
    for mark in ("街道", "镇", "乡"):
        if mark in name:
            return name[: name.index(mark) + len(mark)]
    return ""


#: The reports of a month's period (:func:`report_period`); the others are of a day.
PERIODIC_REPORTS: Final = frozenset({"monthly_report", "circular"})
#: The day of the month progress is reported by (the seed: 每月22日前上报): a month's report
#: covers the day after the last report day through its own.
REPORT_DAY: Final = 22


def report_period(year: int, month: int, report_day: int = REPORT_DAY) -> tuple[dt.date, dt.date]:
    """Return the first and last day the report of ``month`` covers.

    A report due on day ``report_day`` covers the day after that day of the previous month
    through that day: with 22, 2024-06 covers 2024-05-23 to 2024-06-22. So every day is in
    exactly one month's report, and the months' counts add up.
    """
    end = dt.date(year, month, report_day)
    before = dt.date(year - (month == 1), (month - 2) % 12 + 1, report_day)
    return before + dt.timedelta(days=1), end


def _period(year: int, month: int, report_day: int) -> dict[str, object]:
    start, end = report_period(year, month, report_day)
    return {"year": year, "month": month, "label": f"{year}年{month}月", "start": start, "end": end}


def monthly_report_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    community: str,
    year: int,
    month: int,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    issued_on: dt.date | None = None,
    categories: CategoryTable | None = None,
    reader_role: str | None = "community",
    report_day: int = REPORT_DAY,
) -> dict[str, object]:
    """Return the context of a community's monthly progress report (due the 22nd).

    Give the cases as of ``as_of`` (``Ledger.cases_as_of``). The report of ``month``
    covers :func:`report_period` (the 23rd of the previous month to the 22nd): what was
    found and closed in it is counted as ``month``.
    """
    rows = [f for f in hazard_facts(cases, specs, as_of) if f.community == community]
    period = _period(year, month, report_day)
    start, end = report_period(year, month, report_day)
    return {
        **_common(
            f"{community}老旧小区消防安全专项整治{period['label']}工作进度",
            issuer=issuer,
            sequence=sequence,
            issued_on=issued_on or as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "community": community,
        "period": period,
        "totals": _totals(rows),
        "month": {
            "found": sum(start <= f.opened_on <= end for f in rows),
            "closed": sum(
                f.rectified and f.closed_on is not None and start <= f.closed_on <= end
                for f in rows
            ),
        },
        "by_category": _category_rows(rows, categories),
        "overdue_cases": [
            _case_row(f, categories, reader_role)
            for f in sorted(
                (f for f in rows if f.overdue), key=lambda f: (-f.overdue_days, f.case.id)
            )
        ],
        "escalated_cases": [
            _case_row(f, categories, reader_role) for f in rows if f.open and f.level >= _TOWN
        ],
    }


def circular_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    year: int,
    month: int,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    issued_on: dt.date | None = None,
    categories: CategoryTable | None = None,
    reader_role: str | None = None,
    heads_digest: str | None = None,
    report_day: int = REPORT_DAY,
    campaign: Campaign | None = None,
) -> dict[str, object]:
    """Return the context of the town's monthly circular (通报) ranking the communities.

    Give the cases as of ``as_of`` (``Ledger.cases_as_of``); the circular of ``month``
    covers :func:`report_period`.

    Communities rank by rectification rate (higher first), then overdue count and relapses
    (fewer first). Circulars are public: phone numbers are masked for a public reader.
    ``heads_digest`` (``Ledger.heads_digest()`` when the cases were read) is printed as the
    footer line 台账校验码 (its first 16 hex digits), so that a filed copy pins the store.

    With the ``campaign``, the circular follows its calendar: ``deadlines`` are the phases
    that end after ``as_of`` and by the next report day (see :func:`_deadlines`), and the
    circular of the campaign's last report period carries the year-end ``summary`` (see
    :func:`_summary`). Without it, ``deadlines`` is empty and ``summary`` is ``None``.

    ``tasks`` is the task list's progress when the cases hold the campaign's tasks (``kind:
    task``), else ``None``: its totals, the tasks overdue and those done in the period
    (``_campaign_reports.circular_tasks``).
    """
    # The campaign's reports build on this module's facts: imported when used, not in a cycle.
    from rectify.documents._campaign_reports import circular_tasks  # noqa: PLC0415

    cases, specs = list(cases), list(specs)
    rows = hazard_facts(cases, specs, as_of)
    groups: dict[str, list[Facts]] = defaultdict(list)
    for f in rows:
        groups[f.community].append(f)
    counted = sorted(
        ((name, count(group)) for name, group in groups.items()),
        key=lambda item: (-item[1].rate, item[1].overdue, item[1].relapses, item[0]),
    )
    ranking = [
        {"rank": place, "community": name, **totals.view()}
        for place, (name, totals) in enumerate(counted, start=1)
    ]
    progress = [(name, totals.closed, totals.counted) for name, totals in counted]
    period = _period(year, month, report_day)
    start, end = report_period(year, month, report_day)
    return {
        **_common(
            f"关于{period['label']}老旧小区消防安全专项整治工作进展情况的通报",
            issuer=issuer,
            sequence=sequence,
            issued_on=issued_on or as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "heads_digest": heads_digest or "",
        "period": period,
        "totals": _totals(rows),
        "ranking": ranking,
        "progress": progress,
        "by_category": _category_rows(rows, categories),
        "escalated_cases": [
            _case_row(f, categories, reader_role)
            for f in sorted(
                (f for f in rows if f.open and f.level >= _TOWN),
                key=lambda f: (-f.level, f.community, f.case.id),
            )
        ],
        "deadlines": []
        if campaign is None
        else _deadlines(
            rows,
            campaign,
            as_of=as_of,
            until=_next_report_day(campaign, year, month, report_day),
            categories=categories,
            reader_role=reader_role,
        ),
        "summary": _summary(rows, campaign, as_of=as_of, categories=categories)
        if campaign is not None and _in_last_report(campaign, as_of, report_day)
        else None,
        "tasks": circular_tasks(
            cases,
            specs,
            as_of=as_of,
            start=start,
            end=end,
            campaign=campaign,
            reader_role=reader_role,
        ),
    }


# -- the campaign calendar in the circular ---------------------------------------------------

#: How many categories the year-end summary names for each phase (those with most hazards).
_TOP_CATEGORIES: Final = 3


def _next_report_day(campaign: Campaign, year: int, month: int, report_day: int) -> dt.date:
    """Return the day of the report after ``month``'s, or the campaign's end if none is left."""
    after = report_period(year + month // 12, month % 12 + 1, report_day)[1]
    return min(after, campaign.ends)


def _in_last_report(campaign: Campaign, as_of: dt.date, report_day: int) -> bool:
    """Say whether ``as_of`` is in the period of the campaign's last monthly report."""
    year, month = campaign.ends.year, campaign.ends.month
    if campaign.ends.day < report_day:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    start, end = report_period(year, month, report_day)
    return end >= campaign.starts and start <= as_of <= end


def _rule_phases(rule: DeadlineRule) -> frozenset[str]:
    """Return the phases whose end dates a deadline rule may give."""
    if isinstance(rule, CampaignDate):
        return frozenset({rule.phase})
    if isinstance(rule, Earliest):
        return frozenset().union(*(_rule_phases(r) for r in rule.rules))
    return frozenset()


def _phase_of(f: Facts, campaign: Campaign, categories: CategoryTable | None) -> str | None:
    """Return the phase whose end is the hazard's rectification deadline (整改时限).

    A hazard concerns the phase its deadline ends, however the deadline came: a phase date
    by its severity's default period (``{campaign: canopies}``), or a date agreed with the
    party that falls on the phase's end. When several phases end that day (the canopy
    clearance and the consolidation both end on 12/25), it concerns the one its severity's
    default period names, else the first of them in the campaign file: one phase a hazard,
    so no hazard is listed twice.
    """
    ending = [p.name for p in campaign.phases if p.ends == f.rectify_by]
    if not ending:
        return None
    if len(ending) == 1 or categories is None:
        return ending[0]
    severity = str(f.case.data.get("severity") or "")
    if severity not in categories.severity_names and f.category in categories.codes:
        severity = categories.category(f.category).severity
    named = (
        _rule_phases(categories.severity(severity).period)
        if severity in categories.severity_names
        else frozenset()
    )
    return next((name for name in ending if name in named), ending[0])


def _deadlines(
    rows: Sequence[Facts],
    campaign: Campaign,
    *,
    as_of: dt.date,
    until: dt.date,
    categories: CategoryTable | None,
    reader_role: str | None,
) -> list[dict[str, object]]:
    """Return the phases that end after ``as_of`` and by ``until``, with their open hazards.

    Each: ``phase`` (its name), ``title``, ``title_en``, ``ends``, ``days_left`` (from
    ``as_of``), ``totals`` (of the hazards whose deadline is the phase's end, see
    :func:`_phase_of`), ``cases`` (the open ones, as case rows, by community and id) and
    ``by_community`` (``community`` and ``open``, most open first).
    """
    out = []
    for phase in sorted(
        (p for p in campaign.phases if as_of < p.ends <= until), key=lambda p: p.ends
    ):
        due = [f for f in rows if _phase_of(f, campaign, categories) == phase.name]
        still = sorted((f for f in due if f.open), key=lambda f: (f.community, f.case.id))
        groups: dict[str, list[Facts]] = defaultdict(list)
        for f in still:
            groups[f.community].append(f)
        by_community = sorted(
            ((name, count(group).open) for name, group in groups.items()),
            key=lambda item: (-item[1], item[0]),
        )
        out.append(
            {
                "phase": phase.name,
                "title": phase.title,
                "title_en": phase.title_en or phase.title,
                "ends": phase.ends,
                "days_left": (phase.ends - as_of).days,
                "totals": _totals(due),
                "cases": [_case_row(f, categories, reader_role) for f in still],
                "by_community": [{"community": n, "open": k} for n, k in by_community],
            }
        )
    return out


def _summary(
    rows: Sequence[Facts],
    campaign: Campaign,
    *,
    as_of: dt.date,
    categories: CategoryTable | None,
) -> dict[str, object]:
    """Return the year-end summary (全年工作总结) of ``campaign``, phase by phase.

    ``title``, ``starts``, ``ends``, ``totals`` (of the hazards found since the campaign
    began) and ``phases``, in the campaign's order, each begun by ``as_of``: ``phase``,
    ``title``, ``title_en``, ``starts``, ``ends``, ``until`` (its end, or ``as_of`` if
    sooner), ``found`` (the totals of the hazards found in its span: ``found``,
    ``relapses``, where they stand now), ``finished`` (the totals of the hazards that
    reached a final state in its span: ``closed`` is those closed, 销号), ``due`` (the
    totals of the hazards whose deadline is its end, see :func:`_phase_of`), and
    ``by_category`` and ``due_by_category``: the categories with most hazards found in its
    span, and of those due at its end, at most three each, as ``by_category`` rows.
    """
    phases = []
    for phase in (p for p in campaign.phases if p.starts <= as_of):
        found = [f for f in rows if _within(f.opened_on, phase)]
        due = [f for f in rows if _phase_of(f, campaign, categories) == phase.name]
        phases.append(
            {
                "phase": phase.name,
                "title": phase.title,
                "title_en": phase.title_en or phase.title,
                "starts": phase.starts,
                "ends": phase.ends,
                "until": min(phase.ends, as_of),
                "found": _totals(found),
                "finished": _totals([f for f in rows if _within(f.closed_on, phase)]),
                "due": _totals(due),
                "by_category": _top_categories(found, categories),
                "due_by_category": _top_categories(due, categories),
            }
        )
    return {
        "title": campaign.title,
        "starts": campaign.starts,
        "ends": campaign.ends,
        "totals": _totals([f for f in rows if campaign.starts <= f.opened_on <= campaign.ends]),
        "phases": phases,
    }


def _top_categories(
    rows: Sequence[Facts], categories: CategoryTable | None
) -> list[dict[str, object]]:
    """Return the ``by_category`` rows of the categories with most hazards, most first."""
    ranked = sorted(  # stable: categories with as many hazards stay in code order
        _category_rows(rows, categories), key=lambda row: -cast("int", row["found"])
    )
    return ranked[:_TOP_CATEGORIES]


def _within(day: dt.date | None, phase: Phase) -> bool:
    return day is not None and phase.starts <= day <= phase.ends


def ledger_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    community: str | None = None,
    categories: CategoryTable | None = None,
    reader_role: str | None = "community",
    heads_digest: str | None = None,
) -> dict[str, object]:
    """Return the ledger in the Attachment 1 layout, with each case's state and level.

    ``heads_digest`` is printed as the footer line 台账校验码, as on the circular.
    """
    rows = [f for f in hazard_facts(cases, specs, as_of) if community in (None, f.community)]
    rows.sort(
        key=lambda f: (
            f.community,
            str(f.case.data.get("community_name", "")),
            str(f.case.data.get("address", "")),
            f.case.id,
        )
    )
    town = town_in((f.case.data.get("town") for f in rows), issuer.name)
    title = f"{town}老旧小区台账"
    return {
        **_common(
            title,
            issuer=issuer,
            sequence=sequence,
            issued_on=as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "community": community or "",
        "heads_digest": heads_digest or "",
        "rows": [_case_row(f, categories, reader_role) for f in rows],
    }


def ledger_totals_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    due_on: dt.date,
    issuer: Issuer,
    sequence: int,
    reader_role: str | None = "community",
) -> dict[str, object]:
    """Return the ledger totals per community (老旧小区总数台账统计表, the report due Apr 5).

    When the old-estate register is kept (cases of a ``kind: survey`` workflow, one a
    building), the estates and buildings of each community are those on the register, an
    estate with no hazard among them, and ``counted_from`` is ``"register"``; otherwise they
    are the estates and buildings hazards were found in, and ``counted_from`` is
    ``"hazards"``. The hazard figures are the totals of the community's hazards either way.
    """
    places, register = places_by_community(cases, specs, as_of)
    rows = [f for _, _, _, group in places for f in group]
    out = []
    for name, estates, buildings, group in places:
        severities = Counter(str(f.case.data.get("severity", "")) for f in group)
        out.append(
            {
                "community": name,
                "estates": estates,
                "buildings": buildings,
                "severities": dict(severities),
                **_totals(group),
            }
        )
    return {
        **_common(
            "老旧小区总数台账统计表",
            issuer=issuer,
            sequence=sequence,
            issued_on=as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "due_on": due_on,
        "counted_from": "register" if register else "hazards",
        "rows": out,
        "totals": {
            "estates": sum(int(r["estates"]) for r in out),  # type: ignore[call-overload]
            "buildings": sum(int(r["buildings"]) for r in out),  # type: ignore[call-overload]
            **_totals(rows),
        },
    }


def _compared(value: object) -> str:
    """Return ``value`` as names are compared: NFKC, without white space, case-folded.

    The form of ``rectify.spreadsheets``' ``text_key`` (a layer above this one), so that a
    community, estate or building is the one the register import wrote however it is typed.
    """
    return _SPACES.sub("", unicodedata.normalize("NFKC", str(value or ""))).casefold()


def places_by_community(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], as_of: dt.date
) -> tuple[list[tuple[str, int, int, list[Facts]]], bool]:
    """Return each community's estates, buildings and hazards on ``as_of``, by name.

    Each item is (community, estates, buildings, the facts of its hazards). When the
    old-estate register is kept (cases of a ``kind: survey`` workflow, one a building), the
    estates and buildings are those on the register, an estate with no hazard among them,
    and the second value is ``True``; otherwise they are the estates (小区名称) and buildings
    (小区名称, 地址, 楼栋) hazards were found in. The ledger totals, as a report and as a
    spreadsheet, count with this.
    """
    # The register's counts are the campaign reports' (they build on this module's facts).
    from rectify.documents._register_reports import register_counts  # noqa: PLC0415

    cases, specs = list(cases), list(specs)
    register = register_counts(cases, specs, as_of)
    groups: dict[str, list[Facts]] = defaultdict(list)
    for f in hazard_facts(cases, specs, as_of):
        groups[f.community].append(f)
    if register:  # a row a community of the register (as it spells it) or with hazards
        spelled = {key: name for key, (name, _, _) in register.items()}
        merged: dict[str, list[Facts]] = {name: [] for name in spelled.values()}
        for name, group in groups.items():
            merged.setdefault(spelled.get(_compared(name), name), []).extend(group)
        groups = defaultdict(list, merged)
    out = []
    for name in sorted(groups):
        group = groups[name]
        if register:
            _, estates, buildings = register.get(_compared(name), (name, 0, 0))
        else:
            estates, buildings = _estates_and_buildings(group)
        out.append((name, estates, buildings, group))
    return out, bool(register)


def _estates_and_buildings(group: Sequence[Facts]) -> tuple[int, int]:
    """Return how many estates and buildings ``group``'s hazards were found in."""
    estates = {str(f.case.data.get("community_name", "")) for f in group}
    buildings = {
        (
            str(f.case.data.get("community_name", "")),
            str(f.case.data.get("address", "")),
            str(f.case.data.get("building", "")),
        )
        for f in group
    }
    return len(estates), len(buildings)


@attrs.frozen
class LookbackResult:
    """One closed case looked at again: whether the fix held, and the new case if not.

    ``pending``: drawn for the look-back but not yet looked at (an earlier year's hazard
    still waiting); neither passed nor relapsed, and left out of the relapse rate.
    """

    case: Case
    passed: bool
    note: str = ""
    new_case: str | None = None
    new_case_number: str | None = None
    pending: bool = False

    @property
    def relapsed(self) -> bool:
        """Return whether the look-back found the hazard again."""
        return not (self.passed or self.pending)


def _lookback_year(case: Case) -> int:
    """Return the year a looked-back hazard was rectified: its ``year``, else when it closed."""
    year = case.data.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        return year
    if isinstance(year, str) and year.strip().isdigit():
        return int(year)
    return local_date(case.updated_at).year


def _relapse_rates(group: Sequence[LookbackResult]) -> dict[str, object]:
    """Return the figures of a group of look-back results; the rate is of those looked at."""
    pending = sum(r.pending for r in group)
    relapsed = sum(r.relapsed for r in group)
    checked = len(group) - pending
    return {
        "sampled": len(group),
        "checked": checked,
        "passed": checked - relapsed,
        "relapsed": relapsed,
        "pending": pending,
        "rate": relapsed / checked if checked else 0.0,
    }


def _by_community(results: Iterable[LookbackResult]) -> list[dict[str, object]]:
    groups: dict[str, list[LookbackResult]] = defaultdict(list)
    for result in results:
        groups[str(result.case.data.get("community") or "未注明")].append(result)
    return [{"community": name, **_relapse_rates(group)} for name, group in sorted(groups.items())]


def lookback_rows(
    results: Sequence[LookbackResult],
    *,
    as_of: dt.date,
    categories: CategoryTable | None = None,
    reader_role: str | None = None,
) -> list[dict[str, object]]:
    """Return the rows of a look-back: one a hazard looked at again, in ``results``' order.

    Each row: ``id``, ``number``, ``hazard`` (its ledger fields, as notices have them),
    ``year`` (the year it was rectified), ``earlier`` (of a year before ``as_of``'s),
    ``passed``, ``pending``, ``note`` (phones masked unless ``reader_role`` may see them),
    ``new_case``, ``new_case_number``.
    """
    return [
        {
            "id": r.case.id,
            "number": case_number(r.case),
            "hazard": hazard_view(r.case, categories, reader_role=reader_role),
            "year": _lookback_year(r.case),
            "earlier": _lookback_year(r.case) < as_of.year,
            "passed": r.passed,
            "pending": r.pending,
            "note": mask_phone(r.note, reveal=reader_role in PHONE_ROLES),
            "new_case": r.new_case,
            "new_case_number": r.new_case_number or r.new_case,
        }
        for r in results
    ]


def lookback_context(
    results: Sequence[LookbackResult],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    categories: CategoryTable | None = None,
    reader_role: str | None = None,
) -> dict[str, object]:
    """Return the look-back (回头看) report: each sampled case and relapse rates.

    ``rows``: :func:`lookback_rows`. ``by_community`` (``community``), ``by_year``
    (``year``, with ``communities``: its rows by community) and ``totals`` (with
    ``earlier``: how many were of earlier years) each hold ``sampled``, ``checked`` (less
    the ``pending``), ``passed``, ``relapsed``, ``pending`` and ``rate`` (relapsed ÷
    checked, 0 when none was looked at).
    """
    rows = lookback_rows(results, as_of=as_of, categories=categories, reader_role=reader_role)
    years: dict[int, list[LookbackResult]] = defaultdict(list)
    for result in results:
        years[_lookback_year(result.case)].append(result)
    return {
        **_common(
            "老旧小区消防安全隐患整改“回头看”情况报告",
            issuer=issuer,
            sequence=sequence,
            issued_on=as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "rows": rows,
        "by_community": _by_community(results),
        "by_year": [
            {"year": year, **_relapse_rates(group), "communities": _by_community(group)}
            for year, group in sorted(years.items())
        ],
        "totals": {
            **_relapse_rates(results),
            "earlier": sum(row["earlier"] is True for row in rows),
        },
    }


def escalation_report_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    categories: CategoryTable | None = None,
    reader_role: str | None = "town_office",
) -> dict[str, object]:
    """Return the report of escalated cases: open ones grouped by level, highest first.

    Rendered with the ``escalation_levels`` template (``escalation_report`` is the case
    notice that reports one case to the district).
    """
    spec_list = list(specs)
    titles: dict[int, str] = {}
    titles_en: dict[int, str] = {}
    for spec in spec_list:
        for ladder in spec.escalation.ladders if spec.escalation else ():
            for level in ladder.levels:
                titles.setdefault(level.level, level.title)
                titles_en.setdefault(level.level, level.title_en or level.title)
    everything = hazard_facts(cases, spec_list, as_of)
    rows = [f for f in everything if f.open and f.level >= 0]
    levels = []
    for number in sorted({f.level for f in rows}, reverse=True):
        group = sorted((f for f in rows if f.level == number), key=lambda f: f.case.id)
        levels.append(
            {
                "level": number,
                "title": titles.get(number, f"L{number}"),
                "title_en": titles_en.get(number, f"L{number}"),
                "cases": [_case_row(f, categories, reader_role) for f in group],
            }
        )
    return {
        **_common(
            "消防安全隐患逾期升级督办情况报告",
            issuer=issuer,
            sequence=sequence,
            issued_on=as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "levels": levels,
        "totals": {"escalated": len(rows), "open": sum(f.open for f in everything)},
    }


def report_context(
    name: str,
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    categories: CategoryTable | None = None,
    community: str | None = None,
    due_on: dt.date | None = None,
    period: tuple[int, int] | None = None,
    heads_digest: str | None = None,
    report_day: int = REPORT_DAY,
    campaign: Campaign | None = None,
    filing: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Return the context of the report template ``name`` on ``as_of``.

    ``cases`` are the cases as of ``as_of`` (``Ledger.cases_as_of(as_of)``): a report of a
    past day holds the facts of that day, and comes out the same whenever it is rendered.

    Monthly reports and circulars cover ``period`` (year, month), by default the month of
    ``as_of``. Circulars and ledgers print ``heads_digest`` (``Ledger.heads_digest()``) as
    their footer line 台账校验码; other reports ignore it. Circulars follow ``campaign``'s
    calendar (its phase deadlines, and the year-end summary); the task status takes the
    phase titles from it, and the campaign's reports their due dates (see
    ``_campaign_reports.campaign_report_context``): other reports ignore it.

    ``name`` is a key of :data:`REPORT_VARIABLES`: ``monthly_report`` needs ``community``;
    ``ledger_totals`` takes ``due_on`` (April 5 of the year by default); ``ledger``,
    ``survey_coverage`` and ``estate_register`` cover ``community`` if given, else the
    town; ``rectification_plan`` is the community's plan, or the town's annual plan without
    one; ``lookback_report`` is the look-back of the sample ``as_of`` draws
    (``lookback_results`` with ``lookback_seed(as_of)``). ``filing`` (``Notices.filing``)
    says where the report goes (主送, 抄送, whether it is sent up); none by default.

    Raises:
        ValueError: ``name`` is not such a report, or ``monthly_report`` lacks a community.
    """
    # The campaign's reports build on this module's facts: imported when used, not in a cycle.
    from rectify.documents._campaign_reports import (  # noqa: PLC0415
        CAMPAIGN_REPORTS,
        campaign_report_context,
    )

    year, month = period or (as_of.year, as_of.month)
    if name in CAMPAIGN_REPORTS:
        context = campaign_report_context(
            name,
            cases,
            specs,
            as_of=as_of,
            issuer=issuer,
            sequence=sequence,
            categories=categories,
            community=community,
            campaign=campaign,
        )
    elif name == "monthly_report":
        if not community:
            raise ValueError("the monthly report needs a community")
        context = monthly_report_context(
            cases,
            specs,
            community=community,
            year=year,
            month=month,
            as_of=as_of,
            issuer=issuer,
            sequence=sequence,
            categories=categories,
            report_day=report_day,
        )
    elif name == "circular":
        context = circular_context(
            cases,
            specs,
            year=year,
            month=month,
            as_of=as_of,
            issuer=issuer,
            sequence=sequence,
            categories=categories,
            heads_digest=heads_digest,
            report_day=report_day,
            campaign=campaign,
        )
    elif name == "ledger":
        context = ledger_context(
            cases,
            specs,
            as_of=as_of,
            issuer=issuer,
            sequence=sequence,
            community=community,
            categories=categories,
            heads_digest=heads_digest,
        )
    elif name == "ledger_totals":
        context = ledger_totals_context(
            cases,
            specs,
            as_of=as_of,
            issuer=issuer,
            sequence=sequence,
            due_on=due_on or dt.date(as_of.year, 4, 5),
        )
    elif name == "escalation_levels":
        context = escalation_report_context(
            cases, specs, as_of=as_of, issuer=issuer, sequence=sequence, categories=categories
        )
    else:
        raise ValueError(f"no report {name!r}; reports: {', '.join(sorted(REPORT_VARIABLES))}")
    if filing is not None:
        context["filing"] = dict(filing)
    return context
