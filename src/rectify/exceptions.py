"""Exceptions raised by rectify.

Every error the library raises derives from :class:`RectifyError`, so a host can catch
one type at its boundary. Errors from dependencies (PyYAML, Jinja2, transitions, database
drivers) are wrapped at the boundary with ``raise ... from exc``.

The hierarchy::

    RectifyError
    ├── DefinitionError               a workflow or catalogue document is invalid
    │   └── WorkflowDefinitionError   carries every diagnostic of one document
    ├── ArgumentError                 an argument of the wrong type (also a TypeError)
    ├── NaiveDatetimeError            a datetime without a timezone (also a ValueError)
    ├── NoSuchRecordError             a case asked for as of a record it lacks (a ValueError)
    ├── CaseIdError                   a new case id breaks the id grammar (also a ValueError)
    ├── DeadlineError                 a deadline rule lacks a field, phase, severity or calendar
    ├── CalendarError                 no holiday data covers a year
    ├── EventRefusedError             an event was refused; the case is unchanged
    │   ├── UnknownEventError         no such event in the workflow
    │   ├── EventNotAllowedError      not from this state (with the events allowed now)
    │   ├── CaseFinalError            the case is already final
    │   ├── RoleNotPermittedError     the actor's role may not (with the roles that may)
    │   ├── GuardRefusedError         a guard said no (with its name and reason)
    │   │   └── EscalationLevelError  not escalated far enough yet (min_escalation)
    │   ├── PayloadError              a field missing, unknown or of the wrong type
    │   ├── EvidenceMissingError      required evidence not given
    │   ├── SeparationOfDutiesError   the same actor on both sides of a duty rule
    │   └── OutOfOrderError           dated before the last event of the case
    ├── NoticeError                   a notice template is missing, broken or lacks a variable
    │   └── DocumentChangedError      a numbered document rendered again differs from its first
    ├── StoreError                    a store cannot do what was asked
    │   ├── ConcurrencyError          the case moved on since it was read: read again, retry
    │   ├── CaseNotFoundError         no case with that id
    │   ├── CaseExistsError           a case with that id is stored already
    │   └── SchemaError               the database's schema is newer than this rectify
    ├── HistoryError                  a history fails hash-chain verification
    └── ReplayError                   a history does not replay against a workflow
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rectify._diagnostics import Diagnostic

__all__ = [
    "ArgumentError",
    "CalendarError",
    "CaseExistsError",
    "CaseFinalError",
    "CaseIdError",
    "CaseNotFoundError",
    "ConcurrencyError",
    "DeadlineError",
    "DefinitionError",
    "DocumentChangedError",
    "EscalationLevelError",
    "EventNotAllowedError",
    "EventRefusedError",
    "EvidenceMissingError",
    "GuardRefusedError",
    "HistoryError",
    "NaiveDatetimeError",
    "NoSuchRecordError",
    "NoticeError",
    "OutOfOrderError",
    "PayloadError",
    "RectifyError",
    "ReplayError",
    "RoleNotPermittedError",
    "SchemaError",
    "SeparationOfDutiesError",
    "StoreError",
    "UnknownEventError",
    "UnknownWorkflowError",
    "WorkflowDefinitionError",
]

_SHOWN = 20  # errors spelled out in the message; all of them are in .diagnostics


class RectifyError(Exception):
    """Root of every error rectify raises."""


class DefinitionError(RectifyError):
    """A definition document (workflow, category table) cannot be used."""


class WorkflowDefinitionError(DefinitionError):
    """A definition document (workflow, category table, campaign, holidays) has errors.

    :attr:`diagnostics` lists all of them.

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
        super().__init__(f"{source}: {len(errors)} {noun} in definition\n{shown}{more}")

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """Return the diagnostics of severity ``error``."""
        return tuple(d for d in self.diagnostics if d.is_error)


class ArgumentError(RectifyError, TypeError):
    """An argument is of the wrong type (a date where a datetime is needed, text for a time).

    Also a ``TypeError``, so callers that caught the bare ``TypeError`` still catch it.
    """


class NoSuchRecordError(RectifyError, ValueError):
    """A case is asked for as of a record it does not have (a negative sequence number)."""


class NaiveDatetimeError(RectifyError, ValueError):
    """A datetime without a timezone was given; rectify needs aware datetimes."""


class CaseIdError(RectifyError, ValueError):
    """A new case id does not follow the case id grammar (docs/engine.md, section 2).

    Attributes:
        case_id: The id refused (its ``repr`` when it is not text).
        reason: Why, in words.
        code: Why, as a stable name: ``not-text``, ``empty``, ``too-long``, ``character``,
            ``leading`` or ``dots``.
    """

    def __init__(self, case_id: str, reason: str, *, code: str = "") -> None:
        super().__init__(
            f"case id {case_id!r} {reason}; a case id is 1 to 64 ASCII letters, digits, CJK "
            "ideographs, '-', '_' or '.', not starting with '-' or '.', without '..'"
        )
        self.case_id = case_id
        self.reason = reason
        self.code = code


class CalendarError(RectifyError):
    """No holiday data covers a year: supply it, or allow the weekends-only fallback.

    Attributes:
        year: The year no source covers, where one is to blame.
    """

    def __init__(self, message: str, *, year: int | None = None) -> None:
        super().__init__(message)
        self.year = year


class DeadlineError(RectifyError):
    """A deadline rule cannot be evaluated (a missing field, phase, severity or calendar)."""


class EventRefusedError(RectifyError):
    """An event was refused; the case is unchanged.

    Attributes:
        case_id: The case the event was fired on.
        state: The state the case is in.
        event: The event that was refused.
    """

    def __init__(self, message: str, *, case_id: str, state: str, event: str) -> None:
        super().__init__(f"case {case_id!r} in state {state!r}: event {event!r} refused: {message}")
        self.case_id = case_id
        self.state = state
        self.event = event


class UnknownEventError(EventRefusedError):
    """The workflow has no event of that name (``known`` lists the ones it has)."""

    def __init__(self, *, case_id: str, state: str, event: str, known: Sequence[str]) -> None:
        self.known = tuple(known)
        super().__init__(
            f"no such event; the workflow has: {', '.join(known)}",
            case_id=case_id,
            state=state,
            event=event,
        )


class EventNotAllowedError(EventRefusedError):
    """The event cannot be fired in the case's state (``allowed`` lists what can)."""

    def __init__(self, *, case_id: str, state: str, event: str, allowed: Sequence[str]) -> None:
        self.allowed = tuple(allowed)
        now = ", ".join(allowed) or "none"
        super().__init__(
            f"not allowed in this state; allowed now: {now}",
            case_id=case_id,
            state=state,
            event=event,
        )


class CaseFinalError(EventRefusedError):
    """The case is in a final state; nothing can happen to it any more."""

    def __init__(self, *, case_id: str, state: str, event: str) -> None:
        super().__init__(
            "the case is closed (final state)", case_id=case_id, state=state, event=event
        )


class RoleNotPermittedError(EventRefusedError):
    """The actor's role may not fire the event (``roles`` lists the roles that may)."""

    def __init__(
        self, *, case_id: str, state: str, event: str, role: str, roles: Sequence[str]
    ) -> None:
        self.role = role
        self.roles = tuple(roles)
        super().__init__(
            f"role {role!r} may not fire it; roles that may: {', '.join(roles)}",
            case_id=case_id,
            state=state,
            event=event,
        )


class GuardRefusedError(EventRefusedError):
    """A guard refused the event, giving its reason."""

    def __init__(self, *, case_id: str, state: str, event: str, guard: str, reason: str) -> None:
        self.guard = guard
        self.reason = reason
        super().__init__(
            f"guard {guard!r} refused: {reason}", case_id=case_id, state=state, event=event
        )


class EscalationLevelError(GuardRefusedError):
    """The case has not reached the escalation level the event needs (``min_escalation``).

    A built-in guard: its ``guard`` is ``"min_escalation"``.

    Attributes:
        required: The level the event needs (at least).
        level: The case's level now (``None``: never escalated).
    """

    def __init__(
        self,
        *,
        case_id: str,
        state: str,
        event: str,
        required: int,
        level: int | None,
        title: str = "",
    ) -> None:
        self.required = required
        self.level = level
        needed = f"level {required} ({title})" if title else f"level {required}"
        now = "has not been escalated" if level is None else f"is at level {level}"
        super().__init__(
            case_id=case_id,
            state=state,
            event=event,
            guard="min_escalation",
            reason=f"the case must have reached escalation {needed}; it {now}",
        )


class PayloadError(EventRefusedError):
    """A payload field is missing, unknown or of the wrong type."""

    def __init__(self, *, case_id: str, state: str, event: str, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(
            f"payload field {field!r} {problem}", case_id=case_id, state=state, event=event
        )


class EvidenceMissingError(EventRefusedError):
    """Evidence the event requires was not given (``missing`` lists the kinds)."""

    def __init__(self, *, case_id: str, state: str, event: str, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            f"evidence missing: {', '.join(missing)}", case_id=case_id, state=state, event=event
        )


class SeparationOfDutiesError(EventRefusedError):
    """The actor fired an event that this one must not follow from the same actor."""

    def __init__(self, *, case_id: str, state: str, event: str, actor: str, other: str) -> None:
        self.actor = actor
        self.other = other
        super().__init__(
            f"actor {actor!r} fired {other!r} on this case and may not also fire {event!r}",
            case_id=case_id,
            state=state,
            event=event,
        )


class OutOfOrderError(EventRefusedError):
    """The event is dated before the last event in the case's history."""

    def __init__(self, *, case_id: str, state: str, event: str, at: str, last: str) -> None:
        self.at = at
        self.last = last
        super().__init__(
            f"dated {at}, before the last event at {last}",
            case_id=case_id,
            state=state,
            event=event,
        )


class NoticeError(RectifyError):
    """A notice cannot be rendered.

    Attributes:
        template: The template's name.
        line: The template line (0 when unknown).
        variable: The undefined variable, when that is the problem.
    """

    def __init__(self, message: str, *, template: str, line: int = 0, variable: str = "") -> None:
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {message}")
        self.template = template
        self.line = line
        self.variable = variable


class DocumentChangedError(NoticeError):
    """A document rendered again does not come out as it was first rendered.

    A numbered document (its identity: kind, period or case and record, reader) keeps the
    hashes of its first rendering; a later rendering must give the same ones. It did not:
    ``changed`` says what differs, ``template`` (the template files changed since) or
    ``context`` (the facts it is built from differ: the store was altered, or the document
    is not built as of its moment).

    Attributes:
        identity: The document's identity.
        changed: ``template``, ``context`` or both, joined by `` and ``.
    """

    def __init__(self, *, identity: str, template: str, changed: str) -> None:
        super().__init__(
            f"document {identity!r} differs from its first rendering: its {changed} changed",
            template=template,
        )
        self.identity = identity
        self.changed = changed


class UnknownWorkflowError(RectifyError, LookupError):
    """A workflow (or a version of it) the ledger runs no engine for.

    Attributes:
        workflow: The workflow asked for.
        version: The version asked for; ``None``: its latest.
        known: Every workflow and version the ledger runs (``hazard v1``...).
    """

    def __init__(self, workflow: str, version: int | None, known: Sequence[str]) -> None:
        self.workflow = workflow
        self.version = version
        self.known = tuple(known)
        super().__init__(
            f"no engine for workflow {workflow!r}"
            f"{'' if version is None else f' v{version}'}; known: {', '.join(known) or 'none'}"
        )


class StoreError(RectifyError):
    """A store cannot do what was asked (the database's own error is the cause)."""


class ConcurrencyError(StoreError):
    """The case moved on since it was read; read it again and retry.

    Attributes:
        case_id: The case.
        expected: The sequence number the writer read.
        found: The sequence number the store has.
    """

    def __init__(self, *, case_id: str, expected: int, found: int) -> None:
        super().__init__(
            f"case {case_id!r} was at record {expected} when read but is at "
            f"{found} now; read it again and retry"
        )
        self.case_id = case_id
        self.expected = expected
        self.found = found


class CaseNotFoundError(StoreError, KeyError):
    """No case with that id is stored.

    Attributes:
        case_id: The id asked for.
    """

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id!r}")
        self.case_id = case_id

    def __str__(self) -> str:
        return str(self.args[0])


class CaseExistsError(StoreError):
    """A case with that id is stored already."""


class SchemaError(StoreError):
    """The database's schema is newer than this rectify knows (or is not rectify's)."""


class HistoryError(RectifyError):
    """A case's history fails verification (edited, deleted, inserted or reordered).

    Attributes:
        case_id: The case.
        seq: The sequence number of the first record that does not verify.
        reason: What is wrong there.
    """

    def __init__(self, *, case_id: str, seq: int, reason: str) -> None:
        super().__init__(f"case {case_id!r}: history does not verify at record {seq}: {reason}")
        self.case_id = case_id
        self.seq = seq
        self.reason = reason


class ReplayError(RectifyError):
    """A history cannot be replayed against a workflow.

    Attributes:
        seq: The first record where the workflow and the history part.
        reason: Why that record does not replay.
    """

    def __init__(self, *, seq: int, reason: str) -> None:
        super().__init__(f"replay parts from the history at record {seq}: {reason}")
        self.seq = seq
        self.reason = reason
