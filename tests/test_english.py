"""English documents: English titles from the definitions, never codes or Chinese titles.

Every English template is rendered with the test town of ``tests/test_notices.py``. What
the clerk typed (the hazard's description, address, estate and community names, people,
measures) and what the issuer configured (its names and document number) stays as typed;
everything else in an English document is English: categories, severities, states,
workflows and escalation levels are printed with the ``title_en`` of the definitions, and
no internal code such as ``FAC.HYD.IN`` appears.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Final

import attrs
import pytest
from markupsafe import escape

import rectify
from rectify import Actor, Case, WorkflowSpec
from rectify.definitions import CategoryTable
from rectify.engine import NoticeDue
from tests.test_notices import (
    AS_OF,
    CASE_SAMPLES,
    JINLONG,
    RENDERER,
    TEMPLATES,
    TOWN,
    TOWN_OFFICE,
    Town,
    build_town,
    case_context,
    context_for,
)

TZ = dt.timezone(dt.timedelta(hours=8))
ENGLISH: Final = [(notice, fmt) for notice, fmt, locale in TEMPLATES if locale == "en"]
#: Han characters, CJK punctuation (《》〔〕、。：) and full-width forms. The ideographic
#: space U+3000 is spacing in the layout, not Chinese text.
CJK: Final = re.compile("[\u3001-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60]")
#: A category code of the table (``FAC.HYD.IN``, ``PAS.LANE``).
CODE: Final = re.compile(r"[A-Z]{2,}\.[A-Z.]+")
#: The hazard fields the clerk typed, printed as typed in every language.
TYPED: Final = (
    "town",
    "community",
    "community_name",
    "address",
    "building",
    "building_head",
    "description",
    "location",
    "responsible_party",
    "measures",
)
#: Definition text with no English form: the slip quotes the category's legal basis (a
#: Chinese law and its articles) as cited, since the category table has no ``basis_en``.
QUOTED: Final = ("legal_basis",)


def _mapping(value: object) -> Mapping[str, object]:
    assert isinstance(value, Mapping)
    return value


def _rows(value: object) -> list[Mapping[str, object]]:
    assert isinstance(value, list)
    return [_mapping(row) for row in value]


def _as_typed(context: Mapping[str, object]) -> set[str]:
    """Return the values of ``context`` that are printed as typed (see the module doc)."""
    hazards = []
    if "hazard" in context:
        hazards.append(_mapping(context["hazard"]))
    for key in ("overdue_cases", "escalated_cases", "rows"):
        hazards.extend(_mapping(row["hazard"]) for row in _rows(context.get(key, [])))
    values = {str(h.get(field, "")) for h in hazards for field in (*TYPED, *QUOTED)}
    for value in _mapping(context["issuer"]).values():
        values |= set(value) if isinstance(value, list) else {str(value)}
    values.add(str(context["number"]))
    if "event" in context:  # who recorded it, and what the clerk typed into its payload
        event = _mapping(context["event"])
        values.add(str(event["actor"]))
        values |= {v for v in _mapping(event["payload"]).values() if isinstance(v, str)}
    if "people" in context:  # names the events recorded, and the office's people
        for value in _mapping(context["people"]).values():
            values |= set(value) if isinstance(value, list) else {str(value)}
    if "community" in context:
        values.add(str(context["community"]))
    return {v for v in values if v}


def _strip(body: str, values: Iterable[str]) -> str:
    """Return ``body`` without ``values`` (as they are and HTML-escaped), longest first."""
    for value in sorted(values, key=len, reverse=True):
        body = body.replace(str(escape(value)), "").replace(value, "")
    return body


def _render(notice: str, fmt: str) -> tuple[str, Mapping[str, object]]:
    context = context_for(notice)
    return RENDERER.render(notice, context, fmt=fmt, locale="en").body, context


def test_the_english_templates_are_all_checked() -> None:
    assert {
        (n, f) for n in ("rectification_slip", "monthly_report") for f in ("html", "text")
    } <= set(ENGLISH)


@pytest.mark.parametrize(("notice", "fmt"), ENGLISH)
def test_an_english_document_has_no_code_and_no_chinese_but_what_was_typed(
    notice: str, fmt: str
) -> None:
    body, context = _render(notice, fmt)
    rest = _strip(body, _as_typed(context))
    chinese = sorted({match.group() for match in CJK.finditer(rest)})
    assert not chinese, f"Chinese outside typed values: {''.join(chinese)}"
    assert not CODE.findall(rest)
    assert not CODE.findall(body)  # typed text holds no category code either


@pytest.mark.parametrize(("notice", "fmt"), ENGLISH)
def test_an_english_document_keeps_what_the_clerk_typed(notice: str, fmt: str) -> None:
    body, context = _render(notice, fmt)
    hazards = (
        [_mapping(context["hazard"])]
        if "hazard" in context
        else [_mapping(r["hazard"]) for r in _rows(context["overdue_cases"])]
    )
    for hazard in hazards:
        assert str(escape(hazard["description"])) in body
        assert str(escape(hazard["community_name"])) in body


def test_the_slip_names_the_category_by_its_english_title() -> None:
    town = build_town()
    body, _context = _render("rectification_slip", "html")
    case = town.cases[CASE_SAMPLES["rectification_slip"]]
    category = town.categories.category(str(case.data["category"]))
    assert category.title_en
    assert category.title_en in body
    assert category.title not in body
    assert category.code not in body


def test_the_monthly_report_names_categories_and_states_in_english() -> None:
    town = build_town()
    html, context = _render("monthly_report", "html")
    text, _context = _render("monthly_report", "text")
    by_category = _rows(context["by_category"])
    assert by_category
    for row in by_category:
        category = town.categories.category(str(row["code"]))
        assert category.title_en
        for body in (html, text):
            assert str(escape(category.title_en)) in body
            assert category.title not in body
            assert category.code not in body
    escalated = _rows(context["escalated_cases"])
    assert escalated
    for row in escalated:
        case = town.cases[str(row["id"])]
        state = town.spec(case).state(case.state)
        assert state.title_en
        assert state.title_en in html
        assert state.title not in html


# -- the contexts ----------------------------------------------------------------------------------


def test_a_case_notice_context_has_english_titles_next_to_the_chinese() -> None:
    town = build_town()
    context = case_context("overdue_warning")
    case = town.cases[CASE_SAMPLES["overdue_warning"]]
    spec = town.spec(case)
    hazard, view = _mapping(context["hazard"]), _mapping(context["case"])
    category = town.categories.category(str(hazard["category"]))
    severity = town.categories.severity(str(hazard["severity"]))
    assert (hazard["category_title"], hazard["category_title_en"]) == (
        category.title,
        category.title_en,
    )
    assert (hazard["severity_title"], hazard["severity_title_en"]) == (
        severity.title,
        severity.title_en,
    )
    assert (view["workflow_title"], view["workflow_title_en"]) == (spec.title, spec.title_en)
    state = spec.state(str(view["state"]))
    assert (view["state_title"], view["state_title_en"]) == (state.title, state.title_en)
    notice = _mapping(context["notice"])
    assert (notice["level_title"], notice["level_title_en"]) == ("逾期督促", "Overdue")
    event = _mapping(context["event"])
    assert (event["title"], event["title_en"]) == ("升级督办", "Escalated")
    slip = _mapping(case_context("rectification_slip")["event"])
    assign = spec.event("assign")
    assert (slip["title"], slip["title_en"]) == (assign.title, assign.title_en)


def test_report_rows_have_english_titles_next_to_the_chinese() -> None:
    town = build_town()
    context = context_for("monthly_report")
    for row in _rows(context["by_category"]):
        category = town.categories.category(str(row["code"]))
        assert (row["title"], row["title_en"]) == (category.title, category.title_en)
    for row in _rows(context["overdue_cases"]) + _rows(context["escalated_cases"]):
        case = town.cases[str(row["id"])]
        state = town.spec(case).state(case.state)
        assert (row["state_title"], row["state_title_en"]) == (state.title, state.title_en)
    levels = _rows(context_for("escalation_levels")["levels"])
    assert levels
    english = {
        level.level: level.title_en
        for spec in town.specs
        for ladder in (spec.escalation.ladders if spec.escalation else ())
        for level in ladder.levels
    }
    for level in levels:
        assert level["title_en"] == english[int(str(level["level"]))]
        assert level["title_en"] != level["title"]


# -- without English titles ----------------------------------------------------------------------


def _chinese_only(table: CategoryTable) -> CategoryTable:
    return attrs.evolve(
        table,
        severities=tuple(attrs.evolve(s, title_en=None) for s in table.severities),
        categories=tuple(attrs.evolve(c, title_en=None) for c in table.categories),
    )


def _chinese_spec(spec: WorkflowSpec) -> WorkflowSpec:
    escalation = spec.escalation
    if escalation is not None:
        ladders = tuple(
            attrs.evolve(
                ladder, levels=tuple(attrs.evolve(lv, title_en=None) for lv in ladder.levels)
            )
            for ladder in escalation.ladders
        )
        escalation = attrs.evolve(escalation, ladders=ladders)
    return attrs.evolve(
        spec,
        title_en=None,
        states=tuple(attrs.evolve(s, title_en=None) for s in spec.states),
        events=tuple(attrs.evolve(e, title_en=None) for e in spec.events),
        escalation=escalation,
    )


def test_without_english_titles_the_chinese_ones_are_given_never_the_code() -> None:
    town = build_town()
    table = _chinese_only(town.categories)
    case = town.cases[CASE_SAMPLES["overdue_warning"]]
    spec = _chinese_spec(town.spec(case))
    issued = town.notice("overdue_warning", case.id)
    context = rectify.documents.case_notice_context(
        issued.effect,
        issued.case,
        spec,
        issuer=TOWN_OFFICE,
        sequence=1,
        issued_on=issued.on,
        categories=table,
    )
    hazard, view = _mapping(context["hazard"]), _mapping(context["case"])
    assert hazard["category_title_en"] == hazard["category_title"] != hazard["category"]
    assert hazard["severity_title_en"] == hazard["severity_title"] != hazard["severity"]
    assert view["workflow_title_en"] == view["workflow_title"] == spec.title
    assert view["state_title_en"] == view["state_title"] != view["state"]
    assert _mapping(context["notice"])["level_title_en"] == "逾期督促"
    specs = [_chinese_spec(s) for s in town.specs]
    report = rectify.documents.monthly_report_context(
        town.cases.values(),
        specs,
        community="金龙社区",
        year=2024,
        month=7,
        as_of=AS_OF,
        issuer=JINLONG,
        sequence=1,
        categories=table,
    )
    for row in _rows(report["by_category"]):
        assert row["title_en"] == row["title"] != row["code"]
    for row in _rows(report["escalated_cases"]):
        assert row["state_title_en"] == row["state_title"]
    levels = rectify.documents.escalation_report_context(
        town.cases.values(), specs, as_of=AS_OF, issuer=TOWN_OFFICE, sequence=1
    )["levels"]
    for level in _rows(levels):
        assert level["title_en"] == level["title"]


def test_without_a_category_table_the_english_titles_are_empty_as_the_chinese() -> None:
    town = build_town()
    issued = town.notice("rectification_slip", CASE_SAMPLES["rectification_slip"])
    context = rectify.documents.case_notice_context(
        issued.effect,
        issued.case,
        issued.spec,
        issuer=TOWN_OFFICE,
        sequence=1,
        issued_on=issued.on,
    )
    hazard = _mapping(context["hazard"])
    assert hazard["category_title"] == hazard["category_title_en"] == ""
    assert hazard["severity_title"] == hazard["severity_title_en"] == ""


def test_a_hazard_without_a_category_is_uncategorised_in_english() -> None:
    town = build_town()
    cases = [
        attrs.evolve(c, data={**c.data, "category": ""}) if c.id == "JL-2024-001" else c
        for c in town.cases.values()
    ]
    report = rectify.documents.monthly_report_context(
        cases,
        town.specs,
        community="金龙社区",
        year=2024,
        month=7,
        as_of=AS_OF,
        issuer=JINLONG,
        sequence=1,
        categories=town.categories,
    )
    row = next(r for r in _rows(report["by_category"]) if r["code"] == "")
    assert (row["title"], row["title_en"]) == ("未分类", "Uncategorised")


def test_the_opening_record_has_an_english_title() -> None:
    town = build_town()
    case = town.cases["HF-2024-002"]
    effect = NoticeDue(case.id, "rectification_slip", 0, "@open")
    context = rectify.documents.case_notice_context(
        effect, case, town.spec(case), issuer=TOWN_OFFICE, sequence=1, issued_on=AS_OF
    )
    event = _mapping(context["event"])
    assert (event["title"], event["title_en"]) == ("登记", "Opened")


def _referred(town: Town) -> list[Case]:
    """Return the town's cases and a hazard referred to the major-hazard procedure."""
    at = dt.datetime(2024, 6, 3, 9, tzinfo=TZ)
    data = {**town.cases["HF-2024-002"].data, "category": "FAC.HYD.OUT"}
    hazard = town.engines["hazard"]
    first = hazard.open("HF-9", data, Actor("陈红", "community"), at).case
    first = hazard.fire(first, "refer_major", TOWN, at, reason="疑似重大隐患").case
    major = town.engines["major"]
    later = at + dt.timedelta(days=1)
    second = major.open("HF-9-M", {**data, "transferred_from": "HF-9"}, TOWN, later).case
    return [*town.cases.values(), first, second]


def test_a_referred_hazard_has_both_states_in_english() -> None:
    town = build_town()
    cases = _referred(town)
    context = rectify.documents.ledger_context(
        cases,
        town.specs,
        as_of=AS_OF,
        issuer=TOWN_OFFICE,
        sequence=1,
        categories=town.categories,
    )
    row = next(r for r in _rows(context["rows"]) if r["id"] == "HF-9")
    assert row["successor"] == "HF-9-M"
    hazard_spec, major_spec = town.engines["hazard"].spec, town.engines["major"].spec
    referred = hazard_spec.state("referred_major")
    suspected = major_spec.state(major_spec.initial)
    assert row["state_title"] == f"{referred.title}：{suspected.title}"
    assert row["state_title_en"] == f"{referred.title_en}: {suspected.title_en}"
