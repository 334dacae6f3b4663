"""The ``export`` command: the campaign's tables as a workbook ready to print, or as CSV.

This module owns ``rectify export KIND --out FILE``: the hazard ledger (Attachment 1, as
:func:`~rectify.spreadsheets.write_ledger` writes it) and its totals
(:func:`~rectify.spreadsheets.write_ledger_totals`), the estate register (one row an
estate), the survey coverage by community and the task list's status (the rows of
``register_rows``, ``coverage_rows`` and ``task_rows``, under the columns named here), from
the cases as they stood at the end of ``--as-of`` (today by default), each with a title
naming the town and the day. The format is ``--format`` or the file's suffix (a suffix that
says otherwise is refused); the town office's copy shows everything, ``--public`` writes
the copy anyone may read (phone numbers and special-group households masked, no case ids).
The file is replaced whole once written, a folder is never written over, and standard error
says what was written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import attrs
import click

from rectify.cli._context import _day, _ledger, db_option
from rectify.cli._wording import ClerkError, clerk
from rectify.definitions._campaign import Campaign, load_campaign
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._campaign_reports import (
    lookback_results,
    lookback_seed,
    plan_rows,
    task_rows,
)
from rectify.documents._register_reports import coverage_rows, register_rows
from rectify.documents._reports import lookback_rows, town_in
from rectify.engine._case import Case
from rectify.spreadsheets._print import TableColumn
from rectify.spreadsheets._reading import need_openpyxl
from rectify.spreadsheets._writing import Format, write_ledger, write_ledger_totals, write_table
from rectify.templating._formatting import zh_date

__all__ = [
    "COVERAGE_COLUMNS",
    "EXPORT_FORMATS",
    "EXPORT_KINDS",
    "REGISTER_COLUMNS",
    "TASK_COLUMNS",
    "export",
    "write_export",
]

#: The formats ``export`` writes, and the suffix each is known by.
EXPORT_FORMATS: Final[dict[str, Format]] = {".xlsx": "xlsx", ".csv": "csv"}
#: Who reads the town office's copy: it may see phone numbers and special groups.
_OFFICE: Final = "town_office"


@attrs.frozen
class _Export:
    """What every kind of export is made from."""

    cases: Sequence[Case]
    specs: Sequence[WorkflowSpec]
    campaign: Campaign
    out: Path
    fmt: Format
    day: dt.date
    public: bool

    @property
    def reader(self) -> str | None:
        """Return the reader's role: none for the public copy (everything masked)."""
        return None if self.public else _OFFICE

    def title(self, what: str) -> str:
        """Return the title row: the town, ``what``, the day, and 公开版 for the public copy."""
        town = town_in((c.data.get("town") for c in self.cases), self.campaign.organ)
        copy = "（公开版）" if self.public else ""
        return f"{town}{what}（截至{zh_date(self.day)}）{copy}"


def _report_title(campaign: Campaign, notice: str, default: str) -> str:
    """Return the title the campaign gives the report ``notice`` (老旧小区总数台账统计表)."""
    return next((r.title for r in campaign.reports if r.notice == notice), default)


def _ledger_export(job: _Export) -> int:
    return write_ledger(
        job.cases,
        job.out,
        specs=job.specs,
        fmt=job.fmt,
        reader_role=job.reader,
        title=job.title("老旧小区台账"),
    )


def _totals_export(job: _Export) -> int:
    lines = write_ledger_totals(
        job.cases,
        job.out,
        specs=job.specs,
        fmt=job.fmt,
        as_of=job.day,
        title=job.title(_report_title(job.campaign, "ledger_totals", "老旧小区总数台账统计表")),
    )
    return len(lines) + 1  # and the 合计 line


#: The estate register (老旧小区基础台账): the keys of ``register_rows``, one row an estate.
REGISTER_COLUMNS: Final = (
    TableColumn("community", "社区"),
    TableColumn("community_name", "小区名称"),
    TableColumn("address", "地址"),
    TableColumn("buildings", "楼栋数", "number"),
    TableColumn("floors", "层数"),
    TableColumn("households", "户数", "number"),
    TableColumn("in_programme", "是否纳入老旧小区改造"),
    TableColumn("facilities_manager", "消防设施管理单位"),
    TableColumn("facilities_manager_kind", "管理单位类型"),
    TableColumn("grid_workers", "网格员"),
    TableColumn("heads", "楼栋长及联系方式"),
    TableColumn("special_groups", "特殊群体", "groups"),
    TableColumn("surveyed", "已摸排楼栋", "number"),
    TableColumn("hazards", "发现隐患", "number"),
    TableColumn("hazards_open", "未销号隐患", "number"),
)
#: The survey coverage by community (排查覆盖情况): the keys of ``coverage_rows``.
COVERAGE_COLUMNS: Final = (
    TableColumn("community", "社区"),
    TableColumn("estates", "小区数", "number"),
    TableColumn("estates_surveyed", "全部楼栋已摸排的小区", "number"),
    TableColumn("buildings", "登记楼栋（含移出）", "number"),
    TableColumn("delisted", "移出台账楼栋", "number"),
    TableColumn("surveyed", "已摸排楼栋", "number"),
    TableColumn("unsurveyed", "未摸排楼栋", "number"),
    TableColumn("coverage", "摸排覆盖率", "rate"),
    TableColumn("no_hazard", "摸排无隐患楼栋", "number"),
    TableColumn("hazards", "发现隐患", "number"),
    TableColumn("staffed", "网格员、楼栋长均已明确的楼栋", "number"),
)
#: The task list's status (任务清单推进情况, Attachment 2): the keys of ``task_rows``. The
#: deadline and the day it was done are told apart by their names (要求 / 实际).
TASK_COLUMNS: Final = (
    TableColumn("phase_title", "阶段"),
    TableColumn("title", "工作任务"),
    TableColumn("content", "具体内容"),
    TableColumn("units", "责任单位"),
    TableColumn("due", "要求完成时限", "date"),
    TableColumn("state_title", "状态"),
    TableColumn("done_on", "实际完成日期", "date"),
    TableColumn("overdue_days", "逾期天数", "number"),
    TableColumn("progress", "最新进展", "note"),
    TableColumn("progress_on", "进展报送日期", "date"),
)


def _heads_text(heads: object) -> str:
    """Return the building heads of an estate on one line (1栋 张三 138****5678；2栋 …)."""
    if not isinstance(heads, list | tuple):
        return "" if heads is None else str(heads)
    parts = []
    for head in heads:
        if isinstance(head, dict):
            fields = (head.get("building"), head.get("name"), head.get("phone"))
            parts.append(" ".join(str(f) for f in fields if f))
    return "；".join(p for p in parts if p)


def _register_export(job: _Export) -> int:
    rows = register_rows(job.cases, job.specs, as_of=job.day, reader_role=job.reader)
    return write_table(
        [{**row, "heads": _heads_text(row.get("heads"))} for row in rows],
        job.out,
        columns=REGISTER_COLUMNS,
        fmt=job.fmt,
        title=job.title("老旧小区基础台账"),
        sheet="小区台账",
        reader_role=job.reader,
    )


def _coverage_export(job: _Export) -> int:
    return write_table(
        coverage_rows(job.cases, job.specs, as_of=job.day),
        job.out,
        columns=COVERAGE_COLUMNS,
        fmt=job.fmt,
        title=job.title("老旧小区消防安全排查覆盖情况统计表"),
        sheet="排查覆盖",
        reader_role=job.reader,
    )


def _tasks_export(job: _Export) -> int:
    rows = task_rows(
        job.cases, job.specs, as_of=job.day, campaign=job.campaign, reader_role=job.reader
    )
    return write_table(
        rows,
        job.out,
        columns=TASK_COLUMNS,
        fmt=job.fmt,
        title=job.title("老旧小区消防安全专项整治任务清单推进情况"),
        sheet="任务清单",
        reader_role=job.reader,
    )


#: A rectification plan (整改计划): the keys of ``plan_rows``, one row an open hazard.
PLAN_COLUMNS: Final = (
    TableColumn("number", "隐患编号"),
    TableColumn("community", "社区"),
    TableColumn("community_name", "小区名称"),
    TableColumn("address", "地址"),
    TableColumn("building", "楼栋"),
    TableColumn("description", "隐患内容", "note"),
    TableColumn("category_title", "隐患类别"),
    TableColumn("responsible_party", "整改责任人", "note"),
    TableColumn("measures", "整改措施", "note"),
    TableColumn("rectify_by", "整改时限", "date"),
    TableColumn("state_title", "当前状态"),
    TableColumn("overdue_days", "超过整改时限天数", "number"),
)
#: The look-back (回头看): one row a hazard looked at again (``lookback_rows``, flattened).
LOOKBACK_COLUMNS: Final = (
    TableColumn("year", "整改年度", "number"),
    TableColumn("number", "隐患编号"),
    TableColumn("community", "社区"),
    TableColumn("community_name", "小区名称"),
    TableColumn("building", "楼栋"),
    TableColumn("description", "隐患内容", "note"),
    TableColumn("result", "回头看结果"),
    TableColumn("note", "情况说明", "note"),
    TableColumn("new_case_number", "重新立案编号"),
)


#: The ledger fields of a hazard a look-back row shows.
_PLACE: Final = ("community", "community_name", "building", "description")


def _plan_export(job: _Export) -> int:
    rows = plan_rows(job.cases, job.specs, as_of=job.day, reader_role=job.reader)
    return write_table(
        rows,
        job.out,
        columns=PLAN_COLUMNS,
        fmt=job.fmt,
        title=job.title("老旧小区年度整改计划"),
        sheet="整改计划",
        reader_role=job.reader,
    )


def _lookback_export(job: _Export) -> int:
    results = lookback_results(job.cases, job.specs, as_of=job.day, seed=lookback_seed(job.day))
    rows = []
    for row in lookback_rows(results, as_of=job.day, reader_role=job.reader):
        hazard = row["hazard"]
        place = {k: hazard.get(k, "") for k in _PLACE} if isinstance(hazard, dict) else {}
        result = "待核查" if row["pending"] else "保持" if row["passed"] else "反弹"
        rows.append({**place, **row, "result": result})
    return write_table(
        rows,
        job.out,
        columns=LOOKBACK_COLUMNS,
        fmt=job.fmt,
        title=job.title("老旧小区消防安全隐患整改“回头看”情况"),
        sheet="回头看",
        reader_role=job.reader,
    )


#: Each kind of export, and what writes it (returning the rows it wrote).
_EXPORTS: Final[dict[str, Callable[[_Export], int]]] = {
    "ledger": _ledger_export,
    "totals": _totals_export,
    "register": _register_export,
    "coverage": _coverage_export,
    "tasks": _tasks_export,
    "plan": _plan_export,
    "lookback": _lookback_export,
}
EXPORT_KINDS: Final = tuple(_EXPORTS)


def write_export(
    kind: str,
    cases: Sequence[Case],
    specs: Sequence[WorkflowSpec],
    *,
    campaign: Campaign,
    out: Path,
    fmt: Format,
    day: dt.date,
    public: bool = False,
) -> int:
    """Write the export ``kind`` of ``cases`` (as of the end of ``day``); return its rows.

    What ``rectify export`` writes, for a host (and the demo) that holds the cases already.
    """
    return _EXPORTS[kind](_Export(cases, specs, campaign, out, fmt, day, public))


def _format_of(out: Path, fmt: str | None) -> Format:
    """Return the format to write ``out`` in: ``--format``, or the file's suffix.

    Raises:
        click.UsageError: Neither says, or they disagree (CSV in a file named .xlsx).
    """
    by_suffix = EXPORT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        if by_suffix is None:
            raise click.UsageError(
                f"--out {out}：看不出写成哪种格式；文件名请以 .xlsx 或 .csv 结尾，"
                "或用 --format xlsx|csv 指明"
            )
        return by_suffix
    chosen = EXPORT_FORMATS[f".{fmt}"]
    if by_suffix is not None and by_suffix != chosen:
        raise click.UsageError(
            f"--format {fmt} 与文件名 {out.name} 不符；请把文件名改为以 .{fmt} 结尾"
        )
    return chosen


@click.command()
@click.argument("kind", metavar="KIND", type=click.Choice(EXPORT_KINDS))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (replaced whole once written; never a folder).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f[1:] for f in EXPORT_FORMATS]),
    help="xlsx (ready to print; needs rectify[xlsx]) or csv (UTF-8 with a BOM); by default "
    "from the suffix of --out.",
)
@click.option(
    "--as-of", help="The day whose facts the export holds (YYYY-MM-DD; today by default)."
)
@click.option(
    "--public",
    is_flag=True,
    help="Write the copy anyone may read: phone numbers and special-group households "
    "masked, no case ids. Without it, the town office's copy.",
)
@db_option
@clerk
def export(
    *, kind: str, out: Path, fmt: str | None, as_of: str | None, public: bool, db: str
) -> None:
    """Write a table to --out as XLSX (ready to print) or CSV.

    KIND is ledger (the hazard ledger, Attachment 1), totals (the ledger totals by
    community), register (the estate register, one row an estate), coverage (the survey
    coverage by community), tasks (the task list's status), plan (the open hazards as the
    town's rectification plan lists them) or lookback (the day's look-back sample and what
    it found), as of the end of --as-of.
    """
    chosen = _format_of(out, fmt)
    if chosen == "xlsx":
        need_openpyxl()  # refused before the store is opened
    day = _day(as_of)
    with _ledger(db) as ledger:
        cases = list(ledger.cases_as_of(day))
        specs = [engine.spec for engine in ledger.engines]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder should be
        raise ClerkError(f"无法写入 {out}：{exc.strerror or exc}") from exc
    written = write_export(
        kind, cases, specs, campaign=load_campaign(), out=out, fmt=chosen, day=day, public=public
    )
    click.echo(f"已写入 {out}：{written} 行", err=True)
