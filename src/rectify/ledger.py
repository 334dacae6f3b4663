"""The object a host embeds: the town's hazard ledger (台账) on a store.

A :class:`Ledger` binds a store, the workflow engines (each with its calendar, campaign
dates and the host's guards) and a clock. Each operation reads a case, runs the pure engine
and writes the result in one transaction, optimistically: a concurrent change to the same
case surfaces as :class:`~rectify.exceptions.ConcurrencyError`, which the host may retry.

May import every layer below it: ``rectify.spreadsheets``, ``rectify.stores``,
``rectify.documents``, ``rectify.engine``, ``rectify.calendar``, ``rectify.definitions``,
``rectify.templating`` and the foundation. Only ``rectify.cli`` and ``rectify.testing``
sit above it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol

import attrs

from rectify._resources import default_workflows
from rectify.calendar._calendar import OfficialCalendar
from rectify.calendar._deadlines import WorkingCalendar
from rectify.definitions._campaign import Campaign, CaseNumbering
from rectify.definitions._categories import CategoryTable
from rectify.definitions._load import load_categories, load_workflow, workflow_files
from rectify.documents._contexts import (
    CASE_NUMBER,
    RECURRENCE_OF_NUMBER,
    case_number,
    check_notice_context,
)
from rectify.engine._case import Actor, Case, Effect, Evidence, NoticeDue, Outcome
from rectify.engine._category import change_category
from rectify.engine._engine import TIMEZONE, Engine, EventOption, local_date, require_aware
from rectify.engine._escalation import NEVER, escalate, next_escalation
from rectify.engine._guards import Action, Guard
from rectify.engine._history import verify_history
from rectify.engine._replay import case_as_of, case_at, replay
from rectify.exceptions import (
    ArgumentError,
    CalendarError,
    ConcurrencyError,
    HistoryError,
    ReplayError,
    UnknownWorkflowError,
)
from rectify.stores._store import (
    MAX_IDS,
    AuditRow,
    CaseQuery,
    CaseSummary,
    Delivery,
    Store,
    projection_columns,
)

__all__ = [
    "DEAD_AFTER",
    "FINDING_KINDS",
    "NUMBERED_KINDS",
    "Clock",
    "Finding",
    "Ledger",
    "SweepReport",
    "SystemClock",
    "VerifyReport",
    "digest_heads",
    "heads_as_of",
]


#: The kinds of workflow whose cases take readable case numbers: this year's hazards and
#: earlier years' (numbered in the series of the year they were closed in).
NUMBERED_KINDS: Final = frozenset({"hazard", "archive"})

#: When on the day it was closed an earlier year's item is opened (``Ledger.import_earlier``).
_EARLIER_AT: Final = dt.time(12)
#: The attempts after which ``Ledger.deliver`` gives up on a failing effect (a dead letter).
DEAD_AFTER: Final = 5
_DELIVER_PAGE = 200  # effects read from the outbox at a time by ``deliver``


def _check_notices(engine: Engine, outcome: Outcome, when: dt.datetime) -> None:
    """Refuse now, with nothing stored, a notice ``outcome`` queues that could never render.

    Raises:
        CalendarError: A notice's date needs a year no source covers (and the host allowed
            no weekends-only fallback).
    """
    for effect in outcome.effects:
        if isinstance(effect, NoticeDue):
            check_notice_context(
                effect,
                outcome.case,
                engine.spec,
                issued_on=local_date(when),
                calendar=engine.calendar,
            )


def _error_text(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _next_due(engine: Engine, case: Case) -> dt.datetime | None:
    """Return when ``case``'s next escalation level can come due, as the ledger keeps it.

    ``NEVER`` when none can until the case changes; not known (``None``, so every sweep
    looks at the case and says what is wrong) when the calendar cannot count the days.
    """
    try:
        due = next_escalation(engine, case)
    except CalendarError:
        return None
    return NEVER if due is None else due


def _scheduled(engine: Engine, case: Case) -> Case:
    """Return ``case`` with its ``next_due`` (see ``_next_due``)."""
    return attrs.evolve(case, next_due=_next_due(engine, case))


def _caught_up(engine: Engine, case: Case, when: dt.datetime) -> Outcome:
    """Return ``case`` with the escalation levels due by ``when`` recorded first.

    What a sweep at every instant would have recorded before an event at ``when``, so that
    an event that moves the case on loses no level that came due before it (however
    seldom the sweeps run). Where the calendar cannot count the days, nothing is caught
    up: the sweep reports the calendar's error as before.
    """
    if engine.spec.escalation is None:
        return Outcome(case)
    try:
        caught = escalate(engine, case, when)
    except CalendarError:
        return Outcome(case)
    _check_notices(engine, caught, when)
    return caught


def _after(caught: Outcome, outcome: Outcome, engine: Engine) -> Outcome:
    """Return ``outcome`` of a change made after ``caught`` up, scheduled, with both effects."""
    return Outcome(_scheduled(engine, outcome.case), (*caught.effects, *outcome.effects))


class Clock(Protocol):
    """Where "now" comes from (the system clock, or a simulated one)."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware."""
        ...


class SystemClock:
    """The system clock, in Asia/Shanghai."""

    def now(self) -> dt.datetime:
        """Return the current time."""
        return dt.datetime.now(TIMEZONE)


@attrs.frozen
class SweepReport:
    """What a sweep did: cases looked at, cases escalated, effects produced, conflicts."""

    looked_at: int  # the cases due, or not yet scheduled, that the sweep read
    escalated: tuple[str, ...]
    effects: tuple[Effect, ...]
    conflicts: tuple[str, ...] = ()


#: What a :class:`Finding` can be, each its own kind.
FINDING_KINDS: Final = (
    "corrupt-row",  # a case row or record that does not decode: bad JSON, date, number
    "events-past-head",  # records stored after the record the case row names as its head
    "head-mismatch",  # the history does not end at the head: records cut off or replaced
    "history",  # the hash chain breaks: a record edited, removed, inserted or reordered
    "not-replayed",  # the history cannot be folded: no engine for it, or it does not replay
    "orphan-events",  # records whose case row is missing
    "projection-mismatch",  # a stored case value differs from the fold of its history
)


@attrs.frozen
class Finding:
    """One thing ``verify`` found wrong with one case.

    Attributes:
        case_id: The case.
        kind: One of :data:`FINDING_KINDS`.
        detail: What is wrong, naming the field or record and the values found; a
            ``projection-mismatch`` reads ``"case deadline: stored 2099-01-01, history gives
            2024-05-20"`` (``case`` for the stored case, ``column`` for a store's column).
        seq: The record concerned, where one is.
    """

    case_id: str
    kind: str
    detail: str
    seq: int | None = None

    @property
    def reason(self) -> str:
        """Return ``detail`` (the name ``HistoryError`` gives it, for older callers)."""
        return self.detail

    def __str__(self) -> str:
        at = "" if self.seq is None else f" at record {self.seq}"
        return f"case {self.case_id!r}: {self.kind}{at}: {self.detail}"


@attrs.frozen
class VerifyReport:
    """What ``verify`` found: case rows checked, the findings, and the digest of the heads.

    ``heads_digest`` is SHA-256 (hex) over one line per case row, ``case_id<TAB>seq<TAB>digest``
    and a newline, ordered by case id (code points): see :meth:`Ledger.heads_digest`.
    """

    checked: int
    findings: tuple[Finding, ...]
    heads_digest: str = ""

    @property
    def problems(self) -> tuple[Finding, ...]:
        """Return the findings (the name reports had before there were several kinds)."""
        return self.findings

    @property
    def ok(self) -> bool:
        """Return whether nothing was found."""
        return not self.findings


def digest_heads(heads: Iterable[tuple[str, int, str]]) -> str:
    r"""Return the SHA-256 (hex) of the heads' lines ``case_id\tseq\tdigest\n``, by case id.

    The same as ``sqlite3 town.db "SELECT id || char(9) || head_seq || char(9) ||
    head_digest FROM rectify_cases ORDER BY id" | sha256sum``.
    """
    hasher = hashlib.sha256()
    for case_id, seq, digest in sorted(heads):
        hasher.update(f"{case_id}\t{seq}\t{digest}\n".encode())
    return hasher.hexdigest()


def heads_as_of(cases: Iterable[Case], day: dt.date) -> list[tuple[str, int, str]]:
    """Return each case's head as it stood at the end of ``day`` (Asia/Shanghai).

    A case opened later has no head then. What a document dated ``day`` prints comes out the
    same whenever it is rendered again, and a history cut short before ``day`` changes it.
    """
    heads: list[tuple[str, int, str]] = []
    for case in cases:
        last = None
        for record in case.history:  # in time order: the engine refuses events out of order
            if local_date(record.at) > day:
                break
            last = record
        if last is not None:
            heads.append((case.id, last.seq, last.digest))
    return heads


def _show(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return repr(dict(value))
    return repr(value)


def _differences(
    where: str, stored: Mapping[str, object], folded: Mapping[str, object]
) -> list[str]:
    return [
        f"{where} {name}: stored {_show(stored[name])}, history gives {_show(value)}"
        for name, value in folded.items()
        if name in stored and stored[name] != value
    ]


def _schedule_differences(kept: object, case: Case, engines: Sequence[Engine]) -> list[str]:
    """Return how a stored schedule differs from the one the ledger keeps for ``case``.

    Not known (``None``) is always right: a sweep looks. A moment is right when it is the
    one :func:`_next_due` works out, to the second (as the column keeps it); any other,
    above all a later one, would hide the case from the sweeps that should escalate it.
    """
    if kept is None:
        return []
    engine = next((e for e in engines if e.spec.version == case.version), None)
    if engine is None:
        return []  # replay has said which engine is missing
    expected = _next_due(engine, case)
    if (
        isinstance(kept, dt.datetime)
        and expected is not None
        and math.floor(kept.timestamp()) == math.floor(expected.timestamp())
    ):
        return []
    shown = "not known" if expected is None else expected.isoformat()
    return [f"column next_due: stored {_show(kept)}, but the history gives {shown}"]


class Ledger:
    """A town's hazard ledger: cases on a store, moved by workflow engines.

    Args:
        store: Where cases live.
        engines: One engine per workflow version the ledger runs; new cases use the highest
            version of their workflow, stored cases the version they were opened with.
        clock: Where "now" comes from when an operation is not given ``at``.
        case_numbers: Gives each case opened a readable number (``case_number`` in its
            data: 正街-2024-013), numbered in the store's register, once per case id.
    """

    def __init__(
        self,
        store: Store,
        engines: Iterable[Engine],
        *,
        clock: Clock | None = None,
        case_numbers: CaseNumbering | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.case_numbers = case_numbers
        self._engines: dict[tuple[str, int], Engine] = {}
        self._latest: dict[str, Engine] = {}
        for engine in engines:
            self._engines[(engine.spec.id, engine.spec.version)] = engine
            latest = self._latest.get(engine.spec.id)
            if latest is None or latest.spec.version < engine.spec.version:
                self._latest[engine.spec.id] = engine
        # Every version of each workflow, by version: the engines a history replays through.
        self._versions: dict[str, list[Engine]] = {}
        for workflow, version in sorted(self._engines):
            self._versions.setdefault(workflow, []).append(self._engines[(workflow, version)])

    @classmethod
    def with_workflows(
        cls,
        store: Store,
        *,
        folder: Path | None = None,
        calendar: WorkingCalendar | None = None,
        campaign: Campaign | None = None,
        categories: CategoryTable | None = None,
        guards: Mapping[str, Guard] | None = None,
        actions: Mapping[str, Action] | None = None,
        clock: Clock | None = None,
    ) -> Ledger:
        """Return a ledger running every workflow in ``folder`` (the shipped ones by default).

        The calendar defaults to the official one, the category table to the shipped one;
        severity periods come from the table, phase dates and case numbers from ``campaign``.
        """
        table = categories or load_categories()
        severities = {level.name: level.period for level in table.severities}
        shared = calendar or OfficialCalendar()  # one calendar, one cache of its days
        engines = [
            Engine(
                load_workflow(file),
                guards=guards,
                actions=actions,
                calendar=shared,
                phases=campaign.phase_ends if campaign else None,
                severities=severities,
            )
            for file in workflow_files(folder or Path(str(default_workflows())))
        ]
        return cls(
            store, engines, clock=clock, case_numbers=campaign.case_numbers if campaign else None
        )

    # -- engines ----------------------------------------------------------------------

    def engine(self, workflow: str, version: int | None = None) -> Engine:
        """Return the engine of ``workflow`` (its latest version, or ``version``).

        Raises:
            UnknownWorkflowError: The ledger runs no such workflow (or version).
        """
        engine = (
            self._latest.get(workflow)
            if version is None
            else self._engines.get((workflow, version))
        )
        if engine is None:
            known = [f"{w} v{v}" for w, v in sorted(self._engines)]
            raise UnknownWorkflowError(workflow, version, known)
        return engine

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Return every engine, by workflow and version."""
        return tuple(self._engines[key] for key in sorted(self._engines))

    def _now(self, at: dt.datetime | None, name: str = "at") -> dt.datetime:
        """Return ``at``, or the clock's now, checked before anything touches the store."""
        return require_aware(self.clock.now() if at is None else at, name)

    # -- writing ----------------------------------------------------------------------

    def open(
        self,
        case_id: str,
        workflow: str,
        data: Mapping[str, object],
        actor: Actor,
        *,
        at: dt.datetime | None = None,
        recurrence_of: str | None = None,
    ) -> Outcome:
        """Open and store a case; ``recurrence_of`` names a closed case it repeats.

        Raises:
            CalendarError: A deadline or a queued notice's date needs a year no calendar
                source covers; nothing was stored.
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` (or the clock's now) has no timezone.
        """
        when = self._now(at)
        previous = self.store.get(recurrence_of) if recurrence_of else None
        engine = self.engine(workflow)
        # Opened once without its number first: a case the engine refuses takes none.
        outcome = engine.open(case_id, data, actor, when, recurrence_of=previous)
        _check_notices(engine, outcome, when)
        if self.case_numbers is not None and self._numbered(workflow):
            ((_, _, numbered),) = self._numbering([(case_id, workflow, data)], when, 1)
            if previous is not None:
                numbered = {**numbered, RECURRENCE_OF_NUMBER: case_number(previous)}
            outcome = engine.open(case_id, numbered, actor, when, recurrence_of=previous)
        outcome = Outcome(_scheduled(engine, outcome.case), outcome.effects)
        self.store.add(outcome.case, outcome.effects)
        return outcome

    def fire(
        self,
        case_id: str,
        event: str,
        actor: Actor,
        *,
        payload: Mapping[str, object] | None = None,
        evidence: Sequence[Evidence] = (),
        reason: str | None = None,
        expected_seq: int | None = None,
        at: dt.datetime | None = None,
        check: Callable[[Case], None] | None = None,
    ) -> Outcome:
        """Fire an event on a stored case and store the result, in one transaction.

        The case is read with its row locked (``Store.change``), so a concurrent writer of
        the same case waits and then fires on what this one stored. The escalation levels
        due by ``at`` that no sweep has recorded yet are recorded first (their effects
        come first in the outcome), so an event that moves the case on loses none.

        Args:
            case_id: The case.
            event: The event.
            actor: Who fires it.
            payload: The event's fields.
            evidence: References to the evidence given.
            reason: Why, where the event asks for a reason.
            expected_seq: The case's ``seq`` as the host read it (what its user saw); the
                fire is refused with ``ConcurrencyError`` if the case has moved on since.
                Without it, the case as the transaction reads it is fired on.
            at: When; the clock's now by default.
            check: Called with the case as the transaction read it, before anything else
                (``expected_seq`` included); what it raises refuses the fire and nothing
                is written. A host's row-level access check: the case it checks is the
                case the event is fired on (the service answers a case outside the
                caller's scope as not found here).

        Raises:
            ConcurrencyError: The case has moved past ``expected_seq``; nothing was written.
            EventRefusedError: The engine refused the event; nothing was written.
            CalendarError: A deadline or a queued notice's date needs a year no calendar
                source covers; nothing was written.
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` (or the clock's now) has no timezone.
        """
        when = self._now(at)

        def step(case: Case) -> Outcome:
            if check is not None:
                check(case)
            if expected_seq is not None and case.seq != expected_seq:
                raise ConcurrencyError(case_id=case_id, expected=expected_seq, found=case.seq)
            engine = self.engine(case.workflow, case.version)
            caught = _caught_up(engine, case, when)
            outcome = engine.fire(
                caught.case,
                event,
                actor,
                when,
                payload=payload,
                evidence=evidence,
                reason=reason,
            )
            _check_notices(engine, outcome, when)
            return _after(caught, outcome, engine)

        return self.store.change(case_id, step)

    def merge(
        self,
        duplicate_id: str,
        into_id: str,
        actor: Actor,
        *,
        reason: str,
        at: dt.datetime | None = None,
    ) -> tuple[Outcome, Outcome]:
        """Merge a duplicate report into an existing case; both histories are kept.

        Raises:
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` (or the clock's now) has no timezone.
        """
        when = self._now(at)
        duplicate, into = self.store.get(duplicate_id), self.store.get(into_id)
        engine = self.engine(duplicate.workflow, duplicate.version)
        into_engine = self.engine(into.workflow, into.version)
        caught, caught_into = (
            _caught_up(engine, duplicate, when),
            _caught_up(into_engine, into, when),
        )
        merged, kept = engine.merge(caught.case, caught_into.case, actor, when, reason=reason)
        _check_notices(engine, merged, when)
        _check_notices(into_engine, kept, when)
        merged, kept = _after(caught, merged, engine), _after(caught_into, kept, into_engine)
        # One transaction: a duplicate merged without its @merge record would be lost.
        self.store.append_all(
            [(merged.case, duplicate.seq, merged.effects), (kept.case, into.seq, kept.effects)]
        )
        return merged, kept

    def change_category(
        self,
        case_id: str,
        category: str,
        actor: Actor,
        *,
        reason: str,
        categories: CategoryTable | None = None,
        expected_seq: int | None = None,
        at: dt.datetime | None = None,
    ) -> Outcome:
        """Change (or confirm) a stored case's category and store the ``@category`` record.

        See :func:`rectify.engine.change_category`: an unsure import's marks are cleared,
        and a severity that was the old category's default follows the new one (a
        ``@severity`` record after it).

        Args:
            case_id: The case.
            category: The category's code (``PAS.EVAC``).
            actor: Who changes it.
            reason: Why; required.
            categories: The table the case was categorised with (the shipped one by default).
            expected_seq: The case's ``seq`` as the host read it; refused with
                ``ConcurrencyError`` if the case has moved on since.
            at: When; the clock's now by default.

        Raises:
            ConcurrencyError: Someone else changed the case first; nothing was written.
            EventRefusedError: The change was refused (closed case, no reason, unknown
                category, or one of another workflow); nothing was written.
        """
        when = self._now(at)
        table = categories or load_categories()

        def step(case: Case) -> Outcome:
            if expected_seq is not None and case.seq != expected_seq:
                raise ConcurrencyError(case_id=case_id, expected=expected_seq, found=case.seq)
            engine = self.engine(case.workflow, case.version)
            caught = _caught_up(engine, case, when)
            outcome = change_category(
                engine, caught.case, category, actor, when, reason=reason, categories=table
            )
            _check_notices(engine, outcome, when)
            return _after(caught, outcome, engine)

        return self.store.change(case_id, step)

    # -- reading ----------------------------------------------------------------------

    def get(self, case_id: str) -> Case:
        """Return a stored case with its history."""
        return self.store.get(case_id)

    def case_at(self, case_id: str, seq: int) -> Case:
        """Return a stored case as it was right after its record ``seq``.

        A notice queued by record ``seq`` is built from this case, whenever it is rendered:
        the deadline and measures it names are those of that record, not of a later one.

        Raises:
            CaseNotFoundError: No case with that id is stored.
            NoSuchRecordError: ``seq`` is negative (or not an integer).
        """
        case = self.store.get(case_id)
        return case_at(self._workflow_engines(case), case, seq)

    def cases_as_of(self, moment: dt.date | dt.datetime) -> Iterator[Case]:
        """Yield every stored case as it stood at ``moment``; cases opened later are left out.

        A date means the end of that day in Asia/Shanghai, an aware datetime that instant.
        Reports, listings and exports of a past moment read these, so that a document dated
        ``moment`` holds what held then and comes out the same whenever it is rendered. A
        case that has not changed since ``moment`` is yielded as stored; one that has is
        replayed up to its last record then (``rectify.engine.case_as_of``).
        """
        if not isinstance(moment, dt.date):
            raise ArgumentError(f"a moment is a date or an aware datetime, not {moment!r}")
        if isinstance(moment, dt.datetime):
            require_aware(moment, "moment")
        for case in self.store.cases():
            past = case_as_of(self._workflow_engines(case), case, moment)
            if past is not None:
                yield past

    def _workflow_engines(self, case: Case) -> list[Engine]:
        """Return the engines a case's history replays through (every version it may name)."""
        if (case.workflow, case.version) not in self._engines:
            self.engine(case.workflow, case.version)  # raises, naming the engines there are
        return self._versions[case.workflow]

    def allowed_events(self, case_id: str, actor: Actor) -> tuple[EventOption, ...]:
        """Return every event of a stored case's workflow as ``actor`` sees it now.

        The case is read and asked of the engine of its own workflow version, so a screen
        can offer the events that may be fired and say why the others may not. Guards are
        not evaluated (they depend on the payload); they run on fire.

        Raises:
            CaseNotFoundError: No case with that id is stored.
        """
        case = self.store.get(case_id)
        return self.engine(case.workflow, case.version).allowed_events(case, actor)

    def query(self, query: CaseQuery | None = None, **filters: object) -> list[Case]:
        """Return stored cases matching ``query`` or the filters of :class:`CaseQuery`."""
        return self.store.query(query or CaseQuery(**filters))  # type: ignore[arg-type]

    def summaries(self, query: CaseQuery | None = None, **filters: object) -> list[CaseSummary]:
        """Return stored cases matching ``query`` (or filters) without their histories.

        What a listing needs, read from a SQL store's columns: no record is decoded.
        """
        return self.store.summaries(query or CaseQuery(**filters))  # type: ignore[arg-type]

    def count(self, query: CaseQuery | None = None, **filters: object) -> int:
        """Return how many stored cases match ``query`` (or filters), counted by the store."""
        return self.store.count(query or CaseQuery(**filters))  # type: ignore[arg-type]

    def cases(self) -> Iterator[Case]:
        """Yield every stored case."""
        return self.store.cases()

    # -- sweeping, delivering, verifying ------------------------------------------------

    def sweep(self, now: dt.datetime | None = None, *, batch: int = 1000) -> SweepReport:
        """Record every escalation due by ``now`` on the open cases, batch by batch.

        Reads only the cases a sweep at ``now`` must look at (``CaseQuery(escalation_due=
        now)``, through an index on a SQL store): those whose next level came due by then
        and those whose schedule is not known (stored before schema version 4, or by a host
        writing to the store itself). A case found not due after all keeps its schedule
        (``Store.reschedule``), so the next sweep passes it by. The ledger's own writes keep
        each case's schedule, and record the levels due before an event with the event, so
        sweeping seldom loses no level: a sweep at any moment records what sweeps at every
        instant would have.

        Safe to run from several processes at once: a case another sweeper escalated first
        is skipped (its write conflicts), so no level is recorded twice.

        Raises:
            TypeError: ``now`` is not a datetime (a ``datetime.date`` included).
            NaiveDatetimeError: ``now`` (or the clock's now) has no timezone.
        """
        now = self._now(now, "now")
        looked = 0
        escalated: list[str] = []
        effects: list[Effect] = []
        conflicts: list[str] = []
        # The ids first, in one read: paging the due cases by id would sort the rest of them
        # again for every page, which after an upgrade (every case not known) is all of them.
        due = [summary.id for summary in self.store.summaries(CaseQuery(escalation_due=now))]
        size = max(1, min(batch, MAX_IDS))
        for start in range(0, len(due), size):
            page = self.store.query(CaseQuery(ids=due[start : start + size]))
            schedule: list[tuple[str, int, dt.datetime | None]] = []
            for case in page:
                looked += 1
                engine = self._engines.get((case.workflow, case.version))
                if engine is None:
                    continue  # not known: looked at again by every sweep
                outcome = escalate(engine, case, now)
                if not outcome.effects:
                    # Not due after all (not known, or due later): keep when it will be.
                    schedule.append((case.id, case.seq, _next_due(engine, case)))
                    continue
                try:
                    self.store.append(_scheduled(engine, outcome.case), case.seq, outcome.effects)
                except ConcurrencyError:
                    conflicts.append(case.id)
                    continue
                escalated.append(case.id)
                effects.extend(outcome.effects)
            self.store.reschedule(schedule)
        return SweepReport(looked, tuple(escalated), tuple(effects), tuple(conflicts))

    def pending(self, limit: int = 100, *, skip: Collection[str] = ()) -> list[Delivery]:
        """Return effects waiting for the host (not dead letters), oldest first."""
        return self.store.pending(limit, skip=skip)

    def acknowledge(self, ids: Iterable[str]) -> None:
        """Mark effects as delivered (dead letters: as dealt with)."""
        self.store.acknowledge(ids)

    def fail(
        self, delivery_id: str, error: str, *, dead_after: int = DEAD_AFTER
    ) -> Delivery | None:
        """Record that delivering an effect failed; see ``Store.fail``."""
        return self.store.fail(delivery_id, error, dead_after=dead_after)

    def failed(self, limit: int = 100) -> list[Delivery]:
        """Return the effects whose last delivery failed, dead letters included."""
        return self.store.failed(limit)

    def redrive(self, ids: Iterable[str]) -> int:
        """Put dead letters back in the queue, as new; return how many (see ``Store.redrive``)."""
        return self.store.redrive(ids)

    def deliver(
        self,
        handler: Callable[[Delivery], None],
        *,
        limit: int | None = 100,
        dead_after: int = DEAD_AFTER,
        on_failure: Callable[[Delivery], None] | None = None,
        skip: Collection[str] = (),
    ) -> int:
        """Hand pending effects to ``handler``, each on its own; return how many it took.

        Each effect the handler returns from is acknowledged. One whose handler raises is
        recorded as failed with the exception's message (``Store.fail``) and the rest go on.
        A failed effect comes again on a later call (at least once delivery: hosts dedupe
        on ``Delivery.id``) until it fails on its ``dead_after``-th attempt; then it is a
        dead letter, listed by :meth:`failed` and no longer handed out. One call hands each
        effect out at most once, and none named in ``skip`` (those not due again yet: an
        effect skipped is not handed out, so no attempt is counted for it).

        Args:
            handler: Delivers one effect; raises an ``Exception`` when it cannot.
            limit: The most effects to hand out; ``None``: every pending one.
            dead_after: The attempt on whose failure an effect is given up.
            on_failure: Called with each failure as recorded (error, attempts, dead).
            skip: Ids of effects not to hand out in this call (a retry's time has not come).

        Raises:
            ValueError: ``dead_after`` is below 1.
        """
        if dead_after < 1:
            raise ValueError(f"dead_after {dead_after} must be at least 1")
        done = handed = 0
        failed: set[str] = set(skip)  # never handed out again in this call, like a failure
        while limit is None or handed < limit:
            size = _DELIVER_PAGE if limit is None else min(_DELIVER_PAGE, limit - handed)
            batch = self.store.pending(size, skip=failed)
            if not batch:
                break
            delivered: list[str] = []
            try:
                for delivery in batch:
                    handed += 1
                    try:
                        handler(delivery)
                    except Exception as exc:  # each effect fails on its own
                        failed.add(delivery.id)
                        recorded = self.store.fail(
                            delivery.id, _error_text(exc), dead_after=dead_after
                        )
                        if recorded is not None and on_failure is not None:
                            on_failure(recorded)
                    else:
                        delivered.append(delivery.id)
            finally:  # what was delivered stays delivered, even if the run is interrupted
                self.store.acknowledge(delivered)
            done += len(delivered)
        return done

    def verify(self) -> VerifyReport:
        """Check every stored case against its history, and digest the heads.

        For each case row: that it decodes; that its hash chain holds and ends at the head
        the row records, with no record stored past it; that the stored case and the
        store's columns equal the fold of the history (``replay``, with this ledger's
        engines: the same calendar, campaign and severities must be in force). Records
        without a case row are found too. A case that fails one check is reported and the
        next case checked; each finding is its own :class:`Finding`.

        A history cut short together with its head, and its case rewritten to match, is
        only seen from outside: compare ``heads_digest`` with one kept elsewhere.
        """
        checked = 0
        findings: list[Finding] = []
        heads: list[tuple[str, int, str]] = []
        for row in self.store.audit():
            if row.head is None:
                count = len(row.records) + len(row.errors)
                detail = f"{count} record{'s' if count != 1 else ''} but no case row"
                findings.append(Finding(row.case_id, "orphan-events", detail))
                continue
            checked += 1
            heads.append((row.case_id, *row.head))
            findings.extend(self._check(row))
        return VerifyReport(checked, tuple(findings), digest_heads(heads))

    def heads_digest(self, as_of: dt.date | None = None) -> str:
        """Return the digest of every case's head, as ``VerifyReport.heads_digest``.

        Kept where the store's writers cannot reach (printed on each circular and ledger,
        written down after each day's work), it shows later whether any history was cut
        short, even together with its head and case. See :func:`digest_heads`.

        Args:
            as_of: The heads as they stood at the end of this day (:func:`heads_as_of`),
                which a document dated that day prints; the stored heads by default.
        """
        if as_of is None:
            return digest_heads(self.store.heads())
        return digest_heads(heads_as_of(self.store.cases(), as_of))

    def _check(self, row: AuditRow) -> list[Finding]:
        """Return what is wrong with one case row (see ``verify``)."""
        if row.errors or row.case is None or row.head is None:
            return [Finding(row.case_id, "corrupt-row", why, seq) for seq, why in row.errors]
        seq, digest = row.head
        history = tuple(r for r in row.records if r.seq <= seq)
        past = [r.seq for r in row.records if r.seq > seq]
        case = attrs.evolve(row.case, history=history)
        try:
            # The state is compared with the fold below, as a projection mismatch.
            verify_history(attrs.evolve(case, state=history[-1].target) if history else case)
        except HistoryError as exc:
            return [Finding(row.case_id, "history", exc.reason, exc.seq)]
        last = history[-1] if history else None
        if last is None or last.seq != seq or last.digest != digest:
            found = -1 if last is None else last.seq
            return [
                Finding(
                    row.case_id,
                    "head-mismatch",
                    f"the history ends at record {found} but the store's head is record "
                    f"{seq}: records are missing or replaced at the end",
                    min(found + 1, seq),
                )
            ]
        findings: list[Finding] = []
        if past:
            listed = ", ".join(map(str, past))
            plural = "s" if len(past) != 1 else ""
            detail = f"{len(past)} record{plural} after the head (record {seq}): {listed}"
            findings.append(Finding(row.case_id, "events-past-head", detail, past[0]))
        return findings + self._compare(row, case)

    def _compare(self, row: AuditRow, case: Case) -> list[Finding]:
        """Return where the stored case and columns differ from the fold of the history."""
        workflow = case.history[0].payload.get("workflow")
        engines = self._versions.get(str(workflow), [])
        if not engines:
            detail = f"no engine for workflow {workflow!r} to replay the history with"
            return [Finding(row.case_id, "not-replayed", detail, 0)]
        try:
            folded = replay(engines, case.history)
        except ReplayError as exc:
            return [Finding(row.case_id, "not-replayed", exc.reason, exc.seq)]
        fields = [f.name for f in attrs.fields(Case) if f.name not in {"history", "next_due"}]
        details = _differences(
            "case",
            {name: getattr(case, name) for name in fields},
            {name: getattr(folded, name) for name in fields},
        )
        if row.columns:
            columns = dict(row.columns)
            kept = columns.pop("next_due", None)
            details += _differences("column", columns, projection_columns(folded))
            details += _schedule_differences(kept, folded, engines)
        return [Finding(row.case_id, "projection-mismatch", d) for d in details]

    def import_cases(
        self,
        items: Iterable[tuple[str, str, Mapping[str, object]]],
        actor: Actor,
        *,
        at: dt.datetime | None = None,
        batch: int = 500,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Open many cases at once from ``(case_id, workflow, data)``; return how many new.

        Cases already stored (same id) are skipped, so importing again duplicates nothing.

        Raises:
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` (or the clock's now) has no timezone.
        """
        when = self._now(at)

        def opened(
            case_id: str, workflow: str, data: Mapping[str, object]
        ) -> tuple[Case, tuple[Effect, ...]]:
            engine = self.engine(workflow)
            outcome = engine.open(case_id, data, actor, when)
            return _scheduled(engine, outcome.case), outcome.effects

        cases = (opened(*item) for item in self._numbering(items, when, batch))
        return self.store.add_many(cases, batch=batch, progress=progress)

    def open_tasks(
        self,
        campaign: Campaign,
        actor: Actor,
        *,
        at: dt.datetime | None = None,
        workflow: str = "task",
    ) -> int:
        """Open a case of ``workflow`` for each task of the campaign's list; return how many new.

        Each task is ``TASK-<key>`` with :meth:`CampaignTask.data` (its deadline is the
        task's ``due``); a task already stored is skipped, so opening again opens nothing.

        Raises:
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` (or the clock's now) has no timezone.
        """
        items = [(task.case_id, workflow, task.data()) for task in campaign.tasks]
        return self.import_cases(items, actor, at=at)

    def import_earlier(
        self,
        items: Iterable[tuple[str, str, Mapping[str, object]]],
        actor: Actor,
        *,
        batch: int = 500,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Open earlier years' rectified items, each on the day it was closed; return how many new.

        Each item's data has ``rectified_on`` (a date, as ``read_earlier`` gives it); the case
        is opened at 12:00 that day (Asia/Shanghai), through :meth:`import_cases`, one day at
        a time. Items already stored are skipped. ``progress`` gets (new, seen) over all days.

        Raises:
            ArgumentError: An item's ``rectified_on`` is missing or not a date; nothing was
                stored.
        """
        by_day: dict[dt.date, list[tuple[str, str, Mapping[str, object]]]] = {}
        for case_id, workflow, data in items:
            day = data.get("rectified_on")
            if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                raise ArgumentError(
                    f"earlier item {case_id!r}: rectified_on is {day!r}, not a date"
                )
            by_day.setdefault(day, []).append((case_id, workflow, data))
        added = seen = 0
        for day in sorted(by_day):
            group = by_day[day]

            def step(new: int, looked: int, before: tuple[int, int] = (added, seen)) -> None:
                if progress is not None:
                    progress(before[0] + new, before[1] + looked)

            added += self.import_cases(
                group,
                actor,
                at=dt.datetime.combine(day, _EARLIER_AT, TIMEZONE),
                batch=batch,
                progress=step,
            )
            seen += len(group)
        return added

    def _numbered(self, workflow: str) -> bool:
        """Return whether cases of ``workflow`` take readable case numbers."""
        return self.engine(workflow).spec.kind in NUMBERED_KINDS

    def _numbering(
        self,
        items: Iterable[tuple[str, str, Mapping[str, object]]],
        when: dt.datetime,
        batch: int,
    ) -> Iterator[tuple[str, str, Mapping[str, object]]]:
        """Yield ``items`` with their case numbers, numbered ``batch`` at a time (one commit)."""
        numbering = self.case_numbers
        if numbering is None:
            yield from items
            return
        day = local_date(when)
        pending = iter(items)
        while chunk := list(itertools.islice(pending, max(batch, 1))):
            # Hazards are numbered (an earlier year's in the series of its year); a building
            # to survey or a task is not a hazard and takes no number of their series.
            wanted = [self._numbered(workflow) for _, workflow, _ in chunk]
            numbered = [item for item, want in zip(chunk, wanted, strict=True) if want]
            numbers = iter(
                self.store.register_documents(
                    [(f"case-number/{i}", numbering.series(d, day), day) for i, _, d in numbered]
                )
            )
            for (case_id, workflow, data), want in zip(chunk, wanted, strict=True):
                if not want:
                    yield case_id, workflow, data
                    continue
                seq, _ = next(numbers)
                yield case_id, workflow, {**data, CASE_NUMBER: numbering.number(data, day, seq)}
