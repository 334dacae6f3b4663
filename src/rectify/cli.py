"""The ``rectify`` command line (``rectify`` console script and ``python -m rectify``).

Errors are one clear line on stderr and a non-zero exit code, never a traceback:
1 when validation found problems, 2 for usage errors and unreadable input.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from rectify._diagram import FORMATS, draw_workflow
from rectify._load import load_workflow, validate_paths, workflow_files
from rectify._resources import default_workflows
from rectify.exceptions import RectifyError

__all__ = ["cli", "main"]

_USAGE_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rectify")
def cli() -> None:
    """Run fire-hazard rectification cases as YAML-defined state machines."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print diagnostics only, no summary line.")
def validate(paths: Sequence[Path], *, quiet: bool) -> None:
    """Check workflow files and folders; one line per problem as file:line:col.

    Exits 0 when clean, 1 when problems were found, 2 on usage errors.
    """
    report = validate_paths(paths)
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


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for the diagrams.",
)
def demo(out: Path) -> None:
    """Validate the shipped workflows and draw each as Mermaid and DOT into --out."""
    folder = Path(str(default_workflows()))
    report = validate_paths([folder])
    for diagnostic in report.diagnostics:
        click.echo(diagnostic.format())
    if not report.clean:
        sys.exit(1)
    out.mkdir(parents=True, exist_ok=True)
    click.echo(f"{'workflow':<12} {'version':>7} {'states':>6} {'events':>6} {'final':>5}  title")
    for file in workflow_files(folder):
        spec = load_workflow(file)
        for fmt, suffix in (("mermaid", "mmd"), ("dot", "dot")):
            (out / f"{spec.id}.{suffix}").write_text(draw_workflow(spec, fmt), encoding="utf-8")
        click.echo(
            f"{spec.id:<12} {spec.version:>7} {len(spec.states):>6} "
            f"{len(spec.events):>6} {len(spec.final_states):>5}  {spec.title}"
        )
    click.echo(f"{len(report.files)} files valid; diagrams written to {out}/")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line, turning rectify errors into one line and exit code 2."""
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
    except RectifyError as exc:
        first = str(exc).splitlines()
        click.echo(f"rectify: error: {first[0] if first else type(exc).__name__}", err=True)
        for line in first[1:]:
            click.echo(line, err=True)
        sys.exit(_USAGE_ERROR)
