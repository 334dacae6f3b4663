"""The service's wire types: what requests carry and responses return, as JSON.

These pydantic models are the contract the OpenAPI document is generated from; a host in
any language generates its client from that document. They are kept apart from rectify's
own values (``Case``, ``Record``...), which they are made from (``of``), so that the
contract changes only when this module does. Request bodies refuse fields they do not
know, and times must carry their offset (``2024-06-30T09:00:00+08:00``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from rectify.engine._case import Case, Record
from rectify.engine._engine import EventOption
from rectify.ledger import Finding, SweepReport, VerifyReport
from rectify.stores._store import CaseSummary
from rectify.templating._formatting import mask_values

__all__ = [
    "CaseList",
    "CaseOut",
    "EventIn",
    "EventOptionOut",
    "EvidenceIn",
    "FiredOut",
    "OpenIn",
    "Problem",
    "RecordOut",
    "SummaryOut",
    "SweepOut",
    "VerifyOut",
    "WorkflowOut",
]

_ID = Annotated[str, Field(min_length=1, max_length=200)]
_NAME = Annotated[str, Field(min_length=1, max_length=200)]
_TEXT = Annotated[str, Field(max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``).

    ``type`` names the kind of problem (``urn:rectify:problem:<kind>``); the other members
    are the refusal's fields: the case, state and event; the events allowed now; the role
    asked for and the roles allowed; the fields or evidence missing; diagnostics with file,
    line and column.
    """

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class EvidenceIn(_In):
    """A reference to a piece of evidence: its kind, file name and SHA-256 (hex)."""

    kind: _NAME
    name: _NAME
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class OpenIn(_In):
    """Open a case of ``workflow`` with the hazard's ``data``."""

    id: _ID
    workflow: _NAME
    data: dict[str, Any] = Field(default_factory=dict)
    role: _NAME | None = None
    at: AwareDatetime | None = None
    recurrence_of: _ID | None = None


class EventIn(_In):
    """Fire ``event``; ``expected_seq`` (or the ``If-Match`` header) refuses a stale fire."""

    event: _NAME
    role: _NAME | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=100)
    reason: _TEXT | None = None
    expected_seq: Annotated[int, Field(ge=-1, le=2**31)] | None = None
    at: AwareDatetime | None = None


class WorkflowIn(_In):
    """A workflow's YAML text, to be checked."""

    yaml: Annotated[str, Field(min_length=1)]


class ValidationOut(BaseModel):
    """A workflow without errors: its warnings, each with its line and column."""

    diagnostics: list[dict[str, Any]]


class AcknowledgeIn(_In):
    """The outbox items the host has dealt with (their stable ids)."""

    ids: list[_ID] = Field(max_length=1000)


class AcknowledgedOut(BaseModel):
    """How many distinct ids were acknowledged (unknown and repeated ones do nothing)."""

    acknowledged: int


class RedrivenOut(BaseModel):
    """How many dead letters were put back in the queue (other ids do nothing)."""

    redriven: int


class RecordOut(BaseModel):
    """One record of a case's history, with its hash chain."""

    seq: int
    event: str
    source: str | None
    target: str
    actor: str
    role: str
    at: dt.datetime
    payload: dict[str, Any]
    evidence: list[dict[str, str]]
    reason: str | None
    prev: str
    digest: str

    @classmethod
    def of(cls, record: Record, *, reveal: bool) -> RecordOut:
        """Return the wire form of ``record``; phone numbers masked unless ``reveal``."""
        return cls(
            seq=record.seq,
            event=record.event,
            source=record.source,
            target=record.target,
            actor=record.actor,
            role=record.role,
            at=record.at,
            payload=plain(mask_values(record.payload, reveal=reveal)),
            evidence=[
                {"kind": e.kind, "name": e.name, "sha256": e.sha256} for e in record.evidence
            ],
            reason=None
            if record.reason is None
            else str(mask_values(record.reason, reveal=reveal)),
            prev=record.prev,
            digest=record.digest,
        )


def plain(value: Any) -> Any:  # noqa: ANN401 - any stored value
    """Return a stored value (frozen maps, tuples, dates) as plain JSON-ready values."""
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset):
        return [plain(v) for v in value]
    return value


class SummaryOut(BaseModel):
    """A case as a listing shows it: no history."""

    id: str
    workflow: str
    version: int
    state: str
    seq: int
    data: dict[str, Any]
    deadline: dt.date | None
    escalation: int | None
    final: bool
    paused: bool
    overdue: bool

    @classmethod
    def of(cls, summary: CaseSummary, today: dt.date, *, reveal: bool) -> SummaryOut:
        """Return the wire form of ``summary``, overdue as of ``today``.

        Phone and ID numbers in its data are masked unless ``reveal``.
        """
        return cls(
            id=summary.id,
            workflow=summary.workflow,
            version=summary.version,
            state=summary.state,
            seq=summary.seq,
            data=plain(mask_values(summary.data, reveal=reveal)),
            deadline=summary.deadline,
            escalation=summary.escalation,
            final=summary.final,
            paused=summary.paused,
            overdue=summary.is_overdue(today),
        )


class CaseOut(SummaryOut):
    """A case with what it was opened and last changed with."""

    recurrence_of: str | None
    duplicate_of: str | None
    recurrence_count: int
    extensions: int
    opened_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of_case(cls, case: Case, today: dt.date, *, reveal: bool) -> CaseOut:
        """Return the wire form of ``case``, overdue as of ``today``; see ``SummaryOut.of``."""
        summary = SummaryOut.of(CaseSummary.of(case), today, reveal=reveal)
        return cls(
            **summary.model_dump(),
            recurrence_of=case.recurrence_of,
            duplicate_of=case.duplicate_of,
            recurrence_count=case.recurrence_count,
            extensions=case.extensions,
            opened_at=case.opened_at,
            updated_at=case.updated_at,
        )


class CaseList(BaseModel):
    """A page of cases, by id; ``next_after`` fetches the next page (``None``: the last)."""

    items: list[SummaryOut]
    next_after: str | None


class EventOptionOut(BaseModel):
    """One event as the caller's role sees it now: allowed, or why not."""

    event: str
    title: str
    allowed: bool
    reason: str | None
    require: list[str]
    evidence: list[str]

    @classmethod
    def of(cls, option: EventOption) -> EventOptionOut:
        """Return the wire form of ``option``."""
        return cls(
            event=option.event,
            title=option.title,
            allowed=option.allowed,
            reason=option.reason,
            require=list(option.require),
            evidence=list(option.evidence),
        )


class EffectOut(BaseModel):
    """What the host should carry out: a notice, a deadline set or cleared, an escalation."""

    kind: str
    case_id: str
    fields: dict[str, Any]


class FiredOut(BaseModel):
    """The case after the event, and the effects the event produced."""

    case: CaseOut
    effects: list[EffectOut]


class WorkflowOut(BaseModel):
    """A workflow the service runs: its id, version, titles and states."""

    id: str
    version: int
    title: str
    kind: str
    states: list[str]
    events: list[str]
    roles: list[str]


class SweepOut(BaseModel):
    """What a sweep did."""

    looked_at: int
    escalated: list[str]
    conflicts: list[str]
    effects: int

    @classmethod
    def of(cls, report: SweepReport) -> SweepOut:
        """Return the wire form of ``report``."""
        return cls(
            looked_at=report.looked_at,
            escalated=list(report.escalated),
            conflicts=list(report.conflicts),
            effects=len(report.effects),
        )


class FindingOut(BaseModel):
    """One thing ``verify`` found wrong with one case."""

    case_id: str
    kind: str
    detail: str
    seq: int | None

    @classmethod
    def of(cls, finding: Finding) -> FindingOut:
        """Return the wire form of ``finding``."""
        return cls(
            case_id=finding.case_id, kind=finding.kind, detail=finding.detail, seq=finding.seq
        )


class VerifyOut(BaseModel):
    """What ``verify`` found over the caller's cases, and the digest of every head."""

    ok: bool
    checked: int
    findings: list[FindingOut]
    heads_digest: str

    @classmethod
    def of(cls, report: VerifyReport) -> VerifyOut:
        """Return the wire form of ``report``."""
        return cls(
            ok=report.ok,
            checked=report.checked,
            findings=[FindingOut.of(f) for f in report.findings],
            heads_digest=report.heads_digest,
        )


class DeliveryOut(BaseModel):
    """An outbox item: a stable id (de-duplicate on it), the case and the effect."""

    id: str
    case_id: str
    kind: str
    attempt: int
    effect: dict[str, Any]
    last_error: str | None = None
    dead: bool = False


class ImportRow(BaseModel):
    """One row of an imported ledger that was refused or is unsure."""

    row: int
    column: str
    reason: str


class ImportOut(BaseModel):
    """What a ledger import did: rows read, cases added, rows refused and unsure."""

    rows: int
    added: int
    existing: int
    problems: list[ImportRow]
    unsure: list[ImportRow]
    summary: str


class DocumentOut(BaseModel):
    """A notice a case's history queued: render it at ``href`` (``?format=``)."""

    seq: int
    notice: str
    event: str
    to: list[str]
    level: int | None
    href: str
