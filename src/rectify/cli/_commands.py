"""The command line's daily work on a store, and the campaign demo, gathered as ``COMMANDS``.

Init, import, cases, show and fire live in ``_cases``; sweep, notices, report and verify in
``_documents``; what they share (the store from ``--db`` or ``RECTIFY_DB``, by default
``./rectify.db``, and the times and names typed) in ``_context``. This module owns the
``demo`` command and the tuple ``rectify/cli/__init__.py`` adds to the group. The daily
commands (import to verify) speak Chinese to the clerk: tables show titles, options take
titles or codes, and errors come worded by ``_wording``.
"""

from __future__ import annotations

from pathlib import Path

import click

from rectify._resources import sample_ledger
from rectify.cli._cases import cases, fire, import_, init, show
from rectify.cli._demo import run_demo
from rectify.cli._documents import notices, report, sweep, verify
from rectify.definitions._load import load_categories
from rectify.exceptions import RectifyError

__all__ = ["COMMANDS"]


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
