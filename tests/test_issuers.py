"""Issuers, number series, people and readable case numbers, from the campaign file.

A document's header and signature come from one office; each kind of document is numbered in
its own series, gap-free, once per document; reminders are not numbered; a community's report
goes out under its residents' committee and its own series; slips name the two inspectors and
the witness the assignment recorded; ``rectify validate`` finds a notice whose events do not
take the people it names; each case gets a readable number (正街-2024-013) when it is opened.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result

import rectify
from rectify import Actor, Evidence, Ledger
from rectify.calendar import load_campaign
from rectify.definitions import Catalog, validate_paths
from rectify.documents import Issuer, MemoryNumberBook, Notices
from rectify.documents._contexts import issuer_for
from rectify.engine import NoticeDue
from rectify.exceptions import NoticeError, WorkflowDefinitionError
from rectify.spreadsheets import read_ledger, write_ledger
from rectify.stores import MemoryStore, SQLStore
from tests.conftest import WORKFLOWS, demo_copy

TZ = ZoneInfo("Asia/Shanghai")
CAMPAIGN = load_campaign()
GRID = Actor("网格员", "grid_worker")
COMMUNITY = Actor("社区干部", "community")
TOWN = Actor("镇消安办", "town_office")
HEADER = re.compile(r'<p class="organ flush">([^<]*)</p>')
NUMBER = re.compile(r'<p class="docno flush">([^<]*)</p>')


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=TZ)


def hazard(community: str = "正街社区", **extra: object) -> dict[str, object]:
    return {
        "community": community,
        "community_name": "盐市口小区",
        "building": "2栋",
        "category": "FAC.EXT",
        "severity": "general_short",
        "description": "1单元灭火器过期",
        **extra,
    }


# -- the campaign file -------------------------------------------------------------------------


def test_the_shipped_campaign_declares_offices_series_and_documents() -> None:
    office = CAMPAIGN.office_named("town_office")
    assert (office.name, office.contact, office.phone) == (
        "虎峰镇消防安全委员会办公室",
        "周铀",  # the seed's contact for reports
        "15223133801",
    )
    assert CAMPAIGN.office_named("community").per_community
    assert {s.key: s.code for s in CAMPAIGN.series} == {
        "formal": "虎峰镇消安",
        "enforcement": "虎峰镇消整",
        "community": "{community_short}居",
    }
    reminder, slip = CAMPAIGN.rule("reminder"), CAMPAIGN.rule("rectification_slip")
    assert reminder is not None
    assert reminder.series is None
    assert slip is not None
    assert slip.people == ("inspectors", "witness")
    assert CAMPAIGN.rule("a_host_notice") == CAMPAIGN.rule("default")
    assert CAMPAIGN.case_numbers is not None


@pytest.mark.parametrize(
    ("kind", "community", "name", "number"),
    [
        ("rectification_slip", "", "虎峰镇消防安全委员会办公室", "虎峰镇消整〔2024〕第3号"),
        ("circular", "", "虎峰镇消防安全委员会办公室", "虎峰镇消安〔2024〕3号"),
        ("monthly_report", "正街社区", "正街社区居民委员会", "正街居〔2024〕3号"),
        ("reminder", "", "虎峰镇消防安全委员会办公室", ""),
    ],
)
def test_each_kind_has_its_issuer_and_series(
    kind: str, community: str, name: str, number: str
) -> None:
    issuer = issuer_for(CAMPAIGN, kind, community)
    assert issuer is not None
    assert issuer.name == name
    assert issuer.view()["header"] == name  # header = signature: one office
    assert issuer.number(2024, 3) == number


def test_a_communitys_document_needs_its_community() -> None:
    with pytest.raises(NoticeError, match="community"):
        Notices(campaign=CAMPAIGN).issuer_for("monthly_report")


def test_an_issuer_is_built_by_keyword_so_old_positional_calls_fail_loudly() -> None:
    with pytest.raises(TypeError):
        Issuer("虎峰镇人民政府", "虎峰镇消防安全委员会办公室", "虎峰镇消安")  # type: ignore[call-arg]


BROKEN = """\
campaign: broken
title: 整治
organ: 某镇人民政府
office: 镇消安办
starts: 2024-03-01
ends: 2024-12-25
phases:
  survey: {title: 摸排, starts: 2024-03-01, ends: 2024-04-10}
offices:
  town_office: {name: "{town}消安办"}
  community: {name: "{community}居民委员会", phone: 15223133801}
series:
  formal: {code: 某镇消安, format: "{code}〔{year}〕"}
  odd: {code: "{year}号"}
documents:
  circular: {issuer: town_office, series: formal}
  reminder: {issuer: nobody}
  slip: {issuer: town_office, series: missing}
case_numbers: "{community_short}-{year}"
"""


def test_a_broken_campaign_names_each_problem_at_its_line() -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        load_campaign(BROKEN)
    found = {(d.code, d.location.line) for d in caught.value.diagnostics if d.location}
    assert ("bad-value", 10) in found  # {town} is not a placeholder of an office's name
    assert ("wrong-type", 11) in found  # a phone written as a number loses its leading 0
    assert ("bad-value", 13) in found  # a number format without {number}
    assert ("bad-value", 14) in found  # a series code may not hold {year}
    assert ("unknown-office", 17) in found
    assert ("unknown-series", 18) in found
    assert ("bad-value", 19) in found  # case numbers without {seq}
    messages = "\n".join(d.message for d in caught.value.diagnostics)
    assert "{number}" in messages
    assert "{seq}" in messages
    assert "nobody" in messages


# -- people: what rectify validate checks --------------------------------------------------------


def test_validate_finds_a_slip_whose_assignment_does_not_take_its_people(tmp_path: Path) -> None:
    shutil.copy(WORKFLOWS / "campaign-2024.yaml", tmp_path)
    shutil.copy(WORKFLOWS / "categories.yaml", tmp_path)
    text = (WORKFLOWS / "hazard.yaml").read_text(encoding="utf-8")
    assert "optional: {inspectors: str, witness: str}" in text
    (tmp_path / "hazard.yaml").write_text(
        text.replace("optional: {inspectors: str, witness: str}", "optional: {inspectors: str}"),
        encoding="utf-8",
    )
    report = validate_paths([tmp_path])
    problems = [d for d in report.diagnostics if d.code == "notice-people"]
    assert len(problems) == 1
    assert "witness" in problems[0].message
    assert "assign" in problems[0].message
    assert problems[0].location is not None
    assert problems[0].location.file.endswith("hazard.yaml")
    assert problems[0].location.path == "events.assign.notice"


def test_validate_finds_people_a_ladder_level_cannot_give() -> None:
    catalog = Catalog(people={"supervision_order": ("officials",)})
    diagnostics = rectify.validate_workflow(WORKFLOWS / "hazard.yaml", catalog=catalog)
    assert any(d.code == "notice-people" and "escalation level" in d.message for d in diagnostics)


def test_the_shipped_definitions_provide_every_notices_people() -> None:
    report = validate_paths([WORKFLOWS])
    assert not [d for d in report.diagnostics if d.code == "notice-people"]


# -- numbering ---------------------------------------------------------------------------------


def _ledger(store: MemoryStore | SQLStore | None = None) -> Ledger:
    return Ledger.with_workflows(store or MemoryStore(), campaign=CAMPAIGN)


def _assign(ledger: Ledger, case_id: str, day: int, **extra: object) -> None:
    ledger.fire(
        case_id,
        "assign",
        COMMUNITY,
        at=at(3, day, 10),
        payload={
            "responsible_party": "重庆盐市口物业服务有限公司",
            "measures": "更换灭火器",
            "due": dt.date(2024, 4, 30),
            **extra,
        },
    )


def test_each_series_counts_from_one_without_gaps_and_reminders_take_no_number() -> None:
    ledger = _ledger()
    book = MemoryNumberBook()
    notices = Notices(campaign=CAMPAIGN, numbers=book)
    for n, community in enumerate(("正街社区", "正街社区", "新桥社区")):
        ledger.open(f"HZ-{n}", "hazard", hazard(community), GRID, at=at(3, 4))
        _assign(ledger, f"HZ-{n}", 5 + n)
        ledger.fire(
            f"HZ-{n}",
            "plan",
            Actor("物业", "property"),
            at=at(3, 10 + n),
            payload={"measures": "更换灭火器", "due": dt.date(2024, 4, 30)},
            evidence=[Evidence.of("plan_document", "plan.pdf", b"plan")],
        )
    ledger.sweep(at(4, 27))  # three days before the deadline: a reminder for each
    numbers = []
    for delivery in ledger.pending():
        effect = delivery.effect
        if not isinstance(effect, NoticeDue):
            continue
        case = ledger.case_at(effect.case_id, effect.seq)
        spec = ledger.engine(case.workflow).spec
        context = notices.context(effect, case, spec, issued_on=dt.date(2024, 4, 27))
        again = notices.context(effect, case, spec, issued_on=dt.date(2024, 4, 28))
        assert again["number"] == context["number"]  # rendered again: no number taken
        numbers.append((effect.notice, context["number"]))
    slips = [n for kind, n in numbers if kind == "rectification_slip"]
    assert slips == [f"虎峰镇消整〔2024〕第{i}号" for i in (1, 2, 3)]
    reminders = [n for kind, n in numbers if kind == "reminder"]
    assert reminders == ["", "", ""]
    report = Notices(campaign=CAMPAIGN, numbers=book)
    issuer = report.issuer_for("circular")
    assert report.number("circular/2024-03/2024-03-22", dt.date(2024, 3, 22), issuer)[0] == 1


def test_a_slip_names_the_inspectors_the_witness_and_the_addressee() -> None:
    ledger = _ledger()
    ledger.open("HZ-1", "hazard", hazard(), GRID, at=at(3, 4))
    _assign(ledger, "HZ-1", 5, inspectors="王芳、李强", witness="周梅")
    (effect,) = [d.effect for d in ledger.pending() if isinstance(d.effect, NoticeDue)]
    case = ledger.case_at(effect.case_id, effect.seq)
    notices = Notices(campaign=CAMPAIGN)
    context = notices.context(
        effect, case, ledger.engine("hazard").spec, issued_on=dt.date(2024, 3, 5)
    )
    html = notices.render("rectification_slip", context).body
    assert "检查人员：王芳、李强　　见证人：周梅" in html
    assert "<strong>重庆盐市口物业服务有限公司</strong>：" in html
    assert HEADER.findall(html) == ["虎峰镇消防安全委员会办公室"]
    assert "<p>虎峰镇消防安全委员会办公室</p>" in html  # the signature is the header's office
    assert "联系人：周铀 15223133801" in html  # a person, not an office
    assert "正街-2024-001" in html
    assert "HZ-1" not in html
    text = notices.render("rectification_slip", context, fmt="text").body
    assert text.startswith("【整改通知】编号正街-2024-001，整改期限2024年4月30日前")


# -- readable case numbers --------------------------------------------------------------------


def test_cases_are_numbered_by_community_and_year_when_opened() -> None:
    ledger = _ledger()
    ledger.open("A", "hazard", hazard("正街社区"), GRID, at=at(3, 4))
    ledger.open("B", "hazard", hazard("新桥社区"), GRID, at=at(3, 4))
    ledger.open("C", "hazard", hazard("正街社区"), GRID, at=at(3, 5))
    numbers = {c: ledger.get(c).data["case_number"] for c in "ABC"}
    assert numbers == {"A": "正街-2024-001", "B": "新桥-2024-001", "C": "正街-2024-002"}


def test_a_case_the_engine_refuses_takes_no_number() -> None:
    ledger = _ledger()
    with pytest.raises(rectify.RectifyError):
        ledger.open("X", "hazard", hazard(photo=object()), GRID, at=at(3, 4))
    ledger.open("A", "hazard", hazard(), GRID, at=at(3, 4))
    assert ledger.get("A").data["case_number"] == "正街-2024-001"


def test_an_import_numbers_each_case_once(tmp_path: Path) -> None:
    store = SQLStore.open(tmp_path / "numbers.db")
    try:
        ledger = _ledger(store)
        rows = [(f"HZ-{n}", "hazard", hazard()) for n in range(3)]
        assert ledger.import_cases(rows, GRID, at=at(3, 1)) == 3
        assert ledger.import_cases(rows, GRID, at=at(3, 2)) == 0  # again: nothing new
        ledger.open("HZ-9", "hazard", hazard(), GRID, at=at(3, 3))
        numbers = sorted(str(c.data["case_number"]) for c in ledger.cases())
        assert numbers == [f"正街-2024-00{i}" for i in (1, 2, 3, 4)]
    finally:
        store.close()


def test_a_relapse_gets_a_new_number_and_names_the_old_one() -> None:
    ledger = _ledger()
    ledger.open("OLD", "immediate", hazard(category="PAS.LANE"), GRID, at=at(3, 4))
    photos = [Evidence.of(k, f"{k}.jpg", k.encode()) for k in ("photo_before", "photo_after")]
    ledger.fire("OLD", "correct_on_spot", GRID, at=at(3, 4, 10), evidence=photos)
    old = ledger.get("OLD")
    if not old.final:
        ledger.fire("OLD", "close", COMMUNITY, at=at(3, 5))
    ledger.open(
        "NEW", "immediate", dict(ledger.get("OLD").data), GRID, at=at(4, 1), recurrence_of="OLD"
    )
    new = ledger.get("NEW")
    assert new.data["case_number"] == "正街-2024-002"
    assert new.data["recurrence_of_number"] == "正街-2024-001"


def test_a_ledger_without_a_campaign_leaves_cases_unnumbered() -> None:
    ledger = Ledger.with_workflows(MemoryStore())
    ledger.open("A", "hazard", hazard(), GRID, at=at(3, 4))
    assert "case_number" not in ledger.get("A").data


# -- the demo: what a town office files ------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Result, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's demo folder (``tests/conftest.py``)."""
    return demo_copy(demo_run, tmp_path_factory)


def test_every_demo_document_has_its_own_offices_header_and_signature(demo: Path) -> None:
    pages = sorted(demo.glob("*/*/*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        if page.stem in ("ledger", "ledger-totals", "estate-register"):  # table forms: 填报单位
            assert not HEADER.findall(html)
            continue
        (header,) = HEADER.findall(html)
        assert f"<p>{header}" in html or f"<p>{header}（盖章）" in html, page.name
        if page.stem.startswith(("monthly-", "plan-")):  # a community's own report or plan
            community = page.stem.split("-", 1)[1]
            assert header == f"{community}居民委员会"
        else:
            assert header == "虎峰镇消防安全委员会办公室", page.name


def test_each_series_of_the_demo_is_gap_free_and_reminders_are_unnumbered(demo: Path) -> None:
    series: dict[str, list[int]] = {}
    for page in sorted(demo.glob("*/*/*.html")):
        html = page.read_text(encoding="utf-8")
        numbers = NUMBER.findall(html) or re.findall(r"编号：([^<]*号)</span>", html)
        if "-reminder-" in page.name:
            assert numbers == []
            continue
        (number,) = numbers
        found = re.fullmatch(r"(.+)〔2024〕第?(\d+)号", number)
        assert found, number
        series.setdefault(found[1], []).append(int(found[2]))
    assert {"虎峰镇消整", "虎峰镇消安", "正街居", "新桥居"} <= set(series)
    for code, numbers in series.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), code


def test_every_demo_document_shows_readable_case_numbers_only(demo: Path) -> None:
    for page in sorted(demo.glob("*/*/*.html")):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"\b(?:MJ-)?HZ-[0-9a-f]{10}", html), page.name


def test_demo_documents_say_what_the_office_means(demo: Path) -> None:
    """A listing says 重大火灾隐患; a community's own committee is helped, not prosecuted."""
    listings = 0
    for page in sorted(demo.glob("notices/*/*supervision_order*.html")):
        html = page.read_text(encoding="utf-8")
        if "重大火灾隐患挂牌督办单" in html:
            listings += 1
            assert "<th>隐患等级</th><td>重大火灾隐患</td>" in html, page.name
    assert listings >= 1
    own = 0
    for page in sorted(demo.glob("notices/*/*escalation_report*.html")):
        html = page.read_text(encoding="utf-8")
        party = re.search(r"<th>整改责任单位（人）</th><td>([^<]*)</td>", html)
        community = re.search(r"督促(\w+社区)", html)
        assert party
        assert community
        assert f"督促{community[1]}和{community[1]}" not in html, page.name
        if party[1].startswith(community[1]):
            own += 1
            assert "第六十条" not in html, page.name
            assert f"支持{party[1]}" in html, page.name
    assert own >= 1  # the demo has one: a community's own e-bike shed


def test_the_ledger_export_shows_the_case_number_and_an_import_leaves_it_alone(
    tmp_path: Path,
) -> None:
    ledger = _ledger()
    ledger.open("HZ-1", "hazard", {**hazard(), "address": "正街1号"}, GRID, at=at(3, 4))
    path = tmp_path / "ledger.csv"
    specs = [e.spec for e in ledger.engines]
    write_ledger(list(ledger.cases()), path, specs=specs, fmt="csv", reader_role="community")
    header, row = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    cells = dict(zip(header, row, strict=True))
    assert (cells["案件编号"], cells["隐患编号"]) == ("HZ-1", "正街-2024-001")
    again = read_ledger(path)
    assert again.problems == ()
    (read,) = again.rows
    assert read.case_id == "HZ-1"
    assert "case_number" not in read.data  # a new ledger gives its own numbers


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("case_numbers", '"{community_short}-{seq:>999999999}"'),
        ("case_numbers", '"{seq:0999999999d}"'),
        ("series", '{formal: {code: 某镇消安, format: "{number:,>888888888}"}}'),
    ],
)
def test_a_pattern_that_would_pad_without_bound_is_refused_at_load(key: str, pattern: str) -> None:
    head = BROKEN.split("offices:", maxsplit=1)[0]
    text = f"{head}{key}: {pattern}\n"
    with pytest.raises(WorkflowDefinitionError, match="pads to"):
        load_campaign(text)  # refused before a number is ever written out
