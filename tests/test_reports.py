"""report_context: one entry to every standard report, with its errors."""

from __future__ import annotations

import datetime as dt

import pytest

import rectify

ISSUER = rectify.documents.Issuer("虎峰镇消防安全委员会办公室", code="虎峰镇消安")
SPECS = [rectify.load_workflow("workflows/hazard.yaml")]
DAY = dt.date(2024, 6, 22)


@pytest.mark.parametrize(
    "name",
    [
        *("circular", "ledger", "ledger_totals", "escalation_levels", "lookback_report"),
        *("survey_coverage", "estate_register", "task_status", "rectification_plan"),
    ],
)
def test_every_standard_report_renders_from_its_context(name: str) -> None:
    context = rectify.documents.report_context(
        name, [], SPECS, as_of=DAY, issuer=ISSUER, sequence=3
    )
    assert context["number"] == "虎峰镇消安〔2024〕3号"
    assert rectify.NoticeRenderer().render(name, context).body


def test_the_period_defaults_to_the_month_of_the_day() -> None:
    context = rectify.documents.report_context(
        "circular", [], SPECS, as_of=DAY, issuer=ISSUER, sequence=1
    )
    other = rectify.documents.report_context(
        "circular", [], SPECS, as_of=DAY, issuer=ISSUER, sequence=1, period=(2024, 5)
    )
    assert context["period"]["month"] == 6  # type: ignore[index]
    assert other["period"]["month"] == 5  # type: ignore[index]


def test_a_monthly_report_needs_a_community_and_unknown_reports_are_named() -> None:
    with pytest.raises(ValueError, match="needs a community"):
        rectify.documents.report_context(
            "monthly_report", [], SPECS, as_of=DAY, issuer=ISSUER, sequence=1
        )
    with pytest.raises(ValueError, match="no report 'weekly'"):
        rectify.documents.report_context("weekly", [], SPECS, as_of=DAY, issuer=ISSUER, sequence=1)
