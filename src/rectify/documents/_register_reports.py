"""The old-estate register's reports: survey coverage (by 4/10) and the estate register (by 4/5).

A building is a case of a ``kind: survey`` workflow (one per building of the register); an
estate is a (community, community_name) pair of them. A hazard belongs to an estate, and to a
building, when those fields match (compared without spaces, width or case). Each table report
has a plain function returning its rows, dicts with the stable keys its docstring lists
(:func:`coverage_rows`, :func:`unsurveyed_rows`, :func:`register_rows`): the report's context
prints them, and a spreadsheet export writes them. Give every function the cases as of its
day (``Ledger.cases_as_of(as_of)``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import attrs

from rectify.definitions._spec import WorkflowSpec
from rectify.documents._contexts import PHONE_ROLES, Issuer, private_view
from rectify.documents._reports import (
    Facts,
    _common,
    _compared,
    count,
    hazard_facts,
    town_of,
)
from rectify.documents._rows import _NONE, _int, _joined, _natural, _of_kind, _on_day, _text
from rectify.engine._case import Case
from rectify.templating._formatting import mask_groups

__all__ = [
    "coverage_rows",
    "estate_register_context",
    "register_counts",
    "register_rows",
    "survey_coverage_context",
    "unsurveyed_rows",
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
