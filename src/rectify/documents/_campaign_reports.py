"""The campaign's own reports beyond the register: tasks, plans, the look-back, by name.

The work plan's task list followed to the end (任务清单推进情况, and its section of the
circular), each community's rectification plan and the town's annual plan (整改计划, 6/30),
and the look-back (回头看) of this year's and earlier years' rectified hazards drawn from the
store. The register's reports (survey coverage, the estate register) are in
``_register_reports``; :func:`campaign_report_context` builds any of them by template name.

Each table report has a plain function returning its rows, dicts with the stable keys its
docstring lists (:func:`task_rows`, :func:`plan_rows`): the report's context prints them, and
a spreadsheet export writes them. Give every function the cases as of its day
(``Ledger.cases_as_of(as_of)``); cases opened later are left out. A task is a case of a
``kind: task`` workflow, an earlier year's hazard one of ``kind: archive``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from rectify.definitions._campaign import Campaign
from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._contexts import Issuer, case_number, private_view
from rectify.documents._register_reports import (
    estate_register_context,
    survey_coverage_context,
)
from rectify.documents._reports import (
    LookbackResult,
    _common,
    _compared,
    _lookback_year,
    hazard_facts,
    lookback_context,
    town_in,
)
from rectify.documents._rows import _date, _joined, _natural, _of_kind, _on_day, _text
from rectify.engine._case import Case
from rectify.engine._engine import local_date
from rectify.engine._lookback import sample_lookback

__all__ = [
    "CAMPAIGN_REPORTS",
    "campaign_report_context",
    "circular_tasks",
    "lookback_results",
    "lookback_seed",
    "plan_rows",
    "rectification_plan_context",
    "task_rows",
    "task_status_context",
]


# -- the task list -----------------------------------------------------------------------------


def _task_status(case: Case, spec: WorkflowSpec) -> str:
    state = spec.state(case.state)
    if not state.final:
        return "open"
    return "cancelled" if state.outcome == "dismissed" else "done"


def _progress(case: Case) -> tuple[str, dt.date | None]:
    """Return the last progress the task's units reported (or why it was cancelled), and when."""
    for record in reversed(case.history):
        for field in ("summary", "progress"):
            text = str(record.payload.get(field) or "").strip()
            if text:
                return text, local_date(record.at)
        if record.reason and record.event != "@open":
            return record.reason, local_date(record.at)
    return "", None


def task_rows(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    campaign: Campaign | None = None,
    reader_role: str | None = "town_office",
) -> list[dict[str, object]]:
    """Return the campaign's tasks on ``as_of`` (任务清单推进情况), in the campaign's order.

    Each row: ``id``, ``task`` (its key), ``phase`` and ``phase_title`` (阶段: the
    campaign's title of it, else its name), ``title`` (工作任务), ``content`` (具体内容),
    ``units`` (责任单位), ``due`` (完成时限), ``status`` (``open``, ``done`` or
    ``cancelled``), ``state_title``, ``done_on`` (the day it was reported done, else
    ``None``), ``overdue_days`` (days an open task is past its due date, else 0),
    ``overdue``, ``progress`` (the last progress or completion its units reported, or why it
    was cancelled) and ``progress_on``. Phone numbers in the text are masked unless
    ``reader_role`` may see them.
    """
    order = {t.key: i for i, t in enumerate(campaign.tasks)} if campaign else {}
    titles = {p.name: p.title for p in campaign.phases} if campaign else {}
    out = []
    for case, spec in _on_day(cases, _of_kind(specs, "task"), as_of):
        data = case.data
        due = _date(data.get("due")) or case.deadline
        status = _task_status(case, spec)
        overdue_days = (as_of - due).days if status == "open" and due and as_of > due else 0
        progress, progress_on = _progress(case)
        phase = _text(data, "phase")
        row: dict[str, object] = {
            "id": case.id,
            "task": _text(data, "task"),
            "phase": phase,
            "phase_title": titles.get(phase, phase),
            "title": _text(data, "title"),
            "content": _text(data, "content"),
            "units": _text(data, "units"),
            "due": due,
            "status": status,
            "state_title": spec.state(case.state).title,
            "done_on": local_date(case.updated_at) if status == "done" else None,
            "overdue_days": overdue_days,
            "overdue": overdue_days > 0,
            "progress": progress,
            "progress_on": progress_on,
        }
        out.append(private_view(row, reader_role))
    last = len(order)
    return sorted(
        out,
        key=lambda r: (order.get(str(r["task"]), last), _date(r["due"]) or dt.date.max, r["id"]),
    )


def _task_totals(rows: Sequence[Mapping[str, object]]) -> dict[str, int]:
    return {
        "tasks": len(rows),
        "done": sum(r["status"] == "done" for r in rows),
        "open": sum(r["status"] == "open" for r in rows),
        "overdue": sum(bool(r["overdue"]) for r in rows),
        "cancelled": sum(r["status"] == "cancelled" for r in rows),
    }


def task_status_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    campaign: Campaign | None = None,
    reader_role: str | None = "town_office",
) -> dict[str, object]:
    """Return the task list's progress (专项整治任务清单推进情况).

    ``rows`` are :func:`task_rows`; ``phases`` the same rows by phase, in order (``phase``,
    ``title``, ``rows``); ``totals``: ``tasks``, ``done``, ``open``, ``overdue``,
    ``cancelled``.
    """
    rows = task_rows(cases, specs, as_of=as_of, campaign=campaign, reader_role=reader_role)
    phases: dict[str, dict[str, object]] = {}
    for row in rows:
        phase = phases.setdefault(
            str(row["phase"]), {"phase": row["phase"], "title": row["phase_title"], "rows": []}
        )
        phase["rows"].append(row)  # type: ignore[attr-defined]
    return {
        **_common(
            "老旧小区消防安全专项整治任务清单推进情况",
            issuer=issuer,
            sequence=sequence,
            issued_on=as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "rows": rows,
        "phases": list(phases.values()),
        "totals": _task_totals(rows),
    }


def circular_tasks(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    start: dt.date,
    end: dt.date,
    campaign: Campaign | None,
    reader_role: str | None,
) -> dict[str, object] | None:
    """Return the circular's task section: the totals, overdue tasks and those done in the period.

    ``None`` when there is no task case. Otherwise the :func:`task_status_context` totals
    with ``overdue_tasks`` (the open tasks past their due date, most overdue first) and
    ``done_tasks`` (those reported done from ``start`` to ``end``), as :func:`task_rows`.
    """
    rows = task_rows(cases, specs, as_of=as_of, campaign=campaign, reader_role=reader_role)
    if not rows:
        return None
    overdue = sorted((r for r in rows if r["overdue"]), key=lambda r: -int(str(r["overdue_days"])))
    done = [r for r in rows if (on := _date(r["done_on"])) is not None and start <= on <= end]
    return {**_task_totals(rows), "overdue_tasks": overdue, "done_tasks": done}


# -- rectification plans -----------------------------------------------------------------------


def plan_rows(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    community: str | None = None,
    categories: CategoryTable | None = None,
    reader_role: str | None = "community",
) -> list[dict[str, object]]:
    """Return the open hazards on ``as_of`` as a rectification plan lists them, one row each.

    Ordered by community, estate, building and id. Each row: ``id``, ``number`` (the
    readable case number), ``town``, ``community``, ``community_name``, ``address``, ``building``,
    ``description`` (隐患内容), ``category`` and ``category_title``, ``responsible_party``
    (整改责任人), ``measures`` (整改措施), ``rectify_by`` (整改时限, ``None`` when none was
    set), ``immediate`` (to be put right at once), ``state_title`` and ``overdue_days`` (days
    past the rectification deadline on ``as_of``, 0 when not past it or while the case waits
    on others). Phone numbers are masked unless ``reader_role`` may see them.
    """
    rows = [
        f
        for f in hazard_facts(cases, specs, as_of)
        if f.open and (community is None or _compared(f.community) == _compared(community))
    ]
    out = []
    for f in rows:
        data = f.case.data
        code = str(data.get("category") or "")
        title = code
        if categories is not None and code in categories.codes:
            title = categories.category(code).title
        row: dict[str, object] = {
            "id": f.case.id,
            "number": case_number(f.case),
            "town": _text(data, "town"),
            "community": f.community,
            "community_name": _text(data, "community_name"),
            "address": _text(data, "address"),
            "building": _text(data, "building"),
            "description": _text(data, "description"),
            "category": code,
            "category_title": title or "未分类",
            "responsible_party": _text(data, "responsible_party"),
            "measures": _text(data, "measures"),
            "rectify_by": f.rectify_by,
            "immediate": f.immediate,
            "state_title": f.state_title,
            "overdue_days": _days_past(f.rectify_by, as_of) if f.case.paused_since is None else 0,
        }
        out.append(private_view(row, reader_role))
    return sorted(
        out,
        key=lambda r: (
            str(r["community"]),
            str(r["community_name"]),
            _natural(str(r["building"])),
            str(r["id"]),
        ),
    )


def _days_past(due: dt.date | None, as_of: dt.date) -> int:
    return (as_of - due).days if due is not None and as_of > due else 0


def _plan_groups(rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    estates: dict[tuple[str, str], list[Mapping[str, object]]] = {}
    for row in rows:
        key = (_compared(row["community"]), _compared(row["community_name"]))
        estates.setdefault(key, []).append(row)
    return [
        {
            "community": group[0]["community"],
            "community_name": group[0]["community_name"],
            "address": _joined(str(r["address"]) for r in group),
            "hazards": group,
        }
        for group in estates.values()
    ]


def rectification_plan_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    community: str | None = None,
    due_on: dt.date | None = None,
    categories: CategoryTable | None = None,
    reader_role: str | None = "community",
) -> dict[str, object]:
    """Return a community's rectification plan, or the town's annual plan without one.

    ``estates``: the open hazards (:func:`plan_rows`) by estate, each ``community``,
    ``community_name``, ``address`` and ``hazards``; ``by_community`` (``community``,
    ``estates``, ``hazards``, ``overdue``) and ``by_category`` (``code``, ``title``,
    ``hazards``), most hazards first; ``totals``: ``communities``, ``estates``,
    ``hazards``, ``overdue``, ``immediate``. ``due_on`` is when the plans are due (6/30 by
    default).
    """
    rows = plan_rows(
        cases,
        specs,
        as_of=as_of,
        community=community,
        categories=categories,
        reader_role=reader_role,
    )
    estates = _plan_groups(rows)
    communities: dict[str, list[Mapping[str, object]]] = defaultdict(list)
    categories_of: dict[str, list[Mapping[str, object]]] = defaultdict(list)
    for row in rows:
        communities[str(row["community"])].append(row)
        categories_of[str(row["category"])].append(row)
    by_community = [
        {
            "community": name,
            "estates": sum(e["community"] == name for e in estates),
            "hazards": len(group),
            "overdue": sum(bool(r["overdue_days"]) for r in group),
        }
        for name, group in communities.items()
    ]
    by_category = [
        {"code": code, "title": group[0]["category_title"], "hazards": len(group)}
        for code, group in sorted(categories_of.items())
    ]
    if community:
        title = f"{community}老旧小区消防安全隐患整改计划"
    else:
        title = f"{town_in((r['town'] for r in rows), issuer.name)}老旧小区年度整改计划"
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
        "due_on": due_on or dt.date(as_of.year, 6, 30),
        "estates": estates,
        "by_community": sorted(
            by_community, key=lambda r: (-int(str(r["hazards"])), str(r["community"]))
        ),
        "by_category": sorted(by_category, key=lambda r: -int(str(r["hazards"]))),
        "totals": {
            "communities": len(by_community),
            "estates": len(estates),
            "hazards": len(rows),
            "overdue": sum(bool(r["overdue_days"]) for r in rows),
            "immediate": sum(bool(r["immediate"]) for r in rows),
        },
    }


# -- look-back from the store ------------------------------------------------------------------


def lookback_seed(as_of: dt.date) -> int:
    """Return the seed of the look-back sample of ``as_of`` (20240715): one draw a day."""
    return as_of.year * 10_000 + as_of.month * 100 + as_of.day


def _closed_in(case: Case, spec: WorkflowSpec, year: int) -> bool:
    """Return whether ``case`` was rectified and closed (销号) in ``year``."""
    state = spec.state(case.state)
    return (
        case.final
        and state.outcome in (None, "rectified")
        and (local_date(case.updated_at).year == year)
    )


def _earlier_result(case: Case, spec: WorkflowSpec, cases: Mapping[str, Case]) -> LookbackResult:
    """Return what the look-back of an earlier year's hazard found, from its state."""
    state = spec.state(case.state)
    if not case.final:
        return LookbackResult(case, passed=False, pending=True, note="待核查")
    if state.outcome in (None, "rectified"):
        return LookbackResult(case, passed=True, note=_text(case.data, "note") or state.title)
    new_case = _text(case.data, "new_case") or None
    found = cases.get(new_case) if new_case else None
    return LookbackResult(
        case,
        passed=False,
        note=_text(case.data, "findings") or state.title,
        new_case=new_case,
        new_case_number=case_number(found) if found is not None else new_case,
    )


def lookback_results(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    seed: int,
    share: float = 0.2,
) -> list[LookbackResult]:
    """Return the look-back (回头看) of ``as_of`` from the store, ordered by year and id.

    The sample is what ``sample_lookback`` draws with ``seed`` (``lookback_seed(as_of)``
    for a report, so that it is drawn the same whenever it is rendered) from the hazards
    rectified and closed this year (``as_of``'s) and the earlier years' hazards
    (``kind: archive`` cases), whether looked at yet or not: what a day's look-back records
    does not change that day's draw. To it are added the earlier years' hazards already
    looked at (in a final state) and this year's closed hazards a relapse was opened for by
    ``as_of``, whether drawn or not.

    An earlier year's hazard passed when its case was confirmed, failed when it relapsed
    (``note`` its findings, ``new_case`` the case it names), and is ``pending`` while not
    yet looked at. This year's hazard failed when a case repeating it (``recurrence_of``) was
    opened by ``as_of`` (that case is ``new_case``, its description the ``note``), else it
    passed with the note 未发现反弹.
    """
    kinds = {(s.id, s.version): s for s in specs if s.kind in ("hazard", "archive")}
    day = _on_day(cases, kinds, as_of)
    by_id = {c.id: c for c, _ in day}
    relapses: dict[str, Case] = {}
    for case, _ in sorted(day, key=lambda pair: (pair[0].opened_at, pair[0].id)):
        if case.recurrence_of:
            relapses.setdefault(case.recurrence_of, case)
    closed = [c for c, s in day if s.kind == "hazard" and _closed_in(c, s, as_of.year)]
    earlier = [(c, s) for c, s in day if s.kind == "archive"]
    # Earlier years' hazards are drawn from whether looked at yet or not: recording what the
    # look-back of a day found does not change that day's draw.
    archive = [s for s in kinds.values() if s.kind == "archive"]
    drawn = sample_lookback(
        [*closed, *(c for c, _ in earlier)],
        share=share,
        seed=seed,
        rectified_states=sorted(
            {c.state for c in closed} | {st.name for s in archive for st in s.states if st.final}
        ),
        earlier_states=sorted({st.name for s in archive for st in s.states if not st.final}),
    )
    chosen = {c.id for c in drawn}
    chosen |= {c.id for c, _ in earlier if c.final}
    chosen |= {c.id for c in closed if c.id in relapses}
    results = []
    for case_id in chosen:
        case, spec = by_id[case_id], kinds[(by_id[case_id].workflow, by_id[case_id].version)]
        if spec.kind == "archive":
            results.append(_earlier_result(case, spec, by_id))
        elif (relapse := relapses.get(case.id)) is not None:
            note = _text(relapse.data, "description") or "回头看发现问题反弹"
            results.append(
                LookbackResult(
                    case,
                    passed=False,
                    note=note,
                    new_case=relapse.id,
                    new_case_number=case_number(relapse),
                )
            )
        else:
            results.append(LookbackResult(case, passed=True, note="未发现反弹"))
    return sorted(results, key=lambda r: (_lookback_year(r.case), r.case.id))


# -- by template name --------------------------------------------------------------------------

#: The campaign's reports :func:`campaign_report_context` builds, by template name, with the
#: campaign reports whose due date each takes (the first the campaign declares) and the
#: month and day it is due otherwise.
_DUE: Final[Mapping[str, tuple[tuple[str, ...], int, int]]] = {
    "survey_coverage": (("survey_coverage",), 4, 10),
    "estate_register": (("estate_register", "ledger_totals"), 4, 5),
    "rectification_plan": (("rectification_plan",), 6, 30),
}
#: The reports :func:`campaign_report_context` builds.
CAMPAIGN_REPORTS: Final = frozenset({*_DUE, "task_status", "lookback_report"})


def _due(name: str, campaign: Campaign | None, year: int) -> dt.date:
    """Return when the campaign wants report ``name``: its ``reports`` entry, else by default."""
    notices, month, day = _DUE[name]
    for notice in notices:
        dues = [r.due for r in campaign.reports if r.notice == notice and r.due] if campaign else []
        if dues:
            return min(dues)
    return dt.date(year, month, day)


def campaign_report_context(
    name: str,
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    categories: CategoryTable | None = None,
    community: str | None = None,
    campaign: Campaign | None = None,
) -> dict[str, object]:
    """Return the context of the campaign report ``name`` (one of :data:`CAMPAIGN_REPORTS`).

    What ``report_context`` gives for these names: each is due when ``campaign``'s
    ``reports`` say (the entry whose ``notice`` is the template; the estate register takes the
    ledger totals' date), else on the seed's day; the look-back is drawn with
    ``lookback_seed(as_of)``.

    Raises:
        ValueError: ``name`` is not a campaign report.
    """
    if name not in CAMPAIGN_REPORTS:
        choices = ", ".join(sorted(CAMPAIGN_REPORTS))
        raise ValueError(f"no campaign report {name!r}; reports: {choices}")
    if name == "lookback_report":
        results = lookback_results(cases, specs, as_of=as_of, seed=lookback_seed(as_of))
        return lookback_context(
            results, as_of=as_of, issuer=issuer, sequence=sequence, categories=categories
        )
    if name == "task_status":
        return task_status_context(
            cases, specs, as_of=as_of, issuer=issuer, sequence=sequence, campaign=campaign
        )
    due_on = _due(name, campaign, as_of.year)
    if name == "survey_coverage":
        return survey_coverage_context(
            cases,
            specs,
            as_of=as_of,
            issuer=issuer,
            sequence=sequence,
            due_on=due_on,
            community=community,
        )
    if name == "estate_register":
        return estate_register_context(
            cases,
            specs,
            as_of=as_of,
            issuer=issuer,
            sequence=sequence,
            due_on=due_on,
            community=community,
        )
    return rectification_plan_context(
        cases,
        specs,
        as_of=as_of,
        issuer=issuer,
        sequence=sequence,
        community=community,
        due_on=due_on,
        categories=categories,
    )
