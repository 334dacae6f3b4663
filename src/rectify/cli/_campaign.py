"""The campaign commands: the estate register, earlier years' rectified hazards, the tasks.

This module owns ``import-register`` (the old-estate register: one survey case per
building, recorded later with ``rectify fire BLD-… survey``), ``import-earlier`` (earlier
years' rectified hazards, each opened on the day it was closed, for the look-back) and
``tasks`` (the work plan's task list: ``--open`` opens a case per task, without it a table of
their state, deadline, days overdue and latest progress on a day). Both imports report the
problems of the sheet as ``FILE:ROW: COLUMN: reason`` on stderr, import the good rows and
exit 1 when rows were rejected, as ``import`` does.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import click

from rectify.cli._context import _day, _ledger, _names, _table, _when, db_option
from rectify.cli._terminal import printable
from rectify.cli._wording import ClerkError, Names, clerk
from rectify.definitions._campaign import CampaignTask, load_campaign
from rectify.definitions._load import load_categories
from rectify.engine._case import Actor, Case
from rectify.engine._engine import local_date
from rectify.engine._escalation import is_overdue
from rectify.exceptions import CaseNotFoundError
from rectify.ledger import Ledger
from rectify.spreadsheets._values import LedgerProblem
from rectify.templating._formatting import display_width

__all__ = ["TASKS_HEAD", "import_earlier", "import_register", "tasks"]

Items = list[tuple[str, str, Mapping[str, object]]]
_CONTENT_WIDTH = 30  # terminal columns of 具体内容 and 最新进展 in the task table
_UNITS_WIDTH = 24


@click.command(name="import-register")
@click.argument("register_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@click.option("--actor", default="摸排组", show_default=True, help="Who sends the register.")
@click.option("--at", "at_text", help="When (ISO date and time; now by default).")
@clerk
def import_register(*, register_file: Path, db: str, actor: str, at_text: str | None) -> None:
    """Import an old-estate register (老旧小区台账), CSV or XLSX: a survey case per building.

    Each building is then surveyed with ``rectify fire BLD-… survey``.
    """
    from rectify.spreadsheets._register import read_register  # noqa: PLC0415 - openpyxl only when needed

    when = _when(at_text)
    imported = read_register(register_file)
    rows = imported.cases()

    def store(ledger: Ledger, progress: Callable[[int, int], None]) -> int:
        # The community sends its register: a role the survey workflow declares.
        return ledger.import_cases(rows, Actor(actor, "community"), at=when, progress=progress)

    added = _import(register_file, db, imported.problems, rows, store)
    _echo(imported.summary())
    click.echo(
        f"新增 {added} 栋，已存在 {len(rows) - added} 栋，有问题 {len(imported.bad_rows)} 行"
    )
    _refuse_rejected(imported.bad_rows, imported.problems)


@click.command(name="import-earlier")
@click.argument("earlier_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@click.option("--actor", default="摸排组", show_default=True, help="Who sends the sheet.")
@clerk
def import_earlier(*, earlier_file: Path, db: str, actor: str) -> None:
    """Import earlier years' rectified hazards (历年已整改隐患), CSV or XLSX, for the look-back.

    Each is opened on the day it was closed (12:00), as a case of the ``earlier`` workflow.
    """
    from rectify.spreadsheets._register import read_earlier  # noqa: PLC0415 - openpyxl only when needed

    imported = read_earlier(earlier_file, categories=load_categories())
    rows = imported.cases()
    for guess in imported.inferred:
        if not guess.sure:  # imported all the same, marked for checking (rectify category)
            reason = guess.reason(_title(guess.category), _title(guess.rival or ""))
            click.echo(printable(f"{earlier_file}:{guess.row}: 隐患类别: {reason}"), err=True)

    def store(ledger: Ledger, progress: Callable[[int, int], None]) -> int:
        return ledger.import_earlier(rows, Actor(actor, "community"), progress=progress)

    added = _import(earlier_file, db, imported.problems, rows, store)
    _echo(imported.summary())
    click.echo(
        f"新增 {added} 项，已存在 {len(rows) - added} 项，有问题 {len(imported.bad_rows)} 行"
    )
    _refuse_rejected(imported.bad_rows, imported.problems)


def _title(code: str) -> str:
    """Return the title of a category of the shipped table ("" for none)."""
    table = load_categories()
    return table.category(code).title if code in table.codes else ""


def _import(
    file: Path,
    db: str,
    problems: Sequence[LedgerProblem],
    rows: Items,
    store: Callable[[Ledger, Callable[[int, int], None]], int],
) -> int:
    """Print the sheet's problems on stderr, then store its rows with a progress bar."""
    for problem in problems:
        click.echo(printable(f"{file}:{problem.row}: {problem.column}: {problem.reason}"), err=True)
    with (
        _ledger(db, create=True) as ledger,
        click.progressbar(length=len(rows), label="导入中", file=sys.stderr) as bar,
    ):

        def progress(_done: int, seen: int) -> None:
            bar.update(seen - bar.pos)

        return store(ledger, progress)


#: The problems of a sheet that stop every row (no header, a column missing).
_HEADLESS = frozenset({"no-header", "missing-column"})


def _refuse_rejected(bad_rows: Sequence[int], problems: Sequence[LedgerProblem]) -> None:
    """Exit 1 (after the good rows are in) when rows were not imported, as ``import`` does.

    Raises:
        ClerkError: A row had a problem, or the header did (then no row was read).
    """
    if any(p.code in _HEADLESS for p in problems):
        raise ClerkError("表头有问题，没有导入任何行：改正表头后重新导入")
    if bad_rows:
        raise ClerkError(
            f"有 {len(bad_rows)} 行有问题，未导入（见上方各行）："
            "改正后重新导入即可，已导入的行不会重复"
        )


def _echo(text: str) -> None:
    for line in text.splitlines():
        click.echo(printable(line))


@click.command()
@db_option
@click.option(
    "--open",
    "open_tasks",
    is_flag=True,
    help="Open a case for each task of the campaign's list (tasks already open are kept).",
)
@click.option("--actor", default="镇消安办", show_default=True, help="Who assigns the tasks.")
@click.option("--at", "at_text", help="When the tasks are opened (ISO; now by default).")
@click.option(
    "--as-of", help="Show the tasks as they stood at the end of this day (YYYY-MM-DD; today)."
)
@clerk
def tasks(*, db: str, open_tasks: bool, actor: str, at_text: str | None, as_of: str | None) -> None:
    """List the campaign's tasks (任务清单) with their state and progress, or open them."""
    campaign = load_campaign()
    if open_tasks:
        when = _when(at_text)
        with _ledger(db, create=True) as ledger:
            added = ledger.open_tasks(campaign, Actor(actor, "town_office"), at=when)
        click.echo(f"下达任务 {added} 项，已存在 {len(campaign.tasks) - added} 项")
        return
    day = _day(as_of)
    with _ledger(db) as ledger:
        names = _names(ledger)
        found = [(task, _task_case(ledger, task, day)) for task in campaign.tasks]
    rows = [_task_row(names, task, case, day) for task, case in found]
    _table(TASKS_HEAD, rows)
    done = sum(case is not None and case.final for _, case in found)
    missing = sum(case is None for _, case in found)
    late = sum(bool(row[6]) for row in rows)
    click.echo(
        f"共 {len(rows)} 项：已办结 {done} 项，推进中 {len(rows) - done - missing} 项"
        f"（逾期 {late} 项），未下达 {missing} 项（{day.isoformat()}）"
    )


#: The head of the ``tasks`` table.
TASKS_HEAD = ("任务", "阶段", "具体内容", "责任单位", "完成时限", "状态", "逾期", "最新进展")


def _task_case(ledger: Ledger, task: CampaignTask, day: dt.date) -> Case | None:
    """Return a task's case as it stood at the end of ``day``; ``None``: not opened by then."""
    try:
        case = ledger.get(task.case_id)
    except CaseNotFoundError:
        return None
    seqs = [r.seq for r in case.history if local_date(r.at) <= day]
    if not seqs:
        return None
    return case if seqs[-1] == case.seq else ledger.case_at(case.id, seqs[-1])


def _task_row(names: Names, task: CampaignTask, case: Case | None, day: dt.date) -> list[str]:
    """Return a task's line: what, who, by when, its state, days overdue, latest progress."""
    if case is None:
        state, late = "未下达", (day - task.due).days if day > task.due else 0
    else:
        state = names.state(case)
        late = (day - case.deadline).days if case.deadline and is_overdue(case, day) else 0
    return [
        task.case_id,
        task.title,
        _short(task.content, _CONTENT_WIDTH),
        _short("、".join(task.units), _UNITS_WIDTH),
        task.due.isoformat(),
        state,
        f"{late}天" if late else "",
        _short(_latest(case), _CONTENT_WIDTH) if case else "",
    ]


#: The events that say how a task goes, and the payload field (or the reason) that says it.
_PROGRESS = {"report_progress": "progress", "complete": "summary", "cancel": ""}


def _latest(case: Case) -> str:
    """Return the latest progress reported on a task, dated (04-08 已完成摸排70%)."""
    for record in reversed(case.history):
        if record.event in _PROGRESS:
            field = _PROGRESS[record.event]
            text = str(record.payload.get(field, "")) if field else record.reason or ""
            return f"{local_date(record.at):%m-%d} {text}"
    return ""


def _short(text: str, width: int) -> str:
    """Return ``text`` cut to ``width`` terminal columns, with … where it was cut."""
    if display_width(text) <= width:
        return text
    out = ""
    for char in text:
        if display_width(out + char) > width - 1:
            break
        out += char
    return out + "…"
