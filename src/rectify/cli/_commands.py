"""The command line's daily work on a store, and the campaign demo, gathered as ``COMMANDS``.

Init, import, cases, show, fire and category live in ``_cases``; import-register, import-earlier and
tasks in ``_campaign``; sweep, notices, report and verify in ``_documents``; export in
``_export``; what they share (the store from ``--db`` or ``RECTIFY_DB``, by default
``./rectify.db``, and the times and names typed) in ``_context``. This module owns the
``demo`` command and the tuple ``rectify/cli/__init__.py`` adds to the group. The daily
commands (import to verify) speak Chinese to the clerk: tables show titles, options take
titles or codes, and errors come worded by ``_wording``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rectify._resources import sample_file
from rectify.cli._campaign import import_earlier, import_register, tasks
from rectify.cli._cases import cases, category_, fire, import_, init, show
from rectify.cli._demo import run_demo
from rectify.cli._documents import notices, report, sweep, verify
from rectify.cli._export import export
from rectify.definitions._load import load_categories
from rectify.exceptions import RectifyError

if TYPE_CHECKING:
    from rectify.spreadsheets._register import EarlierImport, RegisterImport
    from rectify.spreadsheets._values import LedgerImport

Rows = list[tuple[str, str, Mapping[str, object]]]

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
@click.option(
    "--register",
    "register_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The old-estate register, one row a building (the shipped sample by default).",
)
@click.option(
    "--earlier",
    "earlier_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Earlier years' rectified hazards (the shipped sample by default).",
)
@click.option("--seed", type=int, default=2024, show_default=True)
@click.option(
    "--scale",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Run the campaign with this many times the hazards.",
)
def demo(
    *,
    out: Path,
    ledger_file: Path | None,
    register_file: Path | None,
    earlier_file: Path | None,
    seed: int,
    scale: int,
) -> None:
    """Simulate the town's 2024 campaign on a fresh SQLite file in --out.

    The hazard ledger, the old-estate register and earlier years' rectified hazards are the
    shipped samples unless --ledger, --register and --earlier name others.
    """
    # openpyxl only when needed
    from rectify.spreadsheets._reading import read_ledger  # noqa: PLC0415
    from rectify.spreadsheets._register import read_earlier, read_register  # noqa: PLC0415

    categories = load_categories()

    def source(given: Path | None, sample: str) -> Path | bytes:
        return given or sample_file(sample).read_bytes()

    def checked(
        imported: LedgerImport | RegisterImport | EarlierImport, given: Path | None, what: str
    ) -> Rows:
        if imported.problems:
            where = given or f"示例{what}"
            raise RectifyError(f"{where}：有 {len(imported.problems)} 处问题，无法读取")
        return imported.cases()

    rows = checked(
        read_ledger(source(ledger_file, "ledger-2024.csv"), categories=categories),
        ledger_file,
        "台账",
    )
    register = checked(
        read_register(source(register_file, "register-2024.csv")), register_file, "楼栋摸排表"
    )
    earlier = checked(
        read_earlier(source(earlier_file, "earlier-2022-2023.csv"), categories=categories),
        earlier_file,
        "历年隐患台账",
    )
    result = run_demo(
        out,
        rows,
        register=register,
        earlier=earlier,
        seed=seed,
        scale=scale,
        progress=lambda line: click.echo(line, err=True),
    )
    for line in result.summary:
        click.echo(line)
    click.echo(
        f"共存储 {result.cases} 件案件（隐患、楼栋、任务、往年隐患）、{result.fires} 条记录、"
        f"{result.documents} 份文书；请打开 {result.out / 'index.html'}"
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


COMMANDS = (
    init,
    import_,
    import_register,
    import_earlier,
    tasks,
    cases,
    show,
    fire,
    category_,
    sweep,
    notices,
    report,
    export,
    verify,
    demo,
)
