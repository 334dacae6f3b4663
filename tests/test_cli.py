"""The command line: a day's work on a SQLite store, reports, verify, validate, diagram, demo.

Every command runs in-process with click's ``CliRunner``; error paths run through
``rectify.cli.main``, which turns errors into one line and an exit code, and one test runs
``python -m rectify`` in a real process. Events and sweeps are dated (``--at``, ``--now``), so
the cases do not depend on the wall clock; only notices and reports are issued today.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rectify.cli import cli, main
from rectify.cli._wording import Names
from rectify.definitions._load import load_categories, load_workflow, workflow_files
from tests.conftest import EXAMPLES, ROOT, WORKFLOWS
from tests.test_notices import check_html

LEDGER = EXAMPLES / "data" / "ledger-2024.csv"
DOCS = ROOT / "docs" / "cli.md"
SURVEYED_AT = "2024-03-18T09:00"
#: Case ids are stable hashes of the ledger rows: a hazard and an on-the-spot case.
HAZARD = "HZ-0455b4c3b6"  # 虎峰社区, 3栋 3单元, extinguishers out of date (FAC.EXT)
ON_THE_SPOT = "HZ-028f943af7"  # 新桥社区, flying-wire e-bike charging (EBIKE.CHARGE)

BROKEN = """\
workflow: broken
version: 1
title: 坏流程
roles: [community]
initial: start
states:
  start: {title: 开始, deadline: {working_days: 2}}
  done: {title: 完成, final: true}
events:
  finish: {from: start, to: nowhere, roles: [community]}
"""


# -- helpers ------------------------------------------------------------------------------


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """Run the command line in-process; unexpected exceptions propagate to the test."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def run(*args: str | Path) -> str:
    """Run a command that must succeed and return its standard output."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def run_main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run ``rectify.cli.main`` as the console script does: exit code, stdout, stderr."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    out, err = capsys.readouterr()
    assert isinstance(code, int)
    return code, out, err


def copy_store(db: Path, folder: Path) -> Path:
    """Copy a closed SQLite store into ``folder`` so a test can change it on its own."""
    assert not db.with_name(f"{db.name}-wal").exists(), "closing the store checkpoints it"
    copy = folder / db.name
    shutil.copyfile(db, copy)
    return copy


def assign_and_plan(db: Path, plan_file: Path) -> None:
    """Assign the hazard as the community, then plan it as the property company."""
    run(
        "fire", HAZARD, "assign", "--db", db, "--actor", "社区-李", "--role", "community",
        "--set", "responsible_party=某物业", "--set", "measures=更换过期灭火器",
        "--set", "due=2024-06-30", "--at", "2024-03-19T10:00",
    )  # fmt: skip
    plan_file.write_bytes(b"%PDF-1.4 plan")
    run(
        "fire", HAZARD, "plan", "--db", db, "--actor", "物业-张", "--role", "property",
        "--set", "measures=采购并更换灭火器", "--set", "due=2024-06-30",
        "--evidence", f"plan_document={plan_file}", "--at", "2024-03-20T10:00",
    )  # fmt: skip


def table_rows(stdout: str) -> list[list[str]]:
    """Return the rows of a ``cases`` table (no header, no count line), split on spaces.

    The readable case number (隐患编号, the second column) is left out: see ``case_numbers``.
    """
    lines = stdout.splitlines()
    assert lines[0].split() == [
        "案件编号",
        "隐患编号",
        "流程",
        "状态",
        "社区",
        "隐患类别",
        "期限",
        "督办",
    ]
    return [[cells[0], *cells[2:]] for cells in (line.split() for line in lines[1:-1])]


def case_numbers(stdout: str) -> dict[str, str]:
    """Return the readable case number of each case id a ``cases`` table lists."""
    return {cells[0]: cells[1] for cells in (line.split() for line in stdout.splitlines()[1:-1])}


#: English words the daily commands used to print; none may be left in their output.
ENGLISH = re.compile(
    r"\b(?:cases?|state|deadline|level|effects?|queued|written|checked|broken|new|stored|"
    r"rows|overdue|importing|by|record|looked|escalated|error|no)\b"
)


def assert_chinese(text: str) -> None:
    """Assert that every line of ``text`` speaks Chinese (codes and ids may stay as they are)."""
    for line in text.splitlines():
        assert re.search(r"[\u4e00-\u9fff]", line), line
        assert not ENGLISH.search(line), line


def numbers(db: Path) -> list[tuple[str, int, int]]:
    """Return the store's document number book: each series' code, year and last number."""
    connection = sqlite3.connect(db)
    with connection:
        rows = connection.execute("SELECT code, year, last FROM rectify_numbers ORDER BY code")
        found = [(str(code), int(year), int(last)) for code, year, last in rows]
    connection.close()
    return found


def doc_section(command: str) -> str:
    """Return the section of docs/cli.md on ``rectify COMMAND``, up to the next heading."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n### rectify {command}\n")
    ends = [i for i in (text.find("\n## ", start + 1), text.find("\n### ", start + 1)) if i > 0]
    return text[start : min(ends, default=len(text))]


@pytest.fixture(scope="module")
def surveyed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a store with the sample ledger imported on the survey day (do not change it)."""
    db = tmp_path_factory.mktemp("surveyed") / "rectify.db"
    run("init", "--db", db)
    run("import", LEDGER, "--db", db, "--at", SURVEYED_AT)
    return db


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory, surveyed: Path) -> Path:
    """Return the surveyed store with the hazard assigned, planned and swept on Aug 1."""
    folder = tmp_path_factory.mktemp("worked")
    db = copy_store(surveyed, folder)
    assign_and_plan(db, folder / "整改方案.pdf")
    run("sweep", "--db", db, "--now", "2024-08-01T18:00")
    return db


@pytest.fixture
def db(surveyed: Path, tmp_path: Path) -> Path:
    """Return this test's own copy of the surveyed store."""
    return copy_store(surveyed, tmp_path)


# -- init and import ----------------------------------------------------------------------


def test_init_creates_an_empty_store_and_says_where(tmp_path: Path) -> None:
    db = tmp_path / "town" / "rectify.db"
    assert run("init", "--db", db) == f"store ready at {db}: 0 cases, 6 workflows\n"
    assert db.is_file()


def test_import_counts_new_cases_and_importing_again_adds_none(tmp_path: Path) -> None:
    db = tmp_path / "rectify.db"
    run("init", "--db", db)
    first = invoke("import", LEDGER, "--db", db, "--at", SURVEYED_AT)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == "新增 100 件，已存在 0 件，有问题 0 行"
    assert "按流程：hazard 70行，immediate 30行。" in first.stdout
    assert "导入中" in first.stderr  # the progress bar goes to stderr
    again = run("import", LEDGER, "--db", db, "--at", SURVEYED_AT)
    assert again.splitlines()[-1] == "新增 0 件，已存在 100 件，有问题 0 行"
    assert run("init", "--db", db) == f"store ready at {db}: 100 cases, 6 workflows\n"


# -- cases and show -----------------------------------------------------------------------


def test_cases_lists_the_open_cases_as_a_table_of_titles(db: Path) -> None:
    out = run("cases", "--db", db)
    rows = table_rows(out)
    assert out.splitlines()[-1] == "共 100 件"
    assert len(rows) == 100
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    hazard = next(r for r in rows if r[0] == HAZARD)
    assert hazard[:6] == [
        HAZARD, "隐患整改", "已发现", "虎峰社区", "灭火器缺失、过期或损坏", "2024-03-21",
    ]  # fmt: skip
    numbers = case_numbers(out)  # given on import: per community and year, from 001
    assert len(set(numbers.values())) == 100
    assert re.fullmatch(r"虎峰-2024-\d{3}", numbers[HAZARD])
    assert sum(n.startswith("虎峰-2024-") for n in numbers.values()) == 20
    assert "虎峰-2024-001" in numbers.values()


def test_cases_filters_by_community_state_and_overdue_date(db: Path) -> None:
    in_hufeng = table_rows(run("cases", "--db", db, "--community", "虎峰社区"))
    assert len(in_hufeng) == 20
    assert {r[3] for r in in_hufeng} == {"虎峰社区"}
    found = table_rows(run("cases", "--db", db, "--state", "found"))
    assert {(r[1], r[2]) for r in found} == {("当场整改", "现场发现")}
    assert len(found) == 30
    # On-the-spot cases are due the day they are found; triage has three working days.
    next_day = table_rows(run("cases", "--db", db, "--overdue", "2024-03-19"))
    assert sorted(r[0] for r in next_day) == sorted(r[0] for r in found)
    assert {r[-1] for r in next_day} == {"逾期"}
    assert run("cases", "--db", db, "--overdue", "2024-03-18").splitlines()[-1] == "共 0 件"


def test_cases_shows_closed_cases_only_with_all(db: Path) -> None:
    grid = ("--db", db, "--actor", "新桥社区网格员", "--role", "grid_worker")
    photos = (  # any file serves as a photo
        "--evidence", f"photo_before={WORKFLOWS / 'immediate.yaml'}",
        "--evidence", f"photo_after={WORKFLOWS / 'hazard.yaml'}",
    )  # fmt: skip
    run("fire", ON_THE_SPOT, "correct_on_spot", *grid, *photos, "--at", "2024-03-18T10:00")
    run("fire", ON_THE_SPOT, "close", *grid, "--at", "2024-03-19T09:00")
    assert run("cases", "--db", db).splitlines()[-1] == "共 99 件"
    every = table_rows(run("cases", "--db", db, "--all"))
    assert len(every) == 100
    assert next(r for r in every if r[0] == ON_THE_SPOT)[2] == "已销号"


def test_cases_reads_the_store_from_rectify_db(db: Path) -> None:
    result = invoke("cases", "--community", "正街社区", env={"RECTIFY_DB": str(db)})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "共 29 件"


@pytest.mark.parametrize(
    ("option", "title", "code"),
    [
        ("--state", "已发现", "discovered"),
        ("--category", "可燃雨棚", "STR.CANOPY"),
        ("--workflow", "当场整改", "immediate"),
    ],
)
def test_cases_takes_a_title_wherever_it_takes_a_code(
    db: Path, option: str, title: str, code: str
) -> None:
    by_title = run("cases", "--db", db, option, title)
    assert by_title == run("cases", "--db", db, option, code)
    assert table_rows(by_title)


def test_cases_finds_the_planned_hazard_by_its_state_title(worked: Path) -> None:
    rows = table_rows(run("cases", "--db", worked, "--state", "整改中"))
    assert [r[:3] for r in rows] == [[HAZARD, "隐患整改", "整改中"]]


def test_a_state_title_names_that_state_in_every_workflow_or_in_the_one_given() -> None:
    specs = [load_workflow(f) for f in workflow_files(WORKFLOWS)]
    names = Names(specs, load_categories())
    assert names.states_of("待复查") == [
        ("hazard", "fixed"), ("immediate", "complied"), ("major", "rectified"),
    ]  # fmt: skip
    assert names.states_of("待复查", "major") == [("major", "rectified")]
    assert names.states_of("planned") == [("hazard", "planned")]


@pytest.mark.parametrize(
    ("option", "typed", "message"),
    [
        (
            "--community",
            "正街",
            "未知社区 '正街'；已知社区：正街社区、巴岳社区、新桥社区、虎峰社区",
        ),
        ("--state", "整改", "未知状态 '整改'；已知状态：整改中（planned）、"),
        ("--state", "plan", "未知状态 'plan'；已知状态：整改中（planned）、"),
        ("--category", "可燃", "未知隐患类别 '可燃'；已知隐患类别：可燃雨棚（STR.CANOPY）、"),
        (
            "--category",
            "水带",
            "未知隐患类别 '水带'；已知隐患类别：消火栓箱内水带、水枪缺失（FAC.HOSE）、",
        ),
        ("--workflow", "隐患", "未知流程 '隐患'；已知流程：隐患整改（hazard）、"),
    ],
)
def test_an_unknown_name_is_a_usage_error_listing_the_known_ones_closest_first(
    db: Path, capsys: pytest.CaptureFixture[str], option: str, typed: str, message: str
) -> None:
    code, out, err = run_main(capsys, "cases", "--db", db, option, typed)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith(f"Error: {message}")


def test_an_unknown_category_lists_every_known_one(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _code, _out, err = run_main(capsys, "cases", "--db", db, "--category", "雨棚")
    listed = err.splitlines()[-1].split("：", 1)[1].split("、")
    table = load_categories()
    assert len(listed) >= len(table.codes)  # titles may hold 、 themselves
    for category in table.categories:
        assert f"{category.title}（{category.code}）" in err


def test_cases_says_how_many_there_are_in_all_when_the_listing_is_cut(db: Path) -> None:
    cut = run("cases", "--db", db, "--limit", "3")
    assert len(table_rows(cut)) == 3
    assert cut.splitlines()[-1] == "共 100 件，显示前 3 件"
    assert run("cases", "--db", db, "--limit", "100").splitlines()[-1] == "共 100 件"
    none = run("cases", "--db", db, "--limit", "0")
    assert (table_rows(none), none.splitlines()[-1]) == ([], "共 100 件，显示前 0 件")


def test_cases_reads_page_by_page_without_losing_or_repeating_a_case(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run("cases", "--db", db, "--state", "已销号", "--all")
    everything = run("cases", "--db", db, "--all", "--limit", "1000")
    monkeypatch.setattr("rectify.cli._cases._PAGE", 7)
    assert run("cases", "--db", db, "--state", "已销号", "--all") == whole
    assert run("cases", "--db", db, "--all", "--limit", "1000") == everything
    paged = run("cases", "--db", db, "--all", "--limit", "30")
    assert table_rows(paged) == table_rows(everything)[:30]
    assert paged.splitlines()[-1] == "共 100 件，显示前 30 件"


@pytest.mark.parametrize("limit", ["-1", "1000001"])
def test_cases_refuses_a_negative_or_absurd_limit(
    db: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    code, out, err = run_main(capsys, "cases", "--db", db, "--limit", limit)
    assert (code, out) == (2, "")
    assert "Invalid value for '--limit'" in err


def test_show_prints_the_data_and_every_history_record_with_titles(worked: Path) -> None:
    lines = run("show", HAZARD, "--db", worked).splitlines()
    assert lines[0] == (
        f"{HAZARD}  隐患整改 v1  状态：整改中  期限：2024-06-30  督办级别：3（报区级）"
    )
    assert "  社区：虎峰社区" in lines
    assert "  隐患类别：灭火器缺失、过期或损坏（FAC.EXT）" in lines
    assert "  整改责任人：某物业" in lines  # the assign payload is merged into the data
    history = [line for line in lines if line.startswith("  #")]
    assert history[0].startswith("  #0 2024-03-18 09:00 登记 →已发现 摸排组（社区）")
    assert history[1] == (
        "  #1 2024-03-19 10:00 交办（assign） 已发现→已交办 社区-李（社区） "
        "responsible_party=某物业，measures=更换过期灭火器，due=2024-06-30"
    )
    assert history[2].startswith(
        "  #2 2024-03-20 10:00 制定整改方案（plan） 已交办→整改中 物业-张（物业服务企业）"
    )
    assert [h.split()[3:5] for h in history[3:]] == [["升级督办", "整改中→整改中"]] * (
        len(history) - 3
    )


# -- fire ---------------------------------------------------------------------------------


def test_fire_assign_and_plan_move_the_case_and_queue_effects(db: Path, tmp_path: Path) -> None:
    community = ("--actor", "社区-李", "--role", "community")
    assigned = run(
        "fire", HAZARD, "assign", "--db", db, *community, "--set", "responsible_party=某物业",
        "--set", "measures=更换过期灭火器", "--set", "due=2024-06-30", "--at", "2024-03-19T10:00",
    )  # fmt: skip
    # The party has five working days to submit a plan; the notice and the deadline are queued.
    assert assigned == (
        f"{HAZARD}：交办（assign） → 已交办（记录 #1），期限 2024-03-26；"
        "待处理 2 项（rectify notices 发出）\n"
    )
    plan = tmp_path / "整改方案.pdf"
    plan.write_bytes(b"%PDF-1.4 plan")
    planned = run(
        "fire", HAZARD, "plan", "--db", db, "--actor", "物业-张", "--role", "property",
        "--set", "measures=采购并更换灭火器", "--set", "due=2024-06-30",
        "--evidence", f"plan_document={plan}", "--at", "2024-03-20T10:00", "--expect-seq", "1",
    )  # fmt: skip
    assert planned.startswith(
        f"{HAZARD}：制定整改方案（plan） → 整改中（记录 #2），期限 2024-06-30；"
    )


def test_a_refused_event_is_one_chinese_error_line_naming_the_roles_that_may(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(
        capsys, "fire", HAZARD, "assign", "--db", db, "--actor", "网格员-王",
        "--role", "grid_worker", "--set", "responsible_party=某物业", "--set", "measures=x",
        "--set", "due=2024-06-30", "--at", "2024-03-19T10:00",
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert err == (
        f"rectify: 错误：案件 '{HAZARD}' 处于「已发现」，不能执行「交办（assign）」："
        "角色「网格员（grid_worker）」无权执行；可执行的角色：社区（community）、镇消安办（town_office）\n"
    )
    assert "状态：已发现" in run("show", HAZARD, "--db", db)  # nothing was written


def test_a_stale_expect_seq_is_a_concurrency_error_and_exit_1(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assign_and_plan(db, tmp_path / "plan.pdf")  # the case is now at record 2
    photo = tmp_path / "after.jpg"
    photo.write_bytes(b"jpeg")
    code, out, err = run_main(
        capsys, "fire", HAZARD, "report_fixed", "--db", db, "--actor", "物业-张",
        "--role", "property", "--set", "summary=已更换", "--evidence", f"photo_after={photo}",
        "--at", "2024-05-02T10:00", "--expect-seq", "1",
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert err == (
        f"rectify: 错误：案件 '{HAZARD}' 读取时在第 1 条记录，现在已到第 2 条；"
        "请重新查看（rectify show）后再试\n"
    )
    assert "状态：整改中" in run("show", HAZARD, "--db", db)


# -- sweep and notices --------------------------------------------------------------------


def test_sweep_records_the_escalations_due(db: Path, tmp_path: Path) -> None:
    assign_and_plan(db, tmp_path / "plan.pdf")
    out = run("sweep", "--db", db, "--now", "2024-08-01T18:00")
    # The planned hazard is a month past its due date; the 30 on-the-spot cases are overdue.
    # Only those 31 of the 100 open cases are due, and only they are read.
    assert re.fullmatch(r"查看到期案件 31 件，升级 31 件，待处理 \d+ 项\n", out)
    assert run("sweep", "--db", db, "--now", "2024-08-01T18:00") == (
        "查看到期案件 0 件，升级 0 件，待处理 0 项\n"
    )


def test_notices_writes_html_and_text_and_acknowledges_them(worked: Path, tmp_path: Path) -> None:
    db = copy_store(worked, tmp_path)
    out = tmp_path / "notices"
    line = run("notices", "--db", db, "--out", out)
    found = re.fullmatch(rf"已生成通知 (\d+) 份，写入 {re.escape(str(out))}/\n", line)
    assert found, line
    written = int(found.group(1))
    html, text = sorted(out.glob("*.html")), sorted(out.glob("*.txt"))
    assert written > 31  # the slip, and a notice for each of the 31 escalated cases at least
    assert len(html) == len(text) == written
    assert [p.stem for p in html] == [p.stem for p in text]
    slip = out / f"{HAZARD}-1-1-rectification_slip.html"
    body = slip.read_text(encoding="utf-8")
    check_html(body)
    assert "<title>消防安全隐患整改通知单</title>" in body
    assert "某物业" in body
    assert any(p.name.startswith(f"{HAZARD}-") and "supervision_order" in p.name for p in html)
    assert run("notices", "--db", db, "--out", out) == f"已生成通知 0 份，写入 {out}/\n"


# -- reports ------------------------------------------------------------------------------

REPORT_TITLES = {
    "monthly": "虎峰社区老旧小区消防安全专项整治2024年8月工作进度",
    "circular": "关于2024年8月老旧小区消防安全专项整治工作进展情况的通报",
    "ledger": "虎峰镇老旧小区台账",
    "totals": "老旧小区总数台账统计表",
    "escalation": "消防安全隐患逾期升级督办情况报告",
}


@pytest.mark.parametrize("kind", sorted(REPORT_TITLES))
def test_report_renders_html_with_its_title(worked: Path, kind: str) -> None:
    body = run("report", kind, "--db", worked, "--month", "2024-08", "--community", "虎峰社区")
    check_html(body)
    assert f"<title>{REPORT_TITLES[kind]}</title>" in body


@pytest.mark.parametrize("kind", sorted(REPORT_TITLES))
def test_report_renders_text_with_its_title(worked: Path, kind: str) -> None:
    body = run(
        "report", kind, "--db", worked, "--month", "2024-08", "--community", "虎峰社区",
        "--format", "text",
    )  # fmt: skip
    assert body.startswith(f"{REPORT_TITLES[kind]}（")  # plain text: no Markdown bold
    assert "<" not in body.splitlines()[0]


def test_report_totals_is_due_when_the_campaign_says(worked: Path) -> None:
    body = run("report", "totals", "--db", worked, "--format", "text")
    assert "2024年4月5日前报送" in body.splitlines()[0]


def test_report_writes_to_a_file_with_out(worked: Path, tmp_path: Path) -> None:
    target = tmp_path / "circular.html"
    result = invoke("report", "circular", "--db", worked, "--month", "2024-08", "--out", target)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"已写入 {target}：{REPORT_TITLES['circular']}\n"
    check_html(target.read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["monthly", "ledger"])
def test_report_refuses_an_unknown_community_before_rendering_or_numbering(
    worked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    db = copy_store(worked, tmp_path)
    run("report", "circular", "--db", db, "--month", "2024-08", "--as-of", "2024-08-22")
    before = numbers(db)
    assert before, "the circular took a number"
    target = tmp_path / "report.html"
    code, out, err = run_main(
        capsys, "report", kind, "--db", db, "--community", "正街", "--month", "2024-08",
        "--as-of", "2024-08-22", "--out", target,
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "Error: 未知社区 '正街'；已知社区：正街社区、巴岳社区、新桥社区、虎峰社区"
    )
    assert not target.exists()
    assert numbers(db) == before


def test_the_circular_prints_the_heads_digest_as_of_its_day_whenever_rendered(
    worked: Path, tmp_path: Path
) -> None:
    db = copy_store(worked, tmp_path)
    circular = ("report", "circular", "--db", db, "--month", "2024-08", "--as-of", "2024-08-22")

    def footer() -> str:
        lines = run(*circular, "--format", "text").splitlines()
        return next(line for line in lines if line.startswith("台账校验码："))

    first = footer()
    assert first == f"台账校验码：{heads_digest_by_hand(db)[:16]}"  # nothing after Aug 22 yet
    with sqlite3.connect(db) as connection:
        (other,) = connection.execute(
            "SELECT id FROM rectify_cases WHERE state = 'discovered' ORDER BY id LIMIT 1"
        ).fetchone()
    connection.close()
    run(
        "fire", other, "assign", "--db", db, "--actor", "社区-李", "--role", "community",
        "--set", "responsible_party=某物业", "--set", "measures=清理杂物",
        "--set", "due=2024-09-30", "--at", "2024-09-10T10:00",
    )  # fmt: skip  # a later record moves the heads
    assert heads_digest_by_hand(db)[:16] != first.removeprefix("台账校验码：")
    assert footer() == first


def test_a_monthly_report_without_community_is_a_usage_error(
    worked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_main(capsys, "report", "monthly", "--db", worked, "--month", "2024-08")
    assert code == 2
    assert err.splitlines()[-1] == "Error: 月度进度报告要用 --community 指明社区"


# -- verify -------------------------------------------------------------------------------


def heads_digest_by_hand(db: Path) -> str:
    """Return the heads digest as docs/deployment.md recomputes it (sqlite3 | sha256sum)."""
    with sqlite3.connect(db) as connection:
        lines = connection.execute(
            "SELECT id || char(9) || head_seq || char(9) || head_digest "
            "FROM rectify_cases ORDER BY id"
        ).fetchall()
    connection.close()
    return hashlib.sha256("".join(f"{line}\n" for (line,) in lines).encode()).hexdigest()


def test_verify_passes_then_names_the_case_whose_history_was_edited(
    worked: Path, tmp_path: Path
) -> None:
    db = copy_store(worked, tmp_path)
    clean = invoke("verify", "--db", db)
    digest = heads_digest_by_hand(db)
    assert (clean.exit_code, clean.stdout) == (
        0,
        f"已校验 100 件，历史记录不通过 0 件\n台账校验码：{digest}\n",
    )
    with sqlite3.connect(db) as connection:
        changed = connection.execute(
            "UPDATE rectify_events SET payload = replace(payload, '某物业', '别家物业') "
            "WHERE case_id = ? AND seq = 1",
            (HAZARD,),
        ).rowcount
    connection.close()
    assert changed == 1
    broken = invoke("verify", "--db", db)
    assert broken.exit_code == 1
    assert broken.stdout.splitlines() == [
        f"案件 '{HAZARD}'：历史记录第 1 条校验不通过：内容与摘要不符（被改动过）",
        "已校验 100 件，历史记录不通过 1 件",
        f"台账校验码：{digest}",  # an edited record moves no head
    ]


@pytest.mark.parametrize(
    ("command", "option"),
    [("notices", "out"), ("notices", "reader"), ("cases", "limit"), ("import", "actor")],
)
def test_docs_cli_md_states_the_default_the_code_has(command: str, option: str) -> None:
    param = next(p for p in cli.commands[command].params if p.name == option)
    default = param.default.as_posix() if isinstance(param.default, Path) else param.default
    assert f"default `{default}`" in doc_section(command)


def test_notices_writes_to_out_notices_by_default_as_docs_cli_md_says() -> None:
    param = next(p for p in cli.commands["notices"].params if p.name == "out")
    assert param.default == Path("out/notices")
    assert "`--out` (default `out/notices`" in doc_section("notices")


def test_the_daily_commands_speak_chinese_on_every_line(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    imported = invoke("import", LEDGER, "--db", db, "--at", SURVEYED_AT)
    outputs = [imported.stdout, imported.stderr]
    assign = (
        "fire", HAZARD, "assign", "--db", db, "--actor", "社区-李", "--role", "community",
        "--set", "responsible_party=某物业", "--set", "measures=更换过期灭火器",
        "--set", "due=2024-06-30", "--at", "2024-03-19T10:00",
    )  # fmt: skip
    outputs.append(run(*assign))
    outputs.append(run("cases", "--db", db, "--limit", "5"))
    outputs.append(run("sweep", "--db", db, "--now", "2024-08-01T18:00"))
    outputs.append(run("show", HAZARD, "--db", db))
    outputs.append(run("notices", "--db", db, "--out", tmp_path / "notices"))
    written = invoke("report", "circular", "--db", db, "--out", tmp_path / "circular.html")
    outputs.append(written.stderr)
    outputs.append(run("verify", "--db", db))
    for refused in (assign, ("show", "HZ-nope", "--db", db)):
        code, _out, err = run_main(capsys, *refused)
        assert code == 1
        outputs.append(err)
    for text in outputs:
        assert text.strip()
        assert_chinese(text)


# -- errors -------------------------------------------------------------------------------


def test_a_missing_ledger_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-ledger.csv"
    code, out, err = run_main(capsys, "import", missing, "--db", tmp_path / "rectify.db")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "Usage: rectify import [OPTIONS] LEDGER_FILE",
        "Try 'rectify import --help' for help.",
        "",
        f"Error: Invalid value for 'LEDGER_FILE': File '{missing}' does not exist.",
    ]
    assert not (tmp_path / "rectify.db").exists()


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("sqlite:///{tmp}/no-such-folder/rectify.db", "没有存储 "),
        ("{tmp}/a-file/rectify.db", "没有存储 "),
        ("nosuchdialect://host/db", "Can't load plugin"),
    ],
    ids=["sqlite-url-in-a-missing-folder", "path-under-a-file", "unknown-dialect"],
)
def test_a_store_that_cannot_be_opened_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, reason: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    code, out, err = run_main(capsys, "cases", "--db", target.format(tmp=tmp_path))
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert err.startswith("rectify: 错误：")
    assert reason in err


def test_python_dash_m_rectify_exits_1_with_one_error_line(surveyed: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rectify", "show", "HZ-nope", "--db", str(surveyed)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "rectify: 错误：没有案件 'HZ-nope'\n"


# -- validate and diagram -----------------------------------------------------------------


def test_validate_shipped_folder_exits_zero_and_prints_nothing_on_stdout() -> None:
    result = CliRunner().invoke(cli, ["validate", str(WORKFLOWS)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.endswith(" files checked: 0 errors, 0 warnings\n")


def test_validate_broken_file_prints_file_line_col_and_exits_one(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", str(bad)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    undeclared = [line for line in lines if " undeclared-state " in line]
    assert undeclared == [
        f"{bad}:10:29: error undeclared-state state 'nowhere' is not declared; declared: "
        "done, start [events.finish.to]"
    ]
    assert len(lines) == 1, "a wrong target is reported once, not echoed as a trap state"


def test_validate_checks_host_templates_given_with_notices(tmp_path: Path) -> None:
    host = tmp_path / "town-templates"
    host.mkdir()
    (host / "reminder.txt.j2").write_text("第一行\n{{ case.id }\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", "--notices", str(host), str(WORKFLOWS)])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"{host / 'reminder.txt.j2'}:2:1: error template-syntax syntax error: unexpected '}}'"
    ]


def test_validate_missing_path_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["validate", "/no/such/folder"])
    assert result.exit_code == 2


def test_validate_without_paths_is_a_usage_error() -> None:
    assert CliRunner().invoke(cli, ["validate"]).exit_code == 2


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_diagram_prints_every_state_of_hazard(fmt: str) -> None:
    result = CliRunner().invoke(cli, ["diagram", str(WORKFLOWS / "hazard.yaml"), "--format", fmt])
    assert result.exit_code == 0
    for state in ("discovered", "assigned", "planned", "fixed", "verified", "closed"):
        assert state in result.stdout
    first = "stateDiagram-v2" if fmt == "mermaid" else 'digraph "hazard"'
    assert first in result.stdout


def test_diagram_of_invalid_workflow_is_one_error_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN, encoding="utf-8")
    code, _out, err = run_main(capsys, "diagram", bad)
    assert code == 2
    assert err.startswith("rectify: error: ")
    assert "Traceback" not in err


# -- demo ---------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


def documents(out: Path) -> Iterator[tuple[str, bytes]]:
    """Yield every file the demo wrote except its database, by relative path."""
    for path in sorted(out.rglob("*")):
        if path.is_file() and not path.name.startswith("rectify.db"):
            yield path.relative_to(out).as_posix(), path.read_bytes()


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Result, Path]) -> tuple[Result, Path]:
    """The campaign demo at the default scale and seed (run once a session: conftest)."""
    return demo_run


def test_demo_prints_the_campaign_summary(demo: tuple[Result, Path]) -> None:
    result, out = demo
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] == "社区"
    assert [line.split()[0] for line in lines[1:5]] == [
        "巴岳社区",
        "新桥社区",
        "正街社区",
        "虎峰社区",
    ]
    assert re.fullmatch(
        r"隐患 103 件；2024-12-25 逾期 \d+ 件；升级至镇督办及以上 \d+ 件；复发 2 件；"
        r"历史记录校验：通过",
        lines[5],
    )
    # The campaign beyond its hazards: the register surveyed, the tasks, earlier years.
    assert lines[6] == "老旧小区 20 个、楼栋 52 栋：已摸排 51 栋，移出台账 1 栋"
    assert re.fullmatch(r"任务 7 项：已完成 7 项，其中逾期完成 [1-9]\d* 项", lines[7])
    assert re.fullmatch(r"往年已整改隐患 40 处：回头看 \d+ 处，发现反弹 1 处", lines[8])
    assert re.fullmatch(
        r"共存储 202 件案件（隐患、楼栋、任务、往年隐患）、\d+ 条记录、\d+ 份文书；"
        rf"请打开 {re.escape(str(out / 'index.html'))}",
        lines[9],
    )
    assert len(lines) == 10, "no stage timings at the default scale"
    assert "2024-08-22：已出月报和通报" in result.stderr


def test_demo_index_links_to_every_document_and_each_exists(demo: tuple[Result, Path]) -> None:
    result, out = demo
    body = (out / "index.html").read_text(encoding="utf-8")
    check_html(body)
    links = _Links()
    links.feed(body)
    count = int(re.search(r"(\d+) 份文书；", result.stdout).group(1))  # type: ignore[union-attr]
    files = [h for h in links.hrefs if not h.startswith("#")]  # the dashboard's sections
    assert len(files) == len(set(files)) == count
    assert [h for h in files if not (out / h).is_file()] == []
    assert {h[1:] for h in links.hrefs if h.startswith("#")} <= set(
        re.findall(r'id="([^"]+)"', body)
    )


def test_demo_index_is_the_campaigns_dashboard(demo: tuple[Result, Path]) -> None:
    _result, out = demo
    body = (out / "index.html").read_text(encoding="utf-8")
    for heading in (
        "工作阶段",
        "排查覆盖",
        "任务清单",
        "隐患",
        "报表",
        "通知文书（按社区、小区、隐患编号）",
    ):
        assert f">{heading}</h2>" in body
    assert "<td>全面摸底排查</td><td>2024-03-01 至 2024-04-10</td>" in body.replace("\n", "")
    # Every notice is found under its community, estate and case number.
    assert re.search(r"<h3>正街社区</h3>\s*<h4>[^<]+</h4>", body)
    assert re.search(r"<li><b>正街-2024-\d{3}</b>：<a href=\"notices/", body)
    assert "逾期" in body  # the task done late
    assert (out / "exports" / "register-public.xlsx").is_file()


def test_demo_writes_slips_monthly_reports_on_the_22nd_and_circulars(
    demo: tuple[Result, Path],
) -> None:
    _stdout, out = demo
    slips = sorted(out.glob("notices/2024-*/*-rectification_slip-*.html"))
    assert slips
    assert "<title>消防安全隐患整改通知单</title>" in slips[0].read_text(encoding="utf-8")
    for month in range(3, 13):
        folder = out / "reports" / f"2024-{month:02d}"
        monthly = sorted(p.name for p in folder.glob("monthly-*.txt"))
        assert monthly == [
            f"monthly-{c}.txt" for c in ("巴岳社区", "新桥社区", "正街社区", "虎峰社区")
        ]
        text = (folder / "monthly-虎峰社区.txt").read_text(encoding="utf-8")
        assert f"截至2024年{month}月22日" in text
        circular = (folder / "circular.html").read_text(encoding="utf-8")
        assert (
            f"<title>关于2024年{month}月老旧小区消防安全专项整治工作进展情况的通报</title>"
            in circular
        )
    assert (out / "reports/2024-04/ledger-totals.html").is_file()
    assert (out / "reports/2024-11/lookback.html").is_file()
    assert (out / "reports/2024-12/escalation-levels.html").is_file()


def test_demo_with_the_same_seed_writes_the_same_documents(
    demo: tuple[Result, Path], tmp_path: Path
) -> None:
    _stdout, first = demo
    again = invoke("demo", "--out", tmp_path / "again", "--seed", "2024")
    assert again.exit_code == 0, again.output
    theirs, ours = dict(documents(first)), dict(documents(tmp_path / "again"))
    assert sorted(theirs) == sorted(ours)
    assert [name for name in theirs if theirs[name] != ours[name]] == []


def test_demo_at_a_larger_scale_prints_stage_timings(tmp_path: Path) -> None:
    small = tmp_path / "ledger.csv"  # the title, the header and 20 rows keep the test quick
    lines = LEDGER.read_text(encoding="utf-8-sig").splitlines()[:22]
    small.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("demo", "--out", tmp_path / "out", "--ledger", small, "--scale", "2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    # 40 hazards, the major case one of them was referred to, and the look-back's relapses:
    # one of this year's and one of an earlier year's.
    assert re.search(r"^隐患 43 件；.*复发 2 件；历史记录校验：通过$", out, re.MULTILINE), out
    stages = re.findall(r"^  (\w+) +\d+\.\d\d 秒$", out, re.MULTILINE)
    assert stages == ["办理", "导入", "通知", "报表", "巡查", "合计"]


# -- values, dates and calendars from the command line -------------------------------------


def test_set_values_take_the_declared_field_types() -> None:
    from rectify.cli._cases import _typed  # noqa: PLC0415 - the conversion itself

    assert _typed("7", "int") == 7
    assert _typed("2024-06-30", "date") == dt.date(2024, 6, 30)
    assert _typed("true", "bool") is True
    assert _typed("0123456789", "str") == "0123456789"  # text stays text, digits or not
    assert _typed("seven", "int") == "seven"  # left for the engine to refuse, precisely


@pytest.mark.parametrize(
    "args",
    [("cases", "--overdue", "2024-13-01"), ("report", "circular", "--month", "2024-5x")],
)
def test_a_bad_date_is_a_usage_error_not_an_internal_one(
    capsys: pytest.CaptureFixture[str], db: Path, args: tuple[str, ...]
) -> None:
    code, _, err = run_main(capsys, *args, "--db", db)
    assert code == 2
    assert "Traceback" not in err
    assert "internal error" not in err


def test_holiday_data_for_a_year_the_package_lacks_comes_from_rectify_holidays(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text("years:\n  2031:\n    holidays: [2031-01-01]\n", encoding="utf-8")
    rows = table_rows(run("cases", "--db", db, "--state", "discovered", "--limit", "2"))
    assign = (
        "--db",
        db,
        "--actor",
        "社区-李",
        "--role",
        "community",
        "--set",
        "responsible_party=物业",
        "--set",
        "measures=补齐",
        "--set",
        "due=2031-01-20",
        "--at",
        "2031-01-05T09:00",
    )
    done = invoke("fire", rows[0][0], "assign", *assign, env={"RECTIFY_HOLIDAYS": str(holidays)})
    assert done.exit_code == 0, done.output
    assert "期限 2031-01-10" in done.stdout  # five working days on the host's calendar
    code, _, err = run_main(capsys, "fire", rows[1][0], "assign", *assign)
    assert code == 1  # without the holiday file: a clear error naming the year, not a guess
    assert err.startswith("rectify: 错误：没有 2031 年的节假日数据")
    assert "RECTIFY_HOLIDAYS" in err
