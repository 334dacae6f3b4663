"""The ledger (台账) as a spreadsheet: reading messy files, writing, round trips, privacy.

The messy corpus is in tests/data/ledgers (made by make_ledgers.py there); the sample ledger
of the demo is examples/data/ledger-2024.{xlsx,csv} (made by make_sample_ledger.py).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import attrs
import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter

import rectify
from rectify import Actor, Evidence, Ledger, WorkflowSpec
from rectify.documents._reports import hazard_facts
from rectify.exceptions import RectifyError
from rectify.spreadsheets import (
    LedgerImport,
    ledger_totals,
    read_ledger,
    write_ledger,
    write_ledger_totals,
)
from rectify.stores import MemoryStore
from rectify.testing import FakeCalendar
from tests.conftest import EXAMPLES, ROOT
from tests.strategies import BrokenLedger, LedgerSheet, broken_ledgers, ledger_sheets

CORPUS = ROOT / "tests" / "data" / "ledgers"
SAMPLE_XLSX = EXAMPLES / "data" / "ledger-2024.xlsx"
SAMPLE_CSV = EXAMPLES / "data" / "ledger-2024.csv"
TZ = ZoneInfo("Asia/Shanghai")
AT = dt.datetime(2024, 4, 1, 9, tzinfo=TZ)
COMMUNITY = Actor("c-1", "community")
GRID = Actor("g-1", "grid_worker")
CASE_ID = re.compile(r"HZ-[0-9a-f]{10}")
HEAD = "消防安全管理人（楼栋长）及联系方式"
DATE_HELP = "请写成2024-06-30、2024/6/30、2024.6.30或2024年6月30日"


def problems(result: LedgerImport) -> list[tuple[int, str, str]]:
    return [(p.row, p.column, p.reason) for p in result.problems]


def inferred(result: LedgerImport) -> list[tuple[int, str, str, tuple[str, ...]]]:
    return [(i.row, i.category, i.keyword, i.also) for i in result.inferred]


def make_ledger() -> Ledger:
    return Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())


def specs_of(ledger: Ledger) -> list[WorkflowSpec]:
    return [engine.spec for engine in ledger.engines]


def one(**cells: object) -> LedgerImport:
    """Read a sheet of the seven columns and one data row (row 2) with ``cells`` changed."""
    row: dict[str, object] = {
        "镇街/社区": "虎峰社区",
        "小区名称": "龙门小区",
        "地址": "龙门街12号",
        HEAD: "李华 17012345678",
        "建筑高度（层数）": "6层",
        "隐患内容": "楼道堆放杂物",
        "整改时限": "2024-06-30",
    }
    row.update({k.replace("_", "/"): v for k, v in cells.items()})
    return read_ledger([list(row), list(row.values())], town="虎峰镇")


def csv_bytes(rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(
            [
                v.date().isoformat() if isinstance(v, dt.datetime) else "" if v is None else str(v)
                for v in row
            ]
        )
    return buffer.getvalue().encode(encoding)


# -- the messy corpus ----------------------------------------------------------------------


def test_title_row_and_merged_header_and_community_cells_of_a_workbook() -> None:
    result = read_ledger(CORPUS / "title-merged.xlsx", town="虎峰镇")
    assert result.header_row == 2
    assert problems(result) == [
        (7, "整改时限", "「2024-13-01」不是有效日期：没有13月"),
        (8, f"{HEAD}/联系电话", "电话号码「1701234」位数不对：手机号应为11位"),
    ]
    assert inferred(result) == [
        (4, "PAS.EVAC", "楼道堆放", ()),
        (5, "FAC.HOSE", "水带", ()),  # 消火栓箱 names the box, not what is wrong
        (9, "FAC.SPR", "喷淋", ()),
    ]
    assert result.duplicates == ()
    assert [r.row for r in result.rows] == [4, 5, 9]
    first, second, third = (dict(r.data) for r in result.rows)
    assert first == {
        "town": "虎峰镇",
        "community": "虎峰社区",
        "community_name": "龙门小区",
        "address": "龙门街12号",
        "building_head": "李华",
        "phone": "17012345678",
        "floors": 6,
        "category": "PAS.EVAC",
        "severity": "immediate",
        "description": "楼道堆放杂物",
        "due": dt.date(2024, 4, 10),
    }
    # The merged community, estate and address cells carry down to the row below.
    assert {k: second[k] for k in ("community", "community_name", "address")} == {
        "community": "虎峰社区",
        "community_name": "龙门小区",
        "address": "龙门街12号",
    }
    assert second["due"] == dt.date(2024, 6, 30)  # an Excel date cell
    assert third["due"] == dt.date(2024, 6, 30)  # a date serial number (45473)
    assert third["floors"] == 33
    assert [r.workflow for r in result.rows] == ["immediate", "hazard", "hazard"]


def test_messy_csv_reports_each_bad_row_and_imports_the_rest() -> None:
    result = read_ledger(CORPUS / "messy.csv", town="虎峰镇")
    assert result.header_row == 3
    assert problems(result) == [
        (8, "整改时限", f"「明年」不是日期：{DATE_HELP}"),
        (9, "隐患内容", "不能为空"),
        (10, "建筑高度（层数）", "看不懂「高层」：请写层数（如6层、6F、六层）或高度（如24米）"),
        (10, "隐患类别", "为空，且隐患内容中没有可识别的关键词：请填写隐患类别"),
        (12, "整改时限", "「2024-2-30」不是有效日期：2024年2月没有30日"),
    ]
    assert [p.code for p in result.problems] == [
        "bad-date",
        "missing",
        "bad-height",
        "no-category",
        "bad-date",
    ]
    assert inferred(result) == [
        (4, "PAS.EVAC", "楼道堆放", ()),
        (5, "FAC.HOSE", "水带", ()),  # 消火栓箱 names the box, not what is wrong
        (13, "EBIKE.PARK", "楼道停放电动车", ()),
        # the longest keyword wins; the other category is named
        (14, "EBIKE.CHARGE", "电动车充电", ("ELEC.WIRE",)),
    ]
    first = result.rows[0]
    assert [(d.row, d.first_row, d.case_id, d.differs) for d in result.duplicates] == [
        (7, 4, first.case_id, ())
    ]
    assert [r.row for r in result.rows] == [4, 5, 11, 13, 14]
    assert dict(first.data) == {
        "town": "虎峰镇",
        "community": "虎峰社区",
        "community_name": "龙门小区",
        "address": "龙门街12号",  # full-width digits read as digits
        "building_head": "李华",
        "phone": "17033133801",
        "floors": 6,
        "category": "PAS.EVAC",
        "severity": "immediate",
        "description": "楼道堆放杂物，堵塞疏散通道",  # stray spaces gone
        "due": dt.date(2024, 6, 30),
    }
    assert result.rows[1].data["phone"] == "17033133801"  # 李华（170-3313-3801）
    assert result.rows[2].data["category"] == "EBIKE.CHARGE"  # given, not inferred
    assert result.rows[3].data["description"] == (
        '=HYPERLINK("http://example.invalid")楼道停放电动车'
    )
    assert not result.ok
    assert result.bad_rows == (8, 9, 10, 12)


def test_a_gbk_csv_without_a_bom_is_read() -> None:
    raw = (CORPUS / "gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    result = read_ledger(CORPUS / "gbk.csv", town="虎峰镇")
    assert result.header_row == 1
    assert problems(result) == [(4, "隐患内容", "不能为空")]
    assert [(r.row, r.data["community"], r.data["category"]) for r in result.rows] == [
        (2, "新桥社区", "MIX.SHOP"),
        (3, "新桥社区", "ORG.MFS"),
    ]
    assert result.rows[0].data["due"] == dt.date(2024, 5, 31)
    assert "due" not in result.rows[1].data  # blank: the severity's period applies


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_every_encoding_reads_the_same(encoding: str) -> None:
    text = (CORPUS / "messy.csv").read_bytes().decode("utf-8-sig")
    data = text.encode(encoding)
    assert read_ledger(data, town="虎峰镇") == attrs.evolve(
        read_ledger(CORPUS / "messy.csv", town="虎峰镇"), source="<bytes>"
    )


def test_a_tab_separated_file_is_read() -> None:
    text = (CORPUS / "messy.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter="\t").writerows(rows)
    result = read_ledger(buffer.getvalue().encode("utf-8"), town="虎峰镇")
    assert [r.row for r in result.rows] == [4, 5, 11, 13, 14]


def test_an_old_xls_workbook_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)
    with pytest.raises(RectifyError, match=r"save it as \.xlsx or \.csv"):
        read_ledger(path)


def test_text_that_is_not_utf8_or_gb18030_is_refused() -> None:
    with pytest.raises(RectifyError, match="neither UTF-8 nor GBK"):
        read_ledger(b"\x81\x30\xff\xff,\n")


# -- headers ---------------------------------------------------------------------------


def test_a_sheet_without_a_header_is_one_problem() -> None:
    result = read_ledger([["铜梁区虎峰镇老旧小区台账"], ["a", "b", "c"]])
    assert [(p.row, p.column, p.code) for p in result.problems] == [(1, "", "no-header")]
    assert result.rows == ()
    assert result.header_row == 0


def test_a_missing_required_column_stops_the_import() -> None:
    result = read_ledger(
        [["镇街/社区", "小区名称", "地址", "整改时限"], ["虎峰社区", "龙门小区", "x", ""]]
    )
    assert problems(result) == [(1, "隐患内容", "缺少此列")]
    assert result.rows == ()


def test_unknown_and_repeated_columns_are_reported_and_the_rows_still_import() -> None:
    header = ["镇街/社区", "小区名称", "隐患内容", "备忘", "社区"]
    result = read_ledger([header, ["虎峰社区", "龙门小区", "楼道堆放杂物", "x", "正街社区"]])
    assert problems(result) == [
        (1, "备忘", "未识别的列，此列内容不会导入"),
        (1, "社区", "与「镇街/社区」列重复，此列不会导入"),
    ]
    assert [r.data["community"] for r in result.rows] == ["虎峰社区"]


def test_data_in_a_column_without_a_header_is_reported() -> None:
    header = ["镇街/社区", "小区名称", "地址", HEAD, None, "建筑高度（层）", "隐患内容"]
    rows: list[list[str | None]] = [
        header,
        ["虎峰社区", "龙门小区", "1号", "李华", "17012345678", "6", "楼道堆放杂物"],
        ["虎峰社区", "龙门小区", "2号", "王芳", "17112345678", "7", "楼道堆放杂物"],
    ]
    result = read_ledger(rows)
    assert problems(result) == [
        (1, "E列", "此列没有表头，第2、3行填在此列的内容未导入：请补上表头（如「联系电话」）")
    ]
    assert [r.data["floors"] for r in result.rows] == [6, 7]  # 建筑高度（层） is understood
    assert "表头：\n  第1行「E列」" in result.summary()


def test_optional_columns_are_read() -> None:
    header = [
        *rectify.spreadsheets.LEDGER_HEADERS,
        "隐患类别",
        "严重程度",
        "楼栋",
        "隐患部位",
        "整改责任人",
    ]
    header += ["整改措施", "备注", "案件编号"]
    row = ["虎峰镇虎峰社区", "龙门小区", "龙门街12号", "", "", "地下车库喷淋头缺失", ""]
    row += ["室内消火栓缺失或无水", "一般隐患", "3栋", "地下车库", "物业服务企业"]
    row += ["更换喷头", "已约谈", "A-17"]
    (imported,) = read_ledger([header, row]).rows
    assert imported.case_id == "A-17"
    assert imported.workflow == "hazard"
    assert dict(imported.data) == {
        "town": "虎峰镇",
        "community": "虎峰社区",
        "community_name": "龙门小区",
        "address": "龙门街12号",
        "building": "3栋",
        "category": "FAC.HYD.IN",  # the column says so, whatever the text suggests
        "severity": "general",
        "description": "地下车库喷淋头缺失",
        "location": "地下车库",
        "responsible_party": "物业服务企业",
        "measures": "更换喷头",
        "note": "已约谈",
    }


# -- cells -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "floors", "height"),
    [
        ("6层", 6, None),
        ("18", 18, None),
        (18, 18, None),
        (18.0, 18, None),
        ("6F", 6, None),
        ("６ｆ", 6, None),
        ("六层", 6, None),
        ("十层", 10, None),
        ("十八层", 18, None),
        ("二十三层", 23, None),
        ("九十九层", 99, None),
        ("24米", None, 24),
        ("24.5米", None, 24.5),
        ("24m", None, 24),
        ("24米（8层）", 8, 24),
        ("8层/24米", 8, 24),
        ("", None, None),
    ],
)
def test_floors_and_heights(cell: object, floors: int | None, height: float | None) -> None:
    (row,) = one(**{"建筑高度（层数）": cell}).rows
    assert row.data.get("floors") == floors
    assert row.data.get("height") == height


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("高层", "看不懂「高层」：请写层数（如6层、6F、六层）或高度（如24米）"),
        ("0层", "层数0超出范围（1–150）"),
        ("6.5层", "「6.5层」的层数不是整数"),
        ("6层半", "看不懂「6层半」中的「半」"),
        ("9000米", "高度9000米超出范围（0–600米）"),
    ],
)
def test_unreadable_floors(cell: str, reason: str) -> None:
    assert problems(one(**{"建筑高度（层数）": cell})) == [(2, "建筑高度（层数）", reason)]


@pytest.mark.parametrize(
    "cell",
    [
        "2024-06-30",
        "2024/6/30",
        "2024.6.30",
        "2024年6月30日",
        "2024年6月30日前",
        " 2024 - 06 - 30 ",
        "20240630",
        "2024-06-30 00:00:00",
        dt.date(2024, 6, 30),
        dt.datetime(2024, 6, 30),
        45473,
    ],
)
def test_dates(cell: object) -> None:
    (row,) = one(整改时限=cell).rows
    assert row.data["due"] == dt.date(2024, 6, 30)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("2024-13-01", "「2024-13-01」不是有效日期：没有13月"),
        ("明年", f"「明年」不是日期：{DATE_HELP}"),
        ("6月30日", f"「6月30日」不是日期：{DATE_HELP}"),
        ("1999-06-30", "「1999-06-30」超出范围（2000–2099年）"),
        (3.5, "「3.5」不是日期"),
    ],
)
def test_wrong_dates(cell: object, reason: str) -> None:
    assert problems(one(整改时限=cell)) == [(2, "整改时限", reason)]


def test_immediately_is_a_deadline_only_for_immediate_hazards() -> None:
    (row,) = one(整改时限="立即整改").rows
    assert "due" not in row.data
    assert row.workflow == "immediate"
    assert problems(one(整改时限="立即整改", 隐患内容="消火栓箱内水带缺失")) == [
        (2, "整改时限", "写的是「立即整改」，但该隐患按「一般隐患（短期）」整改：请填写日期")
    ]


@pytest.mark.parametrize(
    ("cell", "name", "phone"),
    [
        ("李华 17012345678", "李华", "17012345678"),
        ("李华/170-1234-5678", "李华", "17012345678"),
        ("李华（17012345678）", "李华", "17012345678"),
        ("李华(170 1234 5678)", "李华", "17012345678"),
        ("李华17012345678", "李华", "17012345678"),
        ("李华 电话：17012345678", "李华", "17012345678"),
        ("李华 +86 170-1234-5678", "李华", "17012345678"),
        ("李华 023-45671234", "李华", "02345671234"),
        ("李华 17012345678、王芳 17112345678", "李华、王芳", "17012345678、17112345678"),
        ("李华", "李华", None),
        ("17012345678", None, "17012345678"),
        ("", None, None),
    ],
)
def test_name_and_phone_in_one_cell(cell: str, name: str | None, phone: str | None) -> None:
    (row,) = one(**{HEAD: cell}).rows
    assert row.data.get("building_head") == name
    assert row.data.get("phone") == phone


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("李华 1701234567", "电话号码「1701234567」位数不对：手机号应为11位"),
        ("李华 170-1234-56789", "电话号码「170-1234-56789」位数不对：手机号应为11位"),
        ("李华 170****5678", "电话号码「170****5678」已打码：请填写完整号码"),
    ],
)
def test_bad_phones(cell: str, reason: str) -> None:
    assert problems(one(**{HEAD: cell})) == [(2, HEAD, reason)]


@pytest.mark.parametrize(
    ("cell", "town", "community"),
    [
        ("虎峰镇/虎峰社区", "虎峰镇", "虎峰社区"),
        ("虎峰镇／虎峰社区", "虎峰镇", "虎峰社区"),
        ("虎峰镇虎峰社区", "虎峰镇", "虎峰社区"),
        ("虎峰社区", "虎峰镇", "虎峰社区"),  # the town from read_ledger(town=...)
        ("巴川街道 正街社区", "巴川街道", "正街社区"),
        ("虎 峰 社 区", "虎峰镇", "虎峰社区"),
    ],
)
def test_town_and_community(cell: str, town: str, community: str) -> None:
    (row,) = one(镇街_社区=cell).rows
    assert (row.data["town"], row.data["community"]) == (town, community)


def test_a_town_without_a_community_is_a_problem() -> None:
    assert problems(one(镇街_社区="虎峰镇")) == [(2, "镇街/社区", "「虎峰镇」只有镇街，缺少社区")]


def test_categories_and_severities_by_code_or_title() -> None:
    header = [*rectify.spreadsheets.LEDGER_HEADERS, "隐患类别", "严重程度"]
    base = ["虎峰社区", "龙门小区", "龙门街12号", "", "", "有情况", ""]
    rows = [
        header,
        [*base, "pas.lane", ""],
        [*base[:5], "另一处", "", "消防车通道被占用或堵塞", "general-short"],
        [*base[:5], "第三处", "", "PAS.LANE 消防车通道", "一般隐患（短期）"],
        [*base[:5], "第四处", "", "XX.YY", "很严重"],
    ]
    result = read_ledger(rows)
    assert [(r.data["category"], r.data["severity"], r.workflow) for r in result.rows] == [
        ("PAS.LANE", "immediate", "immediate"),
        ("PAS.LANE", "general_short", "hazard"),
        ("PAS.LANE", "general_short", "hazard"),
    ]
    reasons = problems(result)
    assert [r[:2] for r in reasons] == [(5, "隐患类别"), (5, "严重程度")]
    assert reasons[0][2] == "未知的隐患类别「XX.YY」：请填写类别编号（如PAS.LANE）或类别名称"
    assert reasons[1][2].startswith("未知的严重程度「很严重」：可选immediate（立即整改）、")
    assert result.inferred == ()


def test_a_town_table_decides_the_inference() -> None:
    table = rectify.load_categories()
    changed = attrs.evolve(
        table,
        categories=tuple(
            attrs.evolve(c, keywords=(*c.keywords, "配电房")) if c.code == "ELEC.WIRE" else c
            for c in table.categories
        ),
    )
    assert one(隐患内容="配电房门锁损坏").rows == ()
    (row,) = read_ledger(
        [
            list(rectify.spreadsheets.LEDGER_HEADERS),
            ["虎峰社区", "龙门小区", "", "", "", "配电房门锁损坏", ""],
        ],
        categories=changed,
    ).rows
    assert row.data["category"] == "ELEC.WIRE"


# -- the sample ledger -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> LedgerImport:
    return read_ledger(SAMPLE_XLSX)


def test_the_sample_ledger_reads_clean_and_covers_every_category(sample: LedgerImport) -> None:
    assert sample.ok, sample.summary()
    assert len(sample.rows) == 100
    assert {r.data["community"] for r in sample.rows} == {
        "虎峰社区",
        "正街社区",
        "巴岳社区",
        "新桥社区",
    }
    assert len({r.data["community_name"] for r in sample.rows}) == 12
    assert {r.data["category"] for r in sample.rows} == rectify.load_categories().codes
    assert 0 < len(sample.inferred) < len(sample.rows)  # most rows leave the category empty
    phones = {str(r.data["phone"]) for r in sample.rows}
    assert all(re.fullmatch(r"17[01]\d{8}", p) for p in phones)
    assert all(r.data["floors"] in range(5, 34) for r in sample.rows)
    dues = [r.data["due"] for r in sample.rows if "due" in r.data]
    assert all(isinstance(d, dt.date) and d.year == 2024 for d in dues)
    assert len(dues) < len(sample.rows)


def test_the_sample_workbook_and_csv_file_hold_the_same_rows(sample: LedgerImport) -> None:
    assert read_ledger(SAMPLE_CSV).rows == sample.rows


def test_reimporting_gives_the_same_ids_and_duplicates_nothing(sample: LedgerImport) -> None:
    again = read_ledger(SAMPLE_XLSX)
    assert [r.case_id for r in again.rows] == [r.case_id for r in sample.rows]
    assert all(CASE_ID.fullmatch(r.case_id) for r in sample.rows)
    assert len({r.case_id for r in sample.rows}) == len(sample.rows)
    ledger = make_ledger()
    assert ledger.import_cases(sample.cases(), COMMUNITY, at=AT) == 100
    assert ledger.import_cases(again.cases(), COMMUNITY, at=AT) == 0
    assert ledger.import_cases(read_ledger(SAMPLE_CSV).cases(), COMMUNITY, at=AT) == 0
    assert len(list(ledger.cases())) == 100


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_round_trip_export_then_import_gives_the_same_rows(
    sample: LedgerImport, fmt: str, tmp_path: Path
) -> None:
    ledger = make_ledger()
    ledger.import_cases(sample.cases(), COMMUNITY, at=AT)
    path = tmp_path / f"ledger.{fmt}"
    written = write_ledger(
        ledger.cases(),
        path,
        specs=specs_of(ledger),
        reader_role="community",
        title="铜梁区虎峰镇老旧小区台账",
    )
    assert written == 100
    back = read_ledger(path)
    assert back.ok, back.summary()
    assert back.header_row == 2
    assert sorted(r.item() for r in back.rows) == sorted(r.item() for r in sample.rows)
    assert ledger.import_cases(back.cases(), COMMUNITY, at=AT) == 0


def test_the_export_adds_state_deadline_level_and_id(sample: LedgerImport, tmp_path: Path) -> None:
    ledger = make_ledger()
    ledger.import_cases(sample.cases()[:1], COMMUNITY, at=AT)
    (case,) = ledger.cases()
    escalated = attrs.evolve(case, escalation=2)
    path = tmp_path / "ledger.csv"
    write_ledger([escalated], path, specs=specs_of(ledger), fmt="csv", reader_role="community")
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    header, row = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert header[:12] == [
        *rectify.spreadsheets.LEDGER_HEADERS,
        "隐患类别",
        "当前状态",
        "当前环节期限",
        "督办等级",
        "案件编号",
    ]
    cells = dict(zip(header, row, strict=True))
    spec = ledger.engine(case.workflow).spec
    assert cells["当前状态"] == spec.state(case.state).title
    assert cells["当前环节期限"] == (case.deadline.isoformat() if case.deadline else "")
    assert cells["督办等级"].startswith("L2 ")
    assert cells["案件编号"] == case.id
    assert cells["镇街/社区"] == f"虎峰镇/{case.data['community']}"


def test_the_workbook_has_a_bold_frozen_header_and_sized_columns(
    sample: LedgerImport, tmp_path: Path
) -> None:
    ledger = make_ledger()
    ledger.import_cases(sample.cases()[:5], COMMUNITY, at=AT)
    path = tmp_path / "ledger.xlsx"
    write_ledger(ledger.cases(), path, specs=specs_of(ledger), reader_role="community")
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.freeze_panes == "A2"
    # A 序号 column first (the print layout; tests/test_export.py checks the rest of it).
    header = [c.value for c in sheet[1]]
    assert header[:8] == ["序号", *rectify.spreadsheets.LEDGER_HEADERS]
    assert [sheet.cell(r, 1).value for r in range(2, 7)] == [1, 2, 3, 4, 5]
    assert all(c.font.bold for c in sheet[1])
    letters = [get_column_letter(i) for i in range(1, sheet.max_column + 1)]
    assert all(sheet.column_dimensions[letter].width >= 6 for letter in letters)
    running = header.index("当前环节期限") + 1
    assert sheet.cell(2, running).number_format == "yyyy-mm-dd"
    assert isinstance(sheet.cell(2, running).value, dt.datetime)  # a date cell, not text


# -- privacy and formula injection -------------------------------------------------------

HOSTILE = {
    "镇街/社区": "虎峰社区",
    "小区名称": "@SUM(1+1)小区",
    "地址": "-2+3号",
    HEAD: "+李华 17012345678",
    "建筑高度（层数）": "6层",
    "隐患内容": '=HYPERLINK("http://example.invalid","楼道堆放杂物")',
    "整改时限": "",
    "整改责任人": "=cmd|' /C calc'!A0",
}


def hostile_ledger() -> tuple[Ledger, LedgerImport]:
    result = read_ledger([list(HOSTILE), list(HOSTILE.values())])
    assert result.ok, result.summary()
    ledger = make_ledger()
    ledger.import_cases(result.cases(), COMMUNITY, at=AT)
    return ledger, result


def test_formula_injection_is_neutralised_in_csv(tmp_path: Path) -> None:
    ledger, imported = hostile_ledger()
    path = tmp_path / "ledger.csv"
    write_ledger(ledger.cases(), path, specs=specs_of(ledger), reader_role="community")
    header, row = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"))))
    cells = dict(zip(header, row, strict=True))
    for column in ("小区名称", "地址", HEAD, "隐患内容", "整改责任人"):
        assert cells[column].startswith("'"), column
        assert cells[column][1:2] in ("=", "+", "-", "@"), column
    assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row)
    # reading the export back undoes the quote
    assert read_ledger(path).rows[0].item() == imported.rows[0].item()


def test_formula_injection_is_neutralised_in_xlsx(tmp_path: Path) -> None:
    ledger, imported = hostile_ledger()
    path = tmp_path / "ledger.xlsx"
    write_ledger(ledger.cases(), path, specs=specs_of(ledger), reader_role="community")
    sheet = openpyxl.load_workbook(path).worksheets[0]
    header = [c.value for c in sheet[1]]
    cells = dict(zip(header, sheet[2], strict=True))
    for column in ("小区名称", "地址", HEAD, "隐患内容", "整改责任人"):
        assert cells[column].data_type == "s", column
        assert str(cells[column].value).startswith("'"), column
    assert all(c.data_type != "f" for c in sheet[2])
    assert read_ledger(path).rows[0].item() == imported.rows[0].item()


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_phones_are_masked_for_a_public_reader(
    sample: LedgerImport, fmt: Literal["xlsx", "csv"], tmp_path: Path
) -> None:
    ledger = make_ledger()
    ledger.import_cases(sample.cases(), COMMUNITY, at=AT)
    phones = {str(r.data["phone"]) for r in sample.rows}
    public, office = tmp_path / f"public.{fmt}", tmp_path / f"office.{fmt}"
    specs = specs_of(ledger)
    write_ledger(ledger.cases(), public, specs=specs, fmt=fmt)
    write_ledger(ledger.cases(), office, specs=specs, fmt=fmt, reader_role="town_office")

    def text(path: Path) -> str:
        if fmt == "csv":
            return path.read_text("utf-8-sig")
        sheet = openpyxl.load_workbook(path).worksheets[0]
        return "\n".join(str(c.value) for row in sheet.iter_rows() for c in row)

    shown = text(public)
    assert not any(p in shown for p in phones)
    assert re.search(r"17[01]\*{4}\d{4}", shown)
    assert all(p in text(office) for p in phones)
    # a masked export cannot be imported as if it held the numbers
    back = read_ledger(public)
    assert back.rows == ()
    assert {p.code for p in back.problems} == {"masked-phone"}


def test_a_phone_in_free_text_is_masked_too(tmp_path: Path) -> None:
    result = one(隐患内容="楼道堆放杂物，房东电话17099998888")
    ledger = make_ledger()
    ledger.import_cases(result.cases(), COMMUNITY, at=AT)
    path = tmp_path / "ledger.csv"
    write_ledger(ledger.cases(), path, specs=specs_of(ledger))
    assert "170****8888" in path.read_text("utf-8-sig")
    assert "17099998888" not in path.read_text("utf-8-sig")


# -- totals ------------------------------------------------------------------------------


def test_ledger_totals_per_community(sample: LedgerImport, tmp_path: Path) -> None:
    ledger = make_ledger()
    ledger.import_cases(sample.cases(), COMMUNITY, at=AT)
    immediate = next(r.case_id for r in sample.rows if r.workflow == "immediate")
    photos = [Evidence.of(k, f"{k}.jpg", k.encode()) for k in ("photo_before", "photo_after")]
    ledger.fire(immediate, "correct_on_spot", GRID, evidence=photos, at=AT)
    ledger.fire(immediate, "close", COMMUNITY, at=AT + dt.timedelta(hours=1))
    specs = specs_of(ledger)
    totals = ledger_totals(ledger.cases(), specs, as_of=dt.date(2024, 4, 1))
    assert [t.community for t in totals] == sorted({str(r.data["community"]) for r in sample.rows})
    assert sum(t.found for t in totals) == 100
    assert sum(t.closed for t in totals) == 1
    assert sum(t.open for t in totals) == 99
    assert sum(t.estates for t in totals) == 12
    assert sum(t.buildings for t in totals) == len(
        {
            (r.data["community_name"], r.data.get("address"), r.data.get("building"))
            for r in sample.rows
        }
    )
    assert sum(t.overdue for t in totals) == 0
    later = ledger_totals(ledger.cases(), specs, as_of=dt.date(2024, 5, 1))
    assert sum(t.overdue for t in later) == 99  # every open case is past its triage deadline
    path = tmp_path / "totals.csv"
    assert (
        write_ledger_totals(ledger.cases(), path, specs=specs, as_of=dt.date(2024, 4, 1)) == totals
    )
    title, header, *rows, total = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"))))
    assert title == ["老旧小区总数台账统计表"]
    assert header == list(TOTALS_HEADER)
    assert len(rows) == 4
    assert total[:5] == ["合计", "12", str(sum(t.buildings for t in totals)), "100", "1"]
    assert total[-1] == "1.0%"
    book = tmp_path / "totals.xlsx"
    write_ledger_totals(ledger.cases(), book, specs=specs, as_of=dt.date(2024, 4, 1))
    sheet = openpyxl.load_workbook(book).worksheets[0]
    assert sheet["A1"].value == "老旧小区总数台账统计表"
    assert sheet.freeze_panes == "A3"
    # The communities are numbered (序号), the 合计 line below them is not.
    assert [sheet.cell(r, 1).value for r in range(3, sheet.max_row + 1)] == [1, 2, 3, 4, None]
    assert sheet.cell(sheet.max_row, 2).value == "合计"


def test_the_summary_names_rows_columns_and_inferences() -> None:
    result = read_ledger(CORPUS / "messy.csv", town="虎峰镇")
    text = result.summary()
    assert text.startswith(
        "台账导入：messy.csv（表头在第3行）\n可导入5行；有问题4行（5处）；重复1行"
    )
    assert "  第8行「整改时限」：「明年」不是日期" in text
    assert f"  第7行与第4行重复（{result.rows[0].case_id}）" in text
    assert (
        "  第14行 → EBIKE.CHARGE 电动自行车飞线充电或入户充电"
        "（关键词「电动车充电」）；还涉及ELEC.WIRE" in text
    )


# -- properties ----------------------------------------------------------------------------


@given(ledger_sheets())
def test_valid_rows_always_import(sheet: LedgerSheet) -> None:
    result = read_ledger(sheet.rows)
    assert result.problems == (), result.summary()
    assert result.duplicates == ()
    assert result.header_row == sheet.header_row
    assert [r.row for r in result.rows] == list(sheet.data_rows)
    assert all(CASE_ID.fullmatch(r.case_id) for r in result.rows)
    assert len({r.case_id for r in result.rows}) == len(result.rows)
    assert read_ledger(sheet.rows).rows == result.rows  # stable ids


@given(broken_ledgers())
def test_a_broken_field_is_reported_at_its_row_and_column(broken: BrokenLedger) -> None:
    result = read_ledger(broken.sheet.rows)
    assert [(p.row, p.column) for p in result.problems] == [
        (broken.row, broken.sheet.label(broken.column))
    ], result.summary()
    assert [r.row for r in result.rows] == [r for r in broken.sheet.data_rows if r != broken.row]


@given(ledger_sheets(max_rows=4), st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_a_sheet_saved_as_csv_reads_the_same(sheet: LedgerSheet, encoding: str) -> None:
    direct = read_ledger(sheet.rows)
    saved = read_ledger(csv_bytes(sheet.rows, encoding))
    assert [r.item() for r in saved.rows] == [r.item() for r in direct.rows]
    assert saved.problems == direct.problems


# -- totals and deadlines as the reports have them -------------------------------------------

TOTALS_HEADER = (
    "镇街/社区",
    "小区数",
    "楼栋数",
    "发现隐患",
    "已销号",
    "未销号",
    "逾期",
    "转出",
    "不构成隐患",
    "重复上报",
    "整改率",
)
TOWN = Actor("t-1", "town_office")
OWNER = Actor("p-1", "responsible_party")
ISSUER = rectify.documents.Issuer("虎峰镇消防安全委员会办公室", code="虎峰镇消安")
PHOTO = Evidence.of("photo_after", "after.jpg", b"after")


def hazard_data(community: str, description: str, **more: object) -> dict[str, object]:
    """Return the data of a hazard of the general workflow in ``community``."""
    (row,) = one(隐患内容=description, 镇街_社区=community).rows
    return {**row.data, **more}


def every_status() -> Ledger:
    """Return a ledger with hazards of every status in two communities on 2024-05-06.

    虎峰社区: one being rectified and overdue, one being rectified in time, one closed on
    the spot, one dismissed, one duplicate. 金龙社区: one referred to the major-hazard
    procedure and followed there (two cases, one hazard, open and past its 7 working days
    of determination), one referred and not followed (transferred), one closed after
    re-inspection.
    """
    ledger = make_ledger()
    day = dt.timedelta(days=1)
    proof = [Evidence.of("plan_document", "plan.pdf", b"plan")]

    def hazard(case_id: str, community: str, description: str) -> None:
        ledger.open(case_id, "hazard", hazard_data(community, description), COMMUNITY, at=AT)

    def assign_and_plan(case_id: str, due: dt.date) -> None:
        fields = {"responsible_party": "物业", "measures": "整改", "due": due}
        ledger.fire(case_id, "assign", COMMUNITY, payload=fields, at=AT + day)
        plan = {"measures": "整改", "due": due}
        ledger.fire(case_id, "plan", OWNER, payload=plan, evidence=proof, at=AT + 2 * day)

    hazard("HF-1", "虎峰社区", "应急照明损坏")
    assign_and_plan("HF-1", dt.date(2024, 4, 20))
    hazard("HF-2", "虎峰社区", "消火栓箱内水带缺失")
    assign_and_plan("HF-2", dt.date(2024, 6, 30))
    immediate = one(隐患内容="消防车通道被占用", 整改时限="").rows[0]
    ledger.open("HF-3", immediate.workflow, immediate.data, GRID, at=AT)
    photos = [Evidence.of(k, f"{k}.jpg", k.encode()) for k in ("photo_before", "photo_after")]
    ledger.fire("HF-3", "correct_on_spot", GRID, evidence=photos, at=AT)
    ledger.fire("HF-3", "close", COMMUNITY, at=AT + dt.timedelta(hours=1))
    hazard("HF-4", "虎峰社区", "灭火器过期")
    record = [Evidence.of("inspection_record", "r.pdf", b"r")]
    ledger.fire("HF-4", "dismiss", COMMUNITY, evidence=record, reason="在有效期内", at=AT + day)
    hazard("HF-5", "虎峰社区", "应急照明损坏（重复上报）")
    duplicate = {"duplicate_of": "HF-1"}
    ledger.fire("HF-5", "mark_duplicate", COMMUNITY, payload=duplicate, reason="同一处", at=AT)
    hazard("JL-1", "金龙社区", "室内消火栓无水")
    ledger.fire("JL-1", "refer_major", TOWN, reason="疑似重大隐患", at=AT + day)
    major = hazard_data("金龙社区", "室内消火栓无水", transferred_from="JL-1")
    ledger.open("JL-1-M", "major", major, TOWN, at=AT + 2 * day)
    hazard("JL-2", "金龙社区", "可燃雨棚")
    ledger.fire("JL-2", "refer_major", TOWN, reason="疑似重大隐患", at=AT + day)
    hazard("JL-3", "金龙社区", "楼道电线私拉乱接")
    assign_and_plan("JL-3", dt.date(2024, 4, 10))
    summary = {"summary": "已重新布线"}
    ledger.fire("JL-3", "report_fixed", OWNER, payload=summary, evidence=[PHOTO], at=AT + 3 * day)
    ledger.fire("JL-3", "verify", COMMUNITY, evidence=record, at=AT + 4 * day)
    ledger.fire("JL-3", "close", COMMUNITY, at=AT + 5 * day)
    return ledger


def sheet_lines(path: Path) -> dict[str, dict[str, object]]:
    """Return the lines of a totals workbook by community (合计 included), by header."""
    sheet = openpyxl.load_workbook(path).worksheets[0]
    header, *rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert tuple(header) == ("序号", *TOTALS_HEADER)
    return {str(row[1]): dict(zip(map(str, header), row, strict=True)) for row in rows}


def as_sheet(totals: rectify.documents.Totals) -> dict[str, object]:
    return {
        "发现隐患": totals.found,
        "已销号": totals.closed,
        "未销号": totals.open,
        "逾期": totals.overdue,
        "转出": totals.transferred,
        "不构成隐患": totals.dismissed,
        "重复上报": totals.duplicate,
        "整改率": pytest.approx(totals.rate),
    }


def test_the_totals_sheet_counts_as_the_reports_count(tmp_path: Path) -> None:
    ledger = every_status()
    day = dt.date(2024, 5, 6)
    cases, specs = list(ledger.cases_as_of(day)), specs_of(ledger)
    rows = hazard_facts(cases, specs, day)
    assert len(cases) == 9
    assert len(rows) == 8  # JL-1 and its major case JL-1-M are one hazard
    assert {f.status for f in rows} == set(rectify.documents.STATUSES)
    path = tmp_path / "totals.xlsx"
    lines = write_ledger_totals(cases, path, specs=specs, as_of=day)
    sheet = sheet_lines(path)
    assert list(sheet) == ["虎峰社区", "金龙社区", "合计"]
    for community in ("虎峰社区", "金龙社区"):
        expected = rectify.documents.count(f for f in rows if f.community == community)
        assert {k: sheet[community][k] for k in as_sheet(expected)} == as_sheet(expected)
    town = rectify.documents.count(rows)
    assert {k: sheet["合计"][k] for k in as_sheet(town)} == as_sheet(town)
    assert as_sheet(town) == {
        "发现隐患": 8,
        "已销号": 2,
        "未销号": 3,
        "逾期": 2,
        "转出": 1,
        "不构成隐患": 1,
        "重复上报": 1,
        "整改率": pytest.approx(2 / 5),
    }
    assert sheet["虎峰社区"]["发现隐患"] == 5  # the dismissed and duplicate ones were found
    # The HTML totals of the same day say the same, line by line.
    context = rectify.documents.ledger_totals_context(
        cases, specs, as_of=day, due_on=dt.date(2024, 4, 5), issuer=ISSUER, sequence=1
    )
    html = [*context["rows"], context["totals"]]  # type: ignore[misc]
    names = [*(t.community for t in lines), "合计"]
    for name, total in zip(names, html, strict=True):
        values = sheet[name]
        assert values["发现隐患"] == total["found"]
        assert values["已销号"] == total["closed"]
        assert values["未销号"] == total["open"]
        assert values["逾期"] == total["overdue"]
        assert values["小区数"] == total["estates"]
        assert values["楼栋数"] == total["buildings"]
        assert values["整改率"] == pytest.approx(total["rate"])
    assert [(t.found, t.counted) for t in lines] == [(5, 3), (3, 2)]
    assert [t.rate for t in lines] == [pytest.approx(1 / 3), pytest.approx(1 / 2)]
    assert sheet["合计"]["整改率"] == pytest.approx(0.4)  # not the sum or mean of the rates
    book = openpyxl.load_workbook(path).worksheets[0]
    assert book.cell(book.max_row, len(TOTALS_HEADER) + 1).number_format == "0.0%"
    csv_path = tmp_path / "totals.csv"
    write_ledger_totals(cases, csv_path, specs=specs, as_of=day)
    *_, total = list(csv.reader(io.StringIO(csv_path.read_text("utf-8-sig"))))
    assert total == ["合计", "2", "2", "8", "2", "3", "2", "1", "1", "1", "40.0%"]


def test_the_totals_default_to_today() -> None:
    ledger = every_status()
    today = dt.datetime.now(TZ).date()
    given = ledger_totals(ledger.cases(), specs_of(ledger), as_of=today)
    assert ledger_totals(ledger.cases(), specs_of(ledger)) == given


def export_cells(
    ledger: Ledger, tmp_path: Path, fmt: Literal["xlsx", "csv"]
) -> dict[str, dict[str, object]]:
    """Return the export's cells by case id and header."""
    path = tmp_path / f"ledger.{fmt}"
    write_ledger(ledger.cases(), path, specs=specs_of(ledger), fmt=fmt, reader_role="community")
    if fmt == "csv":
        header, *rows = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"))))
        lines: list[list[object]] = [list(r) for r in rows]
    else:
        sheet = openpyxl.load_workbook(path).worksheets[0]
        header, *lines = [[c.value for c in row] for row in sheet.iter_rows()]  # type: ignore[assignment]
    table = [dict(zip(header, row, strict=True)) for row in lines]
    return {str(row["案件编号"]): row for row in table}


def as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value))


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_rectification_deadline_is_the_due_date_or_immediately(
    fmt: Literal["xlsx", "csv"], tmp_path: Path
) -> None:
    ledger = make_ledger()
    immediate = one(隐患内容="消防车通道被占用", 整改时限="").rows[0]
    assert immediate.workflow == "immediate"
    ledger.open("IM-1", immediate.workflow, immediate.data, GRID, at=AT)
    ledger.open("HZ-1", "hazard", hazard_data("虎峰社区", "灭火器过期"), COMMUNITY, at=AT)
    due = dt.date(2024, 12, 25)
    fields = {"responsible_party": "物业", "measures": "清理", "due": due}
    ledger.fire("HZ-1", "assign", COMMUNITY, payload=fields, at=AT)
    proof = [Evidence.of("plan_document", "plan.pdf", b"plan")]
    plan = {"measures": "清理", "due": due}
    ledger.fire("HZ-1", "plan", OWNER, payload=plan, evidence=proof, at=AT)
    reported = dt.datetime(2024, 12, 24, 10, tzinfo=TZ)
    summary = {"summary": "已清理"}
    ledger.fire("HZ-1", "report_fixed", OWNER, payload=summary, evidence=[PHOTO], at=reported)
    fixed = ledger.get("HZ-1")
    assert fixed.state == "fixed"
    assert fixed.deadline is not None
    assert fixed.deadline > due  # the re-inspection runs past the rectification deadline
    cells = export_cells(ledger, tmp_path, fmt)
    assert cells["IM-1"]["整改时限"] == "立即改正"
    assert as_date(cells["HZ-1"]["整改时限"]) == due
    assert as_date(cells["HZ-1"]["当前环节期限"]) == fixed.deadline
    assert cells["HZ-1"]["当前状态"] == "待复查"
