"""The case commands: init, import, cases, show, fire and category.

This module owns the commands that set up the store, bring a survey ledger (台账) in, and
list, show and move single cases: the ``cases`` listing with its filters (a community,
state, category or workflow by title or code, overdue on a day) read a page at a time;
``show`` with phone and ID numbers masked for readers that may not see them; and ``fire``
with its ``--set`` payload typed by the event's declared fields and its ``--evidence`` files,
regular files only, hashed a block at a time up to ``RECTIFY_EVIDENCE_LIMIT`` bytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import heapq
import itertools
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import click

from rectify._files import NotRegularFileError, open_regular
from rectify.cli._context import (
    _day,
    _env_number,
    _ledger,
    _names,
    _table,
    _unknown_community,
    _when,
    db_option,
)
from rectify.cli._terminal import printable
from rectify.cli._wording import (
    FIELD_LABELS,
    ClerkError,
    Names,
    clerk,
    describe,
    event_label,
)
from rectify.definitions._load import load_categories
from rectify.documents._contexts import CASE_NUMBER, PHONE_ROLES
from rectify.engine._case import Actor, Case, Evidence
from rectify.engine._engine import TIMEZONE
from rectify.engine._escalation import SYSTEM
from rectify.exceptions import CaseFinalError, EventRefusedError, OutOfOrderError, PayloadError
from rectify.ledger import Ledger
from rectify.spreadsheets._values import LedgerImport
from rectify.stores._store import CaseQuery, CaseSummary, matches
from rectify.templating._formatting import mask_groups, mask_phone

__all__ = [
    "CASES_HEAD",
    "EVIDENCE_LIMIT",
    "MAX_LIMIT",
    "cases",
    "category_",
    "fire",
    "import_",
    "init",
    "show",
]

#: The most cases ``cases --limit`` lists; more is a typo, not a table anyone reads.
MAX_LIMIT = 1_000_000
_PAGE = 500  # cases read from the store at a time when counting a long listing
#: The most bytes one ``--evidence`` file may have, unless ``RECTIFY_EVIDENCE_LIMIT`` says.
EVIDENCE_LIMIT = 100 * 1024 * 1024
_BLOCK = 1024 * 1024  # bytes read at a time when hashing evidence
#: Problems of the header that stop a whole import (no row is read).
_HEADLESS = frozenset({"no-header", "missing-column"})


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
    """Import a ledger (台账) spreadsheet, CSV or XLSX, in the Attachment 1 layout.

    Rows with problems are not imported: each is a line FILE:ROW: COLUMN: reason on stderr,
    and the exit code is 1 once the other rows are in. A category inferred without enough
    confidence is imported with a warning line (推断为「…」（把握 0.55），请核实…) and
    marked for checking (rectify category confirms or corrects it); that alone exits 0.
    """
    from rectify.spreadsheets._reading import read_ledger  # noqa: PLC0415 - openpyxl only when needed

    when = _when(at_text)
    imported = read_ledger(ledger_file, categories=load_categories())
    for problem in imported.problems:
        click.echo(f"{ledger_file}:{problem.row}: {problem.column}: {problem.reason}", err=True)
    for guess in imported.unsure:
        rival = imported.title(guess.rival) if guess.rival else ""
        click.echo(
            f"{ledger_file}:{guess.row}: 隐患类别: "
            f"{guess.reason(imported.title(guess.category), rival)}",
            err=True,
        )
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
    _refuse_rejected(imported)


def _refuse_rejected(imported: LedgerImport) -> None:
    """Exit 1 (after the good rows are in) when rows were not imported, saying how many.

    Raises:
        ClerkError: A row had a problem, or the header did (then no row was read).
    """
    if any(p.code in _HEADLESS for p in imported.problems):
        raise ClerkError("表头有问题，没有导入任何行：改正表头后重新导入")
    if imported.bad_rows:
        raise ClerkError(
            f"有 {len(imported.bad_rows)} 行有问题，未导入（见上方各行）："
            "改正后重新导入即可，已导入的行不会重复"
        )


@click.command()
@db_option
@click.option("--community", help="The community's full name (正街社区).")
@click.option("--state", help="A state's title (整改中) or name (planned).")
@click.option("--category", help="A category's title (可燃雨棚) or code (STR.CANOPY).")
@click.option("--workflow", help="A workflow's title (隐患整改) or id (hazard).")
@click.option(
    "--overdue",
    "overdue_on",
    help="Only cases overdue on this date (YYYY-MM-DD), as they stood at its end.",
)
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
        queries = _by_state(query, names, state)
        found: Iterator[CaseSummary]
        if on is None:  # read from the store's columns, no history decoded
            found = _matching(ledger, queries)
        else:  # a question about a day: the cases as they stood at its end
            found = (
                CaseSummary.of(c)
                for c in ledger.cases_as_of(on)
                if any(matches(c, q) for q in queries)
            )
        if workflow is None:  # hazards, unless a workflow (survey, task, earlier) is named
            hazards = {e.spec.id for e in ledger.engines if e.spec.kind == "hazard"}
            found = (c for c in found if c.workflow in hazards)
        shown = list(itertools.islice(found, limit))
        total = len(shown) + sum(1 for _ in found)
        today = on or dt.datetime.now(TIMEZONE).date()
        rows = [
            (
                c.id,
                str(c.data.get(CASE_NUMBER) or "-"),
                names.workflow(c.workflow),
                names.state(c),
                str(c.data.get("community", "")),
                names.category(str(c.data.get("category", ""))),
                str(c.deadline or "-"),
                names.level(c),
                "逾期" if c.is_overdue(today) else "",
            )
            for c in shown
        ]
    _table(CASES_HEAD, rows)
    click.echo(f"共 {total} 件" if len(rows) == total else f"共 {total} 件，显示前 {len(rows)} 件")


#: The head of the ``cases`` table.
CASES_HEAD = ("案件编号", "隐患编号", "流程", "状态", "社区", "隐患类别", "期限", "督办", "")


def _community(ledger: Ledger, name: str | None) -> str | None:
    """Return ``name`` if a stored case is in that community (``None`` stays ``None``).

    Raises:
        click.UsageError: No stored case is in a community of that name.
    """
    if name is None or ledger.query(CaseQuery(community=name, limit=1)):
        return name
    raise _unknown_community(name, ledger.cases())


def _by_state(query: CaseQuery, names: Names, state: str | None) -> list[CaseQuery]:
    """Return ``query`` once per state a ``--state`` names (a title may name several)."""
    if state is None:
        return [query]
    pairs = names.states_of(state, query.workflow)
    return [attrs.evolve(query, workflow=w, state=s) for w, s in pairs]


def _matching(ledger: Ledger, queries: Sequence[CaseQuery]) -> Iterator[CaseSummary]:
    """Yield the cases matching any of ``queries``, by id, reading a page at a time."""

    def paged(query: CaseQuery) -> Iterator[CaseSummary]:
        after = None
        while page := ledger.summaries(attrs.evolve(query, after=after, limit=_PAGE)):
            yield from page
            after = page[-1].id

    return heapq.merge(*(paged(q) for q in queries), key=lambda c: c.id)


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
    reveal = reader in PHONE_ROLES

    def private(text: str, key: str = "") -> str:
        if key == "special_groups":  # who the households are: personal, like a phone
            return mask_groups(text, reveal=reveal)
        return mask_phone(text, reveal=reveal)

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
        _echo(f"  {FIELD_LABELS.get(key, key)}：{private(_value(names, key, value), key)}")
    for record in case.history:
        payload = "，".join(
            f"{k}={private(str(v), k)}" for k, v in record.payload.items() if k != "data"
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


def _value(names: Names, key: str, raw: object) -> str:
    """Return a data value as ``show`` prints it: a category or severity with its title."""
    if isinstance(raw, bool):
        return "是" if raw else "否"
    value = str(raw)
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


@click.command(name="category")
@click.argument("case_id")
@click.argument("category")
@db_option
@click.option("--actor", required=True, help="Who changes it.")
@click.option("--role", required=True, help="In which role.")
@click.option("--reason", required=True, help="Why (recorded with the change).")
@click.option("--at", "at_text", help="When (ISO date and time; now by default).")
@click.option("--expect-seq", type=int, help="Refuse if the case moved past this record.")
@clerk
def category_(
    *,
    case_id: str,
    category: str,
    db: str,
    actor: str,
    role: str,
    reason: str,
    at_text: str | None,
    expect_seq: int | None,
) -> None:
    """Change or confirm the hazard category of CASE: CATEGORY by its code or title.

    The change is recorded (@category, with the reason) and clears an import's 待核实 mark;
    a severity that was the old category's default follows the new one (@severity).
    """
    when = _when(at_text)
    with _ledger(db) as ledger:
        names = _names(ledger)
        code = names.category_of(category)
        case = ledger.get(case_id)
        try:
            outcome = ledger.change_category(
                case_id,
                code,
                Actor(actor, role),
                reason=reason,
                expected_seq=expect_seq,
                at=when,
            )
        except EventRefusedError as exc:
            raise ClerkError(_category_refusal(exc, names, case, code)) from exc
    changed = outcome.case
    old, new = str(case.data.get("category", "")), str(changed.data.get("category", ""))
    severity = ""
    if changed.data.get("severity") != case.data.get("severity"):
        severity = (
            f"，严重程度 {names.severity(str(case.data.get('severity', '')))}"
            f" → {names.severity(str(changed.data.get('severity', '')))}"
        )
    verb = "确认" if old == new else "调整"
    click.echo(
        printable(
            f"{changed.id}：{verb}隐患类别 {names.category(old) or '-'} → {names.category(new)}"
            f"（记录 #{changed.seq}）{severity}，期限 {changed.deadline or '-'}"
        )
    )


def _category_refusal(exc: EventRefusedError, names: Names, case: Case, code: str) -> str:
    """Return why a category change was refused, in the clerk's words."""
    where = f"案件 {case.id!r} 不能调整隐患类别"
    if isinstance(exc, PayloadError) and exc.field == "category":
        level = names.categories.category(code).severity
        workflow = names.categories.severity(level).workflow
        return (
            f"{where}：「{names.category(code)}」按「{names.severity(level)}」整改，走"
            f"「{names.workflow(workflow)}」流程，本案件走「{names.workflow(case.workflow)}」"
            "流程，类别只能在同一流程内调整；请按本流程办结此案后另行登记"
        )
    if isinstance(exc, PayloadError) and exc.field == "reason":
        return f"{where}：必须说明理由（--reason）"
    if isinstance(exc, CaseFinalError):
        return f"{where}：案件已办结"
    if isinstance(exc, OutOfOrderError):
        return f"{where}：时间 {exc.at} 早于此案最后一条记录的时间 {exc.last}"
    return f"{where}：{exc}"


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


def _evidence_limit() -> int:
    """Return the most bytes an evidence file may have (``RECTIFY_EVIDENCE_LIMIT``)."""
    return _env_number("RECTIFY_EVIDENCE_LIMIT", int, EVIDENCE_LIMIT, wanted="正整数（字节数）")


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
