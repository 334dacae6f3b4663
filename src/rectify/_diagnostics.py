"""Diagnostics: one problem in a definition document, with where it is."""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

__all__ = ["Diagnostic", "Location", "Severity", "sort_diagnostics"]


class Severity(enum.Enum):
    """How bad a diagnostic is: errors make a document unusable, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@attrs.frozen
class Location:
    """Where in a document something is.

    Attributes:
        file: File name, or ``<string>`` for text.
        line: 1-based line, 0 when unknown.
        column: 1-based column, 0 when unknown.
        path: Dotted path inside the document, such as ``events.verify.to``.
    """

    file: str
    line: int = 0
    column: int = 0
    path: str = ""

    def format(self) -> str:
        """Return ``file:line:col``."""
        return f"{self.file}:{self.line}:{self.column}"


@attrs.frozen
class Diagnostic:
    """One problem found while loading or checking a document.

    Attributes:
        severity: Error or warning.
        code: A stable, kebab-case code (``unknown-key``, ``trap-state``...).
        message: What is wrong, naming the bad value and the valid choices.
        location: Where it is.
    """

    severity: Severity
    code: str
    message: str
    location: Location

    @property
    def is_error(self) -> bool:
        """Return whether this diagnostic makes the document unusable."""
        return self.severity is Severity.ERROR

    def format(self) -> str:
        """Return ``file:line:col: severity CODE message`` (the CLI's line format)."""
        path = f" [{self.location.path}]" if self.location.path else ""
        return f"{self.location.format()}: {self.severity.value} {self.code} {self.message}{path}"


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Return ``diagnostics`` in document order: file, line, column, then code."""
    return sorted(
        diagnostics, key=lambda d: (d.location.file, d.location.line, d.location.column, d.code)
    )
