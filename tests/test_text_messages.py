"""Text versions are plain text for messages (SMS, WeChat): no Markdown, and short notices.

Every ``.txt.j2`` template, Chinese and English, renders without markup: no ``**bold**``,
no ``|`` tables or ``| --- |`` rules, no ``#`` headings, no ``__``, no ``- `` bullets.
The case notices sent to a party as messages (the rectification slip, the reminder and the
overdue warning) put the case number and the deadline on their first line and stay under
500 characters with long, realistic hazard texts. The town is the one of
``tests/test_notices.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Final

import attrs
import pytest

import rectify
from rectify.documents import en_date, zh_date
from tests.test_notices import (
    RENDERER,
    TEMPLATES,
    TOWN_OFFICE,
    Issued,
    build_town,
    case_context,
    context_for,
    report_context,
)

#: Every text template: (notice, locale).
TEXT_TEMPLATES: Final = [(n, locale) for n, fmt, locale in TEMPLATES if fmt == "text"]

#: What Markdown (or another markup) would leave in a message.
MARKUP: Final = {
    "bold": re.compile(r"\*\*"),
    "underscores": re.compile(r"__"),
    "table row": re.compile(r"^\s*\|", re.MULTILINE),
    "table rule": re.compile(r"\|\s*:?-{3}"),
    "heading": re.compile(r"^#+ ", re.MULTILINE),
    "bullet": re.compile(r"^\s*[-*+] ", re.MULTILINE),
    "code": re.compile(r"`"),
}
#: A masked phone or ID-card number (152****3801, *****19): data, not markup.
MASKED_NUMBER: Final = re.compile(r"\d*\*{2,}\d+")

#: The case notices sent to a party as messages, and their limit in characters.
MESSAGES: Final = ("rectification_slip", "reminder", "overdue_warning")
MESSAGE_LIMIT: Final = 500

#: Hazard texts as long as a grid worker writes them: 60 characters each.
LONG_TEXTS: Final = {
    "description": "3栋1至3单元一至七层楼梯间消火栓箱内水带、水枪缺失，箱门锈蚀无法开启，"
    "应急照明灯损坏，疏散指示标志缺失，楼道堆放杂物。",
    "measures": "补齐各层消火栓箱内水带、水枪并更换锈蚀箱门，修复应急照明灯，补设疏散指示标志，"
    "清理楼道杂物，整改期间每层增配2具灭火器。",
    "responsible_party": "重庆滨河物业服务有限公司及滨河花园小区业主委员会"
    "（由物业项目经理负责3栋、5栋公共区域消防设施日常巡查、维护和保养工作）",
    "address": "重庆市铜梁区虎峰镇滨河路88号滨河花园小区3栋"
    "（东临滨河路，西靠虎峰镇中心小学，北侧为小区北门消防车通道入口及门卫岗亭）",
    "location": "3栋1单元至3单元一层至七层楼梯间、地下一层消防水泵房及配电间、"
    "小区北门消防车通道入口处东侧室外地上式消火栓及水泵接合器",
}


def markup_in(body: str) -> list[str]:
    """Return the kinds of markup found in ``body`` (masked numbers are not markup)."""
    plain = MASKED_NUMBER.sub("", body)
    return [kind for kind, pattern in MARKUP.items() if pattern.search(plain)]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("**整改通知单**（虎峰镇消安〔2024〕12号）\n", "bold"),
        ("| 序号 | 社区 |\n|---|---|\n| 1 | 正街社区 |\n", "table row"),
        ("序号 | 社区\n--- | ---\n1 | 正街社区 | --- |\n", "table rule"),
        ("## 各社区排名\n", "heading"),
        ("定于____月____日约谈\n", "underscores"),
        ("各社区排名：\n- 正街社区 80.0%\n", "bullet"),
    ],
)
def test_the_markup_check_finds_markdown(body: str, kind: str) -> None:
    assert kind in markup_in(body)


def test_a_masked_phone_is_not_markup() -> None:
    assert markup_in("楼栋长：王德明 152****3801；*****19；500101********123X\n") == []


@pytest.mark.parametrize(("notice", "locale"), TEXT_TEMPLATES)
def test_every_text_version_is_plain_text(notice: str, locale: str) -> None:
    contexts = [context_for(notice)]
    if notice in MESSAGES or notice == "ledger":  # a reader who sees phones masked, too
        contexts.append(
            case_context(notice, reader_role=None)
            if notice in MESSAGES
            else _public_ledger_context()
        )
    for context in contexts:
        body = RENDERER.render(notice, context, fmt="text", locale=locale).body
        assert markup_in(body) == [], (notice, locale, body)
        assert body.endswith("\n")
        assert not body.startswith("\n")
        assert "\n\n\n" not in body, "at most one blank line between parts"
        assert all(line == line.rstrip() for line in body.splitlines()), "no trailing spaces"


def _public_ledger_context() -> dict[str, object]:
    town = build_town()
    return rectify.documents.ledger_context(
        town.cases.values(), town.specs, as_of=dt.date(2024, 7, 20), issuer=TOWN_OFFICE,
        sequence=7, reader_role=None,
    )  # fmt: skip


# -- messages to a party ---------------------------------------------------------------------------


def _messages() -> list[Issued]:
    """Return every slip, reminder and overdue warning that fell due in the town."""
    return [i for i in build_town().issued if i.effect.notice in MESSAGES]


def _context(item: Issued, data: Mapping[str, object]) -> dict[str, object]:
    town = build_town()
    case = attrs.evolve(item.case, data={**item.case.data, **data})
    return rectify.documents.case_notice_context(
        item.effect,
        case,
        item.spec,
        issuer=TOWN_OFFICE,
        sequence=123,
        issued_on=item.on,
        categories=town.categories,
        calendar=town.calendar,
        reader_role="community",
    )


def _deadline(notice: str, context: Mapping[str, object]) -> dt.date | None:
    """Return the deadline a message gives: the slip's rectification date, else the case's."""
    case, hazard = context["case"], context["hazard"]
    assert isinstance(case, Mapping)
    assert isinstance(hazard, Mapping)
    if notice == "rectification_slip":
        return hazard["due"] or case["deadline"]  # type: ignore[no-any-return]
    return case["deadline"]  # type: ignore[no-any-return]


def _locales(notice: str) -> list[str]:
    return ["zh-CN", "en"] if RENDERER.has(notice, "text", "en") else ["zh-CN"]


def test_long_texts_are_sixty_characters_each() -> None:
    assert {len(text) for text in LONG_TEXTS.values()} == {60}


def test_every_message_that_fell_due_leads_with_the_case_and_the_deadline_and_is_short() -> None:
    items = _messages()
    assert {i.effect.notice for i in items} == set(MESSAGES)
    assert "fail_verification" in {i.effect.event for i in items}
    longest = 0
    for item in items:
        context = _context(item, LONG_TEXTS)
        deadline = _deadline(item.effect.notice, context)
        assert deadline is not None
        for locale in _locales(item.effect.notice):
            body = RENDERER.render(item.effect.notice, context, fmt="text", locale=locale).body
            first, *rest = body.splitlines()
            when = zh_date(deadline) if locale == "zh-CN" else en_date(deadline)
            assert item.case.id in first, (item.effect.notice, first)
            assert when in first, (item.effect.notice, first)
            assert len(body) < MESSAGE_LIMIT, (item.effect.notice, locale, len(body), body)
            longest = max(longest, len(body))
            text = "\n".join(rest)
            for field in ("description", "measures", "responsible_party"):
                assert LONG_TEXTS[field] in text, (item.effect.notice, field)
            assert str(context["number"]) in text
            assert TOWN_OFFICE.contact in text
            assert TOWN_OFFICE.phone in text
            hazard = context["hazard"]
            assert isinstance(hazard, Mapping)
            assert str(hazard["community"]) in text, "who to report to"
    assert longest > 300  # the long texts are in


def test_the_slip_gives_its_place_and_the_rectification_deadline_not_the_planning_one() -> None:
    item = build_town().notice("rectification_slip", "HF-2024-002")
    context = _context(item, LONG_TEXTS)
    for locale, show in (("zh-CN", zh_date), ("en", en_date)):
        body = RENDERER.render("rectification_slip", context, fmt="text", locale=locale).body
        first = body.splitlines()[0]
        assert show(dt.date(2024, 6, 30)) in first  # the due date the party was given
        assert show(item.case.deadline) not in body  # not the plan's deadline of 'assigned'
        assert LONG_TEXTS["location"] in body


@pytest.mark.parametrize("notice", MESSAGES)
def test_a_message_without_a_date_says_to_correct_it_immediately(notice: str) -> None:
    context = case_context(notice)
    case, hazard = context["case"], context["hazard"]
    assert isinstance(case, Mapping)
    assert isinstance(hazard, Mapping)
    undated = {
        **context,
        "case": {**case, "deadline": None, "overdue_days": 0},
        "hazard": {**hazard, "due": ""},
    }
    for locale in _locales(notice):
        body = RENDERER.render(notice, undated, fmt="text", locale=locale).body
        first = body.splitlines()[0]
        assert str(case["id"]) in first
        assert ("立即改正" if locale == "zh-CN" else "correct immediately") in first, first


def test_the_overdue_warning_after_a_failed_reinspection_says_both() -> None:
    item = build_town().notice("overdue_warning", "JL-2024-002")
    body = RENDERER.render("overdue_warning", _context(item, {}), fmt="text").body
    first = body.splitlines()[0]
    assert first == "【逾期警示】编号JL-2024-002，整改期限2024年4月19日，已逾期3天"
    assert "经2024年4月22日复查不合格（三层、五层仍为过期灭火器），且已逾期3天" in body


def test_reports_keep_one_plain_line_a_row() -> None:
    ledger = RENDERER.render("ledger", report_context("ledger"), fmt="text").body
    rows = [line for line in ledger.splitlines() if re.match(r"\d+\. ", line)]
    assert len(rows) == 18
    assert rows[10] == (
        "11. 虎峰镇虎峰社区 滨河花园（虎峰镇滨河路88号 5栋）；楼栋长：王德明 15200003801；"
        "建筑高度：21米（7层）；隐患：室内消火栓无水，供水管网阀门锈死；"
        "整改时限：2024年6月30日；状态：整改中；督办等级：镇级督办"
    )
    totals = RENDERER.render("ledger_totals", report_context("ledger_totals"), fmt="text").body
    assert totals.splitlines()[-1] == (
        "合计：小区5个，楼栋8栋，排查9处，不计入整改率2处，已销号1处，未完成6处，"
        "其中逾期0处，整改率14.3%"
    )
