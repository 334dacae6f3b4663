"""The campaign's own reports: survey coverage, the estate register, tasks, plans, look-back.

The seed's campaign is more than its hazards: every old estate of each community on a register
(老旧小区台账, due 4/5), every building surveyed by 4/10 with its grid worker and building head
named (排查覆盖情况), the work plan's task list followed to the end (任务清单推进情况), each
community's rectification plan and the town's annual plan (整改计划, 6/30), and the look-back
(回头看) of this year's and earlier years' rectified hazards.

Each table report has a plain function returning its rows, dicts with the stable keys its
docstring lists (:func:`coverage_rows`, :func:`unsurveyed_rows`, :func:`register_rows`,
:func:`task_rows`, :func:`plan_rows`): the report's context prints them, and a spreadsheet
export can write them. Give every function the cases as of its day
(``Ledger.cases_as_of(as_of)``); cases opened later are left out.

A building is a case of a ``kind: survey`` workflow (one per building of the register), a
task one of ``kind: task``, an earlier year's hazard one of ``kind: archive``. An estate is a
(community, community_name) pair; a hazard belongs to an estate, and to a building, when
those fields match (compared without spaces, width or case).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from rectify.definitions._campaign import Campaign
from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._contexts import PHONE_ROLES, Issuer, case_number, private_view
from rectify.documents._reports import (
    Facts,
    LookbackResult,
    _common,
    _compared,
    _lookback_year,
    count,
    hazard_facts,
    lookback_context,
    town_of,
)
from rectify.engine._case import Case
from rectify.engine._engine import local_date
from rectify.engine._lookback import sample_lookback
from rectify.templating._formatting import mask_groups

__all__ = [
    "CAMPAIGN_REPORTS",
    "campaign_report_context",
    "circular_tasks",
    "coverage_rows",
    "estate_register_context",
    "lookback_results",
    "lookback_seed",
    "plan_rows",
    "rectification_plan_context",
    "register_counts",
    "register_rows",
    "survey_coverage_context",
    "task_rows",
    "task_status_context",
    "unsurveyed_rows",
]

_NUMBERS: Final = re.compile(r"(\d+)")
#: Where a row names no community.
_NONE: Final = "未注明"


def _text(data: Mapping[str, object], field: str) -> str:
    value = data.get(field)
    return "" if value is None else str(value).strip()


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _natural(text: str) -> tuple[object, ...]:
    """Return ``text`` as sorted by people: 2栋 before 10栋."""
    return tuple(int(part) if part.isdigit() else part for part in _NUMBERS.split(text))


def _joined(values: Iterable[str], sep: str = "、") -> str:
    """Return the distinct non-empty ``values`` in their order, joined by ``sep``."""
    return sep.join(dict.fromkeys(v for v in values if v))


def _of_kind(specs: Iterable[WorkflowSpec], kind: str) -> dict[tuple[str, int], WorkflowSpec]:
    return {(s.id, s.version): s for s in specs if s.kind == kind}


def _on_day(
    cases: Iterable[Case], specs: Mapping[tuple[str, int], WorkflowSpec], as_of: dt.date
) -> list[tuple[Case, WorkflowSpec]]:
    """Return the cases of ``specs`` opened by ``as_of``, each with its spec."""
    return [
        (c, specs[(c.workflow, c.version)])
        for c in cases
        if (c.workflow, c.version) in specs and local_date(c.opened_at) <= as_of
    ]


# -- buildings and estates ---------------------------------------------------------------------


@attrs.frozen
class _Building:
    """One building of the register on a day: ``listed`` (to survey), ``surveyed``, ``delisted``."""

    case: Case
    status: str

    @property
    def community(self) -> str:
        return _text(self.case.data, "community") or _NONE

    @property
    def estate(self) -> str:
        return _text(self.case.data, "community_name")

    @property
    def name(self) -> str:
        return _text(self.case.data, "building")

    @property
    def estate_key(self) -> tuple[str, str]:
        return _compared(self.community), _compared(self.estate)

    @property
    def key(self) -> tuple[str, str, str]:
        return (*self.estate_key, _compared(self.name))

    @property
    def kept(self) -> bool:
        return self.status != "delisted"

    @property
    def staffed(self) -> bool:
        """Return whether its grid worker and building head are both named."""
        data = self.case.data
        return bool(_text(data, "grid_worker") and _text(data, "building_head"))


def _buildings(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], as_of: dt.date, community: str | None
) -> list[_Building]:
    """Return the buildings of the register on ``as_of`` (of ``community``, if given)."""
    out = []
    for case, spec in _on_day(cases, _of_kind(specs, "survey"), as_of):
        state = spec.state(case.state)
        status = "listed"
        if state.final:
            status = "delisted" if state.outcome == "dismissed" else "surveyed"
        building = _Building(case, status)
        if community is None or building.estate_key[0] == _compared(community):
            out.append(building)
    return out


def _estates(buildings: Iterable[_Building]) -> dict[tuple[str, str], list[_Building]]:
    """Return the buildings by estate, estates and buildings in the order people read them."""
    groups: dict[tuple[str, str], list[_Building]] = {}
    ordered = sorted(buildings, key=lambda b: (b.community, b.estate, _natural(b.name), b.case.id))
    for building in ordered:
        groups.setdefault(building.estate_key, []).append(building)
    return groups


def _by_community(
    estates: Mapping[tuple[str, str], list[_Building]],
) -> dict[str, dict[tuple[str, str], list[_Building]]]:
    """Return ``estates`` by community name (as the register spells it), in name order."""
    names: dict[str, str] = {}
    out: dict[str, dict[tuple[str, str], list[_Building]]] = defaultdict(dict)
    for key, group in estates.items():
        name = names.setdefault(key[0], group[0].community)
        out[name][key] = group
    return dict(sorted(out.items()))


def _hazards_by(rows: Iterable[Facts], depth: int) -> dict[tuple[str, ...], list[Facts]]:
    """Return hazard rows by estate (``depth`` 2) or by building (``depth`` 3)."""
    out: dict[tuple[str, ...], list[Facts]] = defaultdict(list)
    for f in rows:
        data = f.case.data
        key = (
            _compared(f.community),
            _compared(data.get("community_name")),
            _compared(data.get("building")),
        )
        out[key[:depth]].append(f)
    return out


def register_counts(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], as_of: dt.date
) -> dict[str, tuple[str, int, int]]:
    """Return the estates and buildings on the register, by community.

    Keyed by the community's compared form (without spaces, width or case), each value is
    the community as the register spells it, its estates (those with a building not
    delisted) and its buildings not delisted; a community whose buildings were all delisted
    is left out. Empty when no building is on the register.
    """
    out = {}
    for name, estates in _by_community(_estates(_buildings(cases, specs, as_of, None))).items():
        kept = [b for group in estates.values() for b in group if b.kept]
        listed = sum(any(b.kept for b in group) for group in estates.values())
        if kept:
            out[_compared(name)] = (name, listed, len(kept))
    return out


# -- survey coverage ---------------------------------------------------------------------------


def _coverage(
    estates: Mapping[tuple[str, str], list[_Building]],
    by_estate: Mapping[tuple[str, ...], list[Facts]],
    by_building: Mapping[tuple[str, ...], list[Facts]],
) -> dict[str, object]:
    buildings = [b for group in estates.values() for b in group]
    kept = [b for b in buildings if b.kept]
    surveyed = [b for b in kept if b.status == "surveyed"]
    listed = [[b for b in group if b.kept] for group in estates.values()]
    listed = [group for group in listed if group]
    return {
        "estates": len(listed),
        "estates_surveyed": sum(all(b.status == "surveyed" for b in g) for g in listed),
        "buildings": len(buildings),
        "delisted": len(buildings) - len(kept),
        "surveyed": len(surveyed),
        "unsurveyed": len(kept) - len(surveyed),
        "coverage": len(surveyed) / len(kept) if kept else 0.0,
        "no_hazard": sum(
            not (_int(b.case.data.get("hazards")) or by_building.get(b.key)) for b in surveyed
        ),
        "hazards": sum(len(by_estate.get(key, ())) for key in estates),
        "staffed": sum(b.staffed for b in kept),
    }


def coverage_rows(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    community: str | None = None,
) -> list[dict[str, object]]:
    """Return the survey coverage of each community on ``as_of`` (排查覆盖情况), by name.

    Each row: ``community``; ``estates`` (on the register: with a building not delisted) and
    ``estates_surveyed`` (every such building surveyed); ``buildings`` (on the register, the
    delisted included), ``delisted``, ``surveyed``, ``unsurveyed`` (neither) and
    ``coverage`` (surveyed ÷ (buildings − delisted), a fraction, 0 when none); ``no_hazard``
    (surveyed with no hazard: none recorded at the survey and no hazard case of the
    building); ``hazards`` (hazard cases of the community's estates opened by ``as_of``);
    ``staffed`` (buildings not delisted whose grid worker and building head are named).
    """
    estates, by_estate, by_building = _survey(cases, specs, as_of, community)
    return [
        {"community": name, **_coverage(group, by_estate, by_building)}
        for name, group in _by_community(estates).items()
    ]


def _survey(
    cases: Iterable[Case], specs: Iterable[WorkflowSpec], as_of: dt.date, community: str | None
) -> tuple[
    dict[tuple[str, str], list[_Building]],
    dict[tuple[str, ...], list[Facts]],
    dict[tuple[str, ...], list[Facts]],
]:
    """Return the register's estates on ``as_of`` and the hazards by estate and by building."""
    case_list, spec_list = list(cases), list(specs)
    rows = hazard_facts(case_list, spec_list, as_of)
    estates = _estates(_buildings(case_list, spec_list, as_of, community))
    return estates, _hazards_by(rows, 2), _hazards_by(rows, 3)


def unsurveyed_rows(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    community: str | None = None,
) -> list[dict[str, object]]:
    """Return the buildings not yet surveyed on ``as_of``, one row an estate (to chase them).

    Each row: ``community``, ``community_name`` (the estate), ``address`` (its addresses,
    joined by 、), ``buildings`` (the names of its buildings to survey, in order),
    ``count`` (how many), ``grid_workers`` (those the register names for them, joined by
    、) and ``deadline`` (the earliest survey deadline of them, ``None`` if none runs).
    """
    return _unsurveyed(_estates(_buildings(cases, specs, as_of, community)))


def _unsurveyed(estates: Mapping[tuple[str, str], list[_Building]]) -> list[dict[str, object]]:
    out = []
    for group in estates.values():
        waiting = [b for b in group if b.status == "listed"]
        if not waiting:
            continue
        deadlines = [b.case.deadline for b in waiting if b.case.deadline is not None]
        out.append(
            {
                "community": waiting[0].community,
                "community_name": waiting[0].estate,
                "address": _joined(_text(b.case.data, "address") for b in waiting),
                "buildings": [b.name or b.case.id for b in waiting],
                "count": len(waiting),
                "grid_workers": _joined(_text(b.case.data, "grid_worker") for b in waiting),
                "deadline": min(deadlines, default=None),
            }
        )
    return out


def survey_coverage_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    due_on: dt.date | None = None,
    community: str | None = None,
    reader_role: str | None = "town_office",
) -> dict[str, object]:
    """Return the survey coverage report (排查覆盖情况统计表, due 4/10 by default).

    ``rows`` are :func:`coverage_rows`, ``totals`` the same figures for the whole town (or
    ``community``), ``unsurveyed`` the :func:`unsurveyed_rows`.
    """
    case_list = list(cases)
    estates, by_estate, by_building = _survey(case_list, specs, as_of, community)
    return {
        **_common(
            f"{community or town_of(issuer.name)}老旧小区消防安全排查覆盖情况统计表",
            issuer=issuer,
            sequence=sequence,
            issued_on=as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "community": community or "",
        "due_on": due_on or dt.date(as_of.year, 4, 10),
        "rows": [
            {"community": name, **_coverage(group, by_estate, by_building)}
            for name, group in _by_community(estates).items()
        ],
        "totals": _coverage(estates, by_estate, by_building),
        "unsurveyed": _unsurveyed(estates),
    }


# -- the estate register -----------------------------------------------------------------------


def _programme(group: Sequence[_Building]) -> str:
    """Return whether the estate is in the renovation programme: 是, 否, 部分 or ``""``."""
    known = []
    for b in group:
        value = b.case.data.get("in_programme")
        if isinstance(value, bool):
            known.append(value)
        elif str(value or "").strip() in ("是", "否"):
            known.append(str(value).strip() == "是")
    if not known:
        return ""
    if all(known):
        return "是"
    return "部分" if any(known) else "否"


def _floors(group: Sequence[_Building]) -> tuple[int | None, int | None, str]:
    floors = [f for b in group if (f := _int(b.case.data.get("floors"))) is not None]
    if not floors:
        return None, None, ""
    low, high = min(floors), max(floors)
    return low, high, f"{low}层" if low == high else f"{low}～{high}层"


def _groups_text(group: Sequence[_Building]) -> str:
    """Return the special-group households of the estate, building by building."""
    parts = [(b.name, text) for b in group if (text := _text(b.case.data, "special_groups"))]
    if len(parts) == 1:
        return parts[0][1]
    return "；".join(f"{name}：{text}" if name else text for name, text in parts)


def _register_row(
    group: Sequence[_Building], hazards: Sequence[Facts], reader_role: str | None
) -> dict[str, object]:
    data = [b.case.data for b in group]
    low, high, floors = _floors(group)
    households = [h for d in data if (h := _int(d.get("households"))) is not None]
    heads = [
        {
            "building": b.name,
            "name": _text(b.case.data, "building_head"),
            "phone": _text(b.case.data, "building_head_phone") or _text(b.case.data, "phone"),
        }
        for b in group
    ]
    row: dict[str, object] = {
        "community": group[0].community,
        "community_name": group[0].estate,
        "address": _joined(_text(d, "address") for d in data),
        "buildings": len(group),
        "floors_min": low,
        "floors_max": high,
        "floors": floors,
        "households": sum(households) if households else None,
        "in_programme": _programme(group),
        "facilities_manager": _joined(_text(d, "facilities_manager") for d in data),
        "facilities_manager_kind": _joined(_text(d, "facilities_manager_kind") for d in data),
        "grid_workers": _joined(_text(d, "grid_worker") for d in data),
        "heads": [h for h in heads if h["name"] or h["phone"]],
        "special_groups": mask_groups(_groups_text(group), reveal=reader_role in PHONE_ROLES),
        "surveyed": sum(b.status == "surveyed" for b in group),
        "hazards": len(hazards),
        "hazards_open": count(hazards).open,
    }
    return private_view(row, reader_role)


def register_rows(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    community: str | None = None,
    reader_role: str | None = "community",
) -> list[dict[str, object]]:
    """Return the estate register (老旧小区台账) on ``as_of``: one row an estate.

    An estate is on the register while a building of it is not delisted; its figures are
    those of those buildings. Each row: ``community``, ``community_name`` (小区名称),
    ``address`` (its addresses, joined by 、), ``buildings`` (楼栋数), ``floors_min`` and
    ``floors_max`` (``None`` when unknown) and ``floors`` (层数 as printed: ``6层``,
    ``4～7层`` or ``""``), ``households`` (户数, ``None`` when unknown), ``in_programme``
    (是否纳入改造: ``是``, ``否``, ``部分`` or ``""``), ``facilities_manager`` and
    ``facilities_manager_kind`` (消防设施管理单位 and its kind, joined by 、),
    ``grid_workers`` (网格员), ``heads`` (楼栋长: a list of ``building``, ``name`` and
    ``phone``), ``special_groups`` (特殊群体, building by building), ``surveyed`` (buildings
    surveyed), ``hazards`` and ``hazards_open`` (its hazards found by ``as_of``, and those
    still open).

    Phone numbers anywhere in a row are masked, and the special groups reduced to their
    count (``3户（详情不公开）``), unless ``reader_role`` may see them (``PHONE_ROLES``).
    """
    spec_list, case_list = list(specs), list(cases)
    by_estate = _hazards_by(hazard_facts(case_list, spec_list, as_of), 2)
    out = []
    for key, group in _estates(_buildings(case_list, spec_list, as_of, community)).items():
        kept = [b for b in group if b.kept]
        if kept:
            out.append(_register_row(kept, by_estate.get(key, []), reader_role))
    return out


def _register_totals(rows: Sequence[Mapping[str, object]]) -> dict[str, object]:
    def total(field: str) -> int:
        return sum(v for r in rows if isinstance(v := r[field], int))

    return {
        "communities": len({r["community"] for r in rows}),
        "estates": len(rows),
        **{f: total(f) for f in ("buildings", "households", "surveyed", "hazards")},
        "hazards_open": total("hazards_open"),
    }


def estate_register_context(
    cases: Iterable[Case],
    specs: Iterable[WorkflowSpec],
    *,
    as_of: dt.date,
    issuer: Issuer,
    sequence: int,
    due_on: dt.date | None = None,
    community: str | None = None,
    reader_role: str | None = "community",
) -> dict[str, object]:
    """Return the estate register (老旧小区基础台账, due 4/5 by default).

    ``rows`` are :func:`register_rows`; ``totals``: ``communities``, ``estates``,
    ``buildings``, ``households``, ``surveyed``, ``hazards``, ``hazards_open``.
    """
    rows = register_rows(cases, specs, as_of=as_of, community=community, reader_role=reader_role)
    return {
        **_common(
            f"{community or town_of(issuer.name)}老旧小区基础台账",
            issuer=issuer,
            sequence=sequence,
            issued_on=as_of,
            as_of=as_of,
            reader_role=reader_role,
        ),
        "community": community or "",
        "due_on": due_on or dt.date(as_of.year, 4, 5),
        "rows": rows,
        "totals": _register_totals(rows),
    }


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
        towns = {str(r["town"]) for r in rows} - {""}
        title = f"{towns.pop() if len(towns) == 1 else town_of(issuer.name)}老旧小区年度整改计划"
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
