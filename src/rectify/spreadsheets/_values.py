"""What the ledger spreadsheets share: the Attachment 1 headers, the results, the cell error.

Owns :data:`LEDGER_HEADERS` (the seven columns of Attachment 1), the :data:`Cell` a sheet
holds, the attrs results of an import (:class:`LedgerImport` with its :class:`LedgerRow`,
:class:`LedgerProblem`, :class:`InferredCategory` and :class:`DuplicateRow`) and of the totals
(:class:`LedgerTotal`), and :class:`CellError`, which the cell readers raise and the row
reader turns into a problem. It imports no other module of the package, so every one of them
can import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from rectify.definitions._categories import CategoryTable
from rectify.documents._reports import Totals

__all__ = [
    "LEDGER_HEADERS",
    "SURE_CONFIDENCE",
    "Cell",
    "CellError",
    "DuplicateRow",
    "InferredCategory",
    "LedgerImport",
    "LedgerProblem",
    "LedgerRow",
    "LedgerTotal",
    "problem_lines",
]

#: A category inferred with at least this confidence is sure; below it, the row is imported
#: with a warning and marked for checking (see :class:`InferredCategory`).
SURE_CONFIDENCE: Final = 0.7

#: The seven columns of Attachment 1, in order.
LEDGER_HEADERS: Final = (
    "镇街/社区",
    "小区名称",
    "地址",
    "消防安全管理人（楼栋长）及联系方式",
    "建筑高度（层数）",
    "隐患内容",
    "整改时限",
)

Cell = str | int | float | dt.date | None


@attrs.frozen
class LedgerRow:
    """One importable row: where it was, its case id, its workflow and the case data."""

    row: int
    case_id: str
    workflow: str
    data: Mapping[str, object]

    def item(self) -> tuple[str, str, Mapping[str, object]]:
        """Return ``(case_id, workflow, data)`` as :meth:`Ledger.import_cases` takes it."""
        return self.case_id, self.workflow, self.data


@attrs.frozen
class LedgerProblem:
    """Why a row (or the header) could not be imported as it is.

    ``row`` is the row number the spreadsheet shows (1-based), ``column`` the header of the
    column concerned ("" for the whole row), ``code`` a stable name for hosts
    (``missing``, ``bad-date``, ``bad-height``, ``bad-phone``, ``masked-phone``,
    ``unknown-category``, ``no-category``, ``unknown-severity``, ``immediate-date``,
    ``bad-community``, ``bad-case-id``, ``bad-text``, ``missing-column``,
    ``unknown-column``, ``repeated-column``, ``no-header``) and ``reason`` says it in words.
    """

    row: int
    column: str
    reason: str
    code: str = attrs.field(default="", eq=False)


#: The words of :attr:`InferredCategory.by`, as the summary and the warnings say them.
_BY: Final = {"keyword": "关键词", "terms": "词语", "title": "类别名称中的词"}


@attrs.frozen
class InferredCategory:
    """A category read from the hazard text: the row, the category, what it went by.

    ``keyword`` is the keyword found (楼道堆放), or the words of a term set or of the
    category's title found in the text, joined by ``+`` (电动自行车+楼道+停放); ``by`` says
    which (``keyword``, ``terms``, ``title``). ``also`` names other categories whose
    keywords or term sets the text holds too (a cell that lists several hazards, which may
    be better split into rows). ``confidence`` (0 to 1) says how sure the inference is, and
    ``sure`` whether that is at least :data:`SURE_CONFIDENCE` (0.7): an exact keyword with
    no close rival is 1.0, a term set of two words 0.85; a single word (0.6), a title only
    partly found, or ``rival``, another category almost as likely, make it unsure. An
    unsure row is imported all the same, its data marked (``category_inferred``,
    ``category_confidence``) until a category change confirms or corrects it.
    """

    row: int
    category: str
    keyword: str
    also: tuple[str, ...] = ()
    confidence: float = 1.0
    sure: bool = True
    by: str = "keyword"
    rival: str | None = None

    def reason(self, title: str = "", rival: str = "") -> str:
        """Return what was inferred and how sure, in Chinese (``title``: the category's).

        ``推断为「title」（把握 0.55），请核实：依据词语「电动车+楼道」；也可能是「rival」``;
        a sure one says 依据 without 请核实.
        """
        named = f"「{title or self.category}」"
        by = f"依据{_BY.get(self.by, self.by)}「{self.keyword}」"
        if self.sure:
            return f"推断为{named}（把握 {self.confidence:.2f}），{by}"
        other = f"；也可能是「{rival or self.rival}」" if self.rival else ""
        return f"推断为{named}（把握 {self.confidence:.2f}），请核实：{by}{other}"


@attrs.frozen
class DuplicateRow:
    """A row with the same case id as an earlier row of the file; it is not imported.

    ``differs`` names the columns whose values differ from the first row's.
    """

    row: int
    first_row: int
    case_id: str
    differs: tuple[str, ...] = ()


@attrs.frozen
class LedgerImport:
    """What :func:`read_ledger` found: rows to import, problems, inferences, duplicates."""

    rows: tuple[LedgerRow, ...]
    problems: tuple[LedgerProblem, ...]
    inferred: tuple[InferredCategory, ...]
    duplicates: tuple[DuplicateRow, ...]
    source: str = "<rows>"
    header_row: int = 0
    categories: CategoryTable | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def ok(self) -> bool:
        """Return whether every row imports (no problem, no duplicate)."""
        return not self.problems and not self.duplicates

    @property
    def unsure(self) -> tuple[InferredCategory, ...]:
        """Return the inferred categories that are not sure: rows imported to be checked."""
        return tuple(i for i in self.inferred if not i.sure)

    @property
    def bad_rows(self) -> tuple[int, ...]:
        """Return the numbers of the rows that have a problem, in order."""
        return tuple(sorted({p.row for p in self.problems if p.row > self.header_row}))

    def cases(self) -> list[tuple[str, str, Mapping[str, object]]]:
        """Return the rows as :meth:`Ledger.import_cases` takes them."""
        return [row.item() for row in self.rows]

    def summary(self) -> str:
        """Return a report for the person who filled the ledger, in Chinese."""
        where = f"（表头在第{self.header_row}行）" if self.header_row else ""
        lines = [
            f"台账导入：{self.source}{where}",
            f"可导入{len(self.rows)}行；有问题{len(self.bad_rows)}行（{len(self.problems)}处）；"
            f"重复{len(self.duplicates)}行；按隐患内容推断类别{len(self.inferred)}行"
            f"（其中把握不足、已导入待核实{len(self.unsure)}行）。",
        ]
        workflows = sorted({row.workflow for row in self.rows})
        if workflows:
            counts = "，".join(
                f"{w} {sum(r.workflow == w for r in self.rows)}行" for w in workflows
            )
            lines.append(f"按流程：{counts}。")
        lines += problem_lines(
            self.problems,
            self.duplicates,
            self.header_row,
            duplicates_heading="重复（与前面的行是同一处隐患，未重复导入）：",
        )
        if self.inferred:
            lines.append("推断的隐患类别（请核对；把握不足的已导入，待核实）：")
            for i in self.inferred:
                title = self.title(i.category)
                also = f"；还涉及{'、'.join(i.also)}，可考虑拆分" if i.also else ""
                doubt = "" if i.sure else f"；把握 {i.confidence:.2f}，待核实"
                by = _BY.get(i.by, i.by)
                lines.append(
                    f"  第{i.row}行 → {i.category} {title}（{by}「{i.keyword}」）{also}{doubt}"
                )
        return "\n".join(lines)

    def title(self, code: str) -> str:
        """Return the title of a category of the import's table ("" when unknown)."""
        if self.categories is not None and code in self.categories.codes:
            return self.categories.category(code).title
        return ""


@attrs.frozen(kw_only=True)
class LedgerTotal(Totals):
    """One line of the ledger totals (due Apr 5): a community's, or the 合计 line.

    The counts are a :class:`~rectify.documents.Totals` (``counted`` and ``rate`` included):
    ``found`` is every hazard found (a hazard referred to the major-hazard procedure and
    continued there is one hazard); ``closed`` the rectified and closed ones (销号),
    ``open`` those still being rectified and ``overdue`` the open ones past their deadline;
    ``transferred`` (转出), ``dismissed`` (不构成隐患) and ``duplicate`` (重复上报) do not
    count towards the rate. ``estates`` are the distinct 小区名称 and ``buildings`` the
    distinct (小区名称, 地址, 楼栋) of the community.
    """

    community: str
    estates: int
    buildings: int

    def cells(self) -> list[Cell]:
        """Return the line as cells, in the order of the totals' columns (rate last)."""
        return [
            self.community,
            self.estates,
            self.buildings,
            self.found,
            self.closed,
            self.open,
            self.overdue,
            self.transferred,
            self.dismissed,
            self.duplicate,
            self.rate,
        ]


class CellError(Exception):
    """A cell that cannot be read: the problem's code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def problem_lines(
    problems: Sequence[LedgerProblem],
    duplicates: Sequence[DuplicateRow],
    header_row: int,
    *,
    duplicates_heading: str = "重复（与前面的行相同，未重复导入）：",
) -> list[str]:
    """Return the lines of an import's summary that list its problems and duplicate rows.

    Problems of the header (at or above ``header_row``, or all when none was found) come
    first, then those of rows, then the duplicates under ``duplicates_heading``.
    """
    lines: list[str] = []
    sheet = [p for p in problems if p.row <= header_row or not header_row]
    rows = [p for p in problems if p.row > header_row > 0]
    for title, group in (
        ("表头：", sheet),
        ("问题（这些行未导入，改正后重新导入即可，已导入的行不会重复）：", rows),
    ):
        if group:
            lines.append(title)
            lines.extend(
                f"  第{p.row}行" + (f"「{p.column}」" if p.column else "") + f"：{p.reason}"
                for p in group
            )
    if duplicates:
        lines.append(duplicates_heading)
        for d in duplicates:
            differs = f"；不同之处：{'、'.join(d.differs)}" if d.differs else ""
            lines.append(f"  第{d.row}行与第{d.first_row}行重复（{d.case_id}）{differs}")
    return lines
