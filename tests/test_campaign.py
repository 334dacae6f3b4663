"""Campaigns: the shipped 2024 campaign, phase dates as deadlines, reports due, broken files."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import rectify
from rectify import Actor, Engine
from rectify.calendar import Campaign, Phase, ReportDue, ReportSpec, reports_due
from rectify.cli import cli
from rectify.testing import FakeCalendar
from tests.conftest import WORKFLOWS

TZ = ZoneInfo("Asia/Shanghai")
D = dt.date
CAMPAIGN_FILE = WORKFLOWS / "campaign-2024.yaml"

# A one-state workflow timed by the severity of the hazard's category.
BY_SEVERITY = """\
workflow: by_severity
version: 1
title: 按分级整改
roles: {community: 社区}
initial: working
states:
  working:
    title: 整改中
    deadline: {from_severity: true}
  closed:
    title: 已销号
    final: true
    outcome: rectified
events:
  close: {title: 销号, from: working, to: closed, roles: [community]}
"""


def phase_workflow(phase: str) -> str:
    return f"""\
workflow: phase_{phase}
version: 1
title: 阶段整改
roles: {{community: 社区}}
initial: working
states:
  working:
    title: 整改中
    deadline: {{campaign: {phase}}}
  closed:
    title: 已销号
    final: true
    outcome: rectified
events:
  close: {{title: 销号, from: working, to: closed, roles: [community]}}
"""


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return rectify.calendar.load_campaign(CAMPAIGN_FILE)


# -- the shipped campaign ------------------------------------------------------------------


def test_shipped_campaign_loads_with_the_seed_plans_span_and_offices(campaign: Campaign) -> None:
    assert campaign.id == "hufeng_2024"
    assert (campaign.starts, campaign.ends) == (D(2024, 3, 1), D(2024, 12, 25))
    assert (campaign.organ, campaign.office) == ("虎峰镇人民政府", "镇消安办")


def test_shipped_campaign_phases_end_on_the_seed_plans_dates(campaign: Campaign) -> None:
    assert campaign.phase_ends == {
        "survey": D(2024, 4, 10),
        "concentrated": D(2024, 6, 30),
        "canopies": D(2024, 12, 25),
        "consolidation": D(2024, 12, 25),
    }
    assert campaign.phase("concentrated") == Phase(
        "concentrated", "集中整治", D(2024, 4, 11), D(2024, 6, 30), "Concentrated rectification"
    )
    with pytest.raises(KeyError, match="nosuch"):
        campaign.phase("nosuch")


def test_shipped_campaign_requires_ledger_totals_and_monthly_progress(campaign: Campaign) -> None:
    ledger, monthly, coverage, plans = campaign.reports
    assert ledger == ReportSpec(
        "ledger_totals",
        "老旧小区总数台账统计表",
        "community",
        "town_office",
        due=D(2024, 4, 5),
        notice="ledger_totals",
        title_en="Ledger totals",
    )
    assert (monthly.name, monthly.monthly, monthly.due) == ("monthly_progress", 22, None)
    assert (monthly.sender, monthly.recipient) == ("community", "town_office")
    assert list(ledger.instances(campaign)) == [D(2024, 4, 5)]
    assert list(monthly.instances(campaign)) == [D(2024, m, 22) for m in range(3, 13)]
    assert (coverage.name, coverage.due, coverage.notice) == (
        "survey_coverage",
        D(2024, 4, 10),
        "survey_coverage",
    )
    assert (plans.name, plans.due, plans.notice) == (
        "rectification_plans",
        D(2024, 6, 30),
        "rectification_plan",
    )


def test_monthly_report_instances_stay_inside_the_campaign() -> None:
    spec = ReportSpec("monthly", "月报", "community", "town_office", monthly=22)
    short = Campaign("c", "短期", "镇政府", "镇消安办", D(2024, 11, 23), D(2025, 1, 21), ())
    assert list(spec.instances(short)) == [D(2024, 12, 22)]  # not Nov 22, not Jan 22


# -- phase dates as deadlines --------------------------------------------------------------


@pytest.fixture(scope="module")
def by_severity(campaign: Campaign) -> Engine:
    table = rectify.load_categories()
    return Engine(
        rectify.load_workflow(BY_SEVERITY),
        calendar=FakeCalendar(),
        phases=campaign.phase_ends,
        severities={s.name: s.period for s in table.severities},
    )


TABLE = rectify.load_categories()
ENGINEERING = sorted(c.code for c in TABLE.categories if c.severity == "engineering")
PHASED = sorted(c.code for c in TABLE.categories if c.severity == "phased")


def test_engineering_and_phased_categories_are_the_domain_ones() -> None:
    assert ENGINEERING == [
        "EBIKE.INFRA",
        "FAC.HYD.IN",
        "FAC.HYD.OUT",
        "FAC.SPR",
        "ORG.MFS",
        "PAS.LANE.STRUCT",
    ]
    assert PHASED == ["STR.CANOPY", "STR.NET"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [*((c, D(2024, 6, 30)) for c in ENGINEERING), *((c, D(2024, 12, 25)) for c in PHASED)],
)
def test_category_deadline_defaults_to_its_campaign_phase(
    by_severity: Engine, code: str, expected: dt.date
) -> None:
    data = {"category": code, "severity": TABLE.category(code).severity}
    opened = dt.datetime(2024, 4, 15, 10, tzinfo=TZ)
    case = by_severity.open("C-1", data, Actor("c-1", "community"), opened).case
    assert case.deadline == expected


@pytest.mark.parametrize(
    ("phase", "expected"), [("concentrated", D(2024, 6, 30)), ("canopies", D(2024, 12, 25))]
)
def test_campaign_rule_in_a_workflow_is_the_phase_end(
    campaign: Campaign, phase: str, expected: dt.date
) -> None:
    engine = Engine(rectify.load_workflow(phase_workflow(phase)), phases=campaign.phase_ends)
    opened = dt.datetime(2024, 5, 6, 9, tzinfo=TZ)
    assert engine.open("C-1", {}, Actor("c-1", "community"), opened).case.deadline == expected


def test_a_campaign_rule_without_the_campaign_is_a_deadline_error() -> None:
    engine = Engine(rectify.load_workflow(phase_workflow("concentrated")))
    opened = dt.datetime(2024, 5, 6, 9, tzinfo=TZ)
    with pytest.raises(rectify.exceptions.DeadlineError, match="'concentrated'"):
        engine.open("C-1", {}, Actor("c-1", "community"), opened)


# -- reports due ----------------------------------------------------------------------------------

LEDGER = "老旧小区总数台账统计表"
MONTHLY = "阶段性工作进度"
COVERAGE = "老旧小区消防安全排查覆盖情况统计表"
#: The campaign's one-off reports after the ledger totals, sent in tests not about them.
LATER = {("survey_coverage", D(2024, 4, 10)), ("rectification_plans", D(2024, 6, 30))}


def test_reports_due_within_the_look_ahead_and_late_ones(campaign: Campaign) -> None:
    assert reports_due(campaign, D(2024, 3, 30)) == (
        ReportDue("monthly_progress", MONTHLY, D(2024, 3, 22), "late"),
        ReportDue("ledger_totals", LEDGER, D(2024, 4, 5), "due"),
    )


def test_submitted_reports_are_neither_due_nor_late(campaign: Campaign) -> None:
    sent = {("monthly_progress", D(2024, 3, 22)), ("ledger_totals", D(2024, 4, 5))}
    assert reports_due(campaign, D(2024, 3, 30), submitted=sent) == ()
    assert reports_due(campaign, D(2024, 4, 3), submitted=sent) == (
        ReportDue("survey_coverage", COVERAGE, D(2024, 4, 10), "due"),
    )
    sent |= LATER
    assert reports_due(campaign, D(2024, 4, 16), submitted=sent) == (
        ReportDue("monthly_progress", MONTHLY, D(2024, 4, 22), "due"),
    )


def test_an_unsubmitted_report_is_late_from_the_day_after_it_is_due(campaign: Campaign) -> None:
    sent = {("monthly_progress", D(2024, 3, 22))}
    on_the_day = reports_due(campaign, D(2024, 4, 5), submitted=sent, within=0)
    assert on_the_day == (ReportDue("ledger_totals", LEDGER, D(2024, 4, 5), "due"),)
    day_after = reports_due(campaign, D(2024, 4, 6), submitted=sent, within=0)
    assert day_after == (ReportDue("ledger_totals", LEDGER, D(2024, 4, 5), "late"),)


@pytest.mark.parametrize(
    ("day", "within", "expected"),
    [
        (D(2024, 2, 20), 7, []),  # before the campaign, nothing within a week
        (D(2024, 2, 20), 31, [D(2024, 3, 22)]),
        (D(2024, 6, 15), 7, [D(2024, 6, 22)]),  # exactly 7 days ahead counts
        (D(2024, 6, 14), 7, []),
        (D(2024, 12, 20), 60, [D(2024, 12, 22)]),  # no instance after the campaign ends
    ],
)
def test_monthly_progress_is_due_by_the_22nd(
    campaign: Campaign, day: dt.date, within: int, expected: list[dt.date]
) -> None:
    sent = {("ledger_totals", D(2024, 4, 5)), *LATER}
    sent |= {("monthly_progress", D(2024, m, 22)) for m in range(3, 13) if D(2024, m, 22) < day}
    got = reports_due(campaign, day, submitted=sent, within=within)
    assert [r.due for r in got] == expected
    assert all(r.status == "due" and r.report == "monthly_progress" for r in got)


def test_every_missed_report_is_listed_late_in_date_order(campaign: Campaign) -> None:
    got = reports_due(campaign, D(2024, 7, 1), within=0)
    assert [(r.report, r.due, r.status) for r in got] == [
        ("monthly_progress", D(2024, 3, 22), "late"),
        ("ledger_totals", D(2024, 4, 5), "late"),
        ("survey_coverage", D(2024, 4, 10), "late"),
        ("monthly_progress", D(2024, 4, 22), "late"),
        ("monthly_progress", D(2024, 5, 22), "late"),
        ("monthly_progress", D(2024, 6, 22), "late"),
        ("rectification_plans", D(2024, 6, 30), "late"),
    ]


# -- broken campaign files -----------------------------------------------------------------------

BROKEN = """\
campaign: broken_2024
title: 坏的专项整治
organ: 某镇人民政府
office: 镇消安办
starts: 2024-03-01
ends: 2024-12-25
phases:
  survey:
    title: 摸底
    starts: 2024-02-01
    ends: 2024-04-10
  late:
    title: 倒序
    starts: 2024-06-30
    ends: 2024-04-11
    colour: red
reports:
  both:
    title: 两种都有
    due: 2024-04-05
    monthly: 22
    from: community
    to: town_office
  monthly_31:
    title: 每月31日
    monthly: 31
    from: community
    to: town_office
"""


def test_broken_campaign_reports_every_problem_with_its_line() -> None:
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        rectify.calendar.load_campaign(BROKEN)
    found = {(d.code, d.location.line, d.location.path) for d in info.value.errors}
    assert ("bad-value", 8, "phases.survey") in found  # starts before the campaign
    assert ("unknown-key", 16, "phases.late.colour") in found
    assert any(code == "bad-value" and line == 15 for code, line, _ in found)  # ends < starts
    assert ("bad-rule", 18, "reports.both") in found  # both `due` and `monthly`
    assert ("bad-value", 26, "reports.monthly_31.monthly") in found
    assert all(d.location.file == "<string>" and d.location.column > 0 for d in info.value.errors)
    assert "<string>:26:" in str(info.value)


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("campaign: c\ntitle: t\n", "missing-key", 1),
        (
            "campaign: c\ntitle: t\norgan: o\noffice: f\nstarts: 2024-12-25\n"
            "ends: 2024-03-01\nphases: {}\n",
            "bad-value",
            6,
        ),
        (
            "campaign: c\ntitle: t\norgan: o\noffice: f\nstarts: 2024-03-01\n"
            "ends: 2024-12-25\nphases: {}\nreport: {}\n",
            "unknown-key",
            8,
        ),
        (
            "campaign: c\ntitle: t\norgan: o\noffice: f\nstarts: 1 March\n"
            "ends: 2024-12-25\nphases: {}\n",
            "wrong-type",
            5,
        ),
    ],
)
def test_broken_campaign_header_is_reported_at_its_line(text: str, code: str, line: int) -> None:
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        rectify.calendar.load_campaign(text)
    assert (code, line) in {(d.code, d.location.line) for d in info.value.errors}


def test_campaign_that_is_not_a_mapping_is_a_definition_error() -> None:
    with pytest.raises(rectify.WorkflowDefinitionError):
        rectify.calendar.load_campaign("- just\n- a list\n")


def test_missing_campaign_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(rectify.DefinitionError, match="cannot read"):
        rectify.calendar.load_campaign(tmp_path / "nosuch.yaml")


# -- validating workflows against a campaign -----------------------------------------------------


def test_validate_reports_a_phase_the_campaign_lacks(tmp_path: Path) -> None:
    shutil.copy(CAMPAIGN_FILE, tmp_path / "campaign-2024.yaml")
    bad = tmp_path / "nosuch.yaml"
    bad.write_text(phase_workflow("nosuch"), encoding="utf-8")
    (tmp_path / "good.yaml").write_text(phase_workflow("canopies"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", str(tmp_path)])
    assert result.exit_code == 1
    phase_lines = [line for line in result.stdout.splitlines() if " unknown-phase " in line]
    assert len(phase_lines) == 1, result.stdout
    assert phase_lines[0].startswith(f"{bad}:9:")
    assert "'nosuch'" in phase_lines[0]
    assert "canopies" in phase_lines[0]
    assert "[states.working.deadline.campaign]" in phase_lines[0]


def test_validate_without_a_campaign_does_not_check_phase_names(tmp_path: Path) -> None:
    (tmp_path / "nosuch.yaml").write_text(phase_workflow("nosuch"), encoding="utf-8")
    report = rectify.validate_paths([tmp_path])
    assert not any(d.code == "unknown-phase" for d in report.diagnostics)


def test_validate_reports_a_broken_campaign_next_to_workflows(tmp_path: Path) -> None:
    (tmp_path / "campaign.yaml").write_text(BROKEN, encoding="utf-8")
    report = rectify.validate_paths([tmp_path])
    codes = {(d.code, d.location.line) for d in report.diagnostics}
    assert ("bad-value", 26) in codes
    assert ("unknown-key", 16) in codes


def test_a_category_period_naming_a_missing_phase_is_reported_next_to_the_campaign(
    tmp_path: Path,
) -> None:
    for name in ("campaign-2024.yaml", "hazard.yaml", "immediate.yaml", "major.yaml"):
        (tmp_path / name).write_text((WORKFLOWS / name).read_text("utf-8"), "utf-8")
    table = (WORKFLOWS / "categories.yaml").read_text("utf-8")
    (tmp_path / "categories.yaml").write_text(
        table.replace("period: {campaign: canopies}", "period: {campaign: canopy}"), "utf-8"
    )
    report = rectify.validate_paths([tmp_path])
    assert [(d.code, d.location.path) for d in report.diagnostics] == [
        ("unknown-phase", "severities.phased.period.campaign")
    ]
