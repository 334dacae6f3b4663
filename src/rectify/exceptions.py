"""Exceptions raised by rectify.

Every error the library raises derives from :class:`RectifyError`, so a host can catch
one type at its boundary. Errors from dependencies (PyYAML, Jinja2, transitions, database
drivers) are wrapped at the boundary with ``raise ... from exc``.

The hierarchy::

    RectifyError
    └── DefinitionError               a workflow or catalogue document is invalid
        └── WorkflowDefinitionError   carries every diagnostic of one document
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rectify._diagnostics import Diagnostic

__all__ = ["DefinitionError", "RectifyError", "WorkflowDefinitionError"]

_SHOWN = 20  # errors spelled out in the message; all of them are in .diagnostics


class RectifyError(Exception):
    """Root of every error rectify raises."""


class DefinitionError(RectifyError):
    """A definition document (workflow, category table) cannot be used."""


class WorkflowDefinitionError(DefinitionError):
    """A workflow document has errors; :attr:`diagnostics` lists all of them.

    Attributes:
        diagnostics: Every problem found, errors and warnings, in document order.
        source: The file name (or ``<string>``) of the document.
    """

    def __init__(self, source: str, diagnostics: Sequence[Diagnostic]) -> None:
        self.source = source
        self.diagnostics = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        shown = "\n".join(f"  {d.format()}" for d in errors[:_SHOWN])
        more = f"\n  ... and {len(errors) - _SHOWN} more" if len(errors) > _SHOWN else ""
        noun = "error" if len(errors) == 1 else "errors"
        super().__init__(f"{source}: {len(errors)} {noun} in workflow definition\n{shown}{more}")

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """Return the diagnostics of severity ``error``."""
        return tuple(d for d in self.diagnostics if d.is_error)
