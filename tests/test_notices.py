"""Notices and reports rendered from real case data: every template, format and locale.

The town below is built through the engine (the shipped workflows, the official calendar,
the 2024 campaign's phase dates and the category table's severities): cases are opened,
assigned, fixed, verified, closed, extended, paused, refused and referred, and swept every
morning, so each notice is rendered with the case as it was when the notice fell due.
``docs/screenshots/make_screenshots.py`` renders the same town.

Golden files (``tests/golden/``) pin the rectification slip and the monthly circular byte
for byte, and the text of the campaign's reports (coverage, register, tasks, annual plan);
``RECTIFY_REGOLDEN=1`` rewrites them after a deliberate change.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import attrs
import jinja2
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from markupsafe import escape

import rectify
from rectify import Actor, Case, Engine, Evidence, NoticeError, NoticeRenderer, WorkflowSpec
from rectify.documents import (
    CASE_NOTICE_VARIABLES,
    PHONE_ROLES,
    REPORT_VARIABLES,
    Issuer,
    LookbackResult,
    MemoryNumberBook,
    Notices,
    mask_phone,
)
from rectify.engine import NoticeDue
from rectify.ledger import digest_heads
from rectify.templating import _charts
from tests.conftest import NOTICES, ROOT, WORKFLOWS

TZ = ZoneInfo("Asia/Shanghai")
GOLDEN = Path(__file__).resolve().parent / "golden"
SCREENSHOTS = ROOT / "docs" / "screenshots" / "make_screenshots.py"
CHROMIUM = Path("/usr/bin/chromium")

# -- the town --------------------------------------------------------------------------------------

TOWN_OFFICE = Issuer(
    "虎峰镇消防安全委员会办公室",
    code="虎峰镇消安",
    contact="刘晓东",
    phone="023-45661119",
)
JINLONG = Issuer(
    "金龙社区居民委员会",
    code="金龙社区",
    contact="陈红",
    phone="13900002211",
)
#: The building head's mobile number (fictitious) and how a reader without the role sees it.
PHONE = "15200003801"
MASKED = "152****3801"

GRID = Actor("赵敏", "grid_worker")
COMMUNITY = Actor("陈红", "community")
COMMUNITY_2 = Actor("杨帆", "community")
TOWN = Actor("刘晓东", "town_office")
PARTY = Actor("责任人", "responsible_party")
PROPERTY = Actor("物业", "property")
POLICE = Actor("虎峰派出所", "police")
FIRE = Actor("虎峰镇消防救援站", "fire_station")
GOVERNMENT = Actor("虎峰镇人民政府", "government")

#: The day the reports are drawn up (the July progress reports are due on the 22nd).
AS_OF = dt.date(2024, 7, 20)
CIRCULAR_ON = dt.date(2024, 7, 25)

_ESTATES: Mapping[str, dict[str, object]] = {
    "滨河花园": {
        "community": "虎峰社区",
        "address": "虎峰镇滨河路88号",
        "building_head": "王德明",
        "phone": PHONE,
        "floors": 7,
        "height": 21,
    },
    "供销社宿舍": {
        "community": "虎峰社区",
        "address": "虎峰镇正街112号",
        "building_head": "李秀英",
        "phone": "13900001112",
        "floors": 5,
        "height": 15,
    },
    "粮站家属院": {
        "community": "金龙社区",
        "address": "虎峰镇金龙路21号",
        "building_head": "周国强",
        "phone": "13900001113",
        "floors": 6,
        "height": 18,
    },
    "建设路小区": {
        "community": "金龙社区",
        "address": "虎峰镇建设路45号",
        "building_head": "黄丽",
        "phone": "13900001114",
        "floors": 11,
        "height": 33,
    },
    "电力局宿舍": {
        "community": "石门社区",
        "address": "虎峰镇石门街7号",
        "building_head": "吴志刚",
        "phone": "13900001115",
        "floors": 6,
        "height": 18,
    },
    "老街农贸市场宿舍": {
        "community": "双龙社区",
        "address": "虎峰镇老街3号",
        "building_head": "郑桂芳",
        "phone": "13900001116",
        "floors": 4,
        "height": 12,
    },
}


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, minute, tzinfo=TZ)


def proof(*kinds: str) -> tuple[Evidence, ...]:
    return tuple(Evidence.of(kind, f"{kind}.jpg", kind.encode()) for kind in kinds)


@attrs.frozen
class Hazard:
    """One hazard of the town: where, what, and its story as (time, event, actor, payload)."""

    id: str
    estate: str
    building: str
    category: str
    description: str
    location: str
    opened: dt.datetime
    story: tuple[tuple[dt.datetime, str, Actor, Mapping[str, object]], ...] = ()
    severity: str = ""
    recurrence_of: str | None = None


def _hazards() -> tuple[Hazard, ...]:
    assign = "assign"
    return (
        Hazard(
            "HF-2024-001",
            "滨河花园",
            "3栋",
            "FAC.HOSE",
            "1单元消火栓箱内水带、水枪缺失",
            "1单元一至七层楼梯间消火栓箱",
            at(3, 25),
            (
                (
                    at(3, 26),
                    assign,
                    COMMUNITY,
                    {
                        "responsible_party": "重庆滨河物业服务有限公司",
                        "measures": "补齐消火栓箱内水带、水枪，并逐箱检查",
                        "due": dt.date(2024, 4, 2),
                    },
                ),
                (
                    at(3, 27),
                    "plan",
                    PROPERTY,
                    {"measures": "采购水带7盘、水枪7支", "due": dt.date(2024, 4, 2)},
                ),
                (at(4, 1), "report_fixed", PROPERTY, {"summary": "已补齐7个消火栓箱"}),
                (at(4, 3), "verify", COMMUNITY, {}),
                (at(4, 3, 10), "close", COMMUNITY, {}),
            ),
        ),
        Hazard(
            "HF-2024-002",
            "滨河花园",
            "5栋",
            "FAC.HYD.IN",
            "室内消火栓无水，供水管网阀门锈死",
            "地下室消防水泵房及各层消火栓",
            at(4, 2),
            (
                (
                    at(4, 8),
                    assign,
                    COMMUNITY,
                    {
                        "inspectors": "陈红、刘晓东",
                        "witness": "张建国",
                        "responsible_party": "重庆滨河物业服务有限公司",
                        "measures": "更换锈死阀门，恢复室内消火栓系统供水，"
                        "整改期间每层增配2具灭火器",
                        "due": dt.date(2024, 6, 30),
                    },
                ),
                (
                    at(4, 10),
                    "plan",
                    PROPERTY,
                    {
                        "measures": "委托维保单位更换阀门、检修消防水泵，恢复室内消火栓供水；"
                        "整改期间每层增配2具灭火器",
                        "due": dt.date(2024, 6, 30),
                    },
                ),
            ),
        ),
        Hazard(
            "HF-2024-003",
            "供销社宿舍",
            "1栋",
            "STR.CANOPY",
            "沿街一侧住户加装彩钢板可燃雨棚12处",
            "东侧外墙二至五层",
            at(4, 3),
            (
                (
                    at(4, 9),
                    assign,
                    COMMUNITY,
                    {
                        "responsible_party": "1栋相关住户（业主）",
                        "measures": "拆除可燃雨棚或更换为不燃、难燃材料",
                        "due": dt.date(2024, 12, 25),
                    },
                ),
                (
                    at(4, 12),
                    "plan",
                    COMMUNITY,
                    {"measures": "分户动员，9月底前完成拆改", "due": dt.date(2024, 12, 25)},
                ),
            ),
        ),
        Hazard(
            "HF-2024-004",
            "供销社宿舍",
            "2栋",
            "ELEC.WIRE",
            "楼道私拉乱接电线为电动自行车充电",
            "2单元一层楼道",
            at(7, 3),
            (
                (
                    at(7, 4),
                    assign,
                    COMMUNITY,
                    {
                        "responsible_party": "2栋2单元102室住户",
                        "measures": "拆除私拉电线，引导至集中充电点充电",
                        "due": dt.date(2024, 7, 11),
                    },
                ),
                (at(7, 5), "plan", PARTY, {"measures": "当周拆除", "due": dt.date(2024, 7, 11)}),
                (at(7, 10), "report_fixed", PARTY, {"summary": "电线已拆除"}),
                (at(7, 12), "verify", COMMUNITY, {}),
                (at(7, 12, 10), "close", COMMUNITY, {}),
            ),
        ),
        Hazard(
            "HF-2024-005",
            "滨河花园",
            "",
            "PAS.LANE",
            "私家车占用消防车通道",
            "小区北门消防车通道",
            at(7, 8, 10),
            (
                (at(7, 8, 10, 30), "correct_on_spot", GRID, {}),
                (at(7, 8, 11), "close", COMMUNITY, {}),
            ),
        ),
        Hazard(
            "JL-2024-001",
            "粮站家属院",
            "2栋",
            "FAC.LIGHT",
            "楼梯间应急照明灯损坏，疏散指示标志缺失",
            "一至六层楼梯间",
            at(4, 10),
            (
                (
                    at(4, 12),
                    assign,
                    COMMUNITY_2,
                    {
                        "responsible_party": "粮站家属院业主自管小组",
                        "measures": "更换应急照明灯6具，补设疏散指示标志",
                        "due": dt.date(2024, 5, 12),
                    },
                ),
                (
                    at(4, 15),
                    "plan",
                    PARTY,
                    {"measures": "筹集维修资金后更换", "due": dt.date(2024, 5, 12)},
                ),
            ),
        ),
        Hazard(
            "JL-2024-002",
            "粮站家属院",
            "1栋",
            "FAC.EXT",
            "公共区域灭火器过期失效",
            "各层楼梯间",
            at(4, 10, 10),
            (
                (
                    at(4, 12, 10),
                    assign,
                    COMMUNITY_2,
                    {
                        "responsible_party": "粮站家属院业主自管小组",
                        "measures": "更换过期灭火器，每层配置2具",
                        "due": dt.date(2024, 4, 19),
                    },
                ),
                (at(4, 13), "plan", PARTY, {"measures": "更换灭火器", "due": dt.date(2024, 4, 19)}),
                (at(4, 18), "report_fixed", PARTY, {"summary": "已更换"}),
                (
                    at(4, 22),
                    "fail_verification",
                    COMMUNITY_2,
                    {"findings": "三层、五层仍为过期灭火器"},
                ),
                (at(4, 25), "report_fixed", PARTY, {"summary": "三层、五层已更换"}),
                (at(4, 26), "verify", COMMUNITY_2, {}),
                (at(4, 26, 10), "close", COMMUNITY_2, {}),
            ),
        ),
        Hazard(
            "JL-2024-003",
            "建设路小区",
            "8栋",
            "STR.NET",
            "低层住户防盗网突出外墙，未设逃生口",
            "北侧外墙一至三层",
            at(4, 5),
            (
                (
                    at(4, 9),
                    assign,
                    COMMUNITY_2,
                    {
                        "responsible_party": "8栋相关住户（业主）",
                        "measures": "拆除突出外墙防护网或开设应急逃生口",
                        "due": dt.date(2024, 12, 25),
                    },
                ),
                (
                    at(4, 11),
                    "plan",
                    COMMUNITY_2,
                    {"measures": "逐户动员拆改", "due": dt.date(2024, 12, 25)},
                ),
            ),
        ),
        Hazard(
            "JL-2024-004",
            "建设路小区",
            "6栋",
            "EBIKE.CHARGE",
            "住户从三楼窗口飞线为电动自行车充电",
            "1单元楼下",
            at(6, 3, 19),
            (
                (at(6, 3, 19, 20), "refuse", GRID, {"refusal": "当事人拒不收线，称无处充电"}),
                (at(6, 3, 20), "refer", GRID, {"agency": "police"}),
                (
                    at(6, 5),
                    "record_order",
                    POLICE,
                    {
                        "organ": "虎峰派出所",
                        "document_number": "铜公（虎）责改字〔2024〕36号",
                        "order_kind": "deadline_correction",
                        "due": dt.date(2024, 6, 10),
                    },
                ),
            ),
        ),
        Hazard(
            "JL-2024-005",
            "粮站家属院",
            "3栋",
            "MIX.SHOP",
            "一层住宅内设置小型五金仓库，与居住部分未分隔",
            "一层101室",
            at(5, 6),
            (
                (
                    at(5, 13),
                    "determine",
                    FIRE,
                    {"panel_size": 3, "votes_for": 3, "standard": "GB35181-2017"},
                ),
                (
                    at(5, 16),
                    "list",
                    GOVERNMENT,
                    {"due": dt.date(2024, 7, 15), "supervisor": "虎峰镇人民政府"},
                ),
            ),
            severity="suspected_major",
        ),
        Hazard(
            "JL-2024-006",
            "建设路小区",
            "2栋",
            "FAC.HOSE",
            "消火栓箱内水带老化破损",
            "二层消火栓箱",
            at(7, 2),
            (
                (
                    at(7, 3),
                    assign,
                    COMMUNITY_2,
                    {
                        "responsible_party": "建设路小区业主委员会",
                        "measures": "更换水带",
                        "due": dt.date(2024, 7, 10),
                    },
                ),
                (at(7, 4), "plan", PARTY, {"measures": "更换水带", "due": dt.date(2024, 7, 10)}),
                (at(7, 8), "report_fixed", PARTY, {"summary": "已更换"}),
                (at(7, 9), "verify", COMMUNITY_2, {}),
                (at(7, 9, 10), "close", COMMUNITY_2, {}),
            ),
        ),
        Hazard(
            "SM-2024-001",
            "电力局宿舍",
            "",
            "ORG.MFS",
            "未建立微型消防站",
            "小区门卫室",
            at(4, 1),
            (
                (
                    at(4, 3),
                    assign,
                    TOWN,
                    {
                        "responsible_party": "石门社区居民委员会",
                        "measures": "依托门卫室建立微型消防站，配齐器材和队员",
                        "due": dt.date(2024, 6, 30),
                    },
                ),
                (at(4, 8), "plan", COMMUNITY, {"measures": "建站", "due": dt.date(2024, 6, 30)}),
                (at(6, 20), "report_fixed", COMMUNITY, {"summary": "微型消防站已建成"}),
                (at(6, 24), "verify", TOWN, {}),
                (at(6, 25), "close", TOWN, {}),
            ),
        ),
        Hazard(
            "SM-2024-002",
            "电力局宿舍",
            "3栋",
            "FAC.SPR",
            "自动喷水灭火系统无水，末端试水压力为零",
            "地下车库",
            at(4, 1, 10),
            (
                (
                    at(4, 3, 10),
                    assign,
                    TOWN,
                    {
                        "responsible_party": "国网铜梁供电公司后勤服务中心",
                        "measures": "检修喷淋泵及管网，恢复系统供水",
                        "due": dt.date(2024, 6, 30),
                    },
                ),
                (
                    at(4, 8),
                    "plan",
                    PARTY,
                    {"measures": "检修喷淋系统", "due": dt.date(2024, 6, 30)},
                ),
                (at(6, 20), "extend", TOWN, {"due": dt.date(2024, 8, 31)}),
            ),
        ),
        Hazard(
            "SM-2024-003",
            "电力局宿舍",
            "3栋",
            "FAC.SPR",
            "群众反映喷淋没水",
            "地下车库",
            at(4, 2),
            ((at(4, 3, 11), "mark_duplicate", TOWN, {"duplicate_of": "SM-2024-002"}),),
        ),
        Hazard(
            "SM-2024-004",
            "电力局宿舍",
            "2栋",
            "PAS.EVAC",
            "楼梯间堆放杂物，堵塞疏散通道",
            "1单元一层楼梯间",
            at(5, 20),
            (
                (at(5, 20, 9, 30), "correct_on_spot", GRID, {}),
                (at(5, 20, 10), "close", COMMUNITY, {}),
            ),
        ),
        Hazard(
            "SL-2024-001",
            "老街农贸市场宿舍",
            "",
            "FAC.HYD.OUT",
            "室外消火栓无水",
            "小区入口处室外消火栓",
            at(4, 1),
            (
                (
                    at(4, 3),
                    assign,
                    TOWN,
                    {
                        "responsible_party": "铜梁区虎峰供水站",
                        "measures": "接通市政供水，恢复室外消火栓出水",
                        "due": dt.date(2024, 6, 30),
                    },
                ),
                (
                    at(4, 8),
                    "plan",
                    PARTY,
                    {"measures": "随管网改造接通", "due": dt.date(2024, 6, 30)},
                ),
                (at(5, 6), "wait", TOWN, {"waiting_for": "老街供水管网改造"}),
            ),
        ),
        Hazard(
            "SL-2024-002",
            "老街农贸市场宿舍",
            "1栋",
            "FAC.EXT",
            "群众反映1栋无灭火器",
            "楼梯间",
            at(4, 2),
            ((at(4, 3, 10), "dismiss", COMMUNITY, {}),),
        ),
        Hazard(
            "SM-2024-005",
            "电力局宿舍",
            "2栋",
            "PAS.EVAC",
            "楼梯间再次堆放杂物（“回头看”发现）",
            "1单元一层楼梯间",
            at(7, 15, 10),
            (
                (at(7, 15, 10, 30), "correct_on_spot", GRID, {}),
                (at(7, 15, 11), "close", COMMUNITY, {}),
            ),
            recurrence_of="SM-2024-004",
        ),
    )


_REASONS: Final = {
    "dismiss": "现场核查，1栋各层均已配置灭火器且在有效期内",
    "mark_duplicate": "与SM-2024-002为同一隐患",
    "wait": "需待老街供水管网改造完成后接通",
    "extend": "喷淋泵需厂家返修，经申请延期至8月31日",
}
_EVIDENCE: Final = {
    "plan": ("plan_document",),
    "report_fixed": ("photo_after",),
    "verify": ("inspection_record",),
    "fail_verification": ("inspection_record",),
    "dismiss": ("inspection_record",),
    "correct_on_spot": ("photo_before", "photo_after"),
    "refuse": ("photo_before", "refusal_record"),
    "record_order": ("order_document",),
    "determine": ("determination_record",),
    "list": ("listing_order",),
}


@attrs.frozen
class Issued:
    """A notice that fell due: the effect, the case right after it, and the day."""

    effect: NoticeDue
    case: Case
    spec: WorkflowSpec
    on: dt.date


@attrs.frozen
class Town:
    """The town on ``AS_OF``: its cases and every notice that fell due on the way."""

    engines: Mapping[str, Engine]
    cases: Mapping[str, Case]
    issued: tuple[Issued, ...]
    categories: rectify.definitions.CategoryTable
    calendar: rectify.OfficialCalendar

    @property
    def specs(self) -> list[WorkflowSpec]:
        return [e.spec for e in self.engines.values()]

    def spec(self, case: Case) -> WorkflowSpec:
        return self.engines[case.workflow].spec

    def notice(self, name: str, case_id: str | None = None) -> Issued:
        """Return the first ``name`` notice that fell due (for ``case_id``, if given)."""
        return next(
            i
            for i in self.issued
            if i.effect.notice == name and case_id in (None, i.effect.case_id)
        )

    def lookback(self) -> list[LookbackResult]:
        """Return the look-back of 15 July: four fixes held, one relapsed."""
        held = ("HF-2024-001", "JL-2024-002", "SM-2024-001", "HF-2024-005")
        return [
            *(LookbackResult(self.cases[c], passed=True, note="整改成果保持良好") for c in held),
            LookbackResult(
                self.cases["SM-2024-004"],
                passed=False,
                note="楼梯间再次堆放杂物",
                new_case="SM-2024-005",
            ),
        ]


def _data(hazard: Hazard, table: rectify.definitions.CategoryTable) -> dict[str, object]:
    return {
        "town": "虎峰镇",
        "community_name": hazard.estate,
        **_ESTATES[hazard.estate],
        "building": hazard.building,
        "category": hazard.category,
        "severity": hazard.severity or table.category(hazard.category).severity,
        "description": hazard.description,
        "location": hazard.location,
    }


@functools.cache
def build_town(until: dt.date = AS_OF) -> Town:
    """Run the town's hazards through the engines, sweeping every morning at 08:00."""
    table = rectify.load_categories()
    calendar = rectify.OfficialCalendar()
    campaign = rectify.calendar.load_campaign(WORKFLOWS / "campaign-2024.yaml")
    severities = {s.name: s.period for s in table.severities}
    engines = {
        name: Engine(
            rectify.load_workflow(WORKFLOWS / f"{name}.yaml"),
            calendar=calendar,
            phases=campaign.phase_ends,
            severities=severities,
        )
        for name in ("hazard", "immediate", "major")
    }
    hazards = {h.id: h for h in _hazards()}
    steps: list[tuple[dt.datetime, str, int]] = []
    for h in hazards.values():
        steps.append((h.opened, h.id, -1))
        steps.extend((when, h.id, i) for i, (when, *_rest) in enumerate(h.story))
    day = min(h.opened for h in hazards.values()).date()
    while day <= until:
        steps.append((dt.datetime.combine(day, dt.time(8), TZ), "", 0))
        day += dt.timedelta(days=1)
    cases: dict[str, Case] = {}
    issued: list[Issued] = []

    def note(
        effects: tuple[rectify.engine.Effect, ...], now: dt.datetime, by: dict[str, Case]
    ) -> None:
        for effect in effects:
            if isinstance(effect, NoticeDue):
                case = by[effect.case_id]
                issued.append(Issued(effect, case, engines[case.workflow].spec, now.date()))

    for when, case_id, index in sorted(steps, key=lambda s: (s[0], s[1], s[2])):
        if when.date() > until:
            continue
        if not case_id:
            open_cases = [c for c in cases.values() if not c.final]
            swept = rectify.engine.sweep(list(engines.values()), open_cases, when)
            cases.update({c.id: c for c in swept.cases})
            note(swept.effects, when, {c.id: c for c in swept.cases})
            continue
        hazard = hazards[case_id]
        if index < 0:
            data = _data(hazard, table)
            workflow = table.severity(str(data["severity"])).workflow
            recurrence = cases[hazard.recurrence_of] if hazard.recurrence_of else None
            engine = engines[workflow]
            finder = GRID if any(r.name == GRID.role for r in engine.spec.roles) else COMMUNITY
            outcome = engine.open(case_id, data, finder, when, recurrence_of=recurrence)
        else:
            _when, event, actor, payload = hazard.story[index]
            case = cases[case_id]
            outcome = engines[case.workflow].fire(
                case,
                event,
                actor,
                when,
                payload=payload,
                evidence=proof(*_EVIDENCE.get(event, ())),
                reason=_REASONS.get(event),
            )
        cases[case_id] = outcome.case
        note(outcome.effects, when, {case_id: outcome.case})
    return Town(engines, cases, tuple(issued), table, calendar)


# -- the campaign beyond its hazards: the register, the tasks, earlier years ----------------------

#: The town's old-estate register: each estate's fire-facilities manager, whether it is in the
#: renovation programme, and its buildings (name, floors, households, special groups).
#: 税务所宿舍 has no hazard; 滨河花园 6栋 was pulled down (delisted); 建设路小区 8栋 is
#: not surveyed.
_REGISTER: Final[Mapping[str, tuple[str, bool, tuple[tuple[str, int, int, str], ...]]]] = {
    "滨河花园": (
        "重庆滨河物业服务有限公司",
        True,
        (("3栋", 7, 42, ""), ("5栋", 7, 42, "独居老人2户"), ("6栋", 7, 28, "")),
    ),
    "供销社宿舍": ("", False, (("1栋", 5, 20, ""), ("2栋", 5, 20, "残疾人1户"))),
    "粮站家属院": (
        "粮站家属院业主委员会",
        True,
        (("1栋", 6, 24, ""), ("2栋", 6, 24, "独居老人1户"), ("3栋", 6, 18, "")),
    ),
    "建设路小区": (
        "重庆建设物业管理有限公司",
        True,
        (("2栋", 11, 66, ""), ("6栋", 11, 66, ""), ("8栋", 11, 44, "")),
    ),
    "电力局宿舍": ("国网铜梁供电公司后勤服务中心", False, (("2栋", 6, 36, ""), ("3栋", 6, 36, ""))),
    "老街农贸市场宿舍": ("虎峰镇人民政府指定：虎峰物业服务站", False, (("1栋", 4, 16, ""),)),
    "税务所宿舍": ("虎峰镇人民政府指定：虎峰物业服务站", False, (("1栋", 5, 10, "独居老人1户"),)),
}
_ESTATE_PLACES: Final = {
    **{name: (str(e["community"]), str(e["address"])) for name, e in _ESTATES.items()},
    "税务所宿舍": ("石门社区", "虎峰镇石门街15号"),
}


def _manager_kind(manager: str) -> str:
    if not manager:
        return "无"
    if manager.startswith("虎峰镇人民政府指定"):
        return "镇政府指定单位"
    return "业主委员会" if "业主委员会" in manager else "物业服务企业"


@functools.cache
def campaign_cases(until: dt.date = AS_OF) -> tuple[tuple[Case, ...], tuple[WorkflowSpec, ...]]:
    """Return the town's cases on ``until`` with its register, tasks and earlier years' hazards.

    Every building of ``_REGISTER`` is surveyed between 3/12 and 4/9 with its grid worker and
    building head, but 建设路小区 8栋 (not yet) and 滨河花园 6栋 (delisted); the campaign's tasks
    are opened on 3/11, three are done, the annual plan is overdue; three hazards rectified in
    2022 and 2023 are looked at again: one held, one relapsed, one is still to be looked at.
    """
    town = build_town(until)
    campaign = rectify.calendar.load_campaign(WORKFLOWS / "campaign-2024.yaml")
    ledger = rectify.Ledger.with_workflows(
        rectify.stores.MemoryStore(), calendar=town.calendar, campaign=campaign
    )
    steps: list[tuple[dt.datetime, str, str, Actor, dict[str, object], str | None]] = []
    number = 0
    for estate, (manager, in_programme, buildings) in _REGISTER.items():
        community, address = _ESTATE_PLACES[estate]
        head = _ESTATES.get(estate, {"building_head": "孙国华", "phone": "13900001117"})
        for building, floors, households, groups in buildings:
            number += 1
            case_id = f"BLD-{number:03d}"
            data = {
                "town": "虎峰镇",
                "community": community,
                "community_name": estate,
                "address": address,
                "building": building,
                "floors": floors,
                "households": households,
                "in_programme": in_programme,
                "facilities_manager": manager,
                "facilities_manager_kind": _manager_kind(manager),
                "special_groups": groups,
            }
            ledger.open(case_id, "survey", data, TOWN, at=at(3, 11))
            found = sum(
                h.estate == estate and h.building == building and h.opened.date() <= at(4, 9).date()
                for h in _hazards()
            )
            payload: dict[str, object] = {
                "grid_worker": GRID.id,
                "building_head": str(head["building_head"]),
                "building_head_phone": str(head["phone"]),
                "hazards": found,
            }
            if (estate, building) == ("滨河花园", "6栋"):
                steps.append((at(3, 20), case_id, "delist", COMMUNITY, {}, "6栋已拆除"))
            elif (estate, building) != ("建设路小区", "8栋"):
                steps.append((at(3, 12 + number), case_id, "survey", GRID, payload, None))
    for task in campaign.tasks:
        ledger.open(task.case_id, "task", task.data(), TOWN, at=at(3, 11))
    reports = (
        (at(4, 8), "name_staff", "complete", "各小区网格员、楼栋长已明确"),
        (at(4, 9), "survey_buildings", "report_progress", "已摸排16栋"),
        (at(4, 10), "survey_buildings", "complete", "已摸排16栋，1栋待补"),
        (at(4, 10, 10), "survey_renovated", "complete", "基础台账已建立"),
        (at(6, 28), "annual_plan", "report_progress", "各社区整改计划已收齐"),
        (at(7, 10), "rectify_hazards", "complete", "集中整治隐患已逐项交办"),
    )
    for when, key, event, text in reports:
        field = "summary" if event == "complete" else "progress"
        steps.append((when, f"TASK-{key}", event, TOWN, {field: text}, None))
    earlier = (
        ("ERL-2022-001", 2022, "滨河花园", "3栋", "PAS.EVAC", "楼道堆放杂物"),
        ("ERL-2023-001", 2023, "粮站家属院", "2栋", "EBIKE.CHARGE", "电动自行车楼道内充电"),
        ("ERL-2023-002", 2023, "电力局宿舍", "2栋", "FAC.EXT", "灭火器过期"),
    )
    for case_id, year, estate, building, category, description in earlier:
        community, address = _ESTATE_PLACES[estate]
        data = {
            "community": community,
            "community_name": estate,
            "address": address,
            "building": building,
            "description": description,
            "category": category,
            "year": year,
            "rectified_on": dt.date(year, 9, 1),
        }
        ledger.open(case_id, "earlier", data, TOWN, at=dt.datetime(year, 9, 1, 12, tzinfo=TZ))
    steps += [
        (at(5, 10), "ERL-2022-001", "confirm", GRID, {"note": "楼道保持畅通"}, None),
        (
            at(5, 12),
            "ERL-2023-001",
            "relapse",
            GRID,
            {"findings": "楼道内又见电动自行车充电"},
            None,
        ),
    ]
    for when, case_id, event, actor, payload, reason in sorted(steps, key=lambda s: s[0]):
        if when.date() <= until:
            ledger.fire(case_id, event, actor, payload=payload, reason=reason, at=when)
    specs = {(s.id, s.version): s for s in (*town.specs, *(e.spec for e in ledger.engines))}
    return (*town.cases.values(), *ledger.cases_as_of(until)), tuple(specs.values())


# -- contexts --------------------------------------------------------------------------------------

#: The case each case notice is shown for (the first notice of that name it received).
CASE_SAMPLES: Final = {
    "rectification_slip": "HF-2024-002",
    "reminder": "HF-2024-002",
    "overdue_warning": "HF-2024-002",
    "supervision_order": "HF-2024-002",
    "escalation_report": "JL-2024-001",
    "interview_notice": "JL-2024-004",
}
#: The reports and the functions that build their contexts.
REPORTS: Final = (
    "monthly_report",
    "circular",
    "ledger",
    "ledger_totals",
    "lookback_report",
    "escalation_levels",
)
#: The campaign's reports, built by ``report_context`` from the town with its register, tasks
#: and earlier years (``campaign_cases``); the town's annual plan stands for the plans.
CAMPAIGN_REPORTS: Final = (
    "survey_coverage",
    "estate_register",
    "task_status",
    "rectification_plan",
)


def interview(town: Town, case_id: str, on: dt.date) -> Issued:
    """Return the interview notice of an escalated case: the town office summons its party.

    A case the workflow lets the office summon (at town supervision or above) gets the
    notice its ``summon`` queues, with the interview's time, place and officials; any other
    is given one as a host that holds an interview outside the workflow would.
    """
    case = town.cases[case_id]
    engine = town.engines[case.workflow]
    when = max(dt.datetime.combine(on, dt.time(10), TZ), case.updated_at)
    payload = {
        "interview_on": on + dt.timedelta(days=4),
        "interview_time": "9:30",
        "place": f"{case.data.get('community', '')}居民委员会会议室",
        "officials": "王志刚、李明",
    }
    try:
        outcome = engine.fire(case, "summon", TOWN, when, payload=payload)
    except rectify.RectifyError:
        outcome = None
    if outcome is not None:
        (summoned,) = [e for e in outcome.effects if isinstance(e, NoticeDue)]
        return Issued(summoned, outcome.case, town.spec(case), on)
    effect = NoticeDue(
        case.id,
        "interview_notice",
        case.seq,
        case.history[-1].event,
        to=("responsible_party", "community"),
        level=case.escalation,
    )
    return Issued(effect, case, town.spec(case), on)


def case_context(
    name: str,
    *,
    town: Town | None = None,
    case_id: str | None = None,
    sequence: int = 12,
    reader_role: str | None = "community",
) -> dict[str, object]:
    """Return the context of case notice ``name`` as it fell due in the town."""
    town = town or build_town()
    case_id = case_id or CASE_SAMPLES[name]
    issued = (
        interview(town, case_id, dt.date(2024, 7, 12))
        if name == "interview_notice"
        else town.notice(name, case_id)
    )
    return rectify.documents.case_notice_context(
        issued.effect,
        issued.case,
        issued.spec,
        issuer=TOWN_OFFICE,
        sequence=sequence,
        issued_on=issued.on,
        categories=town.categories,
        calendar=town.calendar,
        reader_role=reader_role,
    )


def report_context(name: str, *, town: Town | None = None, sequence: int = 7) -> dict[str, object]:
    """Return the context of report ``name`` for the town on ``AS_OF``."""
    town = town or build_town()
    common = {"issuer": TOWN_OFFICE, "sequence": sequence}
    if name == "monthly_report":
        return rectify.documents.monthly_report_context(
            town.cases.values(),
            town.specs,
            community="金龙社区",
            year=2024,
            month=7,
            as_of=AS_OF,
            issued_on=AS_OF,
            issuer=JINLONG,
            sequence=sequence,
            categories=town.categories,
        )
    # What Ledger.heads_digest() gives for the town's store: the footer 台账校验码.
    heads = digest_heads((c.id, c.seq, c.history[-1].digest) for c in town.cases.values())
    if name == "circular":
        return rectify.documents.circular_context(
            town.cases.values(),
            town.specs,
            year=2024,
            month=7,
            as_of=AS_OF,
            issued_on=CIRCULAR_ON,
            categories=town.categories,
            heads_digest=heads,
            **common,  # type: ignore[arg-type]
        )
    if name == "ledger":
        return rectify.documents.ledger_context(
            town.cases.values(),
            town.specs,
            as_of=AS_OF,
            categories=town.categories,
            heads_digest=heads,
            **common,  # type: ignore[arg-type]
        )
    if name == "ledger_totals":
        early = build_town(dt.date(2024, 4, 5))
        return rectify.documents.ledger_totals_context(
            early.cases.values(),
            early.specs,
            as_of=dt.date(2024, 4, 5),
            due_on=dt.date(2024, 4, 5),
            **common,  # type: ignore[arg-type]
        )
    if name == "lookback_report":
        return rectify.documents.lookback_context(
            town.lookback(),
            as_of=AS_OF,
            categories=town.categories,
            **common,  # type: ignore[arg-type]
        )
    if name == "escalation_levels":
        return rectify.documents.escalation_report_context(
            town.cases.values(),
            town.specs,
            as_of=AS_OF,
            categories=town.categories,
            **common,  # type: ignore[arg-type]
        )
    if name in CAMPAIGN_REPORTS:
        cases, specs = campaign_cases()
        return rectify.documents.report_context(
            name,
            cases,
            specs,
            as_of=AS_OF,
            categories=town.categories,
            campaign=rectify.calendar.load_campaign(WORKFLOWS / "campaign-2024.yaml"),
            **common,  # type: ignore[arg-type]
        )
    raise KeyError(name)


def context_for(name: str, *, town: Town | None = None) -> dict[str, object]:
    """Return the context of any document: a case notice or a report."""
    if name in REPORTS or name in CAMPAIGN_REPORTS:
        return report_context(name, town=town)
    return case_context(name, town=town)


# -- checking HTML ---------------------------------------------------------------------------------

_VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
#: Every element the built-in templates and charts write.
_ELEMENTS: Final = frozenset(
    {
        *("html", "head", "meta", "title", "style", "body", "div", "p", "strong", "span", "br"),
        *("h1", "h2", "hr", "table", "colgroup", "col", "thead", "tbody", "tr", "th", "td"),
        *("figure", "figcaption", "svg", "text", "rect"),
    }
)


class MalformedHTMLError(AssertionError):
    """The HTML's tags do not balance."""


class _Balance(HTMLParser):
    """Checks that every element is closed, in order; collects element names and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, tuple[int, int]]] = []
        self.elements: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.add(tag)
        if tag not in _VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.add(tag)

    def handle_endtag(self, tag: str) -> None:
        line, _column = self.getpos()
        if tag in _VOID:
            raise MalformedHTMLError(f"line {line}: </{tag}> closes a void element")
        if not self.stack:
            raise MalformedHTMLError(f"line {line}: </{tag}> closes nothing")
        opened, (at_line, _col) = self.stack.pop()
        if opened != tag:
            raise MalformedHTMLError(f"line {line}: </{tag}> closes <{opened}> of line {at_line}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(body: str) -> _Balance:
    """Parse ``body``; raise ``MalformedHTMLError`` unless its tags balance."""
    parser = _Balance()
    parser.feed(body)
    parser.close()
    if parser.stack:
        tag, (line, _col) = parser.stack[-1]
        raise MalformedHTMLError(f"<{tag}> of line {line} is never closed")
    if not body.startswith("<!DOCTYPE html>"):
        raise MalformedHTMLError("no <!DOCTYPE html>")
    return parser


@pytest.mark.parametrize(
    "body",
    [
        "<!DOCTYPE html><html><body><div><p>x</div></body></html>",
        "<!DOCTYPE html><html><body><p>x</body></html>",
        "<!DOCTYPE html><html><body><p>x</p></p></body></html>",
        "<!DOCTYPE html><html><body><br></br></body></html>",
        "<!DOCTYPE html><html><body><table><tr><td>x</tr></table></body></html>",
    ],
)
def test_the_html_check_fails_on_unbalanced_tags(body: str) -> None:
    with pytest.raises(MalformedHTMLError):
        check_html(body)


def test_the_html_check_passes_balanced_html() -> None:
    check_html(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><hr><p>x</p>'
        '<svg><rect x="1"/></svg></body></html>'
    )


# -- every template, format and locale -------------------------------------------------------------


def _templates() -> list[tuple[str, str, str]]:
    """Return (notice, format, locale) of every template in ``notices/``."""
    suffixes = {".html.j2": "html", ".txt.j2": "text"}
    out = []
    for path in sorted(NOTICES.rglob("*.j2")):
        if path.name.startswith("_"):
            continue
        folder = path.parent.relative_to(NOTICES).as_posix()
        locale = "zh-CN" if folder == "." else folder
        for suffix, fmt in suffixes.items():
            if path.name.endswith(suffix):
                out.append((path.name.removesuffix(suffix), fmt, locale))
    return out


TEMPLATES: Final = _templates()
RENDERER: Final = NoticeRenderer()


def test_the_templates_are_the_documents_of_the_domain() -> None:
    zh = {(n, f) for n, f, locale in TEMPLATES if locale == "zh-CN"}
    names = {n for n, _ in zh}
    assert names == set(CASE_SAMPLES) | set(REPORTS) | set(CAMPAIGN_REPORTS)
    assert zh == {(n, f) for n in names for f in ("html", "text")}, "each has HTML and text"
    english = {(n, f) for n, f, locale in TEMPLATES if locale == "en"}
    assert english == {
        (n, f)
        for n in ("rectification_slip", "monthly_report", "interview_notice")
        for f in ("html", "text")
    }
    assert RENDERER.available() == names
    assert RENDERER.available("en") == {"rectification_slip", "monthly_report", "interview_notice"}


def test_every_notice_the_workflows_and_campaign_name_has_a_template() -> None:
    named: set[str] = set()
    for path in WORKFLOWS.glob("*.yaml"):
        if path.name in ("categories.yaml", "campaign-2024.yaml"):
            continue
        spec = rectify.load_workflow(path)
        named |= {e.notice for e in spec.events if e.notice}
        named |= {n for s in spec.states for n in s.notices}
        for ladder in spec.escalation.ladders if spec.escalation else ():
            named |= {lv.notice for lv in ladder.levels if lv.notice}
    campaign = rectify.calendar.load_campaign(WORKFLOWS / "campaign-2024.yaml")
    named |= {r.notice for r in campaign.reports if r.notice}
    assert named <= RENDERER.available()


def test_report_variables_are_keyed_by_template_name() -> None:
    assert set(REPORT_VARIABLES) == set(REPORTS) | set(CAMPAIGN_REPORTS)
    assert "escalation_report" in CASE_SAMPLES
    assert "escalation_report" not in REPORT_VARIABLES


@pytest.mark.parametrize(("notice", "fmt", "locale"), TEMPLATES)
def test_every_template_renders_from_real_case_data(notice: str, fmt: str, locale: str) -> None:
    context = context_for(notice)
    document = RENDERER.render(notice, context, fmt=fmt, locale=locale)
    assert document.body.strip()
    assert document.title
    assert document.title != notice
    assert (document.format, document.locale) == (fmt, locale)
    allowed = REPORT_VARIABLES.get(notice, CASE_NOTICE_VARIABLES)
    assert RENDERER.variables(notice, fmt, locale) <= allowed
    if fmt == "html":
        parsed = check_html(document.body)
        assert parsed.elements <= _ELEMENTS
        assert f'<html lang="{locale}">' in document.body
        assert f"<title>{escape(document.title)}</title>" in document.body
    else:
        assert "<" not in document.body
        assert "&lt;" not in document.body
        assert "{{" not in document.body
        assert "{%" not in document.body


def test_every_notice_that_fell_due_in_the_town_renders() -> None:
    town = build_town()
    issued = [*town.issued, *(interview(town, c, AS_OF) for c in ("JL-2024-001", "HF-2024-002"))]
    kinds = {(i.effect.notice, i.effect.event, i.effect.level) for i in issued}
    assert {"fail_verification", "list", "assign", "@escalate"} <= {k[1] for k in kinds}
    for item in issued:
        context = rectify.documents.case_notice_context(
            item.effect,
            item.case,
            item.spec,
            issuer=TOWN_OFFICE,
            sequence=1,
            issued_on=item.on,
            categories=town.categories,
            calendar=town.calendar,
        )
        html = RENDERER.render(item.effect.notice, context)
        check_html(html.body)
        assert item.case.id in html.body
        text = RENDERER.render(item.effect.notice, context, fmt="text")
        assert item.case.id in text.body


def test_a_report_takes_its_title_from_the_context() -> None:
    context = report_context("circular")
    for fmt in ("html", "text"):
        assert RENDERER.render("circular", context, fmt=fmt).title == context["title"]


def test_the_slip_gives_the_rectification_deadline_not_the_planning_one() -> None:
    context = case_context("rectification_slip")
    case, hazard = context["case"], context["hazard"]
    assert isinstance(case, dict)
    assert isinstance(hazard, dict)
    assert hazard["due"] == dt.date(2024, 6, 30) != case["deadline"]
    body = RENDERER.render("rectification_slip", context).body
    assert "2024年6月30日前整改完毕" in body
    assert f"于{rectify.documents.zh_date(case['deadline'])}前制定整改方案" in body
    assert context["recheck_on"] == dt.date(2024, 7, 3)  # three working days after 30 June


def test_a_supervision_order_asks_for_a_written_report_by_a_date() -> None:
    context = case_context("supervision_order")
    assert context["issued_on"] == dt.date(2024, 7, 7)
    assert context["notice"]["reply_by"] == dt.date(2024, 7, 12)  # type: ignore[index]
    body = RENDERER.render("supervision_order", context).body
    for words in ("督办事项", "办理要求", "反馈时限", "请于2024年7月12日前", "已逾期7天"):
        assert words in body


# -- golden files ----------------------------------------------------------------------------------

GOLDEN_DOCUMENTS: Final = [
    ("rectification_slip", "html"),
    ("rectification_slip", "text"),
    ("circular", "html"),
    ("circular", "text"),
    *((name, "text") for name in CAMPAIGN_REPORTS),
]


def golden(name: str, body: str) -> None:
    """Compare ``body`` with ``tests/golden/NAME`` byte for byte (rewrite it on request)."""
    path = GOLDEN / name
    data = body.encode("utf-8")
    if os.environ.get("RECTIFY_REGOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.is_file(), f"no golden file {name}; run with RECTIFY_REGOLDEN=1 to write it"
    assert path.read_bytes() == data, f"{name} changed; if on purpose, RECTIFY_REGOLDEN=1"


@pytest.mark.parametrize(("notice", "fmt"), GOLDEN_DOCUMENTS)
def test_golden_documents(notice: str, fmt: str) -> None:
    document = RENDERER.render(notice, context_for(notice), fmt=fmt)
    golden(f"{notice}.{'html' if fmt == 'html' else 'txt'}", document.body)


# -- escaping any text -----------------------------------------------------------------------------

TEXT_FIELDS: Final = (
    "description",
    "location",
    "community_name",
    "responsible_party",
    "measures",
    "address",
)
INJECTION: Final = "<script>alert(1)</script>"


@given(st.fixed_dictionaries({field: st.text(max_size=40) for field in TEXT_FIELDS}))
@example(dict.fromkeys(TEXT_FIELDS, "") | {"description": "0000000"})  # masked as a phone
def test_any_text_in_a_hazard_renders_and_is_escaped(texts: dict[str, str]) -> None:
    values = {k: f"{v}{INJECTION}{v}" for k, v in texts.items()}
    town = build_town()
    documents: list[tuple[str, Mapping[str, object], bool]] = []
    for name, case_id in CASE_SAMPLES.items():
        item = (
            interview(town, case_id, AS_OF)
            if name == "interview_notice"
            else town.notice(name, case_id)
        )
        case = attrs.evolve(item.case, data={**item.case.data, **values})
        context = rectify.documents.case_notice_context(
            item.effect, case, item.spec, issuer=TOWN_OFFICE, sequence=1, issued_on=item.on
        )
        documents.append((name, context, True))
    cases = dict(town.cases)
    changed = cases["JL-2024-001"]  # overdue and escalated: in every report below
    cases[changed.id] = attrs.evolve(changed, data={**changed.data, **values})
    edited = attrs.evolve(town, cases=cases)
    documents += [(n, report_context(n, town=edited), False) for n in ("monthly_report", "ledger")]
    documents.append(("circular", report_context("circular", town=edited), False))
    for name, document_context, case_notice in documents:
        html = RENDERER.render(name, document_context)
        parsed = check_html(html.body)
        assert parsed.elements <= _ELEMENTS, name
        assert "<script>" not in html.body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.body
        # A run of 7 digits or more reads as a phone number: masked unless the reader may see it.
        reader = document_context["reader"]
        assert isinstance(reader, Mapping)
        written = mask_phone(values["description"], reveal=bool(reader["may_see_phones"]))
        assert written in "".join(parsed.text), name
        text = RENDERER.render(name, document_context, fmt="text").body
        if case_notice:  # message bodies quote the hazard as it was written
            assert written in text, name


# -- undefined variables ---------------------------------------------------------------------------


def _source(template: str) -> list[str]:
    return (NOTICES / template).read_text(encoding="utf-8").splitlines()


def _statement(template: str, line: int) -> str:
    """Return the tag or expression that starts on ``line`` (it may span lines)."""
    lines = _source(template)[line - 1 :]
    end = next((i for i, text in enumerate(lines) if "%}" in text or "}}" in text), 0)
    return "\n".join(lines[: end + 1])


#: How a message says that a variable was needed in a template the rendered one uses.
_USED_AT: Final = re.compile(r" \(used at (\S+):(\d+)\): ")
_REFERENCE_TAG: Final = re.compile(r"\{%-?\s*(?:extends|include|import|from)\b")


@pytest.mark.parametrize(("notice", "fmt", "locale"), TEMPLATES)
def test_a_missing_variable_names_the_template_line_and_variable(
    notice: str, fmt: str, locale: str
) -> None:
    context = context_for(notice)
    name = RENDERER.template_name(notice, fmt, locale)
    used = RENDERER.variables(notice, fmt, locale)
    assert used, notice
    for variable in sorted(used):
        partial = {k: v for k, v in context.items() if k != variable}
        with pytest.raises(NoticeError) as caught:
            RENDERER.render(notice, partial, fmt=fmt, locale=locale)
        err = caught.value
        assert (err.template, err.variable) == (name, variable)
        assert err.line > 0
        assert str(err).startswith(f"{name}:{err.line}: ")
        assert repr(variable) in str(err)
        inner = _USED_AT.search(str(err))
        if inner is None:
            assert variable in _statement(name, err.line), (name, err.line)
        else:  # needed by the layout: the line is the tag of this template that leads there
            assert variable in _statement(inner[1], int(inner[2])), inner.groups()
            assert _REFERENCE_TAG.search(_statement(name, err.line)), (name, err.line)


def test_a_missing_field_of_a_variable_is_named_too() -> None:
    context = case_context("reminder")
    hazard = dict(context["hazard"])  # type: ignore[call-overload]
    del hazard["description"]
    with pytest.raises(NoticeError) as caught:
        RENDERER.render("reminder", {**context, "hazard": hazard}, fmt="text")
    assert (caught.value.template, caught.value.variable) == ("reminder.txt.j2", "description")
    assert "description" in _statement("reminder.txt.j2", caught.value.line)


# -- reproducible documents ------------------------------------------------------------------------


@pytest.mark.parametrize("notice", [*CASE_SAMPLES, *REPORTS, *CAMPAIGN_REPORTS])
def test_rendering_again_gives_the_same_bytes_and_digests(notice: str) -> None:
    context = context_for(notice)
    for fmt in ("html", "text"):
        first = RENDERER.render(notice, context, fmt=fmt)
        again = NoticeRenderer().render(notice, context_for(notice), fmt=fmt)
        assert again.body == first.body
        assert again.template_sha256 == first.template_sha256
        assert again.context_sha256 == first.context_sha256
    other = RENDERER.render(notice, {**context, "number": "虎峰镇消安〔2024〕99号"})
    assert other.context_sha256 != first.context_sha256


# -- host templates --------------------------------------------------------------------------------


def test_a_host_template_overrides_a_builtin_by_name(tmp_path: Path) -> None:
    (tmp_path / "reminder.txt.j2").write_text(
        "{% set title = '到期提醒' %}【{{ issuer.office }}】{{ hazard.community_name }}"
        "{{ hazard.description }}将于{{ case.deadline | zh_date }}到期（{{ number }}）\n",
        encoding="utf-8",
    )
    renderer = NoticeRenderer(tmp_path)
    context = case_context("reminder")
    text = renderer.render("reminder", context, fmt="text")
    assert text.body == (
        "【虎峰镇消防安全委员会办公室】滨河花园室内消火栓无水，供水管网阀门锈死"
        "将于2024年6月30日到期（虎峰镇消安〔2024〕12号）\n"
    )
    assert text.template_sha256 != RENDERER.render("reminder", context, fmt="text").template_sha256
    html = renderer.render("reminder", context)
    assert html.body == RENDERER.render("reminder", context).body
    assert "reminder" in renderer.available()


def test_a_host_template_may_extend_the_builtin_layout(tmp_path: Path) -> None:
    (tmp_path / "notice_of_thanks.html.j2").write_text(
        '{% extends "_layout.html.j2" %}{% set title = "感谢信" %}'
        "{% block content %}<p>{{ hazard.responsible_party }}</p>{% endblock %}",
        encoding="utf-8",
    )
    renderer = NoticeRenderer(tmp_path)
    body = renderer.render("notice_of_thanks", case_context("rectification_slip")).body
    check_html(body)
    assert "感谢信" in body
    assert "重庆滨河物业服务有限公司" in body


def test_a_host_template_that_leaves_the_layout_title_unset_is_named_with_its_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "notice_of_thanks.html.j2").write_text(
        '{#- a thank-you letter -#}\n{% extends "_layout.html.j2" %}\n'
        "{% block content %}<p>{{ hazard.responsible_party }}</p>{% endblock %}\n",
        encoding="utf-8",
    )
    with pytest.raises(NoticeError) as caught:
        NoticeRenderer(tmp_path).render("notice_of_thanks", case_context("rectification_slip"))
    err = caught.value
    assert (err.template, err.line, err.variable) == ("notice_of_thanks.html.j2", 2, "title")
    assert str(err) == (
        "notice_of_thanks.html.j2:2: undefined variable 'title' (used at _layout.html.j2:6): "
        "'title' is undefined"
    )
    assert "title" in _statement("_layout.html.j2", 6)


#: Host folders whose ``start.txt.j2`` reaches ``{{ missing }}`` through another template:
#: the files, the line of ``start.txt.j2`` that leads there, and where it is used.
CHAINS: Final[dict[str, tuple[dict[str, str], int, str]]] = {
    "include": (
        {"start.txt.j2": 'a\n{% include "_part.txt.j2" %}\n', "_part.txt.j2": "b\n{{ missing }}\n"},
        2,
        "_part.txt.j2:2",
    ),
    "extends": (
        {
            "start.txt.j2": '{% extends "_base.txt.j2" %}\n{% block body %}x{% endblock %}\n',
            "_base.txt.j2": "{% block body %}{% endblock %}\n\n{{ missing }}\n",
        },
        1,
        "_base.txt.j2:3",
    ),
    "extends twice": (
        {
            "start.txt.j2": '\n{% extends "_mid.txt.j2" %}\n',
            "_mid.txt.j2": '{% extends "_base.txt.j2" %}\n',
            "_base.txt.j2": "{{ missing }}\n",
        },
        2,
        "_base.txt.j2:1",
    ),
    "block of the child, super() in the parent": (
        {
            "start.txt.j2": '{% extends "_base.txt.j2" %}\n{% block body %}\n{{ super() }}'
            "{% endblock %}\n",
            "_base.txt.j2": "{% block body %}{{ missing }}{% endblock %}\n",
        },
        3,
        "_base.txt.j2:1",
    ),
    "macro imported with context": (
        {
            "start.txt.j2": '{% import "_m.j2" as m with context %}\n\n{{ m.show() }}\n',
            "_m.j2": "{% macro show() %}\n{{ missing }}\n{% endmacro %}\n",
        },
        3,
        "_m.j2:2",
    ),
    "import that runs the template": (
        {"start.txt.j2": '{% import "_m.j2" as m with context %}\n', "_m.j2": "{{ missing }}"},
        1,
        "_m.j2:1",
    ),
}


@pytest.mark.parametrize("chain", list(CHAINS))
def test_an_undefined_variable_through_a_chain_names_the_template_rendered(
    tmp_path: Path, chain: str
) -> None:
    files, line, used_at = CHAINS[chain]
    for name, source in files.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    with pytest.raises(NoticeError) as caught:
        NoticeRenderer(tmp_path).render("start", {}, fmt="text")
    err = caught.value
    assert (err.template, err.line, err.variable) == ("start.txt.j2", line, "missing")
    assert str(err).startswith(f"start.txt.j2:{line}: undefined variable 'missing' (used at ")
    assert f"(used at {used_at})" in str(err)


def test_a_variable_undefined_in_the_template_itself_needs_no_other_place(
    tmp_path: Path,
) -> None:
    (tmp_path / "start.txt.j2").write_text(
        '{% include "_part.txt.j2" %}\n{{ missing }}\n', encoding="utf-8"
    )
    (tmp_path / "_part.txt.j2").write_text("fine\n", encoding="utf-8")
    with pytest.raises(NoticeError) as caught:
        NoticeRenderer(tmp_path).render("start", {}, fmt="text")
    assert (
        str(caught.value) == "start.txt.j2:2: undefined variable 'missing': 'missing' is undefined"
    )


def test_an_error_inside_an_included_template_names_the_template_rendered(
    tmp_path: Path,
) -> None:
    (tmp_path / "reminder.txt.j2").write_text('{% include "_part.txt.j2" %}\n', encoding="utf-8")
    (tmp_path / "_part.txt.j2").write_text("\n{{ ''.__class__ }}\n", encoding="utf-8")
    with pytest.raises(NoticeError) as caught:
        NoticeRenderer(tmp_path).render("reminder", case_context("reminder"), fmt="text")
    assert (caught.value.template, caught.value.line) == ("reminder.txt.j2", 1)
    assert "cannot render (used at _part.txt.j2:2): " in str(caught.value)


#: Host folders with one unusable template each: the files, then the problem that
#: ``variables`` and ``render`` of ``start.txt.j2`` raise and ``problems`` reports.
BROKEN_HOSTS: Final[dict[str, tuple[dict[str, str | bytes], tuple[str, str, int, str]]]] = {
    "syntax error": (
        {"start.txt.j2": "ok\n{{ hazard.description }\n"},
        ("syntax", "start.txt.j2", 2, "syntax error: unexpected '}'"),
    ),
    "syntax error in an include": (
        {"start.txt.j2": '{% include "_part.j2" %}', "_part.j2": "\n\n{% if %}"},
        (
            "syntax",
            "_part.j2",
            3,
            "syntax error: Expected an expression, got 'end of statement block'",
        ),
    ),
    "not UTF-8": (
        {"start.txt.j2": "第一行\n第二行\n".encode("gbk")},
        ("encoding", "start.txt.j2", 1, "not UTF-8 text: invalid start byte at byte 0"),
    ),
    "not UTF-8 on the second line of a parent": (
        {"start.txt.j2": '{% extends "_base.j2" %}', "_base.j2": b"ok\n\xff\n"},
        ("encoding", "_base.j2", 2, "not UTF-8 text: invalid start byte at byte 3"),
    ),
    "extends a template that does not exist": (
        {"start.txt.j2": '\n{% extends "_nosuch.j2" %}'},
        ("missing", "start.txt.j2", 2, "extends '_nosuch.j2', which is not a template"),
    ),
    "includes one of several, none there": (
        {"start.txt.j2": '{% include ["_a.j2", "_b.j2"] %}'},
        ("missing", "start.txt.j2", 1, "includes '_a.j2' or '_b.j2', which is not a template"),
    ),
}


def _host(folder: Path, files: Mapping[str, str | bytes]) -> NoticeRenderer:
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return NoticeRenderer(folder)


@pytest.mark.parametrize("case", list(BROKEN_HOSTS))
def test_an_unusable_host_template_is_a_notice_error_everywhere(tmp_path: Path, case: str) -> None:
    files, (kind, template, line, message) = BROKEN_HOSTS[case]
    renderer = _host(tmp_path, files)
    assert renderer.has("start", "text")
    assert "start" in renderer.available()
    for use in (
        lambda: renderer.variables("start", "text"),
        lambda: renderer.render("start", case_context("reminder"), fmt="text"),
    ):
        with pytest.raises(NoticeError) as caught:
            use()
        assert (caught.value.template, caught.value.line) == (template, line)
        assert str(caught.value).startswith(f"{template}:{line}: {message}")
        assert not isinstance(caught.value, jinja2.TemplateError)
        assert isinstance(caught.value.__cause__, jinja2.TemplateError | UnicodeDecodeError)
    [problem] = renderer.problems()
    assert (problem.kind, problem.template, problem.line, problem.column) == (
        kind,
        template,
        line,
        1,
    )
    assert problem.file == str(tmp_path / template)
    assert problem.message.startswith(message)


def test_template_problems_are_reported_once_each_and_only_for_broken_templates(
    tmp_path: Path,
) -> None:
    renderer = _host(
        tmp_path,
        {
            "a.txt.j2": '{% extends "_base.j2" %}',
            "b.txt.j2": '{% include "_base.j2" %}{% include "_ok.j2" %}',
            "_base.j2": "{% endif %}",
            "_ok.j2": "{{ hazard.description }}",
            "notes.md": "{{ not a template }",
            "reminder.txt.j2": "{% include 'nosuch.j2' ignore missing %}{% include name %}",
        },
    )
    assert [(p.kind, p.template, p.line) for p in renderer.problems()] == [
        ("syntax", "_base.j2", 1)
    ]
    assert NoticeRenderer().problems() == []


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ hazard.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_host_templates_run_sandboxed(tmp_path: Path, source: str) -> None:
    (tmp_path / "reminder.txt.j2").write_text(source, encoding="utf-8")
    with pytest.raises(NoticeError) as caught:
        NoticeRenderer(tmp_path).render("reminder", case_context("reminder"), fmt="text")
    assert not isinstance(caught.value, jinja2.TemplateError)
    assert caught.value.template == "reminder.txt.j2"
    assert isinstance(caught.value.__cause__, jinja2.TemplateError)


# -- phone numbers ---------------------------------------------------------------------------------

HAZARD_ROLES: Final = sorted(
    {r.name for r in rectify.load_workflow(WORKFLOWS / "hazard.yaml").roles} | {"public"}
)


@pytest.mark.parametrize("role", HAZARD_ROLES)
def test_phones_are_masked_unless_the_reader_may_see_them(role: str) -> None:
    body = RENDERER.render(
        "rectification_slip", case_context("rectification_slip", reader_role=role)
    ).body
    if role in PHONE_ROLES:
        assert PHONE in body
        assert MASKED not in body
    else:
        assert MASKED in body
        assert PHONE not in body


def test_a_community_reader_sees_the_phone_and_no_reader_does_not() -> None:
    shown = RENDERER.render("reminder", case_context("reminder", reader_role="community"))
    hidden = RENDERER.render("reminder", case_context("reminder", reader_role=None))
    assert f"王德明 {PHONE}" in shown.body
    assert f"王德明 {MASKED}" in hidden.body
    assert PHONE not in hidden.body


def test_circulars_are_public_and_mask_phones() -> None:
    context = report_context("circular")
    assert context["reader"] == {"role": "public", "may_see_phones": False}
    html = RENDERER.render("circular", context).body
    assert MASKED in html
    assert PHONE not in html
    assert "139****1113" in html  # every building head of an escalated case, masked
    assert PHONE not in RENDERER.render("circular", context, fmt="text").body


def test_the_ledger_shows_phones_to_the_community_only() -> None:
    town = build_town()
    for role, shown in (("community", True), (None, False), ("responsible_party", False)):
        context = rectify.documents.ledger_context(
            town.cases.values(),
            town.specs,
            as_of=AS_OF,
            issuer=TOWN_OFFICE,
            sequence=1,
            reader_role=role,
        )
        for fmt in ("html", "text"):
            body = RENDERER.render("ledger", context, fmt=fmt).body
            assert (PHONE in body) is shown
            assert (MASKED in body) is not shown


# -- document numbers ------------------------------------------------------------------------------


def test_the_number_book_counts_per_code_and_year_and_never_reuses() -> None:
    book = MemoryNumberBook()
    assert [book.next_number("虎峰镇消安", 2024) for _ in range(3)] == [1, 2, 3]
    assert book.next_number("金龙社区", 2024) == 1
    assert book.next_number("虎峰镇消安", 2025) == 1
    assert book.next_number("虎峰镇消安", 2024) == 4
    assert book.next_number("虎峰镇消安", 2025) == 2


def test_the_number_book_is_safe_across_threads() -> None:
    book = MemoryNumberBook()
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda _i: book.next_number("虎峰镇消安", 2024), range(800)))
    assert sorted(numbers) == list(range(1, 801))


def test_documents_are_numbered_in_order_and_a_new_year_starts_at_one() -> None:
    town = build_town()
    notices = Notices(TOWN_OFFICE, categories=town.categories, calendar=town.calendar)
    days = (dt.date(2024, 4, 8), dt.date(2024, 4, 9), dt.date(2024, 12, 31), dt.date(2025, 1, 2))
    taken = [notices.number(f"document-{n}", on) for n, on in enumerate(days)]
    assert [number for number, _ in taken] == [1, 2, 3, 1]
    assert [on for _, on in taken] == list(days)
    assert notices.number("document-0", dt.date(2025, 3, 1)) == (1, days[0])  # kept, not taken


def test_a_notice_rendered_again_keeps_its_number_date_and_bytes() -> None:
    town = build_town()
    notices = Notices(TOWN_OFFICE, categories=town.categories, calendar=town.calendar)
    slip = town.notice("rectification_slip", "HF-2024-002")
    first = notices.render_effect(slip.effect, slip.case, slip.spec, issued_on=dt.date(2024, 4, 8))
    for on in (dt.date(2024, 4, 9), dt.date(2025, 1, 2)):
        again = notices.render_effect(slip.effect, slip.case, slip.spec, issued_on=on)
        assert [d.body for d in again] == [d.body for d in first]
    assert "虎峰镇消安〔2024〕1号" in first[1].body
    assert "2024年4月8日" in first[0].body  # the date under the signature
    assert notices.numbers.next_number(TOWN_OFFICE.code, 2024) == 2  # no number was taken


def test_a_notice_is_built_from_the_case_as_of_its_record() -> None:
    town = build_town()
    notices = Notices(TOWN_OFFICE, categories=town.categories, calendar=town.calendar)
    slip = town.notice("rectification_slip", "HF-2024-002")
    moved = attrs.evolve(slip.case.history[-1], seq=slip.case.seq + 1)
    later = attrs.evolve(slip.case, history=(*slip.case.history, moved))
    with pytest.raises(NoticeError, match=r"queued by its record \d+.*Ledger\.case_at"):
        notices.context(slip.effect, later, slip.spec, issued_on=dt.date(2024, 4, 8))


def test_a_document_that_comes_out_differently_is_refused() -> None:
    town = build_town()
    notices = Notices(TOWN_OFFICE, categories=town.categories, calendar=town.calendar)
    context = report_context("circular", town=town)
    identity = rectify.documents.report_identity("circular", AS_OF, period=(2024, 7))
    first = notices.render("circular", context, identity=identity)
    assert notices.render("circular", context, identity=identity).body == first.body
    changed = {**context, "totals": {**context["totals"], "closed": 99}}  # type: ignore[dict-item]
    with pytest.raises(rectify.exceptions.DocumentChangedError) as caught:
        notices.render("circular", changed, identity=identity)
    assert caught.value.changed == "context"
    assert caught.value.identity == identity
    # The text copy is a rendering of its own: its first hashes are kept the same way.
    notices.render("circular", context, fmt="text", identity=identity)


# -- charts ----------------------------------------------------------------------------------------


def test_chart_labels_get_the_room_they_need() -> None:
    short = str(_charts.count_chart([("其他", 1)], "t"))
    long = str(_charts.count_chart([("应急照明、疏散指示标志缺失或损坏", 3)], "t"))
    width = re.compile(r'<svg[^>]* width="(\d+)"')
    short_width, long_width = (int(width.search(svg).group(1)) for svg in (short, long))  # type: ignore[union-attr]
    assert long_width - short_width >= 16 * 12 - 60
    assert "应急照明、疏散指示标志缺失或损坏" in long
    huge = str(_charts.progress_chart([("很" * 60, 1, 2)], "t"))
    assert "…" in huge
    assert "很" * 60 not in huge


# -- screenshots -----------------------------------------------------------------------------------

SCREENSHOT_STEMS: Final = [
    *CASE_SAMPLES,
    *REPORTS,
    *CAMPAIGN_REPORTS,
    "en-rectification_slip",
    "en-monthly_report",
]
#: The reports printed landscape (their tables are wide).
LANDSCAPE: Final = frozenset({"ledger", "estate_register"})


def test_every_html_document_type_has_a_screenshot_in_the_docs() -> None:
    folder = SCREENSHOTS.parent
    # The console's pages (console-*.png) are tested in tests/test_console.py.
    documents = (p.stem for p in folder.glob("*.png") if not p.stem.startswith("console-"))
    assert sorted(documents) == sorted(SCREENSHOT_STEMS)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.slow
def test_the_screenshot_script_photographs_every_html_document(tmp_path: Path) -> None:
    if not CHROMIUM.is_file() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            f"no Chromium at {CHROMIUM}; to run this test install it with a CJK font: "
            "apt-get install chromium fonts-noto-cjk"
        )
    run = subprocess.run(
        [sys.executable, str(SCREENSHOTS), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    for stem in SCREENSHOT_STEMS:
        size = _png_size(tmp_path / f"{stem}.png")
        assert size == ((1300, 900) if stem in LANDSCAPE else (900, 1300)), stem


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_a_community_committee_as_the_party_is_addressed_once(fmt: str) -> None:
    context = context_for("supervision_order")
    hazard = context["hazard"]
    assert isinstance(hazard, Mapping)
    community = str(hazard["community"])
    committee = f"{community}居民委员会"
    as_party = {**context, "hazard": {**hazard, "responsible_party": committee}}
    body = RENDERER.render("supervision_order", as_party, fmt=fmt).body
    assert f"{community}、{committee}" not in body
    assert committee in body
    other = {**context, "hazard": {**hazard, "responsible_party": "某物业公司"}}
    assert f"{community}、某物业公司" in RENDERER.render("supervision_order", other, fmt=fmt).body
    assert not body.startswith("\n")


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_a_building_known_by_its_floors_alone_prints_them_without_brackets(fmt: str) -> None:
    context = context_for("ledger")
    rows = context["rows"]
    assert isinstance(rows, list)
    first = rows[0]
    only_floors = {**first, "hazard": {**first["hazard"], "height": "", "floors": 6}}
    body = RENDERER.render("ledger", {**context, "rows": [only_floors]}, fmt=fmt).body
    assert "6层" in body
    assert "（6层）" not in body
