"""The campaign's other sheets and the cases they open: the estate register, earlier years, tasks.

Reading the old-estate register (one survey case per building) and earlier years' rectified
hazards (one ``earlier`` case each) as the ledger is read: CSV and XLSX, title rows, merged
cells carried down, header synonyms, problems by row and column, duplicates, stable ids; the
ledger opening the campaign's tasks and the earlier items at their own dates; and the
commands ``import-register``, ``import-earlier`` and ``tasks``, with a survey recorded by
``rectify fire``. The sample files (examples/data/register-2024.*, earlier-2022-2023.*) are
made by examples/data/make_sample_ledger.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook

from rectify.definitions._campaign import load_campaign
from rectify.definitions._load import load_categories
from rectify.documents._contexts import CASE_NUMBER
from rectify.engine import Actor, is_overdue
from rectify.engine._engine import TIMEZONE
from rectify.exceptions import ArgumentError
from rectify.ledger import Ledger
from rectify.spreadsheets import (
    EarlierImport,
    RegisterImport,
    building_id,
    earlier_id,
    read_earlier,
    read_ledger,
    read_register,
)
from rectify.spreadsheets._text import text_key
from rectify.stores import CaseQuery, MemoryStore
from tests.conftest import EXAMPLES
from tests.test_cli import assert_chinese, invoke, run

DATA = EXAMPLES / "data"
REGISTER_CSV = DATA / "register-2024.csv"
REGISTER_XLSX = DATA / "register-2024.xlsx"
EARLIER_CSV = DATA / "earlier-2022-2023.csv"
EARLIER_XLSX = DATA / "earlier-2022-2023.xlsx"
TABLE = load_categories()
COMMUNITY = Actor("正街社区", "community")

HEAD = (
    "序号", "社区", "小区名称", "地址", "楼栋", "建筑高度（层数）", "户数", "是否纳入改造",
    "消防设施管理单位", "管理单位类型", "网格员", "楼栋长及联系方式", "特殊群体",
)  # fmt: skip
#: An estate of two buildings, its own cells merged (left blank below its first row).
ESTATE: list[list[object]] = [
    ["正街社区老旧小区总数台账"],
    list(HEAD),
    [1, "正街社区", "供销社宿舍", "虎峰镇正街45号", "1栋", "6层", "30户", "是",
     "铜梁区供销物业服务有限公司", "", "黄芳 17140931737", "刘辉 171-8509-2524", "独居老人2户"],
    [2, "", "", "", "2栋", "七层", 28, "", "", "", "", "吕云/17063788183", ""],
]  # fmt: skip
EARLIER_HEAD = (
    "序号", "年度", "社区", "小区名称", "地址", "楼栋", "隐患内容", "隐患类别", "整改责任人",
    "整改措施", "销号日期",
)  # fmt: skip


def sheet(head: Sequence[str], *rows: Sequence[object]) -> list[list[object]]:
    """Return the rows of a sheet: a title row, the header, then ``rows``."""
    return [["台账"], list(head), *(list(r) for r in rows)]


def building(*cells: object) -> list[object]:
    """Return a register row of the second estate of ``ESTATE``'s community, cells given."""
    row: list[object] = [9, "正街社区", "盐市口小区", "虎峰镇盐市口路7号", "1栋", 8, 40, "否"]
    row += ["铜梁区盐市口物业服务有限公司", "", "赵平桂", "朱玉 17071598544", ""]
    for index, value in zip(range(4, 4 + len(cells)), cells, strict=True):
        row[index] = value
    return row


def xlsx_bytes(rows: Sequence[Sequence[object]], merged: Sequence[str] = ()) -> bytes:
    """Return a workbook of ``rows`` with the ranges ``merged`` merged (as Excel saves them)."""
    book = Workbook()
    worksheet = book.active
    assert worksheet is not None
    for row in rows:
        worksheet.append([None if v == "" else v for v in row])
    for cells in merged:
        worksheet.merge_cells(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def contract_id(prefix: str, *parts: object) -> str:
    """Return an id as the data contract spells it: sha256 over text_key'd parts, 10 hex."""
    joined = "\x1f".join(text_key(str(p)) for p in parts)
    return prefix + hashlib.sha256(joined.encode("utf-8")).hexdigest()[:10]


# -- the register -----------------------------------------------------------------------------


def test_a_register_row_is_a_building_with_its_estate_cells_carried_down() -> None:
    found = read_register(ESTATE)
    assert found.ok, found.summary()
    assert found.header_row == 2
    first, second = (dict(row.data) for row in found.rows)
    assert first == {
        "community": "正街社区",
        "community_name": "供销社宿舍",
        "address": "虎峰镇正街45号",
        "building": "1栋",
        "building_head": "刘辉",
        "building_head_phone": "17185092524",
        "floors": 6,
        "households": 30,
        "in_programme": True,
        "facilities_manager": "铜梁区供销物业服务有限公司",
        "facilities_manager_kind": "物业服务企业",  # inferred: the name has 物业
        "grid_worker": "黄芳",
        "grid_worker_phone": "17140931737",
        "special_groups": "独居老人2户",
    }
    # The estate's merged cells reach its second building; the building's own do not.
    assert second == {
        **{k: first[k] for k in ("community", "community_name", "address", "in_programme")},
        **{k: first[k] for k in ("facilities_manager", "facilities_manager_kind")},
        **{k: first[k] for k in ("grid_worker", "grid_worker_phone")},
        "building": "2栋",
        "building_head": "吕云",
        "building_head_phone": "17063788183",
        "floors": 7,
        "households": 28,
    }
    assert [row.item()[:2] for row in found.rows] == [
        (building_id(first), "survey"),
        (building_id(second), "survey"),
    ]


def test_an_estates_own_cells_do_not_carry_into_the_next_estate() -> None:
    rows = [*ESTATE, building("1栋", "8层", 40, "", "", "", "", "", "")]
    found = read_register(rows)
    assert found.ok, found.summary()
    data = found.rows[-1].data
    assert "in_programme" not in data
    assert "grid_worker" not in data
    assert data["facilities_manager_kind"] == "无"  # a blank unit is none, not the one above


def test_a_workbook_with_merged_cells_reads_as_its_csv_does() -> None:
    merged = ["B3:B4", "C3:C4", "D3:D4", "H3:H4", "I3:I4", "J3:J4", "K3:K4"]
    assert read_register(xlsx_bytes(ESTATE, merged)).rows == read_register(ESTATE).rows


@pytest.mark.parametrize(
    ("replaces", "header", "cell", "key", "value"),
    [
        ("社区", "镇街/社区", "虎峰镇/正街社区", "town", "虎峰镇"),
        ("楼栋", "楼栋号", "1栋", "building", "1栋"),
        ("", "住户数", "30", "households", 30),
        ("", "户数（户）", "３０户", "households", 30),
        ("", "是否纳入老旧小区改造项目", "已纳入", "in_programme", True),
        ("", "纳入改造", "未纳入", "in_programme", False),
        (
            "",
            "物业公司",
            "重庆龙门物业服务有限公司",
            "facilities_manager",
            "重庆龙门物业服务有限公司",
        ),
        ("", "网格员姓名", "黄芳", "grid_worker", "黄芳"),
        ("", "特殊人群", "残疾人1户", "special_groups", "残疾人1户"),
        ("", "楼栋长", "刘辉（171-8509-2524）", "building_head_phone", "17185092524"),
        ("", "楼层数", "六层", "floors", 6),
    ],
)
def test_the_register_reads_the_headers_people_write(
    replaces: str, header: str, cell: str, key: str, value: object
) -> None:
    row = {"社区": "正街社区", "小区名称": "供销社宿舍", "楼栋": "1栋"}
    row.pop(replaces, None)
    row[header] = cell
    found = read_register([list(row), list(row.values())])
    assert found.ok, found.summary()
    assert found.rows[0].data[key] == value


@pytest.mark.parametrize(
    ("unit", "kind", "expected"),
    [
        ("重庆锦峰物业管理有限公司", "", "物业服务企业"),
        ("重庆安护消防设施维保有限公司（镇政府指定）", "", "镇政府指定单位"),
        ("巴岳新村业委会", "", "业主委员会"),
        ("邮电小区业主委员会", "", "业主委员会"),
        ("无", "", "无"),
        ("", "", "无"),
        ("铜梁区虎峰粮站（产权单位）", "镇政府指定单位", "镇政府指定单位"),
        ("铜梁区虎峰粮站（产权单位）", "政府指定", "镇政府指定单位"),
        ("", "无", "无"),
    ],
)
def test_the_kind_of_facilities_manager_is_given_or_read_from_its_name(
    unit: str, kind: str, expected: str
) -> None:
    found = read_register(sheet(HEAD, building("1栋", 8, 40, "否", unit, kind)))
    assert found.ok, found.summary()
    assert found.rows[0].data["facilities_manager_kind"] == expected
    assert found.rows[0].data.get("facilities_manager", "") == ("" if expected == "无" else unit)


def test_bad_register_rows_are_reported_by_row_and_column_and_the_good_ones_kept() -> None:
    found = read_register(
        sheet(
            HEAD,
            building("1栋"),
            building(""),  # row 4: no building
            building("3栋", 6, "很多"),  # row 5
            building("4栋", 6, 30, "也许"),  # row 6
            building("5栋", 6, 30, "否", "铜梁区虎峰粮站"),  # row 7: what kind of unit?
            building("6栋", 6, 30, "否", "无", "物业服务企业"),  # row 8: none, yet a company
            building("7栋", 6, 30, "否", "某物业", "", "", "朱玉 170****8544"),  # row 9
            building("8栋", "六十米高"),  # row 10
        )
    )
    assert [row.row for row in found.rows] == [3]
    problems = [(p.row, p.column, p.code) for p in found.problems]
    assert problems == [
        (4, "楼栋", "missing"),
        (5, "户数", "bad-number"),
        (6, "是否纳入改造", "bad-choice"),
        (7, "管理单位类型", "no-kind"),
        (8, "管理单位类型", "bad-choice"),
        (9, "楼栋长及联系方式", "masked-phone"),
        (10, "建筑高度（层数）", "bad-height"),
    ]
    assert found.bad_rows == (4, 5, 6, 7, 8, 9, 10)
    assert not found.ok
    summary = found.summary()
    assert "可导入1栋（1个小区）；有问题7行（7处）；重复0行。" in summary
    assert "  第7行「管理单位类型」：看不出「铜梁区虎峰粮站」是哪类管理单位" in summary


def test_the_same_building_twice_is_a_duplicate_naming_what_differs() -> None:
    found = read_register(sheet(HEAD, building("1栋"), building("2栋"), building("1 栋", 8, 41)))
    assert [row.row for row in found.rows] == [3, 4]
    (duplicate,) = found.duplicates
    assert (duplicate.row, duplicate.first_row) == (5, 3)
    assert duplicate.case_id == found.rows[0].case_id
    assert duplicate.differs == ("户数",)
    assert "第5行与第3行重复" in found.summary()


def test_a_register_without_its_columns_imports_nothing_and_says_why() -> None:
    missing = read_register(
        [["社区", "小区名称", "地址", "户数"], ["正街社区", "供销社宿舍", "", 3]]
    )
    assert missing.rows == ()
    assert [(p.row, p.column, p.code) for p in missing.problems] == [(1, "楼栋", "missing-column")]
    nothing = read_register([["甲", "乙"], ["1", "2"]])
    assert [p.code for p in nothing.problems] == ["no-header"]
    assert "没有找到表头（镇街/社区、小区名称、楼栋）" in nothing.summary()


def test_a_building_id_hashes_its_place_as_the_contract_says_and_stays_put() -> None:
    place = {
        "community": "正街社区",
        "community_name": "供销社宿舍",
        "address": "虎峰镇正街45号",
        "building": "1栋",
    }
    assert building_id(place) == "BLD-4927e38703"  # the same on every run and release
    assert building_id(place) == contract_id("BLD-", *place.values())
    spaced = {**place, "address": "虎峰镇 正街４５号", "building": " 1栋"}
    assert building_id(spaced) == building_id(place)
    assert building_id({**place, "building": "2栋"}) != building_id(place)
    assert building_id({**place, "households": 30, "grid_worker": "黄芳"}) == building_id(place)


def test_the_sample_register_reads_back_whole_from_both_files() -> None:
    book, text = read_register(REGISTER_XLSX), read_register(REGISTER_CSV)
    assert isinstance(book, RegisterImport)
    assert book.ok, book.summary()
    assert text.ok, text.summary()
    assert book.rows == text.rows
    assert len(book.rows) == 52
    estates = book.estates()
    assert {c: len(names) for c, names in estates.items()} == dict.fromkeys(
        ("虎峰社区", "正街社区", "巴岳社区", "新桥社区"), 5
    )
    kinds = Counter(str(r.data["facilities_manager_kind"]) for r in book.rows)
    assert set(kinds) == {"物业服务企业", "镇政府指定单位", "业主委员会", "无"}
    assert {r.data.get("in_programme") for r in book.rows} == {True, False}
    assert sum(bool(r.data.get("special_groups")) for r in book.rows) >= 10
    assert all(r.data.get("grid_worker") for r in book.rows)
    # Every building of the 2024 ledger is in the register, with the same building head;
    # some estates have no hazard at all, so coverage is not "estates with hazards".
    ledger = read_ledger(DATA / "ledger-2024.csv")
    heads = {
        (r.data["community"], r.data["community_name"], r.data["building"]): (
            r.data["building_head"],
            r.data["building_head_phone"],
        )
        for r in book.rows
    }
    for row in ledger.rows:
        place = (row.data["community"], row.data["community_name"], row.data["building"])
        assert heads[place] == (row.data["building_head"], row.data["phone"])
    hazard_estates = {(r.data["community"], r.data["community_name"]) for r in ledger.rows}
    register_estates = {(c, n) for c, names in estates.items() for n in names}
    assert len(register_estates - hazard_estates) == 8


# -- earlier years ----------------------------------------------------------------------------


def item(*cells: object) -> list[object]:
    """Return an earlier years' row from 年度 on (序号 first), the rest left blank."""
    return [0, *cells, *([""] * (len(EARLIER_HEAD) - 1 - len(cells)))]


#: Four earlier items: the year merged over its rows, the place over its buildings; a year
#: alone, a month and a date cell where the day is.
ITEMS: list[list[object]] = [
    item("2022年", "正街社区", "供销社宿舍", "虎峰镇正街45号", "1栋", "楼道堆放杂物", "",
         "2单元301室住户", "清理楼道堆放物", "2022/6/14"),
    item("", "", "", "", "2栋", "2单元3楼住户窗外搭设可燃雨棚", "STR.CANOPY",
         "张三（2单元301室业主）", "拆除可燃雨棚", ""),
    item("2023年度", "", "盐市口小区", "虎峰镇盐市口路7号", "1栋", "灭火器过期",
         "灭火器缺失、过期或损坏", "", "", "2023年6月"),
    item("", "正街社区", "盐市口小区", "", "2栋", "楼道堆放杂物", "", "", "",
         dt.date(2023, 11, 7)),
]  # fmt: skip


def test_an_earlier_item_is_read_with_its_year_and_the_day_it_was_closed() -> None:
    found = read_earlier(sheet(EARLIER_HEAD, *ITEMS), categories=TABLE)
    assert isinstance(found, EarlierImport)
    assert found.ok, found.summary()
    first = dict(found.rows[0].data)
    assert first == {
        "community": "正街社区",
        "community_name": "供销社宿舍",
        "address": "虎峰镇正街45号",
        "building": "1栋",
        "description": "楼道堆放杂物",
        "category": "PAS.EVAC",
        "year": 2022,
        "rectified_on": dt.date(2022, 6, 14),
        "responsible_party": "2单元301室住户",
        "measures": "清理楼道堆放物",
    }
    assert [(r.data["year"], r.data["rectified_on"], r.data["category"]) for r in found.rows] == [
        (2022, dt.date(2022, 6, 14), "PAS.EVAC"),
        (2022, dt.date(2022, 12, 31), "STR.CANOPY"),  # the year alone: closed by its end
        (2023, dt.date(2023, 6, 30), "FAC.EXT"),  # a month: its last day
        (2023, dt.date(2023, 11, 7), "PAS.EVAC"),  # the merged year carried down
    ]
    assert found.rows[1].data["community_name"] == "供销社宿舍"  # merged cells carried
    assert [i.row for i in found.inferred] == [3, 6]
    assert {r.workflow for r in found.rows} == {"earlier"}
    assert found.rows[0].case_id == earlier_id(first)
    assert "按年度：2022年 2项；2023年 2项。" in found.summary()


def test_bad_earlier_rows_are_reported_by_row_and_column() -> None:
    place = ("正街社区", "供销社宿舍", "", "1栋")
    found = read_earlier(
        sheet(
            EARLIER_HEAD,
            item("2022", *place, "楼道堆放杂物", "", "", "", "2023-01-05"),  # row 3
            item("二〇二二", *place, "灭火器过期"),  # row 4
            item("2022", *place, "墙皮脱落", "", "", "", "2022-05-01"),  # row 5
            item("2022", *place, "楼道堆放杂物", "没有这类", "", "", "2022-05-01"),  # row 6
            item("2022", *place, "", "", "", "", "2022-02-30"),  # row 7
            item("2022", *place, "飞线充电", "", "", "", "立即"),  # row 8
        ),
        categories=TABLE,
    )
    assert found.rows == ()
    assert [(p.row, p.column, p.code) for p in found.problems] == [
        (3, "销号日期", "bad-date"),
        (4, "年度", "bad-year"),
        (5, "隐患类别", "no-category"),
        (6, "隐患类别", "unknown-category"),
        (7, "隐患内容", "missing"),
        (7, "销号日期", "bad-date"),
        (8, "销号日期", "bad-date"),
    ]
    assert "2023-01-05不在2022年度内" in found.problems[0].reason


def test_an_earlier_item_needs_a_year_or_a_day_and_the_sheet_one_of_their_columns() -> None:
    blank = read_earlier(
        [["社区", "小区名称", "隐患内容", "年度"], ["正街社区", "供销社宿舍", "灭火器过期", ""]],
        categories=TABLE,
    )
    assert [(p.row, p.column, p.code) for p in blank.problems] == [(2, "年度", "missing")]
    neither = read_earlier(
        [["社区", "小区名称", "隐患内容"], ["正街社区", "供销社宿舍", "灭火器过期"]],
        categories=TABLE,
    )
    assert neither.rows == ()
    assert [(p.column, p.code) for p in neither.problems] == [("年度或销号日期", "missing-column")]


def test_an_earlier_id_hashes_year_place_and_text_as_the_contract_says() -> None:
    data = {
        "year": 2022,
        "community": "正街社区",
        "community_name": "供销社宿舍",
        "address": "虎峰镇正街45号",
        "building": "1栋",
        "description": "楼道堆放杂物",
    }
    assert earlier_id(data) == "ERL-954f0228cb"
    assert earlier_id(data) == contract_id("ERL-", *data.values())
    assert earlier_id({**data, "year": 2023}) != earlier_id(data)
    assert earlier_id({**data, "measures": "清理", "rectified_on": dt.date(2022, 1, 1)}) == (
        earlier_id(data)
    )


def test_the_sample_earlier_years_read_back_whole_from_both_files() -> None:
    book = read_earlier(EARLIER_XLSX, categories=TABLE)
    text = read_earlier(EARLIER_CSV, categories=TABLE)
    assert book.ok, book.summary()
    assert text.ok, text.summary()
    assert book.rows == text.rows
    assert Counter(r.data["year"] for r in book.rows) == {2022: 20, 2023: 20}
    assert all(r.data["rectified_on"].year == r.data["year"] for r in book.rows)  # type: ignore[attr-defined]
    assert len(book.inferred) >= 20  # most leave the category to the text
    assert all(r.data.get("measures") and r.data.get("responsible_party") for r in book.rows)
    register = {
        (r.data["community"], r.data["community_name"], r.data["building"])
        for r in read_register(REGISTER_CSV).rows
    }
    for row in book.rows:
        assert (row.data["community"], row.data["community_name"], row.data["building"]) in register


def test_the_sample_files_are_what_the_generator_makes_byte_for_byte(tmp_path: Path) -> None:
    # Run in a process of its own (it settles how openpyxl writes XML before importing it),
    # writing into a temporary folder rather than examples/data.
    script = (
        "import importlib.util, pathlib, sys\n"
        "spec = importlib.util.spec_from_file_location('sample', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module.HERE = pathlib.Path(sys.argv[2])\n"
        "module.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(DATA / "make_sample_ledger.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(
        f"{stem}.{ext}"
        for stem in ("earlier-2022-2023", "ledger-2024", "register-2024")
        for ext in ("csv", "xlsx")
    )
    for name in made:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
    assert "wrote register-2024.xlsx and register-2024.csv: 52 buildings" in done.stdout


# -- the ledger: tasks and earlier items ------------------------------------------------------


@pytest.fixture
def ledger() -> Ledger:
    return Ledger.with_workflows(MemoryStore(), campaign=load_campaign())


def test_open_tasks_opens_each_task_once_due_on_its_date(ledger: Ledger) -> None:
    campaign = load_campaign()
    office = Actor("镇消安办", "town_office")
    at = dt.datetime(2024, 3, 11, 9, tzinfo=TIMEZONE)
    assert ledger.open_tasks(campaign, office, at=at) == len(campaign.tasks) == 7
    assert ledger.open_tasks(campaign, office, at=at) == 0
    tasks = ledger.query(CaseQuery(workflow="task"))
    assert [c.id for c in tasks] == sorted(t.case_id for t in campaign.tasks)
    for task in campaign.tasks:
        case = ledger.get(task.case_id)
        assert dict(case.data) == task.data()
        assert case.deadline == task.due
        assert CASE_NUMBER not in case.data  # a task is not a hazard: no case number


def test_a_task_goes_overdue_the_day_after_its_due_date_until_it_is_done(ledger: Ledger) -> None:
    office = Actor("镇消安办", "town_office")
    ledger.open_tasks(load_campaign(), office, at=dt.datetime(2024, 3, 11, 9, tzinfo=TIMEZONE))
    on_time = dt.datetime(2024, 4, 10, 18, tzinfo=TIMEZONE)
    late = dt.datetime(2024, 4, 11, 18, tzinfo=TIMEZONE)
    ledger.sweep(late)  # the task workflow escalates nothing; its deadline is what counts
    overdue = ledger.query(CaseQuery(workflow="task", overdue_on=late.date()))
    assert [c.id for c in overdue] == [
        "TASK-name_staff",
        "TASK-survey_buildings",
        "TASK-survey_renovated",
    ]
    assert ledger.query(CaseQuery(workflow="task", overdue_on=on_time.date())) == []
    ledger.fire(
        "TASK-name_staff",
        "complete",
        Actor("正街社区", "community"),
        payload={"summary": "各小区网格员、楼栋长已明确"},
        at=late,
    )
    done = ledger.get("TASK-name_staff")
    assert done.state == "done"
    assert not is_overdue(done, dt.date(2024, 5, 1))


def test_earlier_items_are_opened_on_the_day_they_were_closed_and_numbered_in_their_year(
    ledger: Ledger,
) -> None:
    found = read_earlier(EARLIER_CSV, categories=TABLE)
    items = found.cases()
    seen: list[tuple[int, int]] = []
    added = ledger.import_earlier(items, COMMUNITY, progress=lambda n, s: seen.append((n, s)))
    assert added == 40
    assert seen[-1] == (40, 40)
    numbers = []
    for case_id, _, data in items:
        case = ledger.get(case_id)
        assert case.workflow == "earlier"
        assert case.state == "rectified"
        closed_on = data["rectified_on"]
        assert isinstance(closed_on, dt.date)
        assert case.history[0].at == dt.datetime.combine(closed_on, dt.time(12), TIMEZONE)
        short = str(data["community"]).removesuffix("社区")
        assert str(case.data[CASE_NUMBER]).startswith(f"{short}-{closed_on.year}-")
        numbers.append(case.data[CASE_NUMBER])
    assert len(set(numbers)) == 40
    assert ledger.import_earlier(items, COMMUNITY) == 0
    # The earlier items are numbered in their own years: this year's first hazard is 001.
    hazard = ledger.open(
        "HZ-1",
        "hazard",
        {"community": "正街社区", "community_name": "供销社宿舍", "description": "楼道堆放杂物"},
        Actor("网格员", "grid_worker"),
        at=dt.datetime(2024, 3, 18, 9, tzinfo=TIMEZONE),
    )
    assert hazard.case.data[CASE_NUMBER] == "正街-2024-001"


def test_an_earlier_item_without_its_day_is_refused_and_nothing_is_stored(ledger: Ledger) -> None:
    good = ("ERL-1", "earlier", {"community": "正街社区", "rectified_on": dt.date(2022, 5, 1)})
    bad = ("ERL-2", "earlier", {"community": "正街社区", "rectified_on": "2022-05-01"})
    with pytest.raises(ArgumentError, match="ERL-2"):
        ledger.import_earlier([good, bad], COMMUNITY)
    assert list(ledger.cases()) == []


# -- the command line -------------------------------------------------------------------------


def test_import_register_opens_a_survey_case_per_building_once(tmp_path: Path) -> None:
    db = tmp_path / "rectify.db"
    first = invoke("import-register", REGISTER_CSV, "--db", db, "--at", "2024-03-20T09:00")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == "新增 52 栋，已存在 0 栋，有问题 0 行"
    assert "可导入52栋（20个小区）" in first.stdout
    assert "导入中" in first.stderr
    again = run("import-register", REGISTER_XLSX, "--db", db, "--at", "2024-03-21T09:00")
    assert again.splitlines()[-1] == "新增 0 栋，已存在 52 栋，有问题 0 行"
    listed = run("cases", "--db", db, "--workflow", "survey")
    assert listed.splitlines()[-1] == "共 52 件"
    assert "待摸排" in listed


def test_import_register_reports_bad_rows_imports_the_rest_and_exits_1(tmp_path: Path) -> None:
    db = tmp_path / "rectify.db"
    sheet_file = tmp_path / "摸排表.csv"
    lines = [",".join(HEAD), ",".join(str(c) for c in building("1栋")), ","]
    lines[-1] = ",".join(str(c) for c in building("2栋", 6, "很多"))
    sheet_file.write_text("\n".join(lines), encoding="utf-8")
    result = invoke("import-register", sheet_file, "--db", db, "--at", "2024-03-20T09:00")
    assert result.exit_code == 1
    assert f"{sheet_file}:3: 户数: 「很多」不是户数" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "rectify: 错误：有 1 行有问题，未导入（见上方各行）：改正后重新导入即可，已导入的行不会重复"
    )
    assert result.stdout.splitlines()[-1] == "新增 1 栋，已存在 0 栋，有问题 1 行"
    assert run("cases", "--db", db, "--workflow", "survey").splitlines()[-1] == "共 1 件"


def test_import_earlier_opens_each_item_on_its_day(tmp_path: Path) -> None:
    db = tmp_path / "rectify.db"
    result = invoke("import-earlier", EARLIER_XLSX, "--db", db)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "新增 40 项，已存在 0 项，有问题 0 行"
    assert "按年度：2022年 20项；2023年 20项。" in result.stdout
    assert run("cases", "--db", db, "--workflow", "earlier").splitlines()[-1] == "共 40 件"
    assert run("cases", "--db", db).splitlines()[-1] == "共 0 件"  # hazards only by default
    again = run("import-earlier", EARLIER_CSV, "--db", db)
    assert again.splitlines()[-1] == "新增 0 项，已存在 40 项，有问题 0 行"


def test_import_earlier_exits_1_when_the_sheet_has_no_header(tmp_path: Path) -> None:
    sheet_file = tmp_path / "空.csv"
    sheet_file.write_text("甲,乙\n1,2\n", encoding="utf-8")
    result = invoke("import-earlier", sheet_file, "--db", tmp_path / "rectify.db")
    assert result.exit_code == 1
    assert "没有找到表头" in result.stderr
    assert (
        result.stderr.splitlines()[-1]
        == "rectify: 错误：表头有问题，没有导入任何行：改正表头后重新导入"
    )


def test_import_earlier_warns_of_an_unsure_category_and_imports_the_item(tmp_path: Path) -> None:
    sheet_file = tmp_path / "历年.csv"
    sheet_file.write_text(
        "年度,社区,小区名称,楼栋,隐患内容,销号日期\n2022,正街社区,供销社宿舍,1栋,3单元5楼窗外加装铁笼子,\n",
        encoding="utf-8",
    )
    db = tmp_path / "rectify.db"
    result = invoke("import-earlier", sheet_file, "--db", db)
    assert result.exit_code == 0, result.output
    assert (
        f"{sheet_file}:2: 隐患类别: 推断为「突出外墙防护网」（把握 0.60），请核实" in result.stderr
    )
    assert result.stdout.splitlines()[-1] == "新增 1 项，已存在 0 项，有问题 0 行"
    ((case_id, _, data),) = read_earlier(sheet_file, categories=TABLE).cases()
    assert (data["category"], data["category_confidence"]) == ("STR.NET", 0.6)
    assert data["rectified_on"] == dt.date(2022, 12, 31)
    assert case_id in run("cases", "--db", db, "--workflow", "earlier")


def task_line(stdout: str, case_id: str) -> list[str]:
    return next(line.split() for line in stdout.splitlines() if line.startswith(case_id))


def test_tasks_opens_the_task_list_once_and_shows_state_overdue_and_progress(
    tmp_path: Path,
) -> None:
    db = tmp_path / "rectify.db"
    before = run("tasks", "--open", "--db", db, "--at", "2024-03-11T09:00")
    assert before == "下达任务 7 项，已存在 0 项\n"
    assert run("tasks", "--open", "--db", db) == "下达任务 0 项，已存在 7 项\n"
    run(
        "fire", "TASK-survey_buildings", "report_progress", "--db", db, "--actor", "正街社区",
        "--role", "community", "--set", "progress=已摸排12个小区", "--at", "2024-04-08T17:00",
    )  # fmt: skip
    run(
        "fire", "TASK-name_staff", "complete", "--db", db, "--actor", "正街社区",
        "--role", "community", "--set", "summary=网格员、楼栋长已明确", "--at", "2024-04-09T17:00",
    )  # fmt: skip
    out = run("tasks", "--db", db, "--as-of", "2024-04-13")
    assert out.splitlines()[0].split() == [
        "任务", "阶段", "具体内容", "责任单位", "完成时限", "状态", "逾期", "最新进展",
    ]  # fmt: skip
    survey = task_line(out, "TASK-survey_buildings")
    assert survey[1] == "排查摸底"
    assert survey[4:] == ["2024-04-10", "推进中", "3天", "04-08", "已摸排12个小区"]
    assert task_line(out, "TASK-name_staff")[4:7] == ["2024-04-10", "已完成", "04-09"]
    assert task_line(out, "TASK-canopies")[4:] == ["2024-12-25", "推进中"]
    assert out.splitlines()[-1] == (
        "共 7 项：已办结 1 项，推进中 6 项（逾期 2 项），未下达 0 项（2024-04-13）"
    )
    # As the list stood before the progress was reported.
    earlier = run("tasks", "--db", db, "--as-of", "2024-04-01")
    assert task_line(earlier, "TASK-name_staff")[4:] == ["2024-04-10", "推进中"]


def test_tasks_lists_the_campaigns_tasks_not_yet_opened(tmp_path: Path) -> None:
    db = tmp_path / "rectify.db"
    run("init", "--db", db)
    out = run("tasks", "--db", db, "--as-of", "2024-03-01")
    assert {task_line(out, f"TASK-{k}")[5] for k in ("patrols", "canopies")} == {"未下达"}
    assert (
        out.splitlines()[-1]
        == "共 7 项：已办结 0 项，推进中 0 项（逾期 0 项），未下达 7 项（2024-03-01）"
    )


def test_a_survey_fired_on_a_building_shows_it_surveyed(tmp_path: Path) -> None:
    db = tmp_path / "rectify.db"
    run("import-register", REGISTER_CSV, "--db", db, "--at", "2024-03-20T09:00")
    building = read_register(REGISTER_CSV).rows[0]
    out = run(
        "fire", building.case_id, "survey", "--db", db, "--actor", "网格员-沈芳辉",
        "--role", "grid_worker", "--set", "grid_worker=沈芳辉",
        "--set", f"building_head={building.data['building_head']}", "--set", "hazards=2",
        "--at", "2024-03-25T10:00",
    )  # fmt: skip
    assert "已摸排" in out
    case = run("show", building.case_id, "--db", db)
    assert "状态：已摸排" in case.splitlines()[0]
    listed = run("cases", "--db", db, "--workflow", "survey", "--state", "已摸排", "--all")
    assert listed.splitlines()[-1] == "共 1 件"
    assert building.case_id in listed


def test_the_campaign_commands_speak_chinese_on_every_line(tmp_path: Path) -> None:
    db = tmp_path / "rectify.db"
    register = invoke("import-register", REGISTER_XLSX, "--db", db, "--at", "2024-03-20T09:00")
    earlier = invoke("import-earlier", EARLIER_CSV, "--db", db)
    outputs = [register.stdout, register.stderr, earlier.stdout, earlier.stderr]
    outputs.append(run("tasks", "--open", "--db", db, "--at", "2024-03-11T09:00"))
    outputs.append(run("tasks", "--db", db, "--as-of", "2024-04-13"))
    for text in outputs:
        assert text.strip()
        assert_chinese(text)
