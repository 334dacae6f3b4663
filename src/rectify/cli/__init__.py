"""The ``rectify`` command line (``rectify`` console script and ``python -m rectify``).

Errors are one clear line on stderr and a non-zero exit code, never a traceback: 1 when an
event was refused, a case conflicts, validation found problems, the store failed or a file
could not be read or written; 2 for usage errors (an argument that is not UTF-8 among them)
and unreadable or invalid definitions. ``RECTIFY_DEBUG=1`` shows the traceback of an
unexpected error. Error lines escape control characters, as the commands' output does.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import click

from rectify.cli._commands import COMMANDS
from rectify.cli._terminal import printable
from rectify.definitions._diagram import FORMATS, draw_workflow
from rectify.definitions._load import load_workflow, validate_paths
from rectify.exceptions import DefinitionError, RectifyError
from rectify.templating._renderer import NoticeRenderer

__all__ = ["cli", "main"]

_USAGE_ERROR = 2


@functools.cache
def _plugins() -> dict[str, EntryPoint]:
    """Return the commands other packages add (``rectify.commands`` entry points), by name.

    ``rectify serve``, ``token`` and ``deliver`` come this way from ``rectify.server``,
    which sits above the command line and is loaded only when one of them runs.
    """
    return {point.name: point for point in entry_points(group="rectify.commands")}


class _Rectify(click.Group):
    """The command group; refuses arguments no file system or store can take."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        point = _plugins().get(cmd_name) if command is None else None
        if point is not None:
            loaded = point.load()
            command = loaded if isinstance(loaded, click.Command) else None
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:
            if "\x00" in arg:
                # os.stat and open() raise a bare ValueError on NUL; no store keeps it.
                raise click.UsageError(f"{printable(arg)!r}: an argument cannot hold NUL", ctx)
        return super().parse_args(ctx, args)


@click.group(cls=_Rectify, context_settings={"help_option_names": ["-h", "--help"]})
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
    args = list(argv) if argv is not None else sys.argv[1:]
    for what, text in _inputs(args):
        if not _is_utf8(text):
            shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            click.echo(
                f"rectify: error: {what} {printable(shown)!r} is not valid UTF-8; rectify "
                "takes names, ids and paths as UTF-8 text",
                err=True,
            )
            sys.exit(_USAGE_ERROR)
    try:
        cli.main(args=args, prog_name="rectify", standalone_mode=False)
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
    except OSError as exc:  # a file or folder the user named cannot be read or written
        _fail_os(exc)
    except Exception as exc:
        if os.environ.get("RECTIFY_DEBUG"):
            raise
        click.echo(
            printable(
                f"rectify: internal error: {type(exc).__name__}: {exc} "
                "(RECTIFY_DEBUG=1 shows the traceback)"
            ),
            err=True,
        )
        sys.exit(70)


def _inputs(args: Sequence[str]) -> list[tuple[str, str]]:
    """Return what the user typed: each argument, and rectify's environment variables."""
    named = [(f"argument {n}", arg) for n, arg in enumerate(args, start=1)]
    return named + [(k, v) for k, v in sorted(os.environ.items()) if k.startswith("RECTIFY_")]


def _is_utf8(text: str) -> bool:
    # Bytes that are not UTF-8 arrive as lone surrogates (PEP 383), which no store,
    # template or terminal can encode.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fail(exc: RectifyError, code: int) -> None:
    lines = str(exc).splitlines() or [type(exc).__name__]
    click.echo(f"rectify: error: {printable(lines[0])}", err=True)
    for line in lines[1:]:
        click.echo(printable(line), err=True)
    sys.exit(code)


def _fail_os(exc: OSError) -> None:
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    where = " -> ".join(names) or "?"
    click.echo(printable(f"rectify: error: {where}: {exc.strerror or exc}"), err=True)
    sys.exit(1)
