"""The store-wide commands: sweep, notices, report and verify.

This module owns the commands that work over every case at once: ``sweep`` records the
escalations due; ``notices`` renders the pending notices into files (HTML and text, or the
copies ``--format`` names, a Word copy among them), each from the case as the record that
queued it left it, keeping one that fails for a later run and listing the failures
(``--failed``); ``report`` renders a monthly, circular, ledger, totals or escalation report
or one of the campaign's (survey coverage, estate register, task status, rectification
plan, look-back) as HTML, text or a Word copy from the cases as of its day, numbering each
report once (rendered again, it keeps its number and must come out the same); ``verify``
checks every stored case against its history and words its findings for the clerk.
``sweep`` and ``verify`` also warn when the holiday data is about to run out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import click

from rectify.calendar._calendar import OfficialCalendar
from rectify.cli._context import (
    _day,
    _ledger,
    _table,
    _unknown_community,
    _when,
    as_of_option,
    db_option,
)
from rectify.cli._demo import standard_report
from rectify.cli._files import notice_path
from rectify.cli._terminal import printable
from rectify.cli._wording import ClerkError, clerk, describe
from rectify.definitions._campaign import Campaign, load_campaign
from rectify.definitions._load import load_categories
from rectify.documents._publishing import Notices
from rectify.documents._reports import REPORT_DAY, report_period
from rectify.engine._case import NoticeDue
from rectify.engine._engine import TIMEZONE
from rectify.exceptions import DocumentChangedError, HistoryError, RectifyError
from rectify.ledger import DEAD_AFTER, Finding, Ledger
from rectify.stores._store import Delivery
from rectify.templating._docx import docx_available, docx_copy
from rectify.templating._renderer import Document

__all__ = [
    "CALENDAR_WARNING",
    "MAX_FAILED",
    "NOTICE_FORMATS",
    "REPORT_KINDS",
    "notices",
    "report",
    "sweep",
    "verify",
]

#: The copies ``notices --format`` writes: the HTML, the text, the Word copy of the HTML.
NOTICE_FORMATS: Final = ("html", "text", "docx")


@click.command()
@db_option
@click.option("--now", "now_text", help="Sweep as of this time (ISO; now by default).")
@clerk
def sweep(*, db: str, now_text: str | None) -> None:
    """Record the escalations due by now on every open case."""
    now = _when(now_text, "--now")
    with _ledger(db) as ledger:
        _warn_calendar_end(ledger, now.astimezone(TIMEZONE).date())
        report = ledger.sweep(now)
    click.echo(
        f"查看到期案件 {report.looked_at} 件，升级 {len(report.escalated)} 件，"
        f"待处理 {len(report.effects)} 项"
    )


@click.command()
@db_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/notices"),
    show_default=True,
)
@click.option(
    "--reader",
    default="community",
    show_default=True,
    help="The reader's role (phone numbers are masked for roles that may not see).",
)
@as_of_option
@click.option(
    "--dead-after",
    type=click.IntRange(1, 1000),
    default=DEAD_AFTER,
    show_default=True,
    envvar="RECTIFY_DEAD_AFTER",
    help="Stop retrying a notice after this many failed attempts (also RECTIFY_DEAD_AFTER).",
)
@click.option(
    "--failed", "list_failed", is_flag=True, help="List the notices that failed; render none."
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(NOTICE_FORMATS),
    multiple=True,
    help="Write these copies of each notice (repeat it; html and text unless given). docx is "
    "an editable Word copy of the HTML, and needs rectify[docx].",
)
@clerk
def notices(
    *,
    db: str,
    out: Path,
    reader: str,
    as_of: str | None,
    dead_after: int,
    list_failed: bool,
    formats: Sequence[str],
) -> None:
    """Render the pending notices into --out; one that fails is kept and retried later."""
    if list_failed:
        with _ledger(db) as ledger:
            _show_failed(ledger.failed(MAX_FAILED))
        return
    wanted = set(formats or ("html", "text"))
    if "docx" in wanted:
        _need_docx()
    today = _day(as_of)
    written = 0
    failures: list[Delivery] = []
    with _ledger(db) as ledger:
        publisher = Notices(
            campaign=load_campaign(),
            numbers=ledger.store,
            categories=load_categories(),
            calendar=ledger.engine("hazard").calendar,
        )
        out.mkdir(parents=True, exist_ok=True)

        def render(delivery: Delivery) -> None:
            nonlocal written
            if not isinstance(delivery.effect, NoticeDue):
                return  # deadlines and escalations: nothing to print
            # The case as the record that queued the notice left it, not as it is now.
            case = ledger.case_at(delivery.case_id, delivery.effect.seq)
            spec = ledger.engine(case.workflow, case.version).spec
            try:
                docs = publisher.render_effect(
                    delivery.effect, case, spec, issued_on=today, reader_role=reader
                )
                # The Word copy is made from the HTML: the same wording, the same number.
                word = docx_copy(docs[0]) if "docx" in wanted else None
            except RectifyError as exc:  # recorded in the clerk's words
                raise ClerkError(describe(exc) or str(exc)) from exc
            for doc in docs:
                if doc.format in wanted:
                    suffix = ".html" if doc.format == "html" else ".txt"
                    path = notice_path(out, delivery.id, delivery.effect.notice, suffix)
                    path.write_text(doc.body, encoding="utf-8")
            if word is not None:
                notice_path(out, delivery.id, delivery.effect.notice, ".docx").write_bytes(word)
            written += 1

        ledger.deliver(render, limit=None, dead_after=dead_after, on_failure=failures.append)
    click.echo(f"已生成通知 {written} 份，写入 {out}/")
    if failures:
        click.echo(_failures_line(failures, dead_after), err=True)


def _need_docx() -> None:
    """Refuse ``--format docx`` up front, before a notice is taken, when docxtpl is missing."""
    if not docx_available():
        raise click.UsageError("--format docx 需要安装 Word 组件：pip install 'rectify[docx]'")


#: The most failed notices ``notices --failed`` lists.
MAX_FAILED = 10_000
_ERROR_SHOWN = 60  # characters of a failure's error in the ``--failed`` table


def _failures_line(failures: Sequence[Delivery], dead_after: int) -> str:
    """Return what a run says of the notices that failed in it."""
    dead = sum(d.dead for d in failures)
    if not dead:
        what = "下次运行时重试"
    else:
        what = f"其中 {dead} 份已达重试上限（{dead_after} 次）、不再重试"
        if dead < len(failures):
            what += "，其余下次运行时重试"
    return f"另有 {len(failures)} 份未能生成，{what}；原因用 rectify notices --failed 查看"


def _show_failed(failed: Sequence[Delivery]) -> None:
    """Print the failed notices: the latest error of each, and whether it is still retried."""
    if not failed:
        click.echo("没有未能生成的通知")
        return
    rows = [
        [
            d.id,
            d.case_id,
            d.effect.notice if isinstance(d.effect, NoticeDue) else type(d.effect).__name__,
            str(d.attempts),
            "不再重试" if d.dead else "待重试",
            " ".join((d.last_error or "").split())[:_ERROR_SHOWN],
        ]
        for d in failed
    ]
    _table(["编号", "案件", "通知", "尝试次数", "状态", "错误"], rows)
    dead = sum(d.dead for d in failed)
    click.echo(f"未能生成的通知 {len(failed)} 份，其中不再重试 {dead} 份")


#: How long before the holiday data runs out ``sweep`` and ``verify`` start to warn.
CALENDAR_WARNING = dt.timedelta(days=60)


def _warn_calendar_end(ledger: Ledger, today: dt.date) -> None:
    """Warn on standard error from 60 days before the last day the holiday data covers."""
    ends = [
        engine.calendar.last_covered_day()
        for engine in ledger.engines
        if isinstance(engine.calendar, OfficialCalendar)
    ]
    if not ends or today < min(ends) - CALENDAR_WARNING:
        return
    last = min(ends)
    when = "此前" if today <= last else "尽快"
    click.echo(
        f"注意：节假日数据只到 {last}，请在{when}补充 RECTIFY_HOLIDAYS 节假日文件"
        "（国务院办公厅公布次年放假安排后；格式见 docs/workflow-format.md），"
        "否则之后的期限和通知日期算不出来",
        err=True,
    )


#: The report kinds ``rectify report`` renders, and the template of each.
REPORT_KINDS: Final = {
    "monthly": "monthly_report",
    "circular": "circular",
    "ledger": "ledger",
    "totals": "ledger_totals",
    "escalation": "escalation_levels",
    "coverage": "survey_coverage",
    "register": "estate_register",
    "tasks": "task_status",
    "plan": "rectification_plan",
    "lookback": "lookback_report",
}


@click.command()
@click.argument("kind", type=click.Choice(list(REPORT_KINDS)))
@db_option
@click.option(
    "--month",
    help="YYYY-MM: the month's report (monthly, circular), as of its report day (the 22nd) "
    "unless --as-of says otherwise.",
)
@click.option(
    "--community",
    help="The community's full name (monthly: required; ledger, coverage, register: one; "
    "plan: the community's plan instead of the town's annual plan).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text", "docx"]),
    default="html",
    show_default=True,
    help="docx: an editable Word copy of the HTML, written to --out (needs rectify[docx]).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to a file instead of standard output.",
)
@as_of_option
@clerk
def report(
    *,
    kind: str,
    db: str,
    month: str | None,
    community: str | None,
    fmt: str,
    out: Path | None,
    as_of: str | None,
) -> None:
    """Render a report from the store: monthly, circular, ledger, totals, escalation and more.

    The campaign's reports: coverage (survey coverage), register (the estate
    register), tasks (the task list's progress), plan (a community's rectification plan with
    --community, else the town's annual plan) and lookback (the look-back of the day's
    sample, drawn the same way whenever it is rendered). The report holds the facts of its
    day (--as-of, or the month's report day, or today), whenever it is rendered; the same
    report of the same day keeps its number.
    """
    campaign = load_campaign()
    report_day = _report_day(campaign)
    if month:
        try:
            first = dt.date.fromisoformat(f"{month}-01")
        except ValueError as exc:
            raise click.UsageError(f"--month {month!r} 不是月份，应写作 2024-06 这样") from exc
        day = _day(as_of) if as_of else report_period(first.year, first.month, report_day)[1]
    else:
        day = _day(as_of)
        first = _report_month(day, report_day)
    if kind == "monthly" and not community:
        raise click.UsageError("月度进度报告要用 --community 指明社区")
    if fmt == "docx":
        if out is None:
            raise click.UsageError("--format docx 要用 --out 指明写入的 .docx 文件")
        _need_docx()
    with _ledger(db) as ledger:
        document = report_document(
            ledger,
            kind,
            day=day,
            month=first,
            community=community,
            fmt="html" if fmt == "docx" else fmt,
            campaign=campaign,
        )
    if out is None:
        click.echo(document.body, nl=False)
        return
    if fmt == "docx":  # made from the HTML: the same wording and number
        out.write_bytes(docx_copy(document))
    else:
        out.write_text(document.body, encoding="utf-8")
    click.echo(f"已写入 {out}：{document.title}", err=True)


def report_document(
    ledger: Ledger,
    kind: str,
    *,
    day: dt.date,
    month: dt.date,
    community: str | None,
    fmt: str,
    campaign: Campaign,
) -> Document:
    """Render report ``kind`` (a key of ``REPORT_KINDS``) from the cases as of ``day``.

    ``month`` is the first day of the month a monthly report or circular covers. The
    report is numbered once: rendered again for the same day it has the same number and
    must come out the same. ``rectify report`` and the service both render reports here.

    Raises:
        click.UsageError: ``community`` is named and no case as of ``day`` is in it.
        ClerkError: The report came out different from its first rendering.
    """
    name = REPORT_KINDS[kind]
    cases, specs = list(ledger.cases_as_of(day)), [e.spec for e in ledger.engines]
    # Refused before a number is taken: a typo must not render, nor use up a number.
    if community and not any(c.data.get("community") == community for c in cases):
        raise _unknown_community(community, cases)
    publisher = Notices(campaign=campaign, numbers=ledger.store)
    identity, context = standard_report(
        publisher,
        name,
        day,
        cases,
        specs,
        community=community,
        period=(month.year, month.month),
        categories=load_categories(),
        due_on=_totals_due(campaign, day),
        report_day=_report_day(campaign),
        campaign=campaign,
    )
    try:
        return publisher.render(name, context, fmt=fmt, identity=identity)
    except DocumentChangedError as exc:
        raise ClerkError(_changed(exc)) from exc


def _changed(error: DocumentChangedError) -> str:
    """Return why a report could not be rendered again, in the clerk's words."""
    what = {
        "template": "模板",
        "context": "所依据的案件数据",
        "template and context": "模板和案件数据",
    }
    return (
        f"这份文书（{error.identity}）已编号出具过，这次生成的内容与当时不同"
        f"（{what.get(error.changed, error.changed)}有变化）；未出具。"
        "当天尚未结束时数据仍会变化，请次日再出具当天的报告；否则请用 rectify verify 检查存储"
    )


def _report_day(campaign: Campaign) -> int:
    """Return the day of the month the campaign wants progress reported by (the 22nd)."""
    days = [r.monthly for r in campaign.reports if r.notice == "monthly_report" and r.monthly]
    return days[0] if days else REPORT_DAY


def _report_month(day: dt.date, report_day: int) -> dt.date:
    """Return the first of the month whose report period holds ``day``."""
    if day.day <= report_day:
        return day.replace(day=1)
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _totals_due(campaign: Campaign, today: dt.date) -> dt.date:
    """Return when the campaign wants the ledger totals (April 5 of this year if it says not)."""
    dues = [r.due for r in campaign.reports if r.notice == "ledger_totals" and r.due]
    return dues[0] if dues else dt.date(today.year, 4, 5)


@click.command()
@db_option
@click.option(
    "--as-of", help="Judge the holiday data's end as of this day (YYYY-MM-DD; today by default)."
)
@clerk
def verify(*, db: str, as_of: str | None) -> None:
    """Check every stored case against its history; print the heads digest; exit 1 if not ok."""
    with _ledger(db) as ledger:
        _warn_calendar_end(ledger, _day(as_of))
        result = ledger.verify()
    for finding in result.findings:
        click.echo(printable(_finding_line(finding)))
    broken = len({finding.case_id for finding in result.findings})
    click.echo(f"已校验 {result.checked} 件，历史记录不通过 {broken} 件")
    click.echo(f"台账校验码：{result.heads_digest}")
    if not result.ok:
        raise SystemExit(1)


_FINDINGS: Final = {
    "corrupt-row": "存储的数据无法读取",
    "events-past-head": "最后一条记录之后还存有记录",
    "not-replayed": "历史记录无法按流程推演",
    "orphan-events": "有历史记录，但案件本身已不在存储中",
    "projection-mismatch": "存储的案件与历史记录推演的结果不符",
}


def _finding_line(finding: Finding) -> str:
    """Return one finding of ``verify`` worded in Chinese (the detail stays as found)."""
    if finding.kind in {"history", "head-mismatch"} and finding.seq is not None:
        error = HistoryError(case_id=finding.case_id, seq=finding.seq, reason=finding.detail)
        return describe(error) or str(error)
    what = _FINDINGS.get(finding.kind, finding.kind)
    return f"案件 {finding.case_id!r}：{what}：{finding.detail}"
