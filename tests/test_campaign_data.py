"""The campaign as data: workflow kinds, the task list, and who counts as a hazard."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import rectify
from rectify import Actor, Ledger
from rectify.calendar import load_campaign
from rectify.definitions import load_workflow
from rectify.documents import LookbackResult, hazard_facts, lookback_results, lookback_seed
from rectify.engine import sample_lookback
from rectify.stores import MemoryStore
from rectify.testing import FakeCalendar
from tests.conftest import WORKFLOWS

TZ = ZoneInfo("Asia/Shanghai")
OFFICE = Actor("周铀", "town_office")
GRID = Actor("李网格", "grid_worker")
HAZARD = {
    "community": "正街社区",
    "community_name": "供销社宿舍",
    "building": "1栋",
    "category": "FAC.EXT",
    "severity": "general",
    "description": "灭火器过期",
}
BUILDING = {"community": "正街社区", "community_name": "供销社宿舍", "building": "1栋"}
EARLIER = {**HAZARD, "year": 2023, "rectified_on": dt.date(2023, 9, 1)}


def at(month: int, day: int, year: int = 2024) -> dt.datetime:
    return dt.datetime(year, month, day, 9, tzinfo=TZ)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar(), campaign=load_campaign())


def test_shipped_workflows_say_what_their_cases_are(ledger: Ledger) -> None:
    kinds = {e.spec.id: e.spec.kind for e in ledger.engines}
    assert kinds == {
        "hazard": "hazard",
        "immediate": "hazard",
        "major": "hazard",
        "survey": "survey",
        "task": "task",
        "earlier": "archive",
    }


def test_an_unknown_kind_is_reported_at_its_line() -> None:
    text = (WORKFLOWS / "task.yaml").read_text(encoding="utf-8")
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        load_workflow(text.replace("kind: task", "kind: chore"))
    (error,) = [d for d in info.value.errors if d.location.path == "kind"]
    assert error.code == "bad-value"
    assert "hazard, survey, task, archive" in error.message
    assert error.location.line == 6


def test_a_kind_round_trips_through_the_dump() -> None:
    spec = load_workflow(WORKFLOWS / "survey.yaml")
    again = load_workflow(rectify.definitions.dump_workflow(spec))
    assert again.kind == "survey"
    assert again == spec


def test_the_campaign_lists_the_work_plans_tasks() -> None:
    tasks = load_campaign().tasks
    assert [t.key for t in tasks] == [
        "survey_buildings",
        "survey_renovated",
        "name_staff",
        "rectify_hazards",
        "annual_plan",
        "canopies",
        "patrols",
    ]
    staff = tasks[2]
    assert (staff.phase, staff.due, staff.units) == ("survey", dt.date(2024, 4, 10), ("各社区",))
    assert staff.content == "明确各小区管理的网格员、楼栋长。"
    assert staff.case_id == "TASK-name_staff"
    assert staff.data()["units"] == "各社区"
    assert "\n" not in tasks[0].content
    assert " " not in tasks[0].content


BROKEN_TASKS = """\
campaign: c
title: t
organ: o
office: f
starts: 2024-03-01
ends: 2024-12-25
phases:
  survey: {title: 摸排, starts: 2024-03-01, ends: 2024-04-10}
tasks:
  lost: {phase: nosuch, title: 排查, content: 摸排, units: [各社区], due: 2024-04-10}
  late: {phase: survey, title: 排查, content: 摸排, units: [各社区], due: 2025-01-10}
  nobody: {phase: survey, title: 排查, content: 摸排, units: [], due: 2024-04-10}
  short: {phase: survey, title: 排查, units: [各社区], due: 2024-04-10}
"""


def test_broken_tasks_are_reported_each_at_its_line() -> None:
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        load_campaign(BROKEN_TASKS)
    found = {(d.code, d.location.line, d.location.path) for d in info.value.errors}
    assert ("unknown-phase", 10, "tasks.lost.phase") in found
    assert ("bad-value", 11, "tasks.late.due") in found
    assert ("bad-value", 12, "tasks.nobody.units") in found
    assert ("missing-key", 13, "tasks.short") in found


def test_hazards_take_case_numbers_earlier_ones_in_their_years_series(ledger: Ledger) -> None:
    ledger.open("ERL-0", "earlier", EARLIER, OFFICE, at=at(9, 1, 2023))
    ledger.open("BLD-1", "survey", BUILDING, OFFICE, at=at(3, 11))
    task = load_campaign().tasks[0]
    ledger.open(task.case_id, "task", task.data(), OFFICE, at=at(3, 11))
    ledger.import_cases(
        [("ERL-1", "earlier", EARLIER), ("HZ-1", "hazard", HAZARD), ("BLD-2", "survey", BUILDING)],
        OFFICE,
        at=at(3, 12),
    )
    ledger.open("HZ-2", "hazard", HAZARD, OFFICE, at=at(3, 13))
    numbers = {c.id: c.data.get("case_number") for c in ledger.cases()}
    assert numbers == {
        "ERL-0": "正街-2023-001",
        "BLD-1": None,
        "BLD-2": None,
        "TASK-survey_buildings": None,
        "ERL-1": "正街-2024-001",
        "HZ-1": "正街-2024-002",
        "HZ-2": "正街-2024-003",
    }


def test_a_task_is_due_on_its_date_and_done_when_reported(ledger: Ledger) -> None:
    task = load_campaign().tasks[2]
    case = ledger.open(task.case_id, "task", task.data(), OFFICE, at=at(3, 11)).case
    assert case.deadline == dt.date(2024, 4, 10)
    unit = Actor("正街社区", "community")
    progress = {"progress": "已明确12人"}
    case = ledger.fire(task.case_id, "report_progress", unit, payload=progress, at=at(4, 1)).case
    assert (case.state, case.deadline) == ("assigned", dt.date(2024, 4, 10))
    done = {"summary": "全部明确"}
    case = ledger.fire(task.case_id, "complete", unit, payload=done, at=at(4, 8)).case
    assert case.final
    assert case.state == "done"


def test_a_building_is_surveyed_by_the_end_of_the_survey_phase(ledger: Ledger) -> None:
    case = ledger.open("BLD-1", "survey", BUILDING, OFFICE, at=at(3, 11)).case
    assert case.deadline == dt.date(2024, 4, 10)
    payload = {"grid_worker": "李网格", "building_head": "王楼长", "hazards": 0}
    case = ledger.fire("BLD-1", "survey", GRID, payload=payload, at=at(3, 20)).case
    assert case.state == "surveyed"
    assert case.data["building_head"] == "王楼长"


def test_hazard_reports_count_hazards_only(ledger: Ledger) -> None:
    ledger.open("BLD-1", "survey", BUILDING, OFFICE, at=at(3, 11))
    ledger.open("ERL-1", "earlier", EARLIER, OFFICE, at=at(9, 1, 2023))
    ledger.open("HZ-1", "hazard", HAZARD, OFFICE, at=at(3, 12))
    specs = [e.spec for e in ledger.engines]
    rows = hazard_facts(ledger.cases(), specs, dt.date(2024, 6, 1))
    assert [f.case.id for f in rows] == ["HZ-1"]


def test_look_back_samples_earlier_years_with_this_years_closed_cases(ledger: Ledger) -> None:
    ledger.open("ERL-1", "earlier", EARLIER, OFFICE, at=at(9, 1, 2023))
    lane = {**EARLIER, "category": "PAS.LANE", "description": "消防车通道被占"}
    ledger.open("ERL-2", "earlier", lane, OFFICE, at=at(9, 2, 2023))
    ledger.open("ERL-3", "earlier", {**lane, "building": "2栋"}, OFFICE, at=at(9, 2, 2023))
    ledger.fire("ERL-3", "confirm", GRID, at=at(5, 1))  # looked at already: not again
    cases = list(ledger.cases())
    sample = sample_lookback(
        cases, share=1.0, rectified_states=("closed",), earlier_states=("rectified",)
    )
    assert [c.id for c in sample] == ["ERL-1", "ERL-2"]
    assert sample_lookback(cases, rectified_states=("closed",)) == []


def test_recording_a_look_back_leaves_the_days_draw_alone(ledger: Ledger) -> None:
    for n in range(10):
        item = {**EARLIER, "building": f"{n + 1}栋", "description": f"{n + 1}栋灭火器过期"}
        ledger.open(f"ERL-{n}", "earlier", item, OFFICE, at=at(9, 1 + n, 2023))
    day = dt.date(2024, 11, 15)
    specs = [e.spec for e in ledger.engines]

    def drawn() -> list[LookbackResult]:
        cases = list(ledger.cases_as_of(day))
        return lookback_results(cases, specs, as_of=day, seed=lookback_seed(day))

    before = drawn()
    assert len(before) == 2  # a fifth of the community's ten
    assert all(r.pending for r in before)
    for result in before:  # confirmed by a grid worker: not "closed by a grid worker alone"
        ledger.fire(result.case.id, "confirm", GRID, at=dt.datetime(2024, 11, 15, 10, tzinfo=TZ))
    after = drawn()
    assert [r.case.id for r in after] == [r.case.id for r in before]
    assert all(r.passed and not r.pending for r in after)
