"""Inferring a hazard's category from what clerks write, how sure it is, and correcting it.

The corpus ``tests/data/phrasings.yaml`` holds real-world phrasings per category; the floors
below sit just under the figures measured on it (``benchmarks/inference.py`` prints them).
Unsure rows are imported with a warning and marked; a recorded category change (``@category``)
confirms or corrects them, replays and verifies.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import openpyxl
import pytest
import yaml
from click.testing import CliRunner, Result

import rectify
from rectify import Actor, Case, Engine
from rectify.cli import cli
from rectify.definitions import CategoryTable
from rectify.engine import DeadlineSet, change_category, replay, verify_history
from rectify.exceptions import (
    CaseFinalError,
    OutOfOrderError,
    PayloadError,
    WorkflowDefinitionError,
)
from rectify.spreadsheets import SURE_CONFIDENCE, LedgerImport, read_ledger, write_ledger
from rectify.spreadsheets._inference import Immediate, parse_date
from rectify.spreadsheets._lexicon import Lexicon
from rectify.spreadsheets._scoring import score_inference
from rectify.stores import MemoryStore
from rectify.testing import FakeCalendar
from tests.conftest import ROOT, WORKFLOWS

CORPUS = ROOT / "tests" / "data" / "phrasings.yaml"
TZ = ZoneInfo("Asia/Shanghai")
AT = dt.datetime(2024, 4, 1, 9, tzinfo=TZ)
COMMUNITY = Actor("c-1", "community")
TOWN = Actor("t-1", "town_office")
HEADERS = list(rectify.spreadsheets.LEDGER_HEADERS)
TABLE = rectify.load_categories()
LEXICON = Lexicon.of(TABLE)


def guess(text: str) -> tuple[str, bool] | None:
    found = LEXICON.guess(text)
    return None if found is None else (found.code, found.sure)


def row(description: str, due: str = "2024-06-30", address: str = "龙门街12号") -> list[str]:
    return ["虎峰社区", "龙门小区", address, "李华 17012345678", "6层", description, due]


def ledger_of(*rows: list[str]) -> LedgerImport:
    return read_ledger([HEADERS, *rows], town="虎峰镇")


# -- the corpus ------------------------------------------------------------------------------


def corpus(section: str | None = None) -> list[tuple[str, str | None]]:
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    return [
        (text, None if code == "none" else code)
        for name in ([section] if section else list(data))
        for code, texts in data[name].items()
        for text in texts
    ]


def test_the_corpus_has_ten_phrasings_of_every_category_and_some_of_none() -> None:
    counts: dict[str | None, int] = {}
    for _, code in corpus():
        counts[code] = counts.get(code, 0) + 1
    assert set(counts) - {None} == TABLE.codes
    assert min(n for code, n in counts.items() if code is not None) >= 10
    assert counts[None] >= 30


def test_inference_on_the_corpus_keeps_its_precision_and_recall() -> None:
    score = score_inference(corpus(), TABLE)
    # Measured: precision 0.981, recall 0.957, sure precision 0.998 (490 phrasings).
    assert score.precision is not None
    assert score.precision >= 0.97, score.misses
    assert score.recall is not None
    assert score.recall >= 0.95, score.misses
    assert score.sure_precision is not None
    assert score.sure_precision >= 0.99, score.misses


def test_inference_on_phrasings_it_was_not_tuned_to_keeps_a_floor() -> None:
    score = score_inference(corpus("fresh"), TABLE)
    # Measured on the last section written: precision 0.932, recall 0.863; every wrong
    # guess there is unsure, so a clerk is asked to check it.
    assert score.precision is not None
    assert score.precision >= 0.92, score.misses
    assert score.recall is not None
    assert score.recall >= 0.85, score.misses
    assert score.sure_precision == 1.0, score.misses


def test_a_phrasing_of_an_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'XX\.YY'"):
        score_inference([("楼道堆放杂物", "XX.YY")], TABLE)


# -- what the ledger held ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("电动自行车楼道内停放", "EBIKE.PARK"),
        ("消火栓被杂物遮挡", "FAC.HYD.BLOCK"),
        ("楼道里停了好几辆电瓶车", "EBIKE.PARK"),  # word order, a colloquial word
        ("电瓶车停在楼道", "EBIKE.PARK"),
        ("楼道堆放杂物", "PAS.EVAC"),
        ("消防通道被占", "PAS.LANE"),
        ("灭火器过期", "FAC.EXT"),
        ("住户私拉电线", "ELEC.WIRE"),
        ("电瓶车飞线充电", "EBIKE.CHARGE"),
    ],
)
def test_what_clerks_write_is_recognised_and_sure(text: str, code: str) -> None:
    assert guess(text) == (code, True)


def test_the_three_rows_the_import_refused_now_import() -> None:
    result = ledger_of(
        row("电动自行车楼道内停放", due="当日", address="1号"),
        row("消火栓被杂物遮挡", due="即时", address="2号"),
        row("楼道堆放杂物", due="当日", address="3号"),
    )
    assert result.problems == ()
    assert [(r.data["category"], r.workflow, "due" in r.data) for r in result.rows] == [
        ("EBIKE.PARK", "immediate", False),
        ("FAC.HYD.BLOCK", "immediate", False),
        ("PAS.EVAC", "immediate", False),
    ]
    assert result.unsure == ()


@pytest.mark.parametrize(
    "cell",
    ["当日", "即时", "当天", "即刻", "立即处理", "现场整改", "当日整改完毕", "立即整改。", "当场"],
)
def test_deadlines_that_say_at_once_are_understood(cell: str) -> None:
    assert isinstance(parse_date(cell), Immediate)


@pytest.mark.parametrize("cell", ["现场检查", "当月", "明日"])
def test_other_words_are_still_not_deadlines(cell: str) -> None:
    from rectify.spreadsheets._values import CellError  # noqa: PLC0415 - the reader's error

    with pytest.raises(CellError):
        parse_date(cell)


def test_at_once_for_a_hazard_with_a_period_is_still_a_problem() -> None:
    result = ledger_of(row("消火栓箱内水带缺失", due="当日"))
    assert [(p.column, p.code) for p in result.problems] == [("整改时限", "immediate-date")]


# -- confidence ------------------------------------------------------------------------------


def test_an_exact_keyword_is_sure() -> None:
    found = LEXICON.guess("3单元顶楼安全出口锁闭")
    assert found is not None
    assert (found.code, found.words, found.by, found.confidence) == (
        "PAS.EVAC",
        "安全出口锁闭",
        "keyword",
        1.0,
    )
    assert found.sure


def test_a_term_set_in_any_order_with_words_between_is_sure() -> None:
    found = LEXICON.guess("楼道里停了好几辆电瓶车")
    assert found is not None
    assert (found.code, found.by, found.words, found.confidence) == (
        "EBIKE.PARK",
        "terms",
        "楼道+停了+电瓶车",
        0.9,  # three parts: 电动车 + 楼道 + 停放
    )


def test_a_single_word_is_unsure() -> None:
    found = LEXICON.guess("窗户外加装铁笼子")
    assert found is not None
    assert (found.code, found.confidence, found.sure) == ("STR.NET", 0.6, False)
    assert found.confidence < SURE_CONFIDENCE


def test_two_hazards_in_one_cell_are_unsure_and_name_each_other() -> None:
    found = LEXICON.guess("3单元楼道私拉乱接电线，电动车充电")
    assert found is not None
    assert (found.code, found.rival, found.also, found.sure) == (
        "EBIKE.CHARGE",
        "ELEC.WIRE",
        ("ELEC.WIRE",),
        False,
    )


def test_the_more_specific_reading_wins() -> None:
    # 消火栓箱 (the hose box) lies inside 消火栓箱 + 堆放 (a blocked hydrant box).
    assert guess("消火栓箱内堆放清洁工具") == ("FAC.HYD.BLOCK", True)
    assert guess("消火栓箱内水带缺失") == ("FAC.HOSE", True)
    # 疏散通道 (a blocked exit) lies inside 电动车 + 停在 + 疏散通道 (parking).
    assert guess("电动车停在疏散通道上") == ("EBIKE.PARK", True)


def test_words_are_cut_to_cover_the_most_text() -> None:
    # Not 东 + 门市 (a shop) + 政 + 消火栓: 东门 + 市政消火栓, an outdoor hydrant.
    assert guess("东门市政消火栓损坏漏水") == ("FAC.HYD.OUT", True)


def test_terms_hold_within_a_clause() -> None:
    # 电动车 and 楼道 are in different clauses: no parking set matches across them.
    assert guess("楼道灯不亮，电动车被盗") is None


def test_text_with_no_known_hazard_infers_nothing() -> None:
    for text in ("配电房门锁损坏", "下水道堵塞", "未发现隐患"):
        assert guess(text) is None


def test_unsure_rows_are_imported_marked_and_counted() -> None:
    result = ledger_of(row("楼道堆放杂物", address="1号"), row("窗户外加装铁笼子", address="2号"))
    assert result.problems == ()
    sure, unsure = result.rows
    assert "category_inferred" not in sure.data
    assert (unsure.data["category"], unsure.data["category_inferred"]) == ("STR.NET", "铁笼子")
    assert unsure.data["category_confidence"] == 0.6
    assert [(i.row, i.category, i.sure) for i in result.unsure] == [(3, "STR.NET", False)]
    summary = result.summary()
    assert "按隐患内容推断类别2行（其中把握不足、已导入待核实1行）" in summary
    assert "  第3行 → STR.NET 突出外墙防护网（词语「铁笼子」）；把握 0.60，待核实" in summary
    inferred = result.unsure[0]
    assert inferred.reason(result.title("STR.NET")) == (
        "推断为「突出外墙防护网」（把握 0.60），请核实：依据词语「铁笼子」"
    )


# -- the category table ----------------------------------------------------------------------

TABLE_TEXT = """\
severities:
  general: {title: 一般隐患, period: {calendar_days: 30}, workflow: hazard}
categories:
  ELEC.WIRE:
    title: 违章私拉乱接电线
    severity: general
    terms: [私拉 + 电线, "+ 电线", "私拉 | + 电线", "电线 + !"]
synonyms:
  电线: [线路, 插排]
  私拉: [乱拉, "私接|乱接"]
"""


def test_bad_terms_and_synonyms_are_reported_with_their_place() -> None:
    with pytest.raises(WorkflowDefinitionError) as info:
        rectify.load_categories(TABLE_TEXT)
    found = [(d.code, d.location.line, d.location.column) for d in info.value.diagnostics]
    assert found == [
        ("bad-value", 7, 22),
        ("bad-value", 7, 30),
        ("bad-value", 7, 43),
        ("bad-value", 10, 12),
    ]
    messages = [d.message for d in info.value.diagnostics]
    assert "empty part or word" in messages[0]
    assert "'+', '|' or '!'" in messages[3]


def test_terms_and_synonyms_are_read() -> None:
    text = TABLE_TEXT.replace(', "+ 电线", "私拉 | + 电线", "电线 + !"', ', "插排 + !充电"')
    table = rectify.load_categories(text.replace('"私接|乱接"', "私接"))
    (category,) = table.categories
    assert category.terms == ("私拉 + 电线", "插排 + !充电")
    assert table.synonyms == (("电线", "线路", "插排"), ("私拉", "乱拉", "私接"))
    lexicon = Lexicon.of(table)
    found = lexicon.guess("住户乱拉线路")
    assert found is not None
    assert (found.code, found.words, found.sure) == ("ELEC.WIRE", "乱拉+线路", True)
    assert lexicon.guess("插排给电瓶充电") is None  # the ! word


def test_a_table_without_terms_or_synonyms_still_infers_from_keywords_and_titles() -> None:
    bare = attrs.evolve(
        TABLE,
        synonyms=(),
        categories=tuple(attrs.evolve(c, terms=()) for c in TABLE.categories),
    )
    lexicon = Lexicon.of(bare)
    assert lexicon.guess("楼道堆放杂物") is not None
    found = lexicon.guess("电动车楼道堆放杂物")
    assert found is not None
    assert found.code == "PAS.EVAC"
    # No vocabulary: a title's words are the runs between its joining characters.
    titled = lexicon.guess("可燃的雨棚")
    assert titled is None or titled.code == "STR.CANOPY"


def test_the_shipped_table_has_terms_and_synonyms() -> None:
    assert all(c.terms for c in TABLE.categories)
    assert len(TABLE.synonyms) > 20
    assert "违规停放" not in TABLE.category("EBIKE.PARK").keywords  # cars park badly too


# -- changing the category -------------------------------------------------------------------

GRADED = """\
workflow: graded
version: 1
title: 分级整改
roles: {community: 社区, town_office: 镇消安办}
initial: intake
states:
  intake: {title: 待受理, deadline: {working_days: 2}}
  working: {title: 整改中, deadline: {from_severity: true}}
  closed: {title: 已销号, final: true, outcome: rectified}
events:
  accept: {title: 受理, from: intake, to: working, roles: [community]}
  close: {title: 销号, from: working, to: closed, roles: [community]}
"""


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=TZ)


@pytest.fixture(scope="module")
def graded_table() -> CategoryTable:
    """The shipped table with the hazard workflow's severities on the graded workflow."""
    return attrs.evolve(
        TABLE,
        severities=tuple(
            attrs.evolve(s, workflow="graded") if s.workflow == "hazard" else s
            for s in TABLE.severities
        ),
    )


@pytest.fixture(scope="module")
def engine(graded_table: CategoryTable) -> Engine:
    campaign = rectify.calendar.load_campaign(WORKFLOWS / "campaign-2024.yaml")
    return Engine(
        rectify.load_workflow(GRADED),
        calendar=FakeCalendar(),
        phases=campaign.phase_ends,
        severities={s.name: s.period for s in graded_table.severities},
    )


def working(engine: Engine, **data: object) -> Case:
    """Return an unsure FAC.HOSE case opened on 6 May and accepted on the 8th."""
    values = {
        "category": "FAC.HOSE",
        "severity": "general_short",
        "category_inferred": "消火栓箱",
        "category_confidence": 0.6,
        **data,
    }
    case = engine.open("G-1", values, COMMUNITY, at(5, 6)).case
    return engine.fire(case, "accept", COMMUNITY, at(5, 8)).case


def test_a_change_is_recorded_clears_the_marks_and_the_severity_follows(
    engine: Engine, graded_table: CategoryTable
) -> None:
    case = working(engine)
    assert case.deadline == dt.date(2024, 5, 15)  # 8 May + 7 days (general_short)
    outcome = change_category(
        engine, case, "FAC.LIGHT", TOWN, at(5, 10), reason="现场核实为应急灯损坏",
        categories=graded_table,
    )  # fmt: skip
    changed = outcome.case
    category, severity = changed.history[-2:]
    assert (category.event, dict(category.payload), category.reason) == (
        "@category",
        {"from": "FAC.HOSE", "to": "FAC.LIGHT"},
        "现场核实为应急灯损坏",
    )
    assert (category.source, category.target, category.actor) == ("working", "working", "t-1")
    assert (severity.event, dict(severity.payload)) == (
        "@severity",
        {"from": "general_short", "to": "general"},
    )
    assert outcome.record == severity
    assert dict(changed.data) == {"category": "FAC.LIGHT", "severity": "general"}
    assert changed.deadline == dt.date(2024, 6, 7)  # 8 May + 30 days (general)
    assert outcome.effects == (DeadlineSet("G-1", "working", dt.date(2024, 6, 7)),)
    verify_history(changed)
    assert replay(engine, changed.history) == changed


def test_confirming_the_same_category_only_clears_the_marks(
    engine: Engine, graded_table: CategoryTable
) -> None:
    case = working(engine)
    outcome = change_category(
        engine, case, "FAC.HOSE", TOWN, at(5, 10), reason="核实无误", categories=graded_table
    )
    assert [r.event for r in outcome.case.history[case.seq + 1 :]] == ["@category"]
    assert dict(outcome.case.data) == {"category": "FAC.HOSE", "severity": "general_short"}
    assert outcome.effects == ()
    assert replay(engine, outcome.case.history) == outcome.case


def test_a_severity_someone_chose_is_kept(engine: Engine, graded_table: CategoryTable) -> None:
    case = working(engine, severity="engineering")  # not FAC.HOSE's default
    outcome = change_category(
        engine, case, "FAC.LIGHT", TOWN, at(5, 10), reason="类别有误", categories=graded_table
    )
    assert outcome.case.data["severity"] == "engineering"
    assert outcome.record.event == "@category"
    assert outcome.case.deadline == case.deadline


def test_a_category_of_another_workflow_is_refused(
    engine: Engine, graded_table: CategoryTable
) -> None:
    with pytest.raises(PayloadError) as info:
        change_category(
            engine, working(engine), "PAS.EVAC", TOWN, at(5, 10), reason="x",
            categories=graded_table,
        )  # fmt: skip
    assert (info.value.event, info.value.field) == ("@category", "category")
    assert "workflow 'immediate'" in info.value.problem
    assert "this case follows 'graded'" in info.value.problem


@pytest.mark.parametrize(
    ("category", "reason", "field"),
    [("XX.YY", "x", "category"), ("FAC.LIGHT", "  ", "reason")],
)
def test_an_unknown_category_or_no_reason_is_refused(
    engine: Engine, graded_table: CategoryTable, category: str, reason: str, field: str
) -> None:
    with pytest.raises(PayloadError) as info:
        change_category(
            engine, working(engine), category, TOWN, at(5, 10), reason=reason,
            categories=graded_table,
        )  # fmt: skip
    assert info.value.field == field


def test_a_closed_case_or_an_earlier_time_is_refused(
    engine: Engine, graded_table: CategoryTable
) -> None:
    case = working(engine)
    closed = engine.fire(case, "close", COMMUNITY, at(5, 9)).case
    with pytest.raises(CaseFinalError):
        change_category(
            engine, closed, "FAC.LIGHT", TOWN, at(5, 10), reason="x", categories=graded_table
        )
    with pytest.raises(OutOfOrderError):
        change_category(
            engine, case, "FAC.LIGHT", TOWN, at(5, 7), reason="x", categories=graded_table
        )


def test_the_ledger_stores_the_change_and_verifies_it() -> None:
    ledger = rectify.Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    imported = ledger_of(row("窗户外加装铁笼子"))
    ledger.import_cases(imported.cases(), COMMUNITY, at=AT)
    (case_id,) = (r.case_id for r in imported.rows)
    outcome = ledger.change_category(
        case_id, "ELEC.WIRE", TOWN, reason="实为电线缠绕", at=AT + dt.timedelta(hours=1)
    )
    stored = ledger.get(case_id)
    assert stored == outcome.case
    assert [r.event for r in stored.history] == ["@open", "@category", "@severity"]
    assert (stored.data["category"], stored.data["severity"]) == ("ELEC.WIRE", "general_short")
    assert "category_inferred" not in stored.data
    assert ledger.verify().ok
    assert ledger.case_at(case_id, 1).data["category"] == "ELEC.WIRE"
    assert ledger.case_at(case_id, 0).data["category"] == "STR.NET"


def test_the_export_shows_which_categories_still_need_checking(tmp_path: Path) -> None:
    ledger = rectify.Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    imported = ledger_of(row("楼道堆放杂物", address="1号"), row("窗户外加装铁笼子", address="2号"))
    ledger.import_cases(imported.cases(), COMMUNITY, at=AT)
    specs = [e.spec for e in ledger.engines]

    def checks() -> dict[str, str]:
        path = tmp_path / "ledger.csv"
        write_ledger(ledger.cases(), path, specs=specs, reader_role="community")
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        return {r["隐患内容"]: r.get("类别核实", "（无此列）") for r in rows}

    assert checks() == {"楼道堆放杂物": "", "窗户外加装铁笼子": "待核实（把握 0.60）"}
    workbook = tmp_path / "ledger.xlsx"
    write_ledger(ledger.cases(), workbook, specs=specs, reader_role="community")
    cells = [c for r in openpyxl.load_workbook(workbook).worksheets[0].values for c in r]
    assert "类别核实" in cells
    assert "待核实（把握 0.60）" in cells
    unsure = imported.rows[1].case_id
    ledger.change_category(unsure, "STR.NET", TOWN, reason="核实无误", at=AT)
    assert checks() == {"楼道堆放杂物": "（无此列）", "窗户外加装铁笼子": "（无此列）"}
    back = read_ledger(tmp_path / "ledger.csv")
    assert back.problems == ()


# -- the command line ------------------------------------------------------------------------


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def write_csv(path: Path, *rows: list[str]) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([HEADERS, *rows])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_import_warns_of_unsure_rows_and_exits_0(tmp_path: Path) -> None:
    ledger = write_csv(
        tmp_path / "ledger.csv",
        row("电动自行车楼道内停放", due="当日", address="1号"),
        row("窗户外加装铁笼子", address="2号"),
        row("3单元楼道私拉乱接电线，电动车充电", due="即时", address="3号"),
    )
    result = invoke("import", ledger, "--db", tmp_path / "town.db", "--at", "2024-04-01T09:00")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "隐患类别" in line]
    assert warnings == [
        f"{ledger}:3: 隐患类别: 推断为「突出外墙防护网」（把握 0.60），请核实：依据词语「铁笼子」",
        f"{ledger}:4: 隐患类别: 推断为「电动自行车飞线充电或入户充电」（把握 0.60），请核实："
        "依据关键词「电动车充电」；也可能是「违章私拉乱接电线」",
    ]
    assert result.stdout.splitlines()[-1] == "新增 3 件，已存在 0 件，有问题 0 行"


def test_import_exits_1_after_importing_the_good_rows_when_rows_were_rejected(
    tmp_path: Path,
) -> None:
    db = tmp_path / "town.db"
    ledger = write_csv(
        tmp_path / "ledger.csv",
        row("楼道堆放杂物", address="1号"),
        row("配电房门锁损坏", address="2号"),
        row("灭火器过期", due="明年", address="3号"),
    )
    result = invoke("import", ledger, "--db", db, "--at", "2024-04-01T09:00")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "新增 1 件，已存在 0 件，有问题 2 行"
    assert result.stderr.splitlines()[-1] == (
        "rectify: 错误：有 2 行有问题，未导入（见上方各行）：改正后重新导入即可，已导入的行不会重复"
    )
    assert f"{ledger}:3: 隐患类别: 为空，且隐患内容中没有可识别的关键词" in result.stderr
    cases = invoke("cases", "--db", db, "--all")
    assert cases.stdout.splitlines()[-1] == "共 1 件"


def test_import_exits_1_when_the_header_stops_it(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("镇街/社区,小区名称\n虎峰社区,龙门小区\n", encoding="utf-8")
    result = invoke("import", ledger, "--db", tmp_path / "town.db")
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[-1]
        == "rectify: 错误：表头有问题，没有导入任何行：改正表头后重新导入"
    )


def test_the_category_command_corrects_and_refuses(tmp_path: Path) -> None:
    db = tmp_path / "town.db"
    ledger = write_csv(
        tmp_path / "ledger.csv",
        row("窗户外加装铁笼子", address="2号"),
        row("3单元楼道私拉乱接电线，电动车充电", due="即时", address="3号"),
    )
    invoke("import", ledger, "--db", db, "--at", "2024-04-01T09:00")
    net, charge = (r.case_id for r in ledger_of(*read_rows(ledger)).rows)
    done = invoke(
        "category", net, "违章私拉乱接电线", "--db", db, "--actor", "镇消安办-周",
        "--role", "town_office", "--reason", "实为电线缠绕", "--at", "2024-04-02T09:00",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.stdout == (
        f"{net}：调整隐患类别 突出外墙防护网 → 违章私拉乱接电线（记录 #2），"
        "严重程度 分阶段整治 → 一般隐患（短期），期限 2024-04-07\n"
    )
    refused = invoke(
        "category", charge, "ELEC.WIRE", "--db", db, "--actor", "镇消安办-周",
        "--role", "town_office", "--reason", "拆分", "--at", "2024-04-02T09:00",
    )  # fmt: skip
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"rectify: 错误：案件 {charge!r} 不能调整隐患类别："
        "「违章私拉乱接电线」按「一般隐患（短期）」"
        "整改，走「隐患整改」流程，本案件走「当场整改」流程，类别只能在同一流程内调整；"
        "请按本流程办结此案后另行登记\n"
    )
    assert invoke("verify", "--db", db).exit_code == 0


def read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))[1:]
