"""The command line's daily work on a store, and the campaign demo.

Init, import, cases, show, fire, sweep, notices, report, verify and demo.

The store comes from ``--db`` or ``RECTIFY_DB`` (a SQLite path or a database URL), by
default ``./rectify.db``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from rectify._resources import sample_ledger
from rectify.calendar._calendar import OfficialCalendar
from rectify.cli._demo import ISSUER, run_demo
from rectify.definitions._campaign import load_campaign
from rectify.definitions._holidays import load_holidays
from rectify.definitions._load import load_categories
from rectify.documents._publishing import Notices
from rectify.documents._reports import report_context
from rectify.engine._case import Actor, Evidence, NoticeDue
from rectify.engine._engine import TIMEZONE
from rectify.engine._escalation import is_overdue
from rectify.exceptions import RectifyError, StoreError
from rectify.ledger import Ledger
from rectify.stores._sql import open_store
from rectify.stores._store import CaseQuery
from rectify.templating._formatting import display_width, pad

__all__ = ["COMMANDS"]

_DEFAULT_DB = "rectify.db"

db_option = click.option(
    "--db",
    envvar="RECTIFY_DB",
    default=_DEFAULT_DB,
    show_default=True,
    help="The store: a SQLite file or a database URL (also RECTIFY_DB).",
)


@contextmanager
def _ledger(db: str) -> Iterator[Ledger]:
    try:
        store = open_store(db)
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


def _when(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(TIMEZONE)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not a date and time such as 2024-06-30T09:00"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=TIMEZONE)


as_of_option = click.option(
    "--as-of", help="The date of issue and of the figures (YYYY-MM-DD; today by default)."
)


def _day(text: str | None, option: str = "--as-of") -> dt.date:
    if not text:
        return dt.datetime.now(TIMEZONE).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not a date such as 2024-08-22", param_hint=option
        ) from exc


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
    with _ledger(db) as ledger:
        click.echo(
            f"store ready at {db}: {sum(1 for _ in ledger.cases())} cases, "
            f"{len(ledger.engines)} workflows"
        )


@click.command(name="import")
@click.argument("ledger_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@click.option("--actor", default="摸排组", show_default=True, help="Who records the survey.")
@click.option("--at", "at_text", help="When (ISO date and time; now by default).")
def import_(*, ledger_file: Path, db: str, actor: str, at_text: str | None) -> None:
    """Import a ledger (台账) spreadsheet, CSV or XLSX, in the Attachment 1 layout."""
    from rectify.spreadsheets._sheets import read_ledger  # noqa: PLC0415 - openpyxl only when needed

    imported = read_ledger(ledger_file, categories=load_categories())
    for problem in imported.problems:
        click.echo(f"{ledger_file}:{problem.row}: {problem.column}: {problem.reason}", err=True)
    rows = imported.cases()
    stream = sys.stderr
    with (
        _ledger(db) as ledger,
        click.progressbar(length=len(rows), label="importing", file=stream) as bar,
    ):

        def progress(_done: int, seen: int) -> None:
            bar.update(seen - bar.pos)

        # The community sends its ledger: a role every shipped workflow declares.
        added = ledger.import_cases(
            rows, Actor(actor, "community"), at=_when(at_text), progress=progress
        )
    click.echo(imported.summary())
    click.echo(
        f"{added} new cases, {len(rows) - added} already stored, "
        f"{len(imported.bad_rows)} rows with problems"
    )


@click.command()
@db_option
@click.option("--community")
@click.option("--state")
@click.option("--category")
@click.option("--workflow")
@click.option("--overdue", "overdue_on", help="Only cases overdue on this date (YYYY-MM-DD).")
@click.option("--all", "show_all", is_flag=True, help="Closed cases too.")
@click.option("--limit", type=int, default=200, show_default=True)
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
    """List cases as a table, filtered."""
    on = _day(overdue_on, "--overdue") if overdue_on else None
    query = CaseQuery(
        community=community,
        state=state,
        category=category,
        workflow=workflow,
        open=None if show_all else True,
        overdue_on=on,
        limit=limit,
    )
    with _ledger(db) as ledger:
        found = ledger.query(query)
        today = on or dt.datetime.now(TIMEZONE).date()
        rows = [
            (
                c.id,
                c.workflow,
                c.state,
                str(c.data.get("community", "")),
                str(c.data.get("category", "")),
                str(c.deadline or "-"),
                "-" if c.escalation is None else f"L{c.escalation}",
                "overdue" if is_overdue(c, today) else "",
            )
            for c in found
        ]
    _table(("case", "workflow", "state", "community", "category", "deadline", "level", ""), rows)
    click.echo(f"{len(rows)} cases")


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [
        max([display_width(h), *(display_width(r[i]) for r in rows)]) for i, h in enumerate(head)
    ]
    for row in (head, *rows):
        click.echo("  ".join(pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())


@click.command()
@click.argument("case_id")
@db_option
def show(*, case_id: str, db: str) -> None:
    """Show a case: its data and its history."""
    with _ledger(db) as ledger:
        case = ledger.get(case_id)
    click.echo(
        f"{case.id}  {case.workflow} v{case.version}  state {case.state}  "
        f"deadline {case.deadline or '-'}  level "
        f"{'-' if case.escalation is None else case.escalation}"
    )
    for key, value in case.data.items():
        click.echo(f"  {key}: {value}")
    for record in case.history:
        payload = ", ".join(f"{k}={v}" for k, v in record.payload.items() if k != "data")
        click.echo(
            f"  #{record.seq} {record.at:%Y-%m-%d %H:%M} {record.event} "
            f"{record.source or ''}→{record.target} by {record.actor} ({record.role})"
            f"{' ' + payload if payload else ''}{' — ' + record.reason if record.reason else ''}"
        )


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
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        raw[key] = value
    refs = []
    for item in evidence:
        kind, sep, name = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KIND=FILE", param_hint="--evidence")
        try:
            refs.append(Evidence.of(kind, Path(name).name, Path(name).read_bytes()))
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {name!r}: {exc.strerror}", param_hint="--evidence"
            ) from exc
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
        outcome = ledger.fire(
            case_id,
            event,
            Actor(actor, role),
            payload=payload,
            evidence=refs,
            reason=reason,
            expected_seq=expect_seq,
            at=_when(at_text),
        )
    case = outcome.case
    click.echo(
        f"{case.id}: {event} → {case.state} (record {case.seq}), deadline "
        f"{case.deadline or '-'}; {len(outcome.effects)} effects queued"
    )


@click.command()
@db_option
@click.option("--now", "now_text", help="Sweep as of this time (ISO; now by default).")
def sweep(*, db: str, now_text: str | None) -> None:
    """Record the escalations due by now on every open case."""
    with _ledger(db) as ledger:
        report = ledger.sweep(_when(now_text))
    click.echo(
        f"{report.looked_at} open cases looked at, {len(report.escalated)} escalated, "
        f"{len(report.effects)} effects queued"
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
def notices(*, db: str, out: Path, reader: str, as_of: str | None) -> None:
    """Render the pending notices into --out and acknowledge every pending effect."""
    today = _day(as_of)
    written = 0
    with _ledger(db) as ledger:
        publisher = Notices(
            ISSUER,
            numbers=ledger.store,
            categories=load_categories(),
            calendar=ledger.engine("hazard").calendar,
        )
        out.mkdir(parents=True, exist_ok=True)
        while batch := ledger.pending(200):
            for delivery in batch:
                if isinstance(delivery.effect, NoticeDue):
                    case = ledger.get(delivery.case_id)
                    spec = ledger.engine(case.workflow, case.version).spec
                    for doc in publisher.render_effect(
                        delivery.effect, case, spec, issued_on=today, reader_role=reader
                    ):
                        suffix = "html" if doc.format == "html" else "txt"
                        stem = f"{delivery.id.replace(':', '-')}-{delivery.effect.notice}"
                        (out / f"{stem}.{suffix}").write_text(doc.body, encoding="utf-8")
                    written += 1
            ledger.acknowledge([d.id for d in batch])
    click.echo(f"{written} notices written to {out}/")


@click.command()
@click.argument(
    "kind", type=click.Choice(["monthly", "circular", "ledger", "totals", "escalation"])
)
@db_option
@click.option("--month", help="YYYY-MM (this month by default).")
@click.option("--community", help="For the monthly report: which community.")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "text"]), default="html", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to a file instead of standard output.",
)
@as_of_option
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
        raise click.BadParameter(
            f"{month!r} is not a month such as 2024-06", param_hint="--month"
        ) from exc
    year, number = first.year, first.month
    if kind == "monthly" and not community:
        raise click.UsageError("the monthly report needs --community")
    name = {
        "monthly": "monthly_report",
        "totals": "ledger_totals",
        "escalation": "escalation_levels",
    }.get(kind, kind)
    with _ledger(db) as ledger:
        stored, specs = list(ledger.cases()), [e.spec for e in ledger.engines]
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
        )
    document = Notices(ISSUER).render(name, context, fmt=fmt)
    if out is None:
        click.echo(document.body, nl=False)
    else:
        out.write_text(document.body, encoding="utf-8")
        click.echo(f"{document.title} written to {out}", err=True)


def _totals_due(today: dt.date) -> dt.date:
    """Return when the campaign wants the ledger totals (April 5 of this year if it says not)."""
    dues = [r.due for r in load_campaign().reports if r.notice == "ledger_totals" and r.due]
    return dues[0] if dues else dt.date(today.year, 4, 5)


@click.command()
@db_option
def verify(*, db: str) -> None:
    """Check the hash chain of every stored case; exit 1 if any is broken."""
    with _ledger(db) as ledger:
        result = ledger.verify()
    for problem in result.problems:
        click.echo(str(problem))
    click.echo(f"{result.checked} cases checked, {len(result.problems)} broken")
    if not result.ok:
        raise SystemExit(1)


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
    from rectify.spreadsheets._sheets import read_ledger  # noqa: PLC0415 - openpyxl only when needed

    source: Path | bytes = ledger_file or sample_ledger().read_bytes()
    imported = read_ledger(source, categories=load_categories())
    if imported.problems:
        where = ledger_file or "the sample ledger"
        raise RectifyError(f"{where}: {len(imported.problems)} rows could not be read")
    rows = imported.cases()
    result = run_demo(
        out, rows, seed=seed, scale=scale, progress=lambda line: click.echo(line, err=True)
    )
    for line in result.summary:
        click.echo(line)
    click.echo(
        f"{result.cases} cases, {result.fires} events, {result.documents} documents; "
        f"open {result.out / 'index.html'}"
    )
    if scale > 1:
        for stage, seconds in sorted(result.timings.items()):
            click.echo(f"  {stage:<8} {seconds:8.2f} s")


COMMANDS = (init, import_, cases, show, fire, sweep, notices, report, verify, demo)
