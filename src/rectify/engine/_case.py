"""Cases, actors, evidence, history records and effects: the values the engine trades in."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

__all__ = [
    "Actor",
    "Case",
    "DeadlineCleared",
    "DeadlineSet",
    "Effect",
    "Escalated",
    "Evidence",
    "NoticeDue",
    "Outcome",
    "Record",
    "freeze",
]


def freeze(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    """Return a deep read-only copy of ``mapping`` (so frozen values stay frozen).

    A mapping this function already froze is returned as it is: evolving a case or a
    record must not copy its data again.
    """
    if type(mapping) is MappingProxyType:
        return mapping
    return MappingProxyType(
        {
            key: value if type(value) in _SCALARS else _frozen(value)
            for key, value in (mapping or {}).items()
        }
    )


_SCALARS = frozenset({str, int, float, bool, type(None), dt.date, dt.datetime})


def _frozen(value: object) -> object:
    if isinstance(value, Mapping):
        return freeze(value)
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


@attrs.frozen
class Actor:
    """Who fires an event: a person's id and the role they act in."""

    id: str
    role: str


@attrs.frozen
class Evidence:
    """A reference to a piece of evidence: its kind, file name and SHA-256, never the bytes."""

    kind: str
    name: str
    sha256: str

    @classmethod
    def of(cls, kind: str, name: str, content: bytes) -> Evidence:
        """Return the reference of ``content`` (a photo, a scanned record)."""
        return cls(kind, name, hashlib.sha256(content).hexdigest())

    @classmethod
    def of_chunks(cls, kind: str, name: str, chunks: Iterable[bytes]) -> Evidence:
        """Return the reference of the content ``chunks`` make up, hashed as they come.

        For content too large to hold at once: a file read a block at a time. The caller
        bounds what it reads (the command line refuses files over a size limit).
        """
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
        return cls(kind, name, digest.hexdigest())


@attrs.frozen
class Record:
    """One entry of a case's append-only history.

    ``prev`` is the SHA-256 of the previous record (empty for the first), ``digest`` this
    record's own, both over the canonical encoding (see ``verify_history``).
    """

    seq: int
    event: str
    source: str | None
    target: str
    actor: str
    role: str
    at: dt.datetime
    payload: Mapping[str, object] = attrs.field(converter=freeze, factory=dict)
    evidence: tuple[Evidence, ...] = ()
    reason: str | None = None
    prev: str = ""
    digest: str = ""


@attrs.frozen
class Case:
    """A hazard case: a frozen value; every change makes a new one.

    Attributes:
        id: The host's case id.
        workflow: Workflow id, and ``version`` the version the case was opened with.
        state: The current state.
        data: The hazard's data: ledger fields, category, severity, responsible party...
        deadline: The open deadline (a date, inclusive), ``None`` when none runs.
        escalation: The escalation level reached, ``None`` before the first.
        recurrence_of: The closed case this one repeats (a failed look-back).
        duplicate_of: The case this duplicate report was merged into.
        recurrence_count: How many times the hazard has recurred (0 for a first finding).
        extensions: How many deadline extensions were approved.
        paused_since: When the clock was paused (the case waits on others), else ``None``.
        paused_days: Calendar days the clock has been paused in all, finished pauses.
        final: Whether the case has reached a final state (closed for good).
        history: Every record, oldest first.
        next_due: When the case's next escalation level can come due, as the ledger worked
            it out when it stored the case (``rectify.engine.next_escalation``; ``NEVER``:
            none can without another event). ``None``: not known, so a sweep looks at the
            case. Not part of the case's value (equality ignores it) and not kept in its
            JSON: a store keeps it beside the case for its sweeps, and a case read back has
            ``None``, so that a case a host changes and stores itself is never skipped.
    """

    id: str
    workflow: str
    version: int
    state: str
    data: Mapping[str, object] = attrs.field(converter=freeze, factory=dict)
    deadline: dt.date | None = None
    escalation: int | None = None
    recurrence_of: str | None = None
    duplicate_of: str | None = None
    recurrence_count: int = 0
    extensions: int = 0
    paused_since: dt.datetime | None = None
    paused_days: int = 0
    final: bool = False
    history: tuple[Record, ...] = ()
    next_due: dt.datetime | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def seq(self) -> int:
        """Return the sequence number of the last record (the case's version)."""
        return self.history[-1].seq if self.history else -1

    @property
    def opened_at(self) -> dt.datetime:
        """Return when the case was opened."""
        return self.history[0].at

    @property
    def updated_at(self) -> dt.datetime:
        """Return the time of the last record."""
        return self.history[-1].at


@attrs.frozen
class NoticeDue:
    """A notice the host should render and deliver."""

    case_id: str
    notice: str
    seq: int
    event: str
    to: tuple[str, ...] = ()
    level: int | None = None


@attrs.frozen
class DeadlineSet:
    """A deadline now runs for the case's state."""

    case_id: str
    state: str
    due: dt.date


@attrs.frozen
class DeadlineCleared:
    """No deadline runs any more (final state, or a state without one)."""

    case_id: str
    state: str


@attrs.frozen
class Escalated:
    """The case's escalation level rose."""

    case_id: str
    level: int
    seq: int


Effect = NoticeDue | DeadlineSet | DeadlineCleared | Escalated


@attrs.frozen
class Outcome:
    """What firing an event produced: the new case and the effects it causes."""

    case: Case
    effects: tuple[Effect, ...] = ()

    @property
    def record(self) -> Record:
        """Return the history record the event appended."""
        return self.case.history[-1]
