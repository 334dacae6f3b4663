"""The ``rectify`` command line (``rectify`` console script and ``python -m rectify``).

Errors are one clear line on stderr and a non-zero exit code, never a traceback: 1 when an
event was refused, a case conflicts or validation found problems; 2 for usage errors and
unreadable or invalid definitions. ``RECTIFY_DEBUG=1`` shows the traceback of an
unexpected error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from rectify.cli._commands import COMMANDS
from rectify.definitions._diagram import FORMATS, draw_workflow
from rectify.definitions._load import load_workflow, validate_paths
from rectify.exceptions import DefinitionError, RectifyError
from rectify.templating._renderer import NoticeRenderer

__all__ = ["cli", "main"]

_USAGE_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rectify")
def cli() -> None:
    """Run fire-hazard rectification cases as YAML-defined state machines."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print diagnostics only, no summary line.")
@click.option(
    "--notices",
    "notices_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of host notice templates, checked with the workflows (they override the "
    "shipped templates by name).",
)
def validate(paths: Sequence[Path], *, quiet: bool, notices_dir: Path | None) -> None:
    """Check workflow files and folders; one line per problem as file:line:col.

    Exits 0 when clean, 1 when problems were found, 2 on usage errors.
    """
    renderer = NoticeRenderer(notices_dir) if notices_dir is not None else None
    report = validate_paths(paths, notices=renderer)
    for diagnostic in report.diagnostics:
        click.echo(diagnostic.format())
    if not quiet:
        errors = sum(d.is_error for d in report.diagnostics)
        warnings = len(report.diagnostics) - errors
        click.echo(
            f"{len(report.files)} files checked: {errors} errors, {warnings} warnings", err=True
        )
    sys.exit(0 if report.clean else 1)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="mermaid",
    show_default=True,
    help="Diagram language.",
)
@click.option("--english", is_flag=True, help="Label with the English titles.")
def diagram(file: Path, fmt: str, *, english: bool) -> None:
    """Print the state diagram of a workflow as Mermaid or Graphviz DOT text."""
    click.echo(draw_workflow(load_workflow(file), fmt, english=english), nl=False)


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line, turning every error into one line and an exit code."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="rectify",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except DefinitionError as exc:
        _fail(exc, _USAGE_ERROR)
    except RectifyError as exc:
        _fail(exc, 1)
    except Exception as exc:
        if os.environ.get("RECTIFY_DEBUG"):
            raise
        click.echo(
            f"rectify: internal error: {type(exc).__name__}: {exc} "
            "(RECTIFY_DEBUG=1 shows the traceback)",
            err=True,
        )
        sys.exit(70)


def _fail(exc: RectifyError, code: int) -> None:
    lines = str(exc).splitlines() or [type(exc).__name__]
    click.echo(f"rectify: error: {lines[0]}", err=True)
    for line in lines[1:]:
        click.echo(line, err=True)
    sys.exit(code)
