"""The campaign's reports: survey coverage, the estate register, tasks, plans and look-back.

A small town is built in a ledger: seven buildings of three estates on the register (surveyed,
one not yet, one delisted, one estate with no hazard), hazards in and out of the register (one
closed and found again, one closed by the long path and found again), the campaign's seven
tasks (progress, one done, one cancelled) and four hazards rectified in 2022 and 2023 (one
confirmed, one relapsed, two still to be looked at). Every figure of every report is checked
against what the town holds, in memory and through ``rectify report``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from rectify import Actor, Case, Evidence, Ledger, NoticeRenderer, WorkflowSpec
from rectify.calendar import load_campaign
from rectify.cli._demo import standard_report
from rectify.definitions import load_categories
from rectify.documents import (
    Issuer,
    MemoryNumberBook,
    Notices,
    circular_context,
    coverage_rows,
    estate_register_context,
    ledger_totals_context,
    lookback_context,
    lookback_results,
    lookback_seed,
    plan_rows,
    rectification_plan_context,
    register_rows,
    report_context,
    survey_coverage_context,
    task_rows,
    task_status_context,
    unsurveyed_rows,
)
from rectify.stores import MemoryStore, SQLStore
from tests.test_cli import invoke, numbers, run
from tests.test_notices import check_html

TZ = ZoneInfo("Asia/Shanghai")
CAMPAIGN = load_campaign()
CATEGORIES = load_categories()
OFFICE = Actor("周铀", "town_office")
GOVERNMENT = Actor("虎峰镇人民政府", "government")
COMMUNITY = Actor("正街社区-陈", "community")
GRID = Actor("李网格", "grid_worker")
PROPERTY = Actor("正街物业", "property")
ISSUER = Issuer("虎峰镇消防安全委员会办公室", code="虎峰镇消安")
RENDERER = NoticeRenderer()
#: The day the reports are drawn up: after the survey's end (4/10), before the April report day.
DAY = dt.date(2024, 4, 20)
PHONE, MASKED = "13800001111", "138****1111"
PROPERTY_NAME = "重庆正街物业服务有限公司"


def at(month: int, day: int, hour: int = 9, year: int = 2024) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=TZ)


def proof(*kinds: str) -> tuple[Evidence, ...]:
    return tuple(Evidence.of(kind, f"{kind}.jpg", kind.encode()) for kind in kinds)


#: The register: (id, community, estate, building, floors, households, in programme, groups).
BUILDINGS = (
    ("BLD-001", "正街社区", "供销社宿舍", "1栋", 5, 20, True, "独居老人2户"),
    ("BLD-002", "正街社区", "供销社宿舍", "2栋", 7, 28, False, "残疾人1户"),
    ("BLD-003", "正街社区", "供销社宿舍", "3栋", 6, None, True, ""),
    ("BLD-004", "正街社区", "粮站宿舍", "1栋", 4, 16, True, ""),
    ("BLD-005", "金龙社区", "金龙小区", "1栋", 6, 30, True, ""),
    ("BLD-006", "金龙社区", "金龙小区", "2栋", 6, 30, True, ""),
    ("BLD-007", "金龙社区", "金龙小区", "3栋", 6, 30, True, ""),
)
#: The surveys: building, day, building head, phone, hazards the grid worker counted.
SURVEYS = (
    ("BLD-001", 20, "王楼长", PHONE, 0),
    ("BLD-002", 21, "张楼长", "", 1),
    ("BLD-004", 22, "刘楼长", "", 0),
    ("BLD-006", 25, "钱楼长", "", 0),
)


def _hazard(
    community: str, estate: str, building: str, category: str, text: str
) -> dict[str, object]:
    return {
        "town": "虎峰镇",
        "community": community,
        "community_name": estate,
        "address": "正街12号" if community == "正街社区" else "金龙路3号",
        "building": building,
        "category": category,
        "severity": CATEGORIES.category(category).severity,
        "description": text,
    }


def _register(ledger: Ledger) -> None:
    for case_id, community, estate, building, floors, households, programme, groups in BUILDINGS:
        zhengjie = community == "正街社区"
        data: dict[str, object] = {
            "town": "虎峰镇",
            "community": community,
            "community_name": estate,
            "address": "正街12号" if zhengjie else "金龙路3号",
            "building": building,
            "floors": floors,
            "households": households,
            "in_programme": programme,
            "facilities_manager": PROPERTY_NAME if zhengjie else "虎峰物业服务站",
            "facilities_manager_kind": "物业服务企业" if zhengjie else "镇政府指定单位",
            "special_groups": groups,
        }
        if case_id == "BLD-007":  # the register names them before the survey
            data |= {"grid_worker": "王网格", "building_head": "赵楼长"}
        ledger.open(case_id, "survey", data, OFFICE, at=at(3, 11))
    ledger.fire("BLD-005", "delist", OFFICE, reason="已拆除", at=at(3, 18))
    for case_id, day, head, phone, found in SURVEYS:
        payload: dict[str, object] = {
            "grid_worker": GRID.id,
            "building_head": head,
            "hazards": found,
        }
        if phone:
            payload["building_head_phone"] = phone
        ledger.fire(case_id, "survey", GRID, payload=payload, at=at(3, day))


def _close_on_the_spot(ledger: Ledger, case_id: str, when: dt.datetime) -> None:
    fix = proof("photo_before", "photo_after")
    ledger.fire(case_id, "correct_on_spot", GRID, evidence=fix, at=when)
    ledger.fire(case_id, "close", COMMUNITY, at=when + dt.timedelta(hours=1))


def _hazards(ledger: Ledger) -> None:
    ledger.open(
        "HZ-1",
        "hazard",
        _hazard("正街社区", "供销社宿舍", "2栋", "FAC.EXT", "灭火器过期"),
        GRID,
        at=at(3, 21),
    )
    ledger.fire(
        "HZ-1",
        "assign",
        COMMUNITY,
        payload={
            "responsible_party": PROPERTY_NAME,
            "measures": f"更换灭火器，联系人{PHONE}",
            "due": dt.date(2024, 4, 30),
        },
        at=at(3, 22),
    )
    ledger.open(
        "HZ-2",
        "hazard",
        _hazard("金龙社区", "金龙小区", "2栋", "FAC.HOSE", "水带破损"),
        GRID,
        at=at(4, 2),
    )
    ledger.open(
        "HZ-3",
        "immediate",
        _hazard("正街社区", "供销社宿舍", "", "PAS.LANE", "占用消防车通道"),
        GRID,
        at=at(3, 25),
    )
    _close_on_the_spot(ledger, "HZ-3", at(3, 25, 10))
    ledger.open(
        "HZ-4",
        "immediate",
        _hazard("正街社区", "无名小区", "", "PAS.EVAC", "楼道堆物"),
        GRID,
        at=at(3, 26),
    )
    _close_on_the_spot(ledger, "HZ-4", at(3, 26, 10))
    ledger.open(
        "HZ-5",
        "hazard",
        _hazard("正街社区", "无名小区", "1栋", "FAC.EXT", "灭火器失效"),
        GRID,
        at=at(3, 27),
    )
    due = dt.date(2024, 4, 8)
    assign = {"responsible_party": PROPERTY_NAME, "measures": "更换", "due": due}
    ledger.fire("HZ-5", "assign", COMMUNITY, payload=assign, at=at(3, 28))
    plan = {"measures": "更换灭火器", "due": due}
    ledger.fire(
        "HZ-5", "plan", PROPERTY, payload=plan, evidence=proof("plan_document"), at=at(3, 29)
    )
    fixed = {"summary": "已更换"}
    ledger.fire(
        "HZ-5", "report_fixed", PROPERTY, payload=fixed, evidence=proof("photo_after"), at=at(3, 30)
    )
    ledger.fire("HZ-5", "verify", COMMUNITY, evidence=proof("inspection_record"), at=at(3, 31))
    ledger.fire("HZ-5", "close", COMMUNITY, at=at(4, 1))
    again = _hazard("正街社区", "供销社宿舍", "", "PAS.LANE", "又占用消防车通道")
    ledger.open("HZ-3-R1", "immediate", again, GRID, at=at(4, 15), recurrence_of="HZ-3")
    later = _hazard("正街社区", "无名小区", "1栋", "FAC.EXT", "灭火器又失效")
    ledger.open("HZ-5-R1", "hazard", later, GRID, at=at(4, 18), recurrence_of="HZ-5")


def _tasks(ledger: Ledger) -> None:
    for task in CAMPAIGN.tasks:
        ledger.open(task.case_id, "task", task.data(), OFFICE, at=at(3, 11))
    progress = {"progress": "已摸排4栋"}
    ledger.fire(
        "TASK-survey_buildings", "report_progress", COMMUNITY, payload=progress, at=at(4, 1)
    )
    done = {"summary": "网格员、楼栋长已明确"}
    ledger.fire("TASK-name_staff", "complete", COMMUNITY, payload=done, at=at(4, 8))
    ledger.fire("TASK-canopies", "cancel", GOVERNMENT, reason="并入城市更新项目", at=at(4, 12))


#: Hazards rectified in earlier years: id, year, community, estate, building, category.
EARLIER = (
    ("ERL-1", 2022, "正街社区", "供销社宿舍", "1栋", "FAC.EXT"),
    ("ERL-2", 2023, "正街社区", "粮站宿舍", "1栋", "PAS.EVAC"),
    ("ERL-3", 2023, "金龙社区", "金龙小区", "2栋", "PAS.LANE"),
    ("ERL-4", 2023, "金龙社区", "金龙小区", "3栋", "FAC.EXT"),
)


def _earlier(ledger: Ledger) -> None:
    for case_id, year, community, estate, building, category in EARLIER:
        data = {
            **_hazard(community, estate, building, category, f"{year}年已整改：{category}"),
            "year": year,
            "rectified_on": dt.date(year, 9, 1),
        }
        ledger.open(case_id, "earlier", data, OFFICE, at=dt.datetime(year, 9, 1, 12, tzinfo=TZ))
    ledger.fire("ERL-1", "confirm", GRID, payload={"note": "灭火器在有效期内"}, at=at(4, 10))
    relapse = {"findings": "楼道又堆放杂物", "new_case": "HZ-4"}
    ledger.fire("ERL-2", "relapse", GRID, payload=relapse, at=at(4, 11))


def build(ledger: Ledger) -> Ledger:
    """Put the town in ``ledger``: the register, the hazards, the tasks and earlier years."""
    _register(ledger)
    _hazards(ledger)
    _tasks(ledger)
    _earlier(ledger)
    return ledger


@pytest.fixture(scope="module")
def town() -> tuple[list[Case], list[WorkflowSpec]]:
    """Return the town's cases as of ``DAY`` and the workflows they run on."""
    ledger = build(Ledger.with_workflows(MemoryStore(), campaign=CAMPAIGN))
    return list(ledger.cases_as_of(DAY)), [e.spec for e in ledger.engines]


def _by(rows: list[dict[str, Any]], key: str) -> dict[object, dict[str, Any]]:
    return {row[key]: row for row in rows}


def listed(context: Mapping[str, object], key: str) -> list[dict[str, Any]]:
    """Return the rows ``context`` holds under ``key``."""
    value = context[key]
    assert isinstance(value, list)
    return value


def part(context: Mapping[str, object], key: str) -> dict[str, Any]:
    """Return the mapping ``context`` holds under ``key``."""
    value = context[key]
    assert isinstance(value, dict)
    return value


# -- survey coverage -----------------------------------------------------------------------------

ZHENGJIE_COVERAGE = {
    "community": "正街社区",
    "estates": 2,
    "estates_surveyed": 1,  # 粮站宿舍; 供销社宿舍 3栋 is not surveyed
    "buildings": 4,
    "delisted": 0,
    "surveyed": 3,
    "unsurveyed": 1,
    "coverage": 0.75,
    "no_hazard": 2,  # 供销社宿舍 1栋 and 粮站宿舍 1栋
    "hazards": 3,  # HZ-1, HZ-3 and its relapse: 无名小区 is not on the register
    "staffed": 3,
}
JINLONG_COVERAGE = {
    "community": "金龙社区",
    "estates": 1,
    "estates_surveyed": 0,
    "buildings": 3,
    "delisted": 1,
    "surveyed": 1,
    "unsurveyed": 1,
    "coverage": 0.5,
    "no_hazard": 0,  # 2栋 counted none at the survey, but HZ-2 was found there since
    "hazards": 1,
    "staffed": 2,  # 3栋 is not surveyed, but the register names its grid worker and head
}


def test_coverage_counts_estates_buildings_and_hazards_by_community(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    assert coverage_rows(cases, specs, as_of=DAY) == [ZHENGJIE_COVERAGE, JINLONG_COVERAGE]
    only = coverage_rows(cases, specs, as_of=DAY, community=" 金龙社区")
    assert only == [JINLONG_COVERAGE]


def test_coverage_totals_and_the_buildings_left_to_survey(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    context = survey_coverage_context(cases, specs, as_of=DAY, issuer=ISSUER, sequence=4)
    totals = context["totals"]
    assert totals == {
        "estates": 3,
        "estates_surveyed": 1,
        "buildings": 7,
        "delisted": 1,
        "surveyed": 4,
        "unsurveyed": 2,
        "coverage": 4 / 6,
        "no_hazard": 2,
        "hazards": 4,
        "staffed": 5,
    }
    assert context["due_on"] == dt.date(2024, 4, 10)
    assert context["title"] == "虎峰镇老旧小区消防安全排查覆盖情况统计表"
    assert unsurveyed_rows(cases, specs, as_of=DAY) == [
        {
            "community": "正街社区",
            "community_name": "供销社宿舍",
            "address": "正街12号",
            "buildings": ["3栋"],
            "count": 1,
            "grid_workers": "",
            "deadline": dt.date(2024, 4, 10),
        },
        {
            "community": "金龙社区",
            "community_name": "金龙小区",
            "address": "金龙路3号",
            "buildings": ["3栋"],
            "count": 1,
            "grid_workers": "王网格",
            "deadline": dt.date(2024, 4, 10),
        },
    ]
    text = RENDERER.render("survey_coverage", context, fmt="text").body
    assert "全镇已排查1个小区4栋，覆盖率66.7%" in text
    assert "2. 金龙社区：小区0/1个，楼栋1/2栋（移出1栋），覆盖率50.0%" in text
    assert "金龙社区 金龙小区：3栋，网格员王网格" in text


def test_coverage_of_a_day_holds_that_days_surveys() -> None:
    ledger = build(Ledger.with_workflows(MemoryStore(), campaign=CAMPAIGN))
    specs = [e.spec for e in ledger.engines]
    early = dt.date(2024, 3, 19)
    (zhengjie, jinlong) = coverage_rows(list(ledger.cases_as_of(early)), specs, as_of=early)
    assert (zhengjie["surveyed"], zhengjie["coverage"], zhengjie["hazards"]) == (0, 0.0, 0)
    assert (jinlong["delisted"], jinlong["staffed"]) == (1, 1)
    assert coverage_rows([], specs, as_of=DAY) == []


# -- the estate register -------------------------------------------------------------------------


def test_the_register_has_a_row_an_estate_with_its_figures(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    rows = _by(register_rows(cases, specs, as_of=DAY), "community_name")
    assert list(rows) == ["供销社宿舍", "粮站宿舍", "金龙小区"]
    assert rows["供销社宿舍"] == {
        "community": "正街社区",
        "community_name": "供销社宿舍",
        "address": "正街12号",
        "buildings": 3,
        "floors_min": 5,
        "floors_max": 7,
        "floors": "5～7层",
        "households": 48,
        "in_programme": "部分",
        "facilities_manager": PROPERTY_NAME,
        "facilities_manager_kind": "物业服务企业",
        "grid_workers": "李网格",
        "heads": [
            {"building": "1栋", "name": "王楼长", "phone": PHONE},
            {"building": "2栋", "name": "张楼长", "phone": ""},
        ],
        "special_groups": "1栋：独居老人2户；2栋：残疾人1户",
        "surveyed": 2,
        "hazards": 3,
        "hazards_open": 2,  # HZ-1 and the relapse HZ-3-R1; HZ-3 was closed
    }
    # An estate where nothing was found is on the register all the same.
    quiet = rows["粮站宿舍"]
    assert (quiet["buildings"], quiet["surveyed"], quiet["hazards"]) == (1, 1, 0)
    assert (quiet["floors"], quiet["in_programme"]) == ("4层", "是")
    # A delisted building is not counted; the grid workers of both are named.
    jinlong = rows["金龙小区"]
    assert (jinlong["buildings"], jinlong["households"], jinlong["surveyed"]) == (2, 60, 1)
    assert jinlong["grid_workers"] == "李网格、王网格"
    assert jinlong["facilities_manager_kind"] == "镇政府指定单位"


def test_the_public_register_masks_phones_and_special_groups(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    office = estate_register_context(cases, specs, as_of=DAY, issuer=ISSUER, sequence=1)
    public = estate_register_context(
        cases, specs, as_of=DAY, issuer=ISSUER, sequence=1, reader_role=None
    )
    row = listed(public, "rows")[0]
    assert row["special_groups"] == "3户（详情不公开）"
    assert row["heads"][0]["phone"] == MASKED
    for fmt in ("html", "text"):
        shown = RENDERER.render("estate_register", office, fmt=fmt).body
        hidden = RENDERER.render("estate_register", public, fmt=fmt).body
        assert PHONE in shown
        assert "独居老人2户" in shown
        assert PHONE not in hidden
        assert MASKED in hidden
        assert "独居老人" not in hidden
        assert "3户（详情不公开）" in hidden
    assert office["totals"] == {
        "communities": 2,
        "estates": 3,
        "buildings": 6,
        "households": 124,
        "surveyed": 4,
        "hazards": 4,
        "hazards_open": 3,
    }
    assert office["title"] == "虎峰镇老旧小区基础台账"


def test_ledger_totals_count_the_register_when_it_is_kept(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    context = ledger_totals_context(
        cases, specs, as_of=DAY, due_on=dt.date(2024, 4, 5), issuer=ISSUER, sequence=2
    )
    assert context["counted_from"] == "register"
    rows = _by(listed(context, "rows"), "community")
    assert (rows["正街社区"]["estates"], rows["正街社区"]["buildings"]) == (2, 4)
    assert (rows["金龙社区"]["estates"], rows["金龙社区"]["buildings"]) == (1, 2)
    # The hazards are all of them, the unregistered estate's too.
    assert (rows["正街社区"]["found"], rows["金龙社区"]["found"]) == (6, 1)
    totals = part(context, "totals")
    assert (totals["estates"], totals["buildings"], totals["found"]) == (3, 6, 7)
    text = RENDERER.render("ledger_totals", context, fmt="text").body
    assert text.endswith("（小区、楼栋按老旧小区台账在册的小区、楼栋统计，未发现隐患的也计入。）\n")


def test_a_hazard_counts_under_its_registers_community_however_it_is_typed(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    typed = [
        attrs.evolve(c, data={**c.data, "community": "金龙 社区"}) if c.id == "HZ-2" else c
        for c in cases
    ]
    context = ledger_totals_context(
        typed, specs, as_of=DAY, due_on=dt.date(2024, 4, 5), issuer=ISSUER, sequence=2
    )
    rows = _by(listed(context, "rows"), "community")
    assert list(rows) == ["正街社区", "金龙社区"]
    assert (rows["金龙社区"]["found"], rows["金龙社区"]["buildings"]) == (1, 2)
    assert coverage_rows(typed, specs, as_of=DAY)[1]["hazards"] == 1


def test_ledger_totals_without_a_register_count_the_hazards_estates(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    hazards = [c for c in cases if c.id.startswith("HZ-")]
    context = ledger_totals_context(
        hazards, specs, as_of=DAY, due_on=dt.date(2024, 4, 5), issuer=ISSUER, sequence=2
    )
    assert context["counted_from"] == "hazards"
    rows = _by(listed(context, "rows"), "community")
    # 供销社宿舍 and 无名小区; a building is an (estate, address, building) with a hazard:
    # 供销社宿舍 2栋 and the estate itself (no building named), 无名小区 1栋 and itself.
    assert (rows["正街社区"]["estates"], rows["正街社区"]["buildings"]) == (2, 4)
    assert (rows["金龙社区"]["estates"], rows["金龙社区"]["buildings"]) == (1, 1)
    text = RENDERER.render("ledger_totals", context, fmt="text").body
    assert "台账在册" not in text
    assert text.endswith(
        "合计：小区3个，楼栋5栋，排查7处，不计入整改率0处，已销号3处，未完成4处，其中逾期3处，整改率42.9%\n"
    )


# -- the task list -------------------------------------------------------------------------------


def test_tasks_are_listed_in_the_campaigns_order_with_where_they_stand(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    rows = task_rows(cases, specs, as_of=DAY, campaign=CAMPAIGN)
    assert [r["task"] for r in rows] == [t.key for t in CAMPAIGN.tasks]
    by = _by(rows, "task")
    assert by["survey_buildings"] == {
        "id": "TASK-survey_buildings",
        "task": "survey_buildings",
        "phase": "survey",
        "phase_title": "全面摸底排查",
        "title": "排查摸底",
        "content": CAMPAIGN.tasks[0].content,
        "units": "各社区、镇规划建设环保办",
        "due": dt.date(2024, 4, 10),
        "status": "open",
        "state_title": "推进中",
        "done_on": None,
        "overdue_days": 10,
        "overdue": True,
        "progress": "已摸排4栋",
        "progress_on": dt.date(2024, 4, 1),
    }
    staff = by["name_staff"]
    assert (staff["status"], staff["done_on"], staff["overdue_days"]) == (
        "done",
        dt.date(2024, 4, 8),
        0,
    )
    assert staff["progress"] == "网格员、楼栋长已明确"
    canopies = by["canopies"]
    assert (canopies["status"], canopies["progress"]) == ("cancelled", "并入城市更新项目")
    assert by["annual_plan"]["overdue"] is False
    context = task_status_context(
        cases, specs, as_of=DAY, issuer=ISSUER, sequence=5, campaign=CAMPAIGN
    )
    assert context["totals"] == {"tasks": 7, "done": 1, "open": 5, "overdue": 2, "cancelled": 1}
    assert [(p["phase"], len(p["rows"])) for p in listed(context, "phases")] == [
        ("survey", 3),
        ("concentrated", 2),
        ("canopies", 1),
        ("consolidation", 1),
    ]
    text = RENDERER.render("task_status", context, fmt="text").body
    assert "任务清单共7项，已完成1项，推进中5项，其中逾期2项，撤销1项。" in text
    assert "逾期10天；已摸排4栋" in text


def test_without_a_campaign_tasks_are_ordered_by_due_date_and_keep_their_phase_name(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    rows = task_rows(cases, specs, as_of=DAY)
    dues = [r["due"] for r in rows]
    assert dues == sorted(dues, key=str)
    assert rows[0]["phase_title"] == "survey"


def test_the_circular_reports_overdue_tasks_and_those_done_in_its_period(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    context = circular_context(
        cases, specs, year=2024, month=4, as_of=DAY, issuer=ISSUER, sequence=6, campaign=CAMPAIGN
    )
    tasks = context["tasks"]
    assert isinstance(tasks, dict)
    assert (tasks["tasks"], tasks["done"], tasks["overdue"]) == (7, 1, 2)
    assert [r["task"] for r in tasks["overdue_tasks"]] == ["survey_buildings", "survey_renovated"]
    assert [r["task"] for r in tasks["done_tasks"]] == ["name_staff"]
    html = RENDERER.render("circular", context).body
    check_html(html)
    assert "任务清单推进情况" in html
    assert "专项整治任务清单共7项，已完成1项，正在推进5项，其中逾期未完成2项" in html
    text = RENDERER.render("circular", context, fmt="text").body
    assert "本期完成1. 明确各小区管理的网格员、楼栋长。（各社区，4月8日完成）" in text
    # The next period: done in April is not this period's; nothing of tasks without task cases.
    may = circular_context(cases, specs, year=2024, month=5, as_of=DAY, issuer=ISSUER, sequence=7)
    assert part(may, "tasks")["done_tasks"] == []
    hazards_only = [c for c in cases if not c.id.startswith("TASK-")]
    none = circular_context(
        hazards_only, specs, year=2024, month=4, as_of=DAY, issuer=ISSUER, sequence=8
    )
    assert none["tasks"] is None
    assert "任务清单" not in RENDERER.render("circular", none, fmt="text").body


# -- rectification plans -------------------------------------------------------------------------


def test_a_communitys_plan_lists_its_open_hazards_by_estate(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    rows = plan_rows(cases, specs, as_of=DAY, community="正街社区", categories=CATEGORIES)
    assert [r["id"] for r in rows] == ["HZ-3-R1", "HZ-1", "HZ-5-R1"]
    hz1 = rows[1]
    assert (hz1["responsible_party"], hz1["rectify_by"], hz1["overdue_days"]) == (
        PROPERTY_NAME,
        dt.date(2024, 4, 30),
        0,
    )
    assert hz1["measures"] == f"更换灭火器，联系人{PHONE}"
    assert hz1["category_title"] == CATEGORIES.category("FAC.EXT").title
    public = plan_rows(cases, specs, as_of=DAY, community="正街社区", reader_role=None)
    assert public[1]["measures"] == f"更换灭火器，联系人{MASKED}"
    late = plan_rows(cases, specs, as_of=dt.date(2024, 5, 3), community="正街社区")
    assert _by(late, "id")["HZ-1"]["overdue_days"] == 3
    context = rectification_plan_context(
        cases, specs, as_of=DAY, issuer=ISSUER, sequence=1, community="正街社区"
    )
    assert context["title"] == "正街社区老旧小区消防安全隐患整改计划"
    estates = listed(context, "estates")
    assert [(e["community_name"], len(e["hazards"])) for e in estates] == [
        ("供销社宿舍", 2),
        ("无名小区", 1),
    ]
    assert context["totals"] == {
        "communities": 1,
        "estates": 2,
        "hazards": 3,
        "overdue": 0,
        "immediate": 1,
    }
    text = RENDERER.render("rectification_plan", context, fmt="text").body
    assert "2. 2栋：灭火器过期；整改责任人：重庆正街物业服务有限公司" in text
    assert "整改时限：2024年4月30日前" in text


def test_the_towns_annual_plan_totals_by_community_and_category(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    context = rectification_plan_context(
        cases, specs, as_of=DAY, issuer=ISSUER, sequence=1, categories=CATEGORIES
    )
    assert context["title"] == "虎峰镇老旧小区年度整改计划"
    assert context["due_on"] == dt.date(2024, 6, 30)
    assert context["by_community"] == [
        {"community": "正街社区", "estates": 2, "hazards": 3, "overdue": 0},
        {"community": "金龙社区", "estates": 1, "hazards": 1, "overdue": 0},
    ]
    by_category = {r["code"]: r["hazards"] for r in listed(context, "by_category")}
    assert by_category == {"FAC.EXT": 2, "FAC.HOSE": 1, "PAS.LANE": 1}
    html = RENDERER.render("rectification_plan", context).body
    check_html(html)
    assert "隐患分布" in html
    assert "金龙社区 金龙小区" in html


# -- look-back from the store --------------------------------------------------------------------


def test_look_back_results_from_the_store(town: tuple[list[Case], list[WorkflowSpec]]) -> None:
    cases, specs = town
    results = lookback_results(cases, specs, as_of=DAY, seed=lookback_seed(DAY))
    got = [(r.case.id, r.passed, r.pending, r.note, r.new_case) for r in results]
    assert got == [
        ("ERL-1", True, False, "灭火器在有效期内", None),
        ("ERL-2", False, False, "楼道又堆放杂物", "HZ-4"),
        ("ERL-3", False, True, "待核查", None),
        ("ERL-4", False, True, "待核查", None),
        ("HZ-3", False, False, "又占用消防车通道", "HZ-3-R1"),
        ("HZ-4", True, False, "未发现反弹", None),
        ("HZ-5", False, False, "灭火器又失效", "HZ-5-R1"),
    ]
    numbered = {c.id: c.data.get("case_number") for c in cases}
    assert results[1].new_case_number == numbered["HZ-4"]
    assert results[4].new_case_number == numbered["HZ-3-R1"]
    assert lookback_seed(DAY) == 20240420


def test_a_relapse_counts_as_looked_at_whether_drawn_or_not(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    results = lookback_results(cases, specs, as_of=DAY, seed=1, share=0.0)
    # ERL-4 and HZ-5 are not always sampled: with no share of the rest drawn, only the
    # relapse of HZ-5 brings it in.
    assert [r.case.id for r in results] == ["ERL-1", "ERL-2", "ERL-3", "HZ-3", "HZ-4", "HZ-5"]
    before = lookback_results(cases, specs, as_of=dt.date(2024, 4, 14), seed=1, share=0.0)
    hz3 = next(r for r in before if r.case.id == "HZ-3")
    assert (hz3.passed, hz3.note) == (True, "未发现反弹")  # its relapse came on 4/15


def test_the_look_back_report_gives_rates_by_year_and_community(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    results = lookback_results(cases, specs, as_of=DAY, seed=lookback_seed(DAY))
    context = lookback_context(results, as_of=DAY, issuer=ISSUER, sequence=3)
    assert context["totals"] == {
        "sampled": 7,
        "checked": 5,
        "passed": 2,
        "relapsed": 3,
        "pending": 2,
        "rate": 3 / 5,
        "earlier": 4,
    }
    years = {r["year"]: r for r in listed(context, "by_year")}
    assert list(years) == [2022, 2023, 2024]
    assert {k: years[2023][k] for k in ("sampled", "checked", "relapsed", "pending", "rate")} == {
        "sampled": 3,
        "checked": 1,
        "relapsed": 1,
        "pending": 2,
        "rate": 1.0,
    }
    assert (years[2024]["relapsed"], years[2024]["rate"]) == (2, 2 / 3)
    assert [c["community"] for c in years[2023]["communities"]] == ["正街社区", "金龙社区"]
    communities = _by(listed(context, "by_community"), "community")
    assert {k: communities["金龙社区"][k] for k in ("sampled", "pending", "rate")} == {
        "sampled": 2,
        "pending": 2,
        "rate": 0.0,
    }
    assert (communities["正街社区"]["relapsed"], communities["正街社区"]["rate"]) == (3, 0.6)
    text = RENDERER.render("lookback_report", context, fmt="text").body
    assert "截至2024年4月20日，抽查已销号隐患7处，反弹3处，反弹率60.0%。" in text
    assert "另有2处尚待核查，不计入反弹率。" in text
    assert "2. 2023年整改：抽查3处，反弹1处（100.0%），待核查2处" in text
    html = RENDERER.render("lookback_report", context).body
    check_html(html)
    assert "（其中历年已整改隐患4处）" in html


def test_the_look_back_report_of_a_day_is_drawn_the_same_each_time(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    notices = Notices(campaign=CAMPAIGN, numbers=MemoryNumberBook())
    first = standard_report(notices, "lookback_report", DAY, cases, specs, campaign=CAMPAIGN)
    again = standard_report(notices, "lookback_report", DAY, cases, specs, campaign=CAMPAIGN)
    assert first == again
    assert first[0] == "lookback_report/2024-04-20"
    assert first[1]["number"] == "虎峰镇消安〔2024〕1号"


# -- by template name, issued as the campaign files them -----------------------------------------


@pytest.mark.parametrize(
    ("name", "community", "number", "title"),
    [
        (
            "survey_coverage",
            None,
            "虎峰镇消安〔2024〕1号",
            "虎峰镇老旧小区消防安全排查覆盖情况统计表",
        ),
        ("estate_register", "正街社区", "虎峰镇消安〔2024〕1号", "正街社区老旧小区基础台账"),
        ("task_status", None, "虎峰镇消安〔2024〕1号", "老旧小区消防安全专项整治任务清单推进情况"),
        ("rectification_plan", None, "虎峰镇消安〔2024〕1号", "虎峰镇老旧小区年度整改计划"),
        (
            "rectification_plan",
            "正街社区",
            "正街居〔2024〕1号",
            "正街社区老旧小区消防安全隐患整改计划",
        ),
    ],
)
def test_each_campaign_report_is_issued_by_its_office_and_renders(
    town: tuple[list[Case], list[WorkflowSpec]],
    name: str,
    community: str | None,
    number: str,
    title: str,
) -> None:
    cases, specs = town
    notices = Notices(campaign=CAMPAIGN, numbers=MemoryNumberBook())
    identity, context = standard_report(
        notices,
        name,
        DAY,
        cases,
        specs,
        community=community,
        categories=CATEGORIES,
        campaign=CAMPAIGN,
    )
    assert (context["number"], context["title"]) == (number, title)
    signer = "正街社区居民委员会" if number.startswith("正街") else "虎峰镇消防安全委员会办公室"
    assert part(context, "issuer")["name"] == signer
    html = notices.render(name, context, identity=identity)
    check_html(html.body)
    assert f"<h1>{title}</h1>" in html.body
    text = notices.render(name, context, fmt="text", identity=identity)
    assert text.body.startswith(f"{title}（")
    assert signer in text.body


def test_due_dates_come_from_the_campaigns_reports(
    town: tuple[list[Case], list[WorkflowSpec]],
) -> None:
    cases, specs = town
    dues = {
        name: report_context(
            name, cases, specs, as_of=DAY, issuer=ISSUER, sequence=1, campaign=CAMPAIGN
        )["due_on"]
        for name in ("survey_coverage", "estate_register", "rectification_plan")
    }
    assert dues == {
        "survey_coverage": dt.date(2024, 4, 10),
        "estate_register": dt.date(2024, 4, 5),  # the ledger totals' day
        "rectification_plan": dt.date(2024, 6, 30),
    }
    with pytest.raises(ValueError, match=r"no report 'weekly'.*survey_coverage"):
        report_context("weekly", cases, specs, as_of=DAY, issuer=ISSUER, sequence=1)


# -- rectify report ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a SQLite store holding the town (do not change it)."""
    db = tmp_path_factory.mktemp("campaign") / "rectify.db"
    ledger = build(Ledger.with_workflows(SQLStore.open(db), campaign=CAMPAIGN))
    ledger.store.close()
    return db


@pytest.mark.parametrize(
    ("kind", "first_line", "figure"),
    [
        (("coverage",), "虎峰镇老旧小区消防安全排查覆盖情况统计表（", "覆盖率66.7%"),
        (("register",), "虎峰镇老旧小区基础台账（", "特殊群体：1栋：独居老人2户；2栋：残疾人1户"),
        (("tasks",), "老旧小区消防安全专项整治任务清单推进情况（", "其中逾期2项"),
        (("plan",), "虎峰镇老旧小区年度整改计划（", "涉及2个社区3个小区"),
        (
            ("plan", "--community", "正街社区"),
            "正街社区老旧小区消防安全隐患整改计划（正街居〔2024〕1号）",
            "无名小区",
        ),
        (("lookback",), "老旧小区消防安全隐患整改“回头看”情况报告（", "反弹率60.0%"),
    ],
)
def test_rectify_report_renders_each_campaign_report_once_numbered(
    store: Path, tmp_path: Path, kind: tuple[str, ...], first_line: str, figure: str
) -> None:
    db = tmp_path / "rectify.db"
    db.write_bytes(store.read_bytes())
    args: tuple[str | Path, ...] = (
        "report",
        kind[0],
        "--db",
        db,
        "--as-of",
        "2024-04-20",
        *kind[1:],
    )
    text = run(*args, "--format", "text")
    assert text.startswith(first_line)
    assert figure in text
    taken = numbers(db)
    assert run(*args, "--format", "text") == text  # the same day's report, the same bytes
    check_html(run(*args))
    assert numbers(db) == taken  # rendered again, it took no new number


def test_rectify_report_lists_the_campaign_kinds_and_refuses_others(store: Path) -> None:
    result = invoke("report", "weekly", "--db", store)
    assert result.exit_code == 2
    for kind in ("coverage", "register", "tasks", "plan", "lookback"):
        assert kind in result.output
