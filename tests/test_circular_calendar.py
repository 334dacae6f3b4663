"""The circular follows the campaign calendar: phase deadlines ahead, and the year-end summary.

Given the campaign, a circular names each phase that ends after its day and by the next
report day (the canopy clearance's 12/25 in December's, whose next report would fall after
the campaign), with the open hazards whose rectification deadline is that phase's end; the
circular of the campaign's last report period carries the year-end summary, phase by phase.
Every figure is :func:`rectify.documents.count` of the same facts as the rest of the circular.
Without a campaign the circular is as it was (``tests/golden/circular.*``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from rectify import Ledger, NoticeRenderer
from rectify.definitions._campaign import Campaign, load_campaign
from rectify.definitions._categories import CategoryTable
from rectify.definitions._load import load_categories
from rectify.definitions._spec import WorkflowSpec
from rectify.documents import Notices, count, report_context
from rectify.documents._reports import Facts, hazard_facts
from rectify.engine import Case
from rectify.stores import SQLStore
from tests.conftest import demo_copy
from tests.test_notices import AS_OF, RENDERER, build_town
from tests.test_notices import report_context as town_context

ISSUER_OF_CIRCULAR = Notices(campaign=load_campaign()).issuer_for("circular")
JUNE = dt.date(2024, 6, 22)
DECEMBER = dt.date(2024, 12, 22)


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Result, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's demo folder (``tests/conftest.py``)."""
    return demo_copy(demo_run, tmp_path_factory)


@pytest.fixture(scope="module")
def ledger(demo: Path) -> Iterator[Ledger]:
    store = SQLStore.open(demo / "rectify.db")
    try:
        yield Ledger.with_workflows(store, campaign=load_campaign(), categories=load_categories())
    finally:
        store.close()


class Day:
    """The demo's cases and facts as of one day, and its circular's context."""

    def __init__(self, ledger: Ledger, day: dt.date, period: tuple[int, int] | None = None) -> None:
        self.campaign: Campaign = load_campaign()
        self.categories: CategoryTable = load_categories()
        self.cases: Sequence[Case] = list(ledger.cases_as_of(day))
        self.specs: Sequence[WorkflowSpec] = [e.spec for e in ledger.engines]
        self.facts: list[Facts] = hazard_facts(self.cases, self.specs, day)
        self.context = report_context(
            "circular",
            self.cases,
            self.specs,
            as_of=day,
            issuer=ISSUER_OF_CIRCULAR,
            sequence=1,
            categories=self.categories,
            period=period,
            campaign=self.campaign,
        )

    @property
    def deadlines(self) -> Any:
        return self.context["deadlines"]

    @property
    def summary(self) -> Any:
        return self.context["summary"]


def _ids(rows: Any) -> list[str]:
    return [str(row["id"]) for row in rows]


# -- June: the concentrated rectification ends on 6/30 -------------------------------------------


def test_the_june_circular_names_the_june_30_deadline_and_its_open_hazards(
    ledger: Ledger, demo: Path
) -> None:
    june = Day(ledger, JUNE)
    due = [f for f in june.facts if f.rectify_by == dt.date(2024, 6, 30)]
    still = sorted((f for f in due if f.open), key=lambda f: (f.community, f.case.id))
    assert [d["phase"] for d in june.deadlines] == ["concentrated"]
    [deadline] = june.deadlines
    assert deadline["ends"] == dt.date(2024, 6, 30)
    assert deadline["days_left"] == 8
    assert deadline["totals"] == count(due).view()
    assert deadline["totals"]["open"] == 6
    assert _ids(deadline["cases"]) == [f.case.id for f in still]
    assert june.summary is None  # not the campaign's last report
    # 21 are open on 6/22: the canopies and nets are due 12/25, one fix was agreed for 9/30,
    # one is overdue since 6/2.
    assert count(june.facts).open == 21
    assert {f.rectify_by for f in june.facts if f.open} - {dt.date(2024, 6, 30)} == {
        dt.date(2024, 6, 2),
        dt.date(2024, 9, 30),
        dt.date(2024, 12, 25),
    }
    text = (demo / "reports" / "2024-06" / "circular.txt").read_text(encoding="utf-8")
    assert "四、任务清单推进情况" in text
    assert "五、阶段任务时限提醒" in text  # the task list comes before the deadlines
    assert "距6月30日集中整治阶段截止还有8天。以6月30日为整改时限的隐患尚有6处未整改完毕" in text
    for f in still:
        assert str(f.case.data["description"]) in text
    html = (demo / "reports" / "2024-06" / "circular.html").read_text(encoding="utf-8")
    assert "距6月30日集中整治阶段截止还有8天" in html
    assert "全年工作总结" not in html + text


# -- December: the canopy clearance ends on 12/25, and the year is summed up --------------------


def test_the_december_circular_names_the_canopies_and_nets_due_12_25(
    ledger: Ledger, demo: Path
) -> None:
    december = Day(ledger, DECEMBER)
    end = dt.date(2024, 12, 25)
    # No report is left in the campaign after 12/22: the deadlines run to its end, 12/25.
    assert [(d["phase"], d["ends"], d["days_left"]) for d in december.deadlines] == [
        ("canopies", end, 3),
        ("consolidation", end, 3),
    ]
    canopies, consolidation = december.deadlines
    due = [f for f in december.facts if f.rectify_by == end]
    assert {f.category for f in due} == {"STR.CANOPY", "STR.NET"}
    assert canopies["totals"] == count(due).view()
    open_ids = sorted(f.case.id for f in due if f.open)
    assert len(open_ids) == 4
    assert sorted(_ids(canopies["cases"])) == open_ids
    # The consolidation also ends 12/25: a hazard is due at one phase's end, never two.
    assert consolidation["totals"] == count([]).view()
    assert consolidation["cases"] == []
    text = (demo / "reports" / "2024-12" / "circular.txt").read_text(encoding="utf-8")
    assert (
        "1. 距12月25日可燃雨棚、突出外墙防护网清理阶段截止还有3天。"
        "以12月25日为整改时限的隐患尚有4处未整改完毕" in text
    )
    assert (
        "2. 距12月25日巩固提升阶段截止还有3天。请各社区、各有关单位按期完成本阶段各项工作任务。"
        in text
    )
    for f in due:
        if f.open:
            assert str(f.case.data["description"]) in text


def test_the_december_circular_sums_up_the_year_from_the_same_counts(
    ledger: Ledger, demo: Path
) -> None:
    december = Day(ledger, DECEMBER)
    summary, campaign, facts = december.summary, december.campaign, december.facts
    assert summary is not None
    assert summary["totals"] == count(facts).view() == december.context["totals"]
    phases = summary["phases"]
    assert [p["phase"] for p in phases] == [p.name for p in campaign.phases]
    for row, phase in zip(phases, campaign.phases, strict=True):
        span = (phase.starts, phase.ends)
        found = [f for f in facts if span[0] <= f.opened_on <= span[1]]
        finished = [f for f in facts if f.closed_on and span[0] <= f.closed_on <= span[1]]
        assert row["found"] == count(found).view()
        assert row["finished"] == count(finished).view()
        assert row["until"] == min(phase.ends, DECEMBER)
        by_found = sorted(row["by_category"], key=lambda r: -r["found"])
        assert row["by_category"] == by_found
        assert len(row["by_category"]) <= 3
    due = {p["phase"]: p["due"] for p in phases}
    for name, end in (("concentrated", dt.date(2024, 6, 30)), ("canopies", dt.date(2024, 12, 25))):
        assert due[name] == count([f for f in facts if f.rectify_by == end]).view()
    assert due["consolidation"] == count([]).view()  # its end is the canopies': counted there
    # The survey, the concentrated rectification and the consolidation follow one another.
    spans = ("survey", "concentrated", "consolidation")
    totals = [p["found"] for p in phases if p["phase"] in spans]
    assert sum(t["found"] for t in totals) == count(facts).found
    # One relapse of this year's and one of an earlier year's, found on the look-back.
    assert sum(t["relapses"] for t in totals) == count(facts).relapses == 2
    text = (demo / "reports" / "2024-12" / "circular.txt").read_text(encoding="utf-8")
    html = (demo / "reports" / "2024-12" / "circular.html").read_text(encoding="utf-8")
    assert (
        f"二、全年工作总结\n自2024年3月1日开展专项整治以来，全镇共排查隐患{count(facts).found}处"
        in text
    )
    assert f"全镇共排查发现消防安全隐患{count(facts).found}处" in html
    assert (
        "以12月25日为整改时限的16处（突出外墙防护网9处；可燃雨棚7处），已销号12处，未完成4处"
        in text
    )


def test_only_the_last_report_period_carries_the_summary(ledger: Ledger) -> None:
    november = Day(ledger, dt.date(2024, 11, 22))
    assert november.summary is None
    late = Day(ledger, dt.date(2024, 11, 23), period=(2024, 12))  # the first day of December's
    assert late.summary is not None


# -- nothing on the calendar ----------------------------------------------------------------------


def test_a_circular_with_no_phase_end_before_the_next_report_has_no_deadline_paragraph(
    ledger: Ledger, demo: Path
) -> None:
    july = Day(ledger, dt.date(2024, 7, 22))  # the next report is 8/22: no phase ends till 12/25
    assert july.deadlines == []
    assert july.summary is None
    for suffix in (".txt", ".html"):
        filed = (demo / "reports" / "2024-07" / f"circular{suffix}").read_text(encoding="utf-8")
        assert "阶段任务时限提醒" not in filed
        assert "全年工作总结" not in filed
    # The test town's circular of 7/20 with the campaign reads as the one without it.
    town = build_town()
    dated, plain = (
        report_context(
            "circular",
            town.cases.values(),
            town.specs,
            as_of=AS_OF,
            issuer=ISSUER_OF_CIRCULAR,
            sequence=7,
            categories=town.categories,
            campaign=campaign,
        )
        for campaign in (load_campaign(), None)
    )
    assert dated["deadlines"] == []
    assert dated["summary"] is None
    for fmt in ("html", "text"):
        assert RENDERER.render("circular", dated, fmt=fmt).body == (
            RENDERER.render("circular", plain, fmt=fmt).body
        )


def test_without_a_campaign_the_circular_has_no_calendar() -> None:
    context = town_context("circular")
    assert context["deadlines"] == []
    assert context["summary"] is None
    for fmt in ("html", "text"):
        body = RENDERER.render("circular", context, fmt=fmt).body
        assert "阶段任务时限提醒" not in body
        assert "全年工作总结" not in body


def test_many_open_hazards_due_at_a_phase_end_are_counted_by_community(ledger: Ledger) -> None:
    # June's facts looked at up to the campaign's end: 12 canopies and nets due 12/25.
    ahead = Day(ledger, JUNE, period=(2024, 12))
    deadlines = {d["phase"]: d for d in ahead.deadlines}
    assert list(deadlines) == ["concentrated", "canopies", "consolidation"]
    canopies = deadlines["canopies"]
    still = [f for f in ahead.facts if f.open and f.rectify_by == dt.date(2024, 12, 25)]
    assert len(still) == 12
    by_community = {str(r["community"]): r["open"] for r in canopies["by_community"]}
    assert sum(by_community.values()) == count(still).open
    for community, n in by_community.items():
        assert n == count([f for f in still if f.community == community]).open
    renderer = NoticeRenderer()
    text = renderer.render("circular", ahead.context, fmt="text").body
    html = renderer.render("circular", ahead.context, fmt="html").body
    counted = "、".join(f"{r['community']}{r['open']}处" for r in canopies["by_community"])
    for body in (text, html):
        assert f"按社区分布：{counted}。" in body
        for f in still:
            assert str(f.case.data["description"]) not in body
