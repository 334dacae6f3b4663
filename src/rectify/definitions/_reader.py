"""Typed reading of located YAML data, collecting a diagnostic for each problem.

Every ``read_*`` helper returns the value when it has the right shape and ``None``
otherwise, after recording a diagnostic that names the bad value and what was expected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeVar

from rectify._diagnostics import Diagnostic, Location, Severity, sort_diagnostics
from rectify._resources import default_workflows
from rectify.definitions._yamlsource import (
    Path,
    Source,
    Unreadable,
    YamlDocument,
    load_yaml,
    read_source,
)
from rectify.exceptions import WorkflowDefinitionError

__all__ = ["IDENTIFIER", "Reader", "read_definition"]

IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_T = TypeVar("_T")


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dt.date):
        return "a date"
    return "text"


class Reader:
    """Reads one document, accumulating diagnostics."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    # -- reporting ----------------------------------------------------------------------

    def at(self, path: Path, *, key: bool = False) -> Location:
        """Return the location of ``path`` in the document."""
        return self.doc.locate(path, key=key)

    def error(self, code: str, message: str, path: Path, *, key: bool = False) -> None:
        """Record an error at ``path``."""
        self.diagnostics.append(Diagnostic(Severity.ERROR, code, message, self.at(path, key=key)))

    def warning(self, code: str, message: str, path: Path, *, key: bool = False) -> None:
        """Record a warning at ``path``."""
        loc = self.at(path, key=key)
        self.diagnostics.append(Diagnostic(Severity.WARNING, code, message, loc))

    def wrong_type(self, path: Path, value: object, expected: str) -> None:
        """Record that ``value`` at ``path`` is not what was expected."""
        if value is None and not self.doc.has(path):
            return  # the key is absent: ``mapping`` has reported it as a missing key
        if isinstance(value, Unreadable):
            return  # reported when it was read
        self.error("wrong-type", f"expected {expected}, found {_kind(value)} {value!r}", path)

    # -- shapes -------------------------------------------------------------------------

    def mapping(
        self,
        path: Path,
        value: object,
        *,
        required: Sequence[str] = (),
        optional: Sequence[str] = (),
        what: str = "",
    ) -> dict[str, object] | None:
        """Check that ``value`` is a mapping with only the allowed keys and all required ones."""
        if not isinstance(value, dict):
            self.wrong_type(path, value, f"a mapping{f' ({what})' if what else ''}")
            return None
        allowed = [*required, *optional]
        for key in value:
            if key not in allowed:
                choices = ", ".join(sorted(allowed))
                self.error(
                    "unknown-key",
                    f"unknown key {key!r}; allowed: {choices}",
                    (*path, key),
                    key=True,
                )
        for key in required:
            if key not in value:
                where = f" in {what}" if what else ""
                self.error("missing-key", f"missing required key {key!r}{where}", path)
        return value

    def string(self, path: Path, value: object) -> str | None:
        """Read non-empty text (numbers are not silently turned into text)."""
        if isinstance(value, str) and value.strip():
            return value
        self.wrong_type(path, value, "non-empty text")
        return None

    def name(
        self, path: Path, value: object, what: str = "name", *, at_key: bool = False
    ) -> str | None:
        """Read an identifier such as a state, event, role or field name.

        With ``at_key``, a bad name is reported at the key that spells it (a mapping entry).
        """
        if isinstance(value, str) and IDENTIFIER.fullmatch(value):
            return value
        if isinstance(value, str):
            self.error(
                "bad-name",
                f"{what} {value!r} must be letters, digits and underscores, not starting "
                "with a digit",
                path,
                key=at_key,
            )
            return None
        self.wrong_type(path, value, f"a {what}")
        return None

    def integer(
        self, path: Path, value: object, *, minimum: int = 0, maximum: int = 100_000
    ) -> int | None:
        """Read a whole number within bounds."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(path, value, "a whole number")
            return None
        if not minimum <= value <= maximum:
            self.error("bad-value", f"{value} is out of range {minimum}..{maximum}", path)
            return None
        return value

    def boolean(self, path: Path, value: object) -> bool | None:
        """Read ``true`` or ``false``."""
        if isinstance(value, bool):
            return value
        self.wrong_type(path, value, "true or false")
        return None

    def date(self, path: Path, value: object) -> dt.date | None:
        """Read a date written as ``2024-06-30``."""
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        self.wrong_type(path, value, "a date such as 2024-06-30")
        return None

    def names(self, path: Path, value: object, what: str = "name") -> tuple[str, ...] | None:
        """Read a list of identifiers (a single identifier counts as a list of one)."""
        if isinstance(value, str):
            one = self.name(path, value, what)
            return None if one is None else (one,)
        if not isinstance(value, list):
            self.wrong_type(path, value, f"a list of {what}s")
            return None
        out: dict[str, None] = {}  # a dict keeps the order and finds repeats at once
        for i, item in enumerate(value):
            got = self.name((*path, i), item, what)
            if got is None:
                continue
            if got in out:
                self.error("duplicate-name", f"{what} {got!r} is listed twice", (*path, i))
                continue
            out[got] = None
        return tuple(out)

    def entries(
        self,
        path: Path,
        value: object,
        read: Callable[[Path, str, object], _T | None],
        what: str,
    ) -> tuple[_T, ...]:
        """Read a mapping of ``name: definition`` entries with ``read`` for each."""
        if not isinstance(value, dict):
            self.wrong_type(path, value, f"a mapping of {what}s")
            return ()
        out: list[_T] = []
        for key, item in value.items():
            if self.name((*path, key), key, what, at_key=True) is None:
                continue
            got = read((*path, key), key, item)
            if got is not None:
                out.append(got)
        return tuple(out)

    def optional_text(self, path: Path, table: Mapping[str, object], key: str) -> str | None:
        """Read an optional text value under ``key``."""
        if key not in table or table[key] is None:
            return None
        return self.string((*path, key), table[key])


def read_definition(
    source: Source | None, parse: Callable[[Reader], _T | None], *, default: str = ""
) -> _T:
    """Read one definition document and build it with ``parse``, or raise with every problem.

    Args:
        source: A path or YAML text; ``None`` reads the shipped file named ``default``.
        parse: Builds the value from a reader, recording diagnostics.
        default: The shipped file (in ``workflows/``) to read when ``source`` is ``None``.

    Raises:
        WorkflowDefinitionError: The document has errors, each with its line and column.
        DefinitionError: The file cannot be read.
    """
    if source is None:
        text: str | bytes = (default_workflows() / default).read_bytes()
        name = default
    else:
        text, name = read_source(source)
    reader = Reader(load_yaml(text, name))
    reader.diagnostics.extend(reader.doc.diagnostics)
    built = parse(reader) if reader.doc.data is not None else None
    if built is None or any(d.is_error for d in reader.diagnostics):
        raise WorkflowDefinitionError(name, sort_diagnostics(reader.diagnostics))
    return built
