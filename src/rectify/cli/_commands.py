"""The command line's daily work on a store, and the campaign demo.

Init, import, cases, show, fire, sweep, notices, report, verify and demo. The daily
commands (import to verify) speak Chinese to the clerk: tables show titles, options take
titles or codes, and errors come worded by ``_wording``.

The store comes from ``--db`` or ``RECTIFY_DB`` (a SQLite path or a database URL), by
default ``./rectify.db``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import heapq
import itertools
import math
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import attrs
import click

from rectify._files import NotRegularFileError, open_regular
from rectify._resources import sample_ledger
from rectify.calendar._calendar import OfficialCalendar
from rectify.cli._demo import ISSUER, run_demo
from rectify.cli._files import notice_path
from rectify.cli._terminal import printable
from rectify.cli._wording import (
    FIELD_LABELS,
    ClerkError,
    Names,
    clerk,
    describe,
    event_label,
    unknown,
)
from rectify.definitions._campaign import load_campaign
from rectify.definitions._holidays import load_holidays
from rectify.definitions._load import load_categories
from rectify.documents._contexts import PHONE_ROLES
from rectify.documents._publishing import Notices
from rectify.documents._reports import report_context
from rectify.engine._case import Actor, Case, Evidence, NoticeDue
from rectify.engine._engine import TIMEZONE
from rectify.engine._escalation import SYSTEM, is_overdue
from rectify.exceptions import EventRefusedError, HistoryError, RectifyError, StoreError
from rectify.ledger import DEAD_AFTER, Finding, Ledger
from rectify.stores._sql import CONNECT_TIMEOUT, open_store
from rectify.stores._store import CaseQuery, Delivery
from rectify.templating._formatting import display_width, mask_phone, pad

__all__ = ["COMMANDS"]

_DEFAULT_DB = "rectify.db"
#: The most cases ``cases --limit`` lists; more is a typo, not a table anyone reads.
MAX_LIMIT = 1_000_000
_PAGE = 500  # cases read from the store at a time when counting a long listing
#: The most bytes one ``--evidence`` file may have, unless ``RECTIFY_EVIDENCE_LIMIT`` says.
EVIDENCE_LIMIT = 100 * 1024 * 1024
_BLOCK = 1024 * 1024  # bytes read at a time when hashing evidence
_MOST_SECONDS = 86_400.0  # a longer connect timeout is a typo
_YEARS = range(1900, 9000)  # an event dated outside these years is a typo

db_option = click.option(
    "--db",
    envvar="RECTIFY_DB",
    default=_DEFAULT_DB,
    show_default=True,
    help="The store: a SQLite file or a database URL (also RECTIFY_DB).",
)


@contextmanager
def _ledger(db: str, *, create: bool = False) -> Iterator[Ledger]:
    """Open a ledger on the store at ``db``; only ``create`` may set a new store up.

    ``RECTIFY_DB_TIMEOUT`` (seconds) bounds the wait for a database server, and
    ``RECTIFY_DB_SHARED=1`` lets a new store's tables into a database that holds others.

    Raises:
        StoreError: No store is at ``db`` (and not ``create``), or it cannot be opened.
        click.UsageError: ``RECTIFY_DB_TIMEOUT`` is not a positive number.
    """
    try:
        store = open_store(
            db,
            connect_timeout=_connect_timeout(),
            create=create,
            shared=os.environ.get("RECTIFY_DB_SHARED", "") == "1",
        )
    except OSError as exc:  # the folder of a SQLite path cannot be made (a file is in the way)
        reason = f"{exc.strerror} ({exc.filename})" if exc.filename else str(exc)
        raise StoreError(f"cannot open a store at {db}: {reason}") from exc
    holidays = os.environ.get("RECTIFY_HOLIDAYS")
    calendar = OfficialCalendar(
        load_holidays(holidays) if holidays else None,
        weekends_fallback=os.environ.get("RECTIFY_WEEKENDS_FALLBACK", "") == "1",
    )
    try:
        yield Ledger.with_workflows(store, campaign=load_campaign(), calendar=calendar)
    finally:
        store.close()


def _connect_timeout() -> float:
    """Return the seconds to wait for a database server (``RECTIFY_DB_TIMEOUT``)."""
    text = os.environ.get("RECTIFY_DB_TIMEOUT", "")
    if not text:
        return CONNECT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= _MOST_SECONDS:  # also refuses nan
        raise click.UsageError(f"RECTIFY_DB_TIMEOUT {text!r} 应是正数（秒）")
    return seconds


def _when(text: str | None, option: str = "--at") -> dt.datetime:
    if not text:
        return dt.datetime.now(TIMEZONE)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.UsageError(
            f"{option} {text!r} 不是日期和时间，应写作 2024-06-30T09:00 这样"
        ) from exc
    value = value if value.tzinfo else value.replace(tzinfo=TIMEZONE)
    # Deadlines are counted forward from it: near the end of the calendar they overflow.
    try:
        year = value.astimezone(TIMEZONE).year
    except OverflowError:
        year = 0
    if year not in _YEARS:
        raise click.UsageError(
            f"{option} {text!r} 超出范围，应在 {_YEARS.start} 年至 {_YEARS.stop - 1} 年之间"
        )
    return value


as_of_option = click.option(
    "--as-of", help="The date of issue and of the figures (YYYY-MM-DD; today by default)."
)


def _day(text: str | None, option: str = "--as-of") -> dt.date:
    if not text:
        return dt.datetime.now(TIMEZONE).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise click.UsageError(f"{option} {text!r} 不是日期，应写作 2024-08-22 这样") from exc


def _typed(text: str, kind: str | None) -> object:
    """Turn a ``--set`` value into the field's declared type (text when it is unknown).

    A value that does not convert stays text, so the engine refuses it with its own,
    precise message.
    """
    converters: dict[str, object] = {
        "int": int,
        "float": float,
        "date": dt.date.fromisoformat,
        "datetime": dt.datetime.fromisoformat,
        "bool": lambda v: {"true": True, "false": False}[v.lower()],
    }
    convert = converters.get(kind or "")
    if convert is None:
        return text
    try:
        return convert(text)  # type: ignore[operator]
    except (ValueError, KeyError):
        return text


@click.command()
@db_option
def init(*, db: str) -> None:
    """Create the store (or bring its schema up to date) and say where it is."""
    with _ledger(db, create=True) as ledger:
        click.echo(
            f"store ready at {db}: {sum(1 for _ in ledger.cases())} cases, "
            f"{len(ledger.engines)} workflows"
        )


@click.command(name="import")
@click.argument("ledger_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@click.option("--actor", default="摸排组", show_default=True, help="Who records the survey.")
@click.option("--at", "at_text", help="When (ISO date and time; now by default).")
@clerk
def import_(*, ledger_file: Path, db: str, actor: str, at_text: str | None) -> None:
    """Import a ledger (台账) spreadsheet, CSV or XLSX, in the Attachment 1 layout."""
    from rectify.spreadsheets._reading import read_ledger  # noqa: PLC0415 - openpyxl only when needed

    when = _when(at_text)
    imported = read_ledger(ledger_file, categories=load_categories())
    for problem in imported.problems:
        click.echo(f"{ledger_file}:{problem.row}: {problem.column}: {problem.reason}", err=True)
    rows = imported.cases()
    stream = sys.stderr
    with (
        _ledger(db, create=True) as ledger,
        click.progressbar(length=len(rows), label="导入中", file=stream) as bar,
    ):

        def progress(_done: int, seen: int) -> None:
            bar.update(seen - bar.pos)

        # The community sends its ledger: a role every shipped workflow declares.
        added = ledger.import_cases(rows, Actor(actor, "community"), at=when, progress=progress)
    click.echo(imported.summary())
    click.echo(
        f"新增 {added} 件，已存在 {len(rows) - added} 件，有问题 {len(imported.bad_rows)} 行"
    )


@click.command()
@db_option
@click.option("--community", help="The community's full name (正街社区).")
@click.option("--state", help="A state's title (整改中) or name (planned).")
@click.option("--category", help="A category's title (可燃雨棚) or code (STR.CANOPY).")
@click.option("--workflow", help="A workflow's title (隐患整改) or id (hazard).")
@click.option("--overdue", "overdue_on", help="Only cases overdue on this date (YYYY-MM-DD).")
@click.option("--all", "show_all", is_flag=True, help="Closed cases too.")
@click.option("--limit", type=click.IntRange(0, MAX_LIMIT), default=200, show_default=True)
@clerk
def cases(
    *,
    db: str,
    community: str | None,
    state: str | None,
    category: str | None,
    workflow: str | None,
    overdue_on: str | None,
    show_all: bool,
    limit: int,
) -> None:
    """List cases as a table, filtered; say how many there are in all."""
    on = _day(overdue_on, "--overdue") if overdue_on else None
    with _ledger(db) as ledger:
        names = _names(ledger)
        query = CaseQuery(
            community=_community(ledger, community),
            category=None if category is None else names.category_of(category),
            workflow=None if workflow is None else names.workflow_of(workflow),
            open=None if show_all else True,
            overdue_on=on,
        )
        found = _matching(ledger, _by_state(query, names, state))
        shown = list(itertools.islice(found, limit))
        total = len(shown) + sum(1 for _ in found)
        today = on or dt.datetime.now(TIMEZONE).date()
        rows = [
            (
                c.id,
                names.workflow(c.workflow),
                names.state(c),
                str(c.data.get("community", "")),
                names.category(str(c.data.get("category", ""))),
                str(c.deadline or "-"),
                names.level(c),
                "逾期" if is_overdue(c, today) else "",
            )
            for c in shown
        ]
    _table(CASES_HEAD, rows)
    click.echo(f"共 {total} 件" if len(rows) == total else f"共 {total} 件，显示前 {len(rows)} 件")


#: The head of the ``cases`` table.
CASES_HEAD = ("案件编号", "流程", "状态", "社区", "隐患类别", "期限", "督办", "")


def _names(ledger: Ledger) -> Names:
    return Names((e.spec for e in ledger.engines), load_categories())


def _community(ledger: Ledger, name: str | None) -> str | None:
    """Return ``name`` if a stored case is in that community (``None`` stays ``None``).

    Raises:
        click.UsageError: No stored case is in a community of that name.
    """
    if name is None or ledger.query(CaseQuery(community=name, limit=1)):
        return name
    raise _unknown_community(name, ledger.cases())


def _unknown_community(name: str, stored: Iterable[Case]) -> click.UsageError:
    known = sorted({str(c.data["community"]) for c in stored if c.data.get("community")})
    return unknown("社区", name, [(c, (c,)) for c in known])


def _by_state(query: CaseQuery, names: Names, state: str | None) -> list[CaseQuery]:
    """Return ``query`` once per state a ``--state`` names (a title may name several)."""
    if state is None:
        return [query]
    pairs = names.states_of(state, query.workflow)
    return [attrs.evolve(query, workflow=w, state=s) for w, s in pairs]


def _matching(ledger: Ledger, queries: Sequence[CaseQuery]) -> Iterator[Case]:
    """Yield the cases matching any of ``queries``, by id, reading a page at a time."""

    def paged(query: CaseQuery) -> Iterator[Case]:
        after = None
        while page := ledger.query(attrs.evolve(query, after=after, limit=_PAGE)):
            yield from page
            after = page[-1].id

    return heapq.merge(*(paged(q) for q in queries), key=lambda c: c.id)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    rows = [[printable(cell) for cell in row] for row in rows]  # stored text, escaped
    widths = [
        max([display_width(h), *(display_width(r[i]) for r in rows)]) for i, h in enumerate(head)
    ]
    for row in (head, *rows):
        click.echo("  ".join(pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())


@click.command()
@click.argument("case_id")
@db_option
@click.option(
    "--reader",
    default="community",
    show_default=True,
    help="The reader's role (phone and ID numbers are masked for roles that may not see).",
)
@clerk
def show(*, case_id: str, db: str, reader: str) -> None:
    """Show a case: its data and its history."""

    def private(text: str) -> str:
        return mask_phone(text, reveal=reader in PHONE_ROLES)

    with _ledger(db) as ledger:
        case = ledger.get(case_id)
        names = _names(ledger)
    spec = names.spec(case.workflow, case.version)
    level = "-" if case.escalation is None else f"{case.escalation}（{names.level(case)}）"
    _echo(
        f"{case.id}  {names.workflow(case.workflow)} v{case.version}  "
        f"状态：{names.state(case)}  期限：{case.deadline or '-'}  督办级别：{level}"
    )
    for key, value in case.data.items():
        _echo(f"  {FIELD_LABELS.get(key, key)}：{private(_value(names, key, str(value)))}")
    for record in case.history:
        payload = "，".join(
            f"{k}={private(str(v))}" for k, v in record.payload.items() if k != "data"
        )
        source = names.state(case, record.source) if record.source else ""
        reason = f"；理由：{private(record.reason)}" if record.reason else ""
        who = f"{private(record.actor)}（{names.role(spec, record.role)}）"
        if record.role == SYSTEM:  # the sweep records escalations in the library's own name
            who = "系统"
        _echo(
            f"  #{record.seq} {record.at:%Y-%m-%d %H:%M} {event_label(spec, record.event)} "
            f"{source}→{names.state(case, record.target)} {who}"
            f"{' ' + payload if payload else ''}{reason}"
        )


def _echo(line: str) -> None:
    """Print a line that echoes stored text (data, actors, reasons), controls escaped."""
    click.echo(printable(line))


def _value(names: Names, key: str, value: str) -> str:
    """Return a data value as ``show`` prints it: a category or severity with its title."""
    if key == "category" and names.category(value) != value:
        return f"{names.category(value)}（{value}）"
    return names.severity(value) if key == "severity" else value


@click.command()
@click.argument("case_id")
@click.argument("event")
@db_option
@click.option("--actor", required=True, help="Who fires it.")
@click.option("--role", required=True, help="In which role.")
@click.option("--set", "fields", multiple=True, metavar="KEY=VALUE", help="A payload field.")
@click.option("--evidence", multiple=True, metavar="KIND=FILE", help="Evidence (hashed).")
@click.option("--reason")
@click.option("--at", "at_text", help="When (ISO date and time; now by default).")
@click.option("--expect-seq", type=int, help="Refuse if the case moved past this record.")
@clerk
def fire(
    *,
    case_id: str,
    event: str,
    db: str,
    actor: str,
    role: str,
    fields: Sequence[str],
    evidence: Sequence[str],
    reason: str | None,
    at_text: str | None,
    expect_seq: int | None,
) -> None:
    """Fire EVENT on CASE."""
    raw: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set {item!r} 应写作 字段=值")
        raw[key] = value
    limit = _evidence_limit()
    refs = [_evidence(item, limit) for item in evidence]
    when = _when(at_text)
    with _ledger(db) as ledger:
        case = ledger.get(case_id)
        spec = ledger.engine(case.workflow, case.version).spec
        types = {
            f.name: f.type
            for e in spec.events
            if e.name == event
            for f in (*e.require, *e.optional)
        }
        payload = {key: _typed(value, types.get(key)) for key, value in raw.items()}
        try:
            outcome = ledger.fire(
                case_id,
                event,
                Actor(actor, role),
                payload=payload,
                evidence=refs,
                reason=reason,
                expected_seq=expect_seq,
                at=when,
            )
        except EventRefusedError as exc:
            message = describe(exc, spec)
            if message is None:
                raise
            raise ClerkError(message) from exc
        names = _names(ledger)
    case = outcome.case
    click.echo(
        printable(
            f"{case.id}：{event_label(spec, event)} → {names.state(case)}（记录 #{case.seq}），"
            f"期限 {case.deadline or '-'}；待处理 {len(outcome.effects)} 项（rectify notices 发出）"
        )
    )


def _evidence_limit() -> int:
    """Return the most bytes an evidence file may have (``RECTIFY_EVIDENCE_LIMIT``)."""
    text = os.environ.get("RECTIFY_EVIDENCE_LIMIT", "")
    if not text:
        return EVIDENCE_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise click.UsageError(f"RECTIFY_EVIDENCE_LIMIT {text!r} 应是正整数（字节数）")
    return limit


def _evidence(item: str, limit: int) -> Evidence:
    """Return the reference of an ``--evidence KIND=FILE``, hashed a block at a time.

    Only a regular file of at most ``limit`` bytes is read: a pipe or a device
    (``/dev/zero``) would never end. The file is opened without blocking, so that a named
    pipe with no writer is refused rather than waited for.

    Raises:
        click.UsageError: The item is not ``KIND=FILE``, or the file cannot be read, is not a
            regular file or is larger than ``limit``.
    """
    kind, sep, name = item.partition("=")
    if not sep:
        raise click.UsageError(f"--evidence {item!r} 应写作 种类=文件")
    with contextlib.ExitStack() as opened:
        try:
            file, size = opened.enter_context(open_regular(name))
        except NotRegularFileError as exc:
            raise click.UsageError(f"--evidence {name!r} 不是普通文件（管道、设备或目录）") from exc
        except OSError as exc:
            raise click.UsageError(f"--evidence 读不了文件 {name!r}：{exc.strerror}") from exc
        if size > limit:
            raise click.UsageError(f"--evidence {name!r} 超过 {limit} 字节，太大了")
        chunks = iter(functools.partial(file.read, _BLOCK), b"")
        seen = 0

        def counted() -> Iterator[bytes]:
            nonlocal seen
            for chunk in chunks:
                seen += len(chunk)
                if seen > limit:  # the file grew while it was read
                    raise click.UsageError(f"--evidence {name!r} 超过 {limit} 字节，太大了")
                yield chunk

        try:
            return Evidence.of_chunks(kind, Path(name).name, counted())
        except OSError as exc:
            raise click.UsageError(f"--evidence 读不了文件 {name!r}：{exc.strerror}") from exc


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
        f"查看未办结案件 {report.looked_at} 件，升级 {len(report.escalated)} 件，"
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
@clerk
def notices(
    *, db: str, out: Path, reader: str, as_of: str | None, dead_after: int, list_failed: bool
) -> None:
    """Render the pending notices into --out; one that fails is kept and retried later."""
    if list_failed:
        with _ledger(db) as ledger:
            _show_failed(ledger.failed(MAX_FAILED))
        return
    today = _day(as_of)
    written = 0
    failures: list[Delivery] = []
    with _ledger(db) as ledger:
        publisher = Notices(
            ISSUER,
            numbers=ledger.store,
            categories=load_categories(),
            calendar=ledger.engine("hazard").calendar,
        )
        out.mkdir(parents=True, exist_ok=True)

        def render(delivery: Delivery) -> None:
            nonlocal written
            if not isinstance(delivery.effect, NoticeDue):
                return  # deadlines and escalations: nothing to print
            case = ledger.get(delivery.case_id)
            spec = ledger.engine(case.workflow, case.version).spec
            try:
                docs = publisher.render_effect(
                    delivery.effect, case, spec, issued_on=today, reader_role=reader
                )
            except RectifyError as exc:  # recorded in the clerk's words
                raise ClerkError(describe(exc) or str(exc)) from exc
            for doc in docs:
                suffix = ".html" if doc.format == "html" else ".txt"
                path = notice_path(out, delivery.id, delivery.effect.notice, suffix)
                path.write_text(doc.body, encoding="utf-8")
            written += 1

        ledger.deliver(render, limit=None, dead_after=dead_after, on_failure=failures.append)
    click.echo(f"已生成通知 {written} 份，写入 {out}/")
    if failures:
        click.echo(_failures_line(failures, dead_after), err=True)


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


@click.command()
@click.argument(
    "kind", type=click.Choice(["monthly", "circular", "ledger", "totals", "escalation"])
)
@db_option
@click.option("--month", help="YYYY-MM (this month by default).")
@click.option("--community", help="The community's full name (monthly: required; ledger: one).")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "text"]), default="html", show_default=True
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
    """Render a report from the store: monthly, circular, ledger, totals or escalation."""
    today = _day(as_of)
    try:
        first = dt.date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    except ValueError as exc:
        raise click.UsageError(f"--month {month!r} 不是月份，应写作 2024-06 这样") from exc
    year, number = first.year, first.month
    if kind == "monthly" and not community:
        raise click.UsageError("月度进度报告要用 --community 指明社区")
    name = {
        "monthly": "monthly_report",
        "totals": "ledger_totals",
        "escalation": "escalation_levels",
    }.get(kind, kind)
    with _ledger(db) as ledger:
        stored, specs = list(ledger.cases()), [e.spec for e in ledger.engines]
        # Refused before a number is taken: a typo must not render, nor use up a number.
        if community and not any(c.data.get("community") == community for c in stored):
            raise _unknown_community(community, stored)
        table = load_categories()
        sequence = ledger.store.next_number(ISSUER.code, today.year)
        context = report_context(
            name,
            stored,
            specs,
            as_of=today,
            issuer=ISSUER,
            sequence=sequence,
            categories=table,
            community=community,
            due_on=_totals_due(today),
            period=(year, number),
            heads_digest=ledger.heads_digest(),
        )
    document = Notices(ISSUER).render(name, context, fmt=fmt)
    if out is None:
        click.echo(document.body, nl=False)
    else:
        out.write_text(document.body, encoding="utf-8")
        click.echo(f"已写入 {out}：{document.title}", err=True)


def _totals_due(today: dt.date) -> dt.date:
    """Return when the campaign wants the ledger totals (April 5 of this year if it says not)."""
    dues = [r.due for r in load_campaign().reports if r.notice == "ledger_totals" and r.due]
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


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="The output folder (emptied first).",
)
@click.option(
    "--ledger",
    "ledger_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The ledger to import (the shipped sample by default).",
)
@click.option("--seed", type=int, default=2024, show_default=True)
@click.option(
    "--scale",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Run the campaign with this many times the hazards.",
)
def demo(*, out: Path, ledger_file: Path | None, seed: int, scale: int) -> None:
    """Simulate the town's 2024 campaign on a fresh SQLite file in --out."""
    from rectify.spreadsheets._reading import read_ledger  # noqa: PLC0415 - openpyxl only when needed

    source: Path | bytes = ledger_file or sample_ledger().read_bytes()
    imported = read_ledger(source, categories=load_categories())
    if imported.problems:
        where = ledger_file or "示例台账"
        raise RectifyError(f"{where}：有 {len(imported.problems)} 行无法读取")
    rows = imported.cases()
    result = run_demo(
        out, rows, seed=seed, scale=scale, progress=lambda line: click.echo(line, err=True)
    )
    for line in result.summary:
        click.echo(line)
    click.echo(
        f"共 {result.cases} 件案件、{result.fires} 条记录、{result.documents} 份文书；"
        f"请打开 {result.out / 'index.html'}"
    )
    if scale > 1:
        for stage, seconds in sorted(result.timings.items()):
            click.echo(f"  {_STAGES.get(stage, stage)} {seconds:8.2f} 秒")


# The demo's stages (the keys of DemoResult.timings) as the clerk reads them.
_STAGES = {
    "fires": "办理",
    "import": "导入",
    "notices": "通知",
    "reports": "报表",
    "sweeps": "巡查",
    "total": "合计",
}

COMMANDS = (init, import_, cases, show, fire, sweep, notices, report, verify, demo)
