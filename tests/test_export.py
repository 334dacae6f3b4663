"""Exports: every XLSX laid out for print, CSV as before, public copies masked, ``rectify export``.

The writers (``write_ledger``, ``write_ledger_totals``, ``write_table``) run on a small
ledger read here from a CSV with a phone number, a special-group household and formula-like
text in it; ``rectify export`` runs through click's ``CliRunner`` on a SQLite store holding
those hazards, the buildings of two estates (one surveyed) and the campaign's tasks.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import shutil
import sys
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner, Result
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from rectify import Actor, Ledger, WorkflowSpec, open_store
from rectify.cli import cli, main
from rectify.definitions._campaign import load_campaign
from rectify.exceptions import RectifyError
from rectify.spreadsheets import (
    LEDGER_HEADERS,
    TableColumn,
    read_ledger,
    write_ledger,
    write_ledger_totals,
    write_table,
)
from rectify.spreadsheets import _writing as writing
from rectify.spreadsheets._print import FOOTER, GROUPS_WITHHELD, column_widths, text_width
from rectify.spreadsheets._values import Cell
from rectify.stores import MemoryStore
from rectify.testing import FakeCalendar

TZ = ZoneInfo("Asia/Shanghai")
AT = dt.datetime(2024, 3, 18, 9, tzinfo=TZ)
COMMUNITY = Actor("社区-李", "community")
GRID = Actor("网格员-王", "grid_worker")
TOWN = Actor("镇消安办-周", "town_office")
HEAD = "消防安全管理人（楼栋长）及联系方式"
PHONES = ("13812345678", "13987654321", "13700001111")
#: What a public copy must not show of the special-group households, in any cell.
GROUP_DETAIL = ("独居老人", "11楼", "残疾人1户")
LEDGER_CSV = f"""\
铜梁区虎峰镇老旧小区台账
镇街/社区,小区名称,地址,{HEAD},建筑高度（层数）,隐患内容,整改时限,隐患类别,整改措施,楼栋
虎峰镇/虎峰社区,龙门小区,龙门街12号,张三 13812345678,6层,2单元公共区域灭火器过期未更换,2024-05-01,FAC.EXT,更换过期灭火器,1栋
虎峰镇/虎峰社区,龙门小区,龙门街12号,张三 13812345678,6层,3单元11楼独居老人家中未安装独立烟感,2024-06-04,PPL.SPECIAL,为独居老人家中安装独立式感烟火灾探测报警器,1栋
虎峰镇/正街社区,正街小区,正街1号,李四 13987654321,18米（6层）,"=HYPERLINK(""http://example.invalid"",""楼道堆放杂物"")",2024-05-10,PAS.EVAC,@SUM(1+1),2栋
"""  # noqa: E501 - a ledger's rows are long
FORMULA_STARTS = ("=", "+", "-", "@")


def imported() -> list[tuple[str, str, dict[str, object]]]:
    result = read_ledger(LEDGER_CSV.encode("utf-8"))
    assert result.ok, result.summary()
    return [(r.case_id, r.workflow, dict(r.data)) for r in result.rows]


def small_ledger() -> Ledger:
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    ledger.import_cases(imported(), COMMUNITY, at=AT)
    return ledger


def specs_of(ledger: Ledger) -> list[WorkflowSpec]:
    return [engine.spec for engine in ledger.engines]


def sheet_of(path: Path) -> Worksheet:
    return openpyxl.load_workbook(path).worksheets[0]


def xlsx_cells(path: Path) -> list[str]:
    """Return the text of every cell of the workbook (its title and header included)."""
    return [
        "" if c.value is None else str(c.value) for row in sheet_of(path).iter_rows() for c in row
    ]


def csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)  # so that Excel opens it as UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def every_cell(path: Path) -> list[str]:
    if path.suffix == ".csv":
        return [cell for row in csv_rows(path) for cell in row]
    return xlsx_cells(path)


def table(path: Path) -> list[dict[str, str]]:
    """Return the data rows of an export (below its title and header) by header."""
    if path.suffix == ".csv":
        _, header, *rows = csv_rows(path)
    else:
        _, header, *rows = [
            ["" if c.value is None else str(c.value) for c in row]
            for row in sheet_of(path).iter_rows()
        ]
    return [dict(zip(header, row, strict=True)) for row in rows]


# -- the print layout ----------------------------------------------------------------------


def write_each(kind: str, path: Path) -> int:
    """Write one kind of table with a title; return its data rows (a 合计 line included)."""
    ledger = small_ledger()
    cases, specs = list(ledger.cases()), specs_of(ledger)
    if kind == "ledger":
        return write_ledger(cases, path, specs=specs, reader_role="town_office", title="台账")
    if kind == "totals":
        lines = write_ledger_totals(cases, path, specs=specs, as_of=dt.date(2024, 4, 1))
        return len(lines) + 1
    rows = [{"name": "龙门小区", "count": 2, "rate": 0.5}, {"name": "正街小区", "count": 1}]
    columns = [TableColumn("name", "小区名称"), TableColumn("count", "楼栋数", "number")]
    return write_table(
        rows, path, columns=[*columns, TableColumn("rate", "覆盖率", "rate")], title="表"
    )


@pytest.mark.parametrize("kind", ["ledger", "totals", "table"])
def test_every_workbook_is_ready_to_print(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.xlsx"
    rows = write_each(kind, path)
    sheet = sheet_of(path)
    last = get_column_letter(sheet.max_column)
    # The title row, merged across the table and bold, above the header.
    assert [str(r) for r in sheet.merged_cells.ranges] == [f"A1:{last}1"]
    assert sheet["A1"].font.bold
    assert sheet.max_row == 2 + rows
    header = [c.value for c in sheet[2]]
    assert header[0] == "序号"
    assert all(c.font.bold for c in sheet[2])
    # Thin borders on every cell of the table, text wrapped and set at the top.
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            sides = (cell.border.left, cell.border.right, cell.border.top, cell.border.bottom)
            assert [s.style for s in sides] == ["thin"] * 4, cell.coordinate
            assert cell.alignment.wrap_text, cell.coordinate
    assert all(c.alignment.vertical == "top" for row in sheet.iter_rows(min_row=3) for c in row)
    # A4 landscape, one page wide and as many down as needed, narrow margins, centred.
    setup = sheet.page_setup
    assert (setup.orientation, setup.paperSize) == ("landscape", 9)  # 9: A4
    assert (setup.fitToWidth, setup.fitToHeight) == (1, 0)
    assert sheet.sheet_properties.pageSetUpPr is not None
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.page_margins.left <= 0.25
    assert sheet.page_margins.right <= 0.25
    assert sheet.print_options.horizontalCentered
    # The header repeats on every printed page; the pages are numbered in the footer.
    assert sheet.print_title_rows == "$2:$2"
    assert sheet.oddFooter is not None
    assert sheet.oddFooter.center.text == FOOTER == "第 &P 页 共 &N 页"
    assert sheet.freeze_panes == "A3"
    widths = [
        sheet.column_dimensions[get_column_letter(i)].width for i in range(1, len(header) + 1)
    ]
    assert all(6 <= w <= 40 for w in widths)


@pytest.mark.parametrize("kind", ["ledger", "totals", "table"])
def test_the_same_table_writes_the_same_bytes(kind: str, tmp_path: Path) -> None:
    first, second = tmp_path / f"a-{kind}.xlsx", tmp_path / f"b-{kind}.xlsx"
    write_each(kind, first)
    write_each(kind, second)
    assert first.read_bytes() == second.read_bytes()
    # No time of the clock is left in the file: not in its zip entries, not in its properties.
    with zipfile.ZipFile(first) as book:
        assert {info.date_time for info in book.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        core = book.read("docProps/core.xml").decode("utf-8")
    stamps = re.findall(r"<dcterms:(created|modified)[^>]*>([^<]*)<", core)
    assert sorted(stamps) == [
        ("created", "2000-01-01T00:00:00Z"),
        ("modified", "2000-01-01T00:00:00Z"),
    ]


def test_the_serial_numbers_count_the_rows_and_leave_the_total_line_out(tmp_path: Path) -> None:
    path = tmp_path / "totals.xlsx"
    rows = write_each("totals", path)
    sheet = sheet_of(path)
    serials = [sheet.cell(r, 1).value for r in range(3, sheet.max_row + 1)]
    assert serials == [*range(1, rows), None]
    assert sheet.cell(sheet.max_row, 2).value == "合计"
    assert all(c.font.bold for c in sheet[sheet.max_row])
    assert not any(c.font.bold for c in sheet[3])
    ledger = tmp_path / "ledger.xlsx"
    count = write_each("ledger", ledger)
    assert [sheet_of(ledger).cell(r, 1).value for r in range(3, 3 + count)] == [1, 2, 3]


def test_widths_count_cjk_characters_double_and_are_capped() -> None:
    assert text_width("隐患内容") == 8
    assert text_width("6层") == 3
    assert text_width("第一行\n长一些的第二行") == 14  # the longest line
    header = ["名称", "隐患内容", "消防安全管理人（楼栋长）及联系方式", "整改率"]
    rows: list[list[Cell]] = [["龙门小区", "灭火器" * 30, "张三", 0.853]]
    widths = column_widths(header, rows, rates=[3])
    assert widths[0] == 8 + 2  # 龙门小区, two per character, and padding
    assert widths[1] == 40  # capped: the text wraps
    # A long header wraps (at most three lines) rather than widen a column of short values.
    assert widths[2] == 12 + 2
    assert widths[3] == 6 + 2  # the header is wider than 85.3%
    assert column_widths(["序号"], [[1], [100]]) == [6]


def test_a_csv_export_is_utf8_with_a_bom_and_has_no_serial_column(tmp_path: Path) -> None:
    ledger = small_ledger()
    path = tmp_path / "ledger.csv"
    write_ledger(ledger.cases(), path, specs=specs_of(ledger))
    header, *rows = csv_rows(path)  # no title given: the header comes first
    assert header[:7] == list(LEDGER_HEADERS)
    assert "序号" not in header
    assert len(rows) == 3


# -- privacy and formulas ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_public_ledger_holds_no_phone_no_special_group_and_no_case_id(
    fmt: str, tmp_path: Path
) -> None:
    ledger = small_ledger()
    specs = specs_of(ledger)
    public, office = tmp_path / f"public.{fmt}", tmp_path / f"office.{fmt}"
    write_ledger(ledger.cases(), public, specs=specs, title="台账（公开版）")
    write_ledger(ledger.cases(), office, specs=specs, reader_role="town_office", title="台账")
    shown = "\n".join(every_cell(public))
    assert not [p for p in PHONES if p in shown]
    assert not [g for g in GROUP_DETAIL[:2] if g in shown]
    assert "138****5678" in shown
    rows = {row["隐患类别"]: row for row in table(public)}
    special = rows["特殊群体未落实帮扶或未安装独立烟感"]
    assert special["隐患内容"] == special["整改措施"] == GROUPS_WITHHELD
    assert rows["灭火器缺失、过期或损坏"]["隐患内容"] == "2单元公共区域灭火器过期未更换"
    assert "案件编号" not in table(public)[0]  # a public copy cannot be imported anyway
    # The town office's copy shows everything, and has the case ids to import it by.
    whole = "\n".join(every_cell(office))
    assert all(p in whole for p in PHONES[:2])
    assert all(g in whole for g in GROUP_DETAIL[:2])
    assert {row["案件编号"] for row in table(office)} == {case_id for case_id, *_ in imported()}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_public_table_masks_phones_groups_and_notes_naming_a_group(
    fmt: str, tmp_path: Path
) -> None:
    columns = [
        TableColumn("estate", "小区名称"),
        TableColumn("head", "楼栋长"),
        TableColumn("groups", "特殊群体", "groups"),
        TableColumn("progress", "最新进展", "note"),
        TableColumn("plain", "说明"),
    ]
    rows = [
        {
            "estate": "龙门小区",
            "head": "张三 13812345678",
            "groups": "独居老人2户、残疾人1户",
            "progress": "已为3单元11楼独居老人安装烟感",
            "plain": "联系 13987654321",
        },
        {"estate": "正街小区", "progress": "已清理楼道杂物"},
    ]
    public, office = tmp_path / f"public.{fmt}", tmp_path / f"office.{fmt}"
    write_table(rows, public, columns=columns, title="表")
    write_table(rows, office, columns=columns, title="表", reader_role="community")
    shown = "\n".join(every_cell(public))
    assert not [p for p in PHONES if p in shown]
    assert not [g for g in GROUP_DETAIL if g in shown]
    first, second = table(public)
    assert first["特殊群体"] == "3户（详情不公开）"
    assert first["最新进展"] == GROUPS_WITHHELD
    assert second["最新进展"] == "已清理楼道杂物"  # a note naming no group is kept
    assert second["特殊群体"] == ""
    whole = "\n".join(every_cell(office))
    assert all(p in whole for p in PHONES[:2])
    assert all(g in whole for g in GROUP_DETAIL)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_formula_like_cells_are_neutralised(fmt: str, tmp_path: Path) -> None:
    ledger = small_ledger()
    path = tmp_path / f"ledger.{fmt}"
    write_ledger(
        ledger.cases(), path, specs=specs_of(ledger), reader_role="community", title="台账"
    )
    rows = {row["地址"]: row for row in table(path)}
    hostile = rows["正街1号"]
    assert hostile["隐患内容"].startswith("'=HYPERLINK(")
    assert hostile["整改措施"] == "'@SUM(1+1)"
    assert not [c for c in every_cell(path) if c.startswith(FORMULA_STARTS)]
    if fmt == "xlsx":
        assert all(c.data_type != "f" for row in sheet_of(path).iter_rows() for c in row)
    table_path = tmp_path / f"table.{fmt}"
    columns = [TableColumn("a", "甲"), TableColumn("b", "乙")]
    write_table([{"a": "=1+1", "b": "-2"}], table_path, columns=columns, title="+标题")
    assert not [c for c in every_cell(table_path) if c.startswith(FORMULA_STARTS)]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_office_ledger_imports_back_to_the_same_cases(fmt: str, tmp_path: Path) -> None:
    ledger = small_ledger()
    path = tmp_path / f"ledger.{fmt}"
    title = "虎峰镇老旧小区台账（截至2024年4月1日）"
    write_ledger(
        ledger.cases(), path, specs=specs_of(ledger), reader_role="town_office", title=title
    )
    back = read_ledger(path)
    assert back.ok, back.summary()
    assert back.header_row == 2  # under the title; the 序号 column is left alone
    assert sorted(r.item() for r in back.rows) == sorted(imported())
    assert ledger.import_cases(back.cases(), COMMUNITY, at=AT) == 0


def test_the_headers_a_clerk_could_confuse_carry_a_note(tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    write_each("ledger", path)
    notes = {c.value: c.comment.text for c in sheet_of(path)[2] if c.comment is not None}
    assert set(notes) == {"整改时限", "当前环节期限", "案件编号", "隐患编号"}
    assert "不是整改时限" in notes["当前环节期限"]
    assert "隐患编号" in notes["案件编号"]


def test_table_values_become_cells(tmp_path: Path) -> None:
    columns = [
        TableColumn("flag", "是否纳入改造"),
        TableColumn("names", "网格员"),
        TableColumn("when", "日期", "date"),
        TableColumn("missing", "空"),
    ]
    rows = [
        {
            "flag": True,
            "names": ["王五", "赵六"],
            "when": dt.datetime(2024, 4, 9, 20, tzinfo=dt.UTC),
        }
    ]
    path = tmp_path / "table.csv"
    assert write_table(rows, path, columns=columns) == 1
    header, row = csv_rows(path)
    assert header == ["是否纳入改造", "网格员", "日期", "空"]
    assert row == ["是", "王五、赵六", "2024-04-10", ""]  # the day in Asia/Shanghai


# -- writing the file ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_failed_write_leaves_the_old_file_as_it_was(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / f"ledger.{fmt}"
    path.write_bytes(b"old")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(writing, "lay_out_table" if fmt == "xlsx" else "_csv_text", broken)
    ledger = small_ledger()
    with pytest.raises(RuntimeError, match="disk full"):
        write_ledger(ledger.cases(), path, specs=specs_of(ledger))
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_folder_is_never_written_over(tmp_path: Path) -> None:
    folder = tmp_path / "ledger.xlsx"
    folder.mkdir()
    ledger = small_ledger()
    with pytest.raises(RectifyError, match="is a folder"):
        write_ledger(ledger.cases(), folder, specs=specs_of(ledger))
    assert list(folder.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
    device = Path("/dev/null")
    if device.is_char_device():  # nor a device put in a file's place
        with pytest.raises(RectifyError, match="not a regular file"):
            write_ledger(ledger.cases(), device, specs=specs_of(ledger), fmt="csv")
        assert device.is_char_device()


# -- rectify export ------------------------------------------------------------------------


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def run(*args: str | Path) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def campaign_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a store with the hazards, two estates' buildings and the campaign's tasks.

    龙门小区 (虎峰社区) has two buildings, 1栋 surveyed on 3/19 with its special groups, and
    正街小区 (正街社区) one building not yet surveyed. The task 排查摸底 reported progress on
    4/2, naming a special-group household and a phone. Do not change it: copy it.
    """
    folder = tmp_path_factory.mktemp("export")
    ledger_file = folder / "ledger.csv"
    ledger_file.write_text(LEDGER_CSV, encoding="utf-8")
    db = folder / "rectify.db"
    run("init", "--db", db)
    run("import", ledger_file, "--db", db, "--at", "2024-03-18T09:00")
    store = open_store(db)
    ledger = Ledger.with_workflows(store, campaign=load_campaign())
    estate = {
        "community": "虎峰社区",
        "community_name": "龙门小区",
        "address": "龙门街12号",
        "floors": 6,
        "in_programme": True,
        "facilities_manager": "重庆龙门物业服务有限公司",
        "facilities_manager_kind": "物业服务企业",
        "households": 24,
    }
    ledger.open("BLD-1", "survey", {**estate, "building": "1栋"}, COMMUNITY, at=AT)
    ledger.open("BLD-2", "survey", {**estate, "building": "2栋"}, COMMUNITY, at=AT)
    other = {"community": "正街社区", "community_name": "正街小区", "address": "正街1号"}
    ledger.open("BLD-3", "survey", {**other, "building": "1栋"}, COMMUNITY, at=AT)
    found = {
        "grid_worker": "王五",
        "building_head": "张三",
        "building_head_phone": "13812345678",
        "special_groups": "独居老人2户、残疾人1户",
        "hazards": 2,
    }
    ledger.fire("BLD-1", "survey", GRID, payload=found, at=AT + dt.timedelta(days=1))
    ledger.open_tasks(load_campaign(), TOWN, at=AT)
    first = load_campaign().tasks[0].case_id
    progress = {"progress": "已为3单元11楼独居老人安装烟感，联系人13700001111"}
    ledger.fire(first, "report_progress", TOWN, payload=progress, at=AT + dt.timedelta(days=15))
    store.close()
    return db


@pytest.fixture
def db(campaign_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store" / campaign_store.name
    copy.parent.mkdir()
    shutil.copyfile(campaign_store, copy)
    return copy


KINDS = {
    "ledger": 3,
    "totals": 3,  # 虎峰社区, 正街社区 and the 合计 line
    "register": 2,  # 龙门小区 and 正街小区
    "coverage": 2,  # 虎峰社区 and 正街社区
    "tasks": len(load_campaign().tasks),
    "plan": 3,  # the three hazards, all still open
    "lookback": 0,  # nothing closed yet, no earlier year's item
}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_export_writes_each_kind(kind: str, fmt: str, db: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{kind}.{fmt}"
    result = run("export", kind, "--db", db, "--out", out, "--as-of", "2024-04-20")
    assert result.stderr == f"已写入 {out}：{KINDS[kind]} 行\n"
    assert result.stdout == ""
    assert len(table(out)) == KINDS[kind]
    title = every_cell(out)[0]
    assert title.startswith("虎峰镇")
    assert title.endswith("（截至2024年4月20日）")
    if fmt == "xlsx":
        sheet = sheet_of(out)
        assert sheet.cell(2, 1).value == "序号"
        assert sheet.print_title_rows == "$2:$2"
        assert sheet.page_setup.orientation == "landscape"


def test_export_register_coverage_and_tasks_show_the_report_rows(db: Path, tmp_path: Path) -> None:
    day: list[str | Path] = ["--db", db, "--as-of", "2024-04-20", "--format", "csv"]
    register = tmp_path / "register.csv"
    run("export", "register", "--out", register, *day)
    longmen = next(r for r in table(register) if r["小区名称"] == "龙门小区")
    assert longmen["楼栋数"] == "2"
    assert longmen["已摸排楼栋"] == "1"
    assert longmen["是否纳入老旧小区改造"] == "是"
    assert longmen["楼栋长及联系方式"] == "1栋 张三 13812345678"
    assert longmen["特殊群体"] == "独居老人2户、残疾人1户"
    coverage = tmp_path / "coverage.csv"
    run("export", "coverage", "--out", coverage, *day)
    by_community = {r["社区"]: r for r in table(coverage)}
    assert by_community["虎峰社区"]["摸排覆盖率"] == "50.0%"
    assert by_community["正街社区"]["未摸排楼栋"] == "1"
    tasks = tmp_path / "tasks.csv"
    run("export", "tasks", "--out", tasks, *day)
    first = table(tasks)[0]
    assert first["要求完成时限"] == "2024-04-10"
    assert first["最新进展"].startswith("已为3单元11楼独居老人安装烟感")
    assert first["进展报送日期"] == "2024-04-02"
    assert first["逾期天数"] == "10"


def test_export_plan_and_lookback_show_the_report_rows(db: Path, tmp_path: Path) -> None:
    store = open_store(db)
    ledger = Ledger.with_workflows(store, campaign=load_campaign())
    earlier = {
        "community": "虎峰社区",
        "community_name": "龙门小区",
        "building": "1栋",
        "description": "1单元楼道停放电动车",
        "category": "EBIKE.PARK",  # always looked at again
        "year": 2023,
    }
    ledger.open("ERL-1", "earlier", earlier, COMMUNITY, at=dt.datetime(2023, 9, 1, 12, tzinfo=TZ))
    relapse = {"findings": "电动车仍停在楼道"}
    ledger.fire("ERL-1", "relapse", GRID, payload=relapse, at=dt.datetime(2024, 4, 2, tzinfo=TZ))
    store.close()
    day: list[str | Path] = ["--db", db, "--as-of", "2024-04-20", "--format", "csv"]
    lookback = tmp_path / "lookback.csv"
    run("export", "lookback", "--out", lookback, *day)
    [row] = table(lookback)
    assert (row["整改年度"], row["隐患编号"], row["楼栋"]) == ("2023", "虎峰-2023-001", "1栋")
    assert (row["回头看结果"], row["情况说明"]) == ("反弹", "电动车仍停在楼道")
    plan = tmp_path / "plan.csv"
    run("export", "plan", "--out", plan, *day)
    rows = table(plan)
    assert len(rows) == 3
    assert all(r["隐患编号"].startswith(("虎峰-2024-", "正街-2024-")) for r in rows)
    assert {r["社区"] for r in rows} == {"虎峰社区", "正街社区"}


def test_export_as_of_gives_the_facts_of_that_day(db: Path, tmp_path: Path) -> None:
    before, after = tmp_path / "before.csv", tmp_path / "after.csv"
    run("export", "ledger", "--db", db, "--out", before, "--as-of", "2024-03-18")
    case_id = next(r["案件编号"] for r in table(before) if r["隐患类别"].startswith("灭火器"))
    run(
        "fire", case_id, "assign", "--db", db, "--actor", "社区-李", "--role", "community",
        "--set", "responsible_party=某物业", "--set", "measures=清理", "--set", "due=2024-06-30",
        "--at", "2024-03-19T10:00",
    )  # fmt: skip
    run("export", "ledger", "--db", db, "--out", after, "--as-of", "2024-03-19")
    again = tmp_path / "again.csv"
    run("export", "ledger", "--db", db, "--out", again, "--as-of", "2024-03-18")
    state = {
        p.stem: {r["案件编号"]: r["当前状态"] for r in table(p)} for p in (before, after, again)
    }
    assert state["before"][case_id] == state["again"][case_id] == "已发现"
    assert state["after"][case_id] == "已交办"
    tasks = tmp_path / "tasks.csv"
    run("export", "tasks", "--db", db, "--out", tasks, "--as-of", "2024-03-17")
    assert table(tasks) == []  # the tasks were opened on 3/18


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("kind", ["ledger", "register", "tasks"])
def test_export_public_holds_no_phone_or_special_group_and_the_office_copy_does(
    kind: str, fmt: str, db: Path, tmp_path: Path
) -> None:
    public, office = tmp_path / f"public.{fmt}", tmp_path / f"office.{fmt}"
    run("export", kind, "--db", db, "--out", public, "--as-of", "2024-04-20", "--public")
    run("export", kind, "--db", db, "--out", office, "--as-of", "2024-04-20")
    shown = every_cell(public)
    assert shown[0].endswith("（公开版）")
    assert not [(cell, p) for cell in shown for p in PHONES if p in cell]
    assert not [(cell, g) for cell in shown for g in GROUP_DETAIL if g in cell]
    whole = "\n".join(every_cell(office))
    assert [p for p in PHONES if p in whole]
    assert [g for g in GROUP_DETAIL if g in whole]


def test_the_exported_ledger_imports_back(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "台账.xlsx"
    run("export", "ledger", "--db", db, "--out", out, "--as-of", "2024-04-20")
    back = read_ledger(out)
    assert back.ok, back.summary()
    assert sorted(r.item() for r in back.rows) == sorted(imported())


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ledger", "--format", "pdf"], "'pdf' is not one of 'xlsx', 'csv'"),
        (["census"], "'census' is not one of 'ledger', 'totals', 'register', 'coverage', 'tasks'"),
        (["ledger", "--out", "ledger.txt"], "文件名请以 .xlsx 或 .csv 结尾"),
        (
            ["ledger", "--out", "ledger.xlsx", "--format", "csv"],
            "--format csv 与文件名 ledger.xlsx 不符",
        ),
        (["ledger", "--out", "folder"], "is a directory"),
        (["ledger", "--as-of", "4月1日"], "不是日期"),
    ],
)
def test_export_refuses_bad_arguments_and_writes_nothing(
    args: list[str], says: str, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    (work / "folder").mkdir(parents=True)
    monkeypatch.chdir(work)
    if "--out" not in args:
        args = [*args, "--out", "ledger.csv"]
    result = invoke("export", *args, "--db", db)
    assert result.exit_code == 2
    assert says in result.stderr
    assert sorted(p.name for p in work.rglob("*")) == ["folder"]


def test_export_without_openpyxl_says_how_to_install_it_and_writes_nothing(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # find_spec finds nothing
    out = tmp_path / "ledger.xlsx"
    with pytest.raises(SystemExit) as exit_:
        main(["export", "ledger", "--db", str(db), "--out", str(out)])
    assert exit_.value.code == 1
    assert "pip install 'rectify[xlsx]'" in capsys.readouterr().err
    assert not out.exists()
    csv_out = tmp_path / "ledger.csv"  # CSV needs nothing more
    main(["export", "ledger", "--db", str(db), "--out", str(csv_out)])
    assert capsys.readouterr().err == f"已写入 {csv_out}：3 行\n"
