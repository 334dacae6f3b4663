"""Interviews (约谈): fired only at town supervision or above, with time, place and officials.

Each shipped workflow has an event ``summon`` (约谈) with ``min_escalation: 2``: the town office
(or the government) may fire it on an open case only once the escalation ladder has reached
town supervision (镇级督办, level 2). It keeps the state and the deadline, and queues the
interview notice, which prints the time, place and officials of the event's payload.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs
import pytest
from click.testing import Result

import rectify
from rectify import Actor, Case, Engine, Evidence, NoticeRenderer
from rectify.definitions import dump_workflow
from rectify.documents import Issuer
from rectify.engine import NoticeDue
from rectify.exceptions import EscalationLevelError, GuardRefusedError, PayloadError
from rectify.testing import FakeCalendar
from tests.conftest import WORKFLOWS, demo_copy

TZ: Final = ZoneInfo("Asia/Shanghai")
COMMUNITY: Final = Actor("c-1", "community")
TOWN: Final = Actor("t-1", "town_office")
GOVERNMENT: Final = Actor("gov-1", "government")
PARTY: Final = Actor("p-1", "responsible_party")
GRID: Final = Actor("g-1", "grid_worker")
POLICE: Final = Actor("po-1", "police")
FIRE: Final = Actor("f-1", "fire_station")
DUE: Final = dt.date(2024, 5, 10)
INTERVIEW: Final[Mapping[str, object]] = {
    "interview_on": dt.date(2024, 5, 24),
    "interview_time": "9:30",
    "place": "虎峰社区居民委员会会议室",
    "officials": "王志刚、李明",
}
HAZARD_DATA: Final[Mapping[str, object]] = {
    "community": "虎峰社区",
    "community_name": "滨河花园",
    "address": "虎峰镇滨河路88号",
    "building": "3栋",
    "description": "楼梯间消火栓箱内水带、水枪缺失",
    "category": "FAC.HOSE",
    "severity": "general_short",
}
RENDERER: Final = NoticeRenderer()
CJK: Final = re.compile("[\u3001-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60]")


def issuer() -> Issuer:
    """Return the town office as the issuer of an interview notice."""
    office = "虎峰镇消防安全委员会办公室"
    fields: dict[str, Any] = {"code": "虎峰镇消整", "contact": "周铀", "phone": "15223133801"}
    if "name" in attrs.fields_dict(Issuer):  # one office heads, names and signs a document
        fields["name"] = office
    else:
        fields |= {"organ": "虎峰镇人民政府", "office": office}
    return Issuer(**fields)


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=TZ)


def proof(*kinds: str) -> list[Evidence]:
    return [Evidence.of(kind, f"{kind}.jpg", kind.encode()) for kind in kinds]


def engine(name: str) -> Engine:
    return Engine(rectify.load_workflow(WORKFLOWS / f"{name}.yaml"), calendar=FakeCalendar())


HAZARD, IMMEDIATE, MAJOR = engine("hazard"), engine("immediate"), engine("major")


def swept(eng: Engine, case: Case, now: dt.datetime) -> Case:
    result = rectify.engine.sweep(eng, [case], now)
    return result.cases[0] if result.cases else case


def planned() -> Case:
    """Return a hazard case being rectified, due on ``DUE``, never escalated."""
    case = HAZARD.open("HZ-1", dict(HAZARD_DATA), COMMUNITY, at(4, 1)).case
    case = HAZARD.fire(
        case,
        "assign",
        COMMUNITY,
        at(4, 2),
        payload={"responsible_party": "滨河物业", "measures": "补齐水带水枪", "due": DUE},
    ).case
    return HAZARD.fire(
        case,
        "plan",
        PARTY,
        at(4, 3),
        payload={"measures": "补齐水带水枪", "due": DUE},
        evidence=proof("plan_document"),
    ).case


def supervised() -> Case:
    """Return the planned case swept a week after its deadline: town supervision (2)."""
    case = swept(HAZARD, planned(), at(5, 18, 18))
    assert case.escalation == 2
    return case


# -- the rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hazard", "immediate", "major"])
def test_every_shipped_workflow_summons_only_at_town_supervision(name: str) -> None:
    spec = rectify.load_workflow(WORKFLOWS / f"{name}.yaml")
    summon = spec.event("summon")
    assert summon.min_escalation == 2
    assert summon.notice == "interview_notice"
    assert all(t.source == t.target for t in summon.transitions)
    assert {f.name: f.type for f in summon.require} == {
        "interview_on": "date",
        "interview_time": "str",
        "place": "str",
        "officials": "str",
    }
    assert "town_office" in (summon.roles or ())
    assert spec.escalation is not None
    titles = {lv.level: lv.title for ladder in spec.escalation.ladders for lv in ladder.levels}
    assert titles[2] == "镇级督办"


@pytest.mark.parametrize("sweep_on", [None, at(5, 8, 18), at(5, 12, 18)])
def test_a_summons_before_town_supervision_is_refused_naming_the_rule(
    sweep_on: dt.datetime | None,
) -> None:
    case = planned() if sweep_on is None else swept(HAZARD, planned(), sweep_on)
    assert case.escalation is None or case.escalation < 2
    with pytest.raises(EscalationLevelError) as caught:
        HAZARD.fire(case, "summon", TOWN, at(5, 13), payload=dict(INTERVIEW))
    error = caught.value
    assert isinstance(error, GuardRefusedError)
    assert error.guard == "min_escalation"
    assert (error.required, error.level) == (2, case.escalation)
    assert (error.case_id, error.state, error.event) == ("HZ-1", "planned", "summon")
    assert "min_escalation" in str(error)
    assert "level 2 (镇级督办)" in str(error)
    option = next(o for o in HAZARD.allowed_events(case, TOWN) if o.event == "summon")
    assert not option.allowed
    assert option.reason is not None
    assert "min_escalation" in option.reason


def test_at_town_supervision_the_summons_keeps_the_state_and_the_deadline() -> None:
    case = supervised()
    option = next(o for o in HAZARD.allowed_events(case, TOWN) if o.event == "summon")
    assert option.allowed
    assert set(option.require) == set(INTERVIEW)
    outcome = HAZARD.fire(case, "summon", TOWN, at(5, 21), payload=dict(INTERVIEW))
    after = outcome.case
    assert (after.state, after.deadline, after.escalation) == ("planned", DUE, 2)
    assert after.deadline == case.deadline
    assert outcome.record.event == "summon"
    assert (outcome.record.source, outcome.record.target) == ("planned", "planned")
    assert dict(outcome.record.payload) == dict(INTERVIEW)
    notices = [e for e in outcome.effects if isinstance(e, NoticeDue)]
    assert [(n.notice, n.event) for n in notices] == [("interview_notice", "summon")]
    # The government may summon too; a community may not, and the payload is required.
    assert HAZARD.fire(case, "summon", GOVERNMENT, at(5, 21), payload=dict(INTERVIEW)).case
    with pytest.raises(rectify.exceptions.RoleNotPermittedError):
        HAZARD.fire(case, "summon", COMMUNITY, at(5, 21), payload=dict(INTERVIEW))
    for field in INTERVIEW:
        partial = {k: v for k, v in INTERVIEW.items() if k != field}
        with pytest.raises(PayloadError) as caught:
            HAZARD.fire(case, "summon", TOWN, at(5, 21), payload=partial)
        assert caught.value.field == field


def test_the_summons_is_refused_once_the_party_reported_it_fixed() -> None:
    case = HAZARD.fire(
        supervised(),
        "report_fixed",
        PARTY,
        at(5, 20),
        payload={"summary": "已补齐"},
        evidence=proof("photo_after"),
    ).case
    with pytest.raises(rectify.exceptions.EventNotAllowedError):
        HAZARD.fire(case, "summon", TOWN, at(5, 21), payload=dict(INTERVIEW))


def test_an_on_the_spot_refusal_may_be_summoned_once_swept_to_town_supervision() -> None:
    case = IMMEDIATE.open("IM-1", dict(HAZARD_DATA), GRID, at(3, 4, 9)).case
    case = IMMEDIATE.fire(
        case,
        "refuse",
        GRID,
        at(3, 4),
        payload={"refusal": "拒不挪车"},
        evidence=proof("photo_before", "refusal_record"),
    ).case
    case = IMMEDIATE.fire(case, "refer", COMMUNITY, at(3, 4, 11), payload={"agency": "police"}).case
    with pytest.raises(EscalationLevelError):  # referral is level 1; the sweep records level 2
        IMMEDIATE.fire(case, "summon", TOWN, at(3, 4, 12), payload=dict(INTERVIEW))
    case = swept(IMMEDIATE, case, at(3, 4, 18))
    assert case.escalation == 2
    after = IMMEDIATE.fire(case, "summon", TOWN, at(3, 5), payload=dict(INTERVIEW)).case
    assert (after.state, after.deadline) == ("referred", case.deadline)


def test_a_listed_major_hazard_may_be_summoned_once_the_listing_is_recorded() -> None:
    case = MAJOR.open("MJ-1", dict(HAZARD_DATA), FIRE, at(3, 4, 9)).case
    case = MAJOR.fire(
        case,
        "determine",
        FIRE,
        at(3, 5),
        payload={"panel_size": 3, "votes_for": 3, "standard": "GB35181-2017"},
        evidence=proof("determination_record"),
    ).case
    case = MAJOR.fire(
        case,
        "list",
        GOVERNMENT,
        at(3, 6),
        payload={"due": dt.date(2024, 6, 30), "supervisor": "王志刚"},
        evidence=proof("listing_order"),
    ).case
    with pytest.raises(EscalationLevelError):
        MAJOR.fire(case, "summon", GOVERNMENT, at(3, 6, 11), payload=dict(INTERVIEW))
    case = swept(MAJOR, case, at(3, 6, 18))
    assert case.escalation == 4
    after = MAJOR.fire(case, "summon", GOVERNMENT, at(3, 7), payload=dict(INTERVIEW)).case
    assert (after.state, after.deadline) == ("listed", dt.date(2024, 6, 30))


# -- the definition ------------------------------------------------------------------------------

DRAFT: Final = """\
workflow: draft
version: 1
title: 草稿
roles: [community, town_office]
initial: open
states:
  open: {{title: 整改中, deadline: {{working_days: 5}}}}
  closed: {{title: 已销号, final: true}}
events:
  summon:
    from: open
    to: open
    roles: [town_office]
    min_escalation: {level}
  close: {{from: open, to: closed, roles: [community]}}
escalation:
  ladders:
    standard:
      - {{level: 1, title: 逾期督促, when: {{after_deadline: 1}}}}
      - {{level: 2, title: 镇级督办, when: {{after_deadline: 7}}}}
"""


def test_a_draft_with_a_reachable_level_is_valid_and_dumps_back() -> None:
    assert rectify.validate_workflow(DRAFT.format(level=2)) == []
    spec = rectify.load_workflow(DRAFT.format(level=2))
    assert spec.event("summon").min_escalation == 2
    assert "min_escalation: 2" in dump_workflow(spec)
    assert rectify.load_workflow(dump_workflow(spec)) == spec
    for name in ("hazard", "immediate", "major"):
        shipped = rectify.load_workflow(WORKFLOWS / f"{name}.yaml")
        assert rectify.load_workflow(dump_workflow(shipped)) == shipped


@pytest.mark.parametrize(
    ("level", "code", "words"),
    [
        ("3", "bad-value", "min_escalation 3 can never be met: the highest level it reaches is 2"),
        ("10", "bad-value", "10 is out of range 0..9"),
        ("'2'", "wrong-type", "a whole number"),
        ("true", "wrong-type", "a whole number"),
    ],
)
def test_a_bad_min_escalation_is_reported_where_it_is(level: str, code: str, words: str) -> None:
    text = DRAFT.format(level=level)
    diagnostics = rectify.validate_workflow(text)
    assert [d.code for d in diagnostics] == [code]
    (problem,) = diagnostics
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "min_escalation" in row)
    column = text.splitlines()[line - 1].index(level) + 1
    assert (problem.location.line, problem.location.column) == (line, column)
    assert problem.location.path == "events.summon.min_escalation"
    assert words in problem.message


def test_the_diagram_shows_the_level_an_interview_needs() -> None:
    spec = rectify.load_workflow(WORKFLOWS / "hazard.yaml")
    mermaid = rectify.definitions.draw_workflow(spec, english=True)
    assert "planned --> planned: Interview [level ≥ 2]" in mermaid


# -- the notice ----------------------------------------------------------------------------------


def notice_context(data: Mapping[str, object] | None = None) -> dict[str, object]:
    """Return the context of the interview notice the summons queued, issued that day."""
    case = supervised()
    outcome = HAZARD.fire(case, "summon", TOWN, at(5, 21), payload=dict(INTERVIEW))
    (effect,) = [e for e in outcome.effects if isinstance(e, NoticeDue)]
    summoned = outcome.case
    if data:
        summoned = attrs.evolve(summoned, data={**summoned.data, **data})
    return rectify.documents.case_notice_context(
        effect,
        summoned,
        HAZARD.spec,
        issuer=issuer(),
        sequence=7,
        issued_on=dt.date(2024, 5, 21),
        categories=rectify.load_categories(),
        calendar=FakeCalendar(),
    )


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_the_notice_prints_the_time_place_and_officials_of_the_summons(
    fmt: str, locale: str
) -> None:
    body = RENDERER.render("interview_notice", notice_context(), fmt=fmt, locale=locale).body
    when = "2024年5月24日" if locale == "zh-CN" else rectify.documents.en_date(dt.date(2024, 5, 24))
    for value in (when, "9:30", "虎峰社区居民委员会会议室", "王志刚、李明"):
        assert value in body, (value, body)
    assert "____年____月____日" not in body  # not the blanks of a notice without a summons
    assert "HZ-1" in body


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_text_notice_is_plain_leads_with_case_and_deadline_and_is_short(locale: str) -> None:
    long_texts = {
        "description": "3栋1至3单元一至七层楼梯间消火栓箱内水带、水枪缺失，箱门锈蚀无法开启，"
        "应急照明灯损坏，疏散指示标志缺失，楼道堆放杂物。",
        "responsible_party": "重庆滨河物业服务有限公司及滨河花园小区业主委员会"
        "（由物业项目经理负责3栋、5栋公共区域消防设施日常巡查、维护和保养工作）",
    }
    context = notice_context(long_texts)
    body = RENDERER.render("interview_notice", context, fmt="text", locale=locale).body
    first = body.splitlines()[0]
    deadline = (
        rectify.documents.zh_date(DUE) if locale == "zh-CN" else rectify.documents.en_date(DUE)
    )
    assert "HZ-1" in first
    assert deadline in first
    assert len(body) < 500
    for markup in ("**", "__", "`", "<", "&lt;", "{{", "{%"):
        assert markup not in body, markup
    assert not re.search(r"^\s*(#+|[-*+]|\|) ", body, re.MULTILINE)
    assert body.endswith("\n")
    assert all(line == line.rstrip() for line in body.splitlines())
    assert long_texts["description"] in body


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_the_english_notice_is_english_but_for_what_was_typed(fmt: str) -> None:
    context = notice_context()
    body = RENDERER.render("interview_notice", context, fmt=fmt, locale="en").body
    hazard, issuer = context["hazard"], context["issuer"]
    assert isinstance(hazard, Mapping)
    assert isinstance(issuer, Mapping)
    typed = [str(v) for v in (*hazard.values(), *INTERVIEW.values()) if v]
    for value in issuer.values():  # the office's names, and its people (a list) if any
        typed.extend(str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v)
    typed.append(str(context["number"]))
    rest = re.sub(r"<style>.*?</style>", "", body, flags=re.DOTALL)  # font names are CSS
    for value in sorted(typed, key=len, reverse=True):
        rest = rest.replace(value, "")
    assert not CJK.findall(rest), sorted(set(CJK.findall(rest)))
    assert "Interview" in body


# -- the demo ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Result, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's demo folder (``tests/conftest.py``)."""
    return demo_copy(demo_run, tmp_path_factory)


def test_the_demo_summons_the_parties_of_the_cases_at_town_supervision(demo: Path) -> None:
    manifest = json.loads((demo / "documents.json").read_text(encoding="utf-8"))
    notices = [entry for entry in manifest if entry["kind"] == "notice"]
    supervised_on = {
        n["effect"]["case_id"]: n["issued_on"]
        for n in notices
        if n["effect"]["notice"] == "supervision_order" and n["effect"]["level"] == 2
    }
    interviews = [n for n in notices if n["effect"]["notice"] == "interview_notice"]
    assert len(interviews) >= len(supervised_on) // 2 > 0
    assert len({n["effect"]["case_id"] for n in interviews}) == len(interviews), "one each"
    for entry in interviews:
        case_id = entry["effect"]["case_id"]
        assert entry["effect"]["event"] == "summon"
        assert supervised_on[case_id] < entry["issued_on"]  # days after the supervision order
        text = (demo / entry["page"]).with_suffix(".txt").read_text(encoding="utf-8")
        assert re.match(r"【约谈通知】编号[^-，]+-2024-\d{3}，", text), (
            text
        )  # its number, not its id
        assert "9:30" in text
        assert "居民委员会会议室" in text
        assert "王志刚、李明" in text
