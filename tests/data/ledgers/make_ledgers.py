"""Write the messy ledgers that tests/test_spreadsheet.py reads (run from the repository root).

* ``title-merged.xlsx``: a title row merged across the sheet, a two-row header (the building
  head's cell merged over 姓名 | 联系电话, the others merged down), the community cell merged
  down its block, a blank row, Excel date cells, a date serial number, a wrong date and a
  phone number too short.
* ``messy.csv``: UTF-8 with a BOM; a title row, a blank line, a header with stray spaces,
  full-width and half-width brackets and a line break inside a cell; name and phone in one
  cell written three ways; full-width digits; blank rows; dates written four ways and two
  wrong ones (明年, 2024-2-30); a duplicate row; a row with no hazard text; a floors cell
  nobody can read; a hazard text with no keyword; one with two (the longer wins).
* ``gbk.csv``: GBK without a BOM, as Excel on a Chinese Windows saves "CSV", with a row
  that has no hazard text.

Every name and phone number is invented (170/171 are virtual-operator ranges).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Final

from openpyxl import Workbook

HERE: Final = Path(__file__).resolve().parent
FIXED_TIME: Final = (2024, 3, 11, 9, 0, 0)

Value = str | int | dt.date | None

XLSX_ROWS: Final[list[list[Value]]] = [
    ["铜梁区虎峰镇老旧小区台账"],
    [
        "镇街/社区",
        "小区名称",
        "地址",
        "消防安全管理人（楼栋长）及联系方式",
        None,
        "建筑高度（层数）",
        "隐患内容",
        "整改时限",
    ],
    [None, None, None, "姓名", "联系电话", None, None, None],
    [
        "虎峰社区",
        "龙门小区",
        "龙门街12号",
        "李华",
        "170-1234-5678",
        6,
        "楼道堆放杂物",
        dt.date(2024, 4, 10),
    ],
    [None, None, None, "李华", "17012345678", 6, "消火栓箱内水带缺失", dt.date(2024, 6, 30)],
    [],
    [
        None,
        "虎峰花园",
        "虎峰大道88号",
        "王芳",
        "171-2345-6789",
        "18层",
        "屋顶搭建彩钢棚",
        "2024-13-01",
    ],
    ["正街社区", "正街小区", "正街1号", "张伟", "1701234", "六层", "电动车飞线充电", "立即整改"],
    ["正街社区", "正街小区", "正街2号", "赵敏", "17098765432", 33, "地下车库喷淋头缺失", 45473],
]
#: Merged ranges: the title, the two-row header, the community cell of the first block.
XLSX_MERGES: Final = (
    "A1:H1",
    "A2:A3",
    "B2:B3",
    "C2:C3",
    "D2:E2",
    "F2:F3",
    "G2:G3",
    "H2:H3",
    "A4:A7",
)

MESSY_CSV: Final = [
    ["铜梁区虎峰镇老旧小区台账", "", "", "", "", "", "", ""],
    [],
    [
        " 镇街／社区 ",
        " 小区名称",
        "地 址",
        "消防安全管理人(楼栋长)\n及联系方式",
        "建筑高度（层数）",
        "隐患内容",
        "整改时限 ",
        "隐患类别",
    ],
    [
        "虎峰镇／虎峰社区",
        "龙门小区",
        "龙门街１２号",
        "李华 17033133801",
        "6层",
        "  楼道堆放杂物，堵塞疏散通道 ",
        "2024/6/30",
        "",
    ],
    ["", "", "", "李华（170-3313-3801）", "6层", "消火栓箱内水带、水枪缺失", "2024.6.30", ""],
    ["", "", "", "", "", "", "", ""],
    [
        "虎峰社区",
        "龙门小区",
        "龙门街12号",
        "李华 17033133801",
        "6层",
        "楼道堆放杂物，堵塞疏散通道",
        "2024-06-30",
        "",
    ],
    [
        "正街社区",
        "正街小区",
        "正街 1 号",
        "张伟/170-1111-2222",
        "六层",
        "屋顶违规搭建彩钢棚",
        "明年",
        "",
    ],
    ["正街社区", "正街小区", "正街1号", "张伟/170-1111-2222", "6F", "", "2024-06-30", ""],
    ["正街社区", "正街小区", "正街3号", "", "高层", "配电房门锁损坏", "", ""],
    [
        "正街社区",
        "正街小区",
        "正街3号",
        "",
        "5",
        "单元门口有人用线板给电瓶车充电",
        "2024年6月30日",
        "EBIKE.CHARGE",
    ],
    [
        "巴岳社区",
        "巴岳山庄",
        "巴岳路18号",
        "刘洋 17155556666",
        "24米",
        "室外消火栓被埋压",
        "2024-2-30",
        "",
    ],
    [
        "巴岳社区",
        "巴岳山庄",
        "巴岳路18号",
        "刘洋 17155556666",
        "24米",
        '=HYPERLINK("http://example.invalid")楼道停放电动车',
        "",
        "",
    ],
    [
        "巴岳社区",
        "巴岳山庄",
        "巴岳路18号",
        "刘洋 17155556666",
        "24米",
        "3单元楼道私拉乱接电线，电动车充电",
        "2024-4-20",
        "",
    ],
]

GBK_CSV: Final = [
    [
        "镇街/社区",
        "小区名称",
        "地址",
        "消防安全管理人（楼栋长）及联系方式",
        "建筑高度（层数）",
        "隐患内容",
        "整改时限",
    ],
    [
        "新桥社区",
        "新桥苑",
        "新桥路21号",
        "陈静 170-2222-3333",
        "7层",
        "一楼门面三合一住人",
        "2024年5月31日",
    ],
    ["新桥社区", "新桥苑", "新桥路21号", "陈静 170-2222-3333", "7层", "小区未建立微型消防站", ""],
    ["新桥社区", "滨河小区", "滨河路5号", "黄勇 171-4444-5555", "11", "", "2024-05-01"],
]


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def reproducible(path: Path) -> None:
    """Rewrite an XLSX file with fixed timestamps, so that a rerun changes no byte."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = re.sub(
                    r"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                    r"\g<1>2024-03-11T09:00:00Z",
                    data.decode("utf-8"),
                )
                data = text.encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            target.writestr(fixed, data, zipfile.ZIP_DEFLATED)
    path.write_bytes(buffer.getvalue())


def write_xlsx(path: Path) -> None:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = "台账"
    for r, row in enumerate(XLSX_ROWS, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                cell = sheet.cell(r, c, value)
                if isinstance(value, dt.date):
                    cell.number_format = "yyyy/m/d"
    for cells in XLSX_MERGES:
        sheet.merge_cells(cells)
    book.save(path)
    reproducible(path)


def main() -> None:
    write_xlsx(HERE / "title-merged.xlsx")
    (HERE / "messy.csv").write_bytes(b"\xef\xbb\xbf" + csv_text(MESSY_CSV).encode("utf-8"))
    (HERE / "gbk.csv").write_bytes(csv_text(GBK_CSV).encode("gbk"))
    names = ", ".join(p.name for p in sorted(HERE.glob("*.*")) if p.suffix != ".py")
    print("wrote", names)  # noqa: T201 - a script says what it wrote


if __name__ == "__main__":
    main()
