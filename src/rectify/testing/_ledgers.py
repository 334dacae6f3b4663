"""Hypothesis builders of ledger sheets (台账) for import tests, valid and broken.

Sheets of cells in the Attachment 1 layout, as a community fills them in: a title row or
not, blank rows, header cells written with stray spaces, either kind of bracket or a line
break, columns in any order, the community cell left blank below its first row (merged),
floors, phones and dates written several ways. Every data row has its own address, so no two
rows are the same hazard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import attrs
from hypothesis import strategies as st

from rectify.definitions._load import load_categories

__all__ = ["BrokenLedger", "LedgerSheet", "broken_ledgers", "ledger_sheets"]

_LEDGER_TABLE: Final = load_categories()
_LEDGER_COMMUNITIES: Final = ("虎峰社区", "正街社区", "巴岳社区", "新桥社区")
_LEDGER_ESTATES: Final = ("龙门小区", "虎峰花园", "供销社宿舍", "巴岳山庄", "新桥苑", "滨河小区")
_LEDGER_STREETS: Final = ("龙门街", "正街", "巴岳路", "新桥路")
_LEDGER_NAMES: Final = ("李华", "王芳", "张伟", "刘洋", "陈静", "赵敏", "周梅", "欧阳明")
_LEDGER_KEYWORDS: Final = tuple(
    sorted({word for category in _LEDGER_TABLE.categories for word in category.keywords})
)
_ZH_DIGITS: Final = "零一二三四五六七八九"
#: Each header as people write it: the seven of Attachment 1, then the optional ones.
_LEDGER_HEADER_VARIANTS: Final = {
    "镇街/社区": ("镇街/社区", " 镇街／社区 ", "镇街/\n社区"),
    "小区名称": ("小区名称", " 小区名称", "小区 名称"),
    "地址": ("地址", "地 址"),
    "消防安全管理人（楼栋长）及联系方式": (
        "消防安全管理人（楼栋长）及联系方式",
        "消防安全管理人(楼栋长)及联系方式",
        "消防安全管理人\n（楼栋长）及联系方式",
    ),
    "建筑高度（层数）": ("建筑高度（层数）", "建筑高度(层数)", "建筑高度\n（层数）"),
    "隐患内容": ("隐患内容", "隐患内容 "),
    "整改时限": ("整改时限", "整改 时限"),
    "隐患类别": ("隐患类别",),
    "严重程度": ("严重程度",),
    "楼栋": ("楼栋",),
    "隐患部位": ("隐患部位",),
    "整改责任人": ("整改责任人",),
    "整改措施": ("整改措施",),
}
_LEDGER_REQUIRED: Final = (
    "镇街/社区",
    "小区名称",
    "地址",
    "消防安全管理人（楼栋长）及联系方式",
    "建筑高度（层数）",
    "隐患内容",
    "整改时限",
)
_LEDGER_OPTIONAL: Final = ("隐患类别", "严重程度", "楼栋", "隐患部位", "整改责任人", "整改措施")
_MAX_ZH_FLOORS: Final = 99


@attrs.frozen
class LedgerSheet:
    """A sheet of cells: the rows (header included), the header's columns and data rows.

    ``columns`` are the canonical headers in the sheet's order, ``labels`` as written (what
    a problem report names, white space removed), ``data_rows`` the 1-based row numbers of
    the data rows.
    """

    rows: tuple[tuple[object, ...], ...]
    columns: tuple[str, ...]
    labels: tuple[str, ...]
    header_row: int
    data_rows: tuple[int, ...]

    def label(self, column: str) -> str:
        """Return how the sheet writes the header ``column`` (the canonical one if absent)."""
        return self.labels[self.columns.index(column)] if column in self.columns else column


@attrs.frozen
class BrokenLedger:
    """A valid sheet with one field of one data row broken: where, and what was written."""

    sheet: LedgerSheet
    row: int
    column: str
    value: object


def _zh_floors(number: int) -> str:
    tens, units = divmod(number, 10)
    if not tens:
        return _ZH_DIGITS[units]
    return ("" if tens == 1 else _ZH_DIGITS[tens]) + "十" + (_ZH_DIGITS[units] if units else "")


@st.composite
def _ledger_phone_cell(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_LEDGER_NAMES))
    phone = draw(st.sampled_from(("170", "171"))) + draw(
        st.text("0123456789", min_size=8, max_size=8)
    )
    dashed = f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    forms = (
        f"{name} {phone}",
        f"{name}/{dashed}",
        f"{name}（{phone}）",
        f"{name} {dashed}",
        name,
        "",
    )
    return draw(st.sampled_from(forms))


@st.composite
def _ledger_height_cell(draw: st.DrawFn) -> object:
    floors = draw(st.integers(1, 40))
    forms: list[object] = [floors, str(floors), f"{floors}层", f"{floors}F", f"{floors * 3}米", ""]
    if floors <= _MAX_ZH_FLOORS:
        forms.append(f"{_zh_floors(floors)}层")
    return draw(st.sampled_from(forms))


@st.composite
def _ledger_due_cell(draw: st.DrawFn) -> object:
    day = draw(st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
    forms: tuple[object, ...] = (
        day,
        dt.datetime.combine(day, dt.time()),
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month}.{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        "",
    )
    return draw(st.sampled_from(forms))


@st.composite
def _ledger_row(draw: st.DrawFn, index: int, columns: Sequence[str]) -> dict[str, object]:
    """Return one valid data row by canonical header (its address is its own)."""
    keyword = draw(st.sampled_from(_LEDGER_KEYWORDS))
    where = draw(st.sampled_from(("", "1单元", "3单元5楼", "顶楼")))
    what = draw(st.sampled_from(("", "，需整改", "（复查发现）", " 情况属实")))
    category = draw(st.sampled_from(_LEDGER_TABLE.categories))
    severity = draw(st.sampled_from(_LEDGER_TABLE.severities))
    town = draw(st.sampled_from(("", "虎峰镇/", "虎峰镇")))
    row: dict[str, object] = {
        "镇街/社区": town + draw(st.sampled_from(_LEDGER_COMMUNITIES)),
        "小区名称": draw(st.sampled_from(_LEDGER_ESTATES)),
        "地址": f"{draw(st.sampled_from(_LEDGER_STREETS))}{index + 1}号",
        "消防安全管理人（楼栋长）及联系方式": draw(_ledger_phone_cell()),
        "建筑高度（层数）": draw(_ledger_height_cell()),
        "隐患内容": f"{where}{keyword}{what}",
        "整改时限": draw(_ledger_due_cell()),
        "隐患类别": draw(st.sampled_from(("", "", category.code, category.title))),
        "严重程度": draw(st.sampled_from(("", "", severity.name, severity.title))),
        "楼栋": draw(st.sampled_from(("", "1栋", "2幢", "A座"))),
        "隐患部位": draw(st.sampled_from(("", "楼道", "地下车库"))),
        "整改责任人": draw(st.sampled_from(("", "物业服务企业", "3单元502室住户"))),
        "整改措施": draw(st.sampled_from(("", "立即清理", "更换为不燃材料"))),
    }
    immediate = "严重程度" in columns and row["严重程度"] in ("immediate", "立即整改")
    if immediate and not row["整改时限"]:
        row["整改时限"] = draw(st.sampled_from(("", "立即整改")))
    return {column: row[column] for column in columns}


@st.composite
def ledger_sheets(draw: st.DrawFn, min_rows: int = 1, max_rows: int = 8) -> LedgerSheet:
    """Valid ledgers: every data row imports, with no problem and no duplicate."""
    optional = draw(st.lists(st.sampled_from(_LEDGER_OPTIONAL), unique=True, max_size=4))
    columns = tuple(draw(st.permutations([*_LEDGER_REQUIRED, *optional])))
    labels = [draw(st.sampled_from(_LEDGER_HEADER_VARIANTS[c])) for c in columns]
    rows: list[tuple[object, ...]] = []
    if draw(st.booleans()):
        rows.append(("铜梁区虎峰镇老旧小区台账",))
    rows.extend([()] * draw(st.integers(0, 1)))
    rows.append(tuple(labels))
    header_row = len(rows)
    data_rows: list[int] = []
    previous: dict[str, object] | None = None
    for index in range(draw(st.integers(min_rows, max_rows))):
        rows.extend([tuple("" for _ in columns)] * draw(st.integers(0, 1)))
        row = draw(_ledger_row(index, columns))
        cells = dict(row)
        # Merged community cells: the value only in the first row of a block.
        if (
            previous is not None
            and previous["镇街/社区"] == row["镇街/社区"]
            and draw(st.booleans())
        ):
            cells["镇街/社区"] = draw(st.sampled_from(("", None)))
        rows.append(tuple(cells[c] for c in columns))
        data_rows.append(len(rows))
        previous = row
    return LedgerSheet(
        tuple(rows),
        columns,
        tuple("".join(label.split()) for label in labels),
        header_row,
        tuple(data_rows),
    )


#: One broken value per column, and the column a reader reports it under.
_LEDGER_BREAKERS: Final = {
    "整改时限": ("2024-13-01", "明年", "2024-02-30", "2024年6月31日", "下月底"),
    "建筑高度（层数）": ("高层", "0层", "6.5层", "二百层", "-3"),
    "消防安全管理人（楼栋长）及联系方式": ("李华 170123", "李华 170****5678", "李华 1701234567890"),
    "隐患内容": ("", "  "),
    "隐患类别": ("XX.YY", "不存在的类别"),
    "严重程度": ("很严重",),
}


@st.composite
def broken_ledgers(draw: st.DrawFn) -> BrokenLedger:
    """A valid ledger of two or more rows, with one field of one row broken."""
    sheet = draw(ledger_sheets(min_rows=2))
    row = draw(st.sampled_from(sheet.data_rows))
    choices = [c for c in _LEDGER_BREAKERS if c in sheet.columns]
    column = draw(st.sampled_from([*choices, "no keyword"]))
    rows = [list(r) for r in sheet.rows]
    cells = rows[row - 1]
    if column == "no keyword":
        # No keyword in the hazard text and no category: reported under 隐患类别.
        cells[sheet.columns.index("隐患内容")] = "配电房门锁损坏"
        if "隐患类别" in sheet.columns:
            cells[sheet.columns.index("隐患类别")] = ""
        column, value = "隐患类别", "配电房门锁损坏"
    else:
        value = draw(st.sampled_from(_LEDGER_BREAKERS[column]))
        cells[sheet.columns.index(column)] = value
    broken = attrs.evolve(sheet, rows=tuple(tuple(r) for r in rows))
    return BrokenLedger(broken, row, column, value)
