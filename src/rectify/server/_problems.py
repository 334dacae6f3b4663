"""Errors as RFC 9457 problem details: one mapping from rectify's errors to HTTP answers.

Every refusal keeps its type and fields: ``type`` is ``urn:rectify:problem:<kind>``, the
kind named after the error (``role-not-permitted``, ``event-not-allowed``...), and the
error's own attributes (case, state, event, the events allowed now, the roles, the fields
or evidence missing, diagnostics with file, line and column) are members of the problem.
An unexpected error is a plain 500 problem that says nothing of its insides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Final

import click
from fastapi.responses import JSONResponse

from rectify._diagnostics import Diagnostic
from rectify.cli._wording import ClerkError
from rectify.exceptions import (
    ArgumentError,
    CalendarError,
    CaseExistsError,
    CaseFinalError,
    CaseIdError,
    CaseNotFoundError,
    ConcurrencyError,
    DeadlineError,
    DefinitionError,
    EventNotAllowedError,
    EventRefusedError,
    HistoryError,
    NaiveDatetimeError,
    NoSuchRecordError,
    NoticeError,
    OutOfOrderError,
    RectifyError,
    RoleNotPermittedError,
    StoreError,
    UnknownWorkflowError,
    WorkflowDefinitionError,
)
from rectify.server._access import AccessError, IdempotencyConflictError
from rectify.server._printing import UnavailableError

__all__ = ["PROBLEM_TYPE", "diagnostic_json", "problem", "problem_of"]

#: The media type of every error the service answers with.
PROBLEM_TYPE: Final = "application/problem+json"

# The first class an error is an instance of decides its status (subclasses first).
_STATUS: Final[Sequence[tuple[type[Exception], int]]] = (
    (CaseNotFoundError, 404),
    (UnknownWorkflowError, 404),
    (ConcurrencyError, 409),
    (CaseExistsError, 409),
    (IdempotencyConflictError, 409),
    (RoleNotPermittedError, 403),
    (AccessError, 403),
    (EventNotAllowedError, 409),
    (CaseFinalError, 409),
    (OutOfOrderError, 409),
    (EventRefusedError, 422),
    (WorkflowDefinitionError, 422),
    (DefinitionError, 422),
    (CaseIdError, 422),
    (NaiveDatetimeError, 422),
    (ArgumentError, 422),
    (NoSuchRecordError, 404),
    (CalendarError, 422),
    (DeadlineError, 422),
    (NoticeError, 422),
    (HistoryError, 500),
    (StoreError, 503),
    (UnavailableError, 501),
    (ClerkError, 422),
    (click.UsageError, 422),
    (RectifyError, 422),
)

# The attributes of rectify's errors that a problem carries, as members of the same name.
_MEMBERS: Final = (
    "case_id",
    "state",
    "event",
    "known",
    "allowed",
    "role",
    "roles",
    "guard",
    "reason",
    "required",
    "level",
    "field",
    "problem",
    "missing",
    "expected",
    "found",
    "year",
    "template",
    "line",
    "variable",
    "source",
    "running",
    "actor",
    "other",
    "at",
    "last",
)


def _kind(exc: Exception) -> str:
    name = type(exc).__name__.removesuffix("Error") or "Error"
    out = "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")
    return "usage" if isinstance(exc, click.UsageError) else out


def diagnostic_json(d: Diagnostic) -> dict[str, object]:
    """Return a diagnostic as JSON: severity, code, message, file, line, column, path."""
    return {
        "severity": d.severity.value,
        "code": d.code,
        "message": d.message,
        "file": d.location.file,
        "line": d.location.line,
        "column": d.location.column,
        "path": d.location.path,
    }


def _json(value: object) -> object:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    return str(value)


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    members: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Return a problem+json response."""
    body: dict[str, object] = {
        "type": f"urn:rectify:problem:{kind}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(members or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def problem_of(exc: Exception, *, instance: str | None = None) -> JSONResponse:
    """Return the problem+json response for a rectify error (or a usage error)."""
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
    members: dict[str, object] = {}
    for name in _MEMBERS:
        if name in vars(exc):
            members[name] = _json(vars(exc)[name])
    if isinstance(exc, WorkflowDefinitionError):
        members["diagnostics"] = [diagnostic_json(d) for d in exc.diagnostics]
    detail = exc.format_message() if isinstance(exc, click.UsageError) else str(exc)
    if status == HTTPStatus.INTERNAL_SERVER_ERROR:
        detail = "the service failed to answer; the request may be retried"
        members = {}
    kind = _kind(exc)
    title = kind.replace("-", " ").capitalize()
    headers = {"Retry-After": "1"} if status == HTTPStatus.SERVICE_UNAVAILABLE else None
    return problem(status, kind, title, detail, instance=instance, members=members, headers=headers)
