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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import attrs

from rectify._resources import default_workflows
from rectify.calendar._calendar import OfficialCalendar
from rectify.calendar._deadlines import WorkingCalendar
from rectify.definitions._campaign import Campaign
from rectify.definitions._categories import CategoryTable
from rectify.definitions._load import load_categories, load_workflow, workflow_files
from rectify.engine._case import Actor, Case, Effect, Evidence, Outcome
from rectify.engine._engine import TIMEZONE, Engine, EventOption, require_aware
from rectify.engine._escalation import escalate
from rectify.engine._guards import Action, Guard
from rectify.engine._history import verify_history
from rectify.exceptions import ConcurrencyError, HistoryError, RectifyError
from rectify.stores._store import CaseQuery, Delivery, Store

__all__ = ["Clock", "Ledger", "SweepReport", "SystemClock", "VerifyReport"]


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

    looked_at: int
    escalated: tuple[str, ...]
    effects: tuple[Effect, ...]
    conflicts: tuple[str, ...] = ()


@attrs.frozen
class VerifyReport:
    """What ``verify`` found: cases checked and, per broken case, what is wrong."""

    checked: int
    problems: tuple[HistoryError, ...]

    @property
    def ok(self) -> bool:
        """Return whether every history verified."""
        return not self.problems


def _check_head(case: Case, head: tuple[int, str] | None) -> None:
    if head is None:
        return
    seq, digest = head
    last = case.history[-1] if case.history else None
    if last is None or last.seq != seq or last.digest != digest:
        found = -1 if last is None else last.seq
        raise HistoryError(
            case_id=case.id,
            seq=min(found + 1, seq),
            reason=f"the history ends at record {found} but the store's head "
            f"is record {seq}: records are missing or replaced at the end",
        )


class Ledger:
    """A town's hazard ledger: cases on a store, moved by workflow engines.

    Args:
        store: Where cases live.
        engines: One engine per workflow version the ledger runs; new cases use the highest
            version of their workflow, stored cases the version they were opened with.
        clock: Where "now" comes from when an operation is not given ``at``.
    """

    def __init__(
        self, store: Store, engines: Iterable[Engine], *, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self._engines: dict[tuple[str, int], Engine] = {}
        self._latest: dict[str, Engine] = {}
        for engine in engines:
            self._engines[(engine.spec.id, engine.spec.version)] = engine
            latest = self._latest.get(engine.spec.id)
            if latest is None or latest.spec.version < engine.spec.version:
                self._latest[engine.spec.id] = engine

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
        severity periods come from the table and phase dates from ``campaign``.
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
        return cls(store, engines, clock=clock)

    # -- engines ----------------------------------------------------------------------

    def engine(self, workflow: str, version: int | None = None) -> Engine:
        """Return the engine of ``workflow`` (its latest version, or ``version``)."""
        engine = (
            self._latest.get(workflow)
            if version is None
            else self._engines.get((workflow, version))
        )
        if engine is None:
            known = ", ".join(f"{w} v{v}" for w, v in sorted(self._engines)) or "none"
            raise RectifyError(
                f"no engine for workflow {workflow!r}"
                f"{'' if version is None else f' v{version}'}; known: {known}"
            )
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
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` (or the clock's now) has no timezone.
        """
        when = self._now(at)
        previous = self.store.get(recurrence_of) if recurrence_of else None
        outcome = self.engine(workflow).open(case_id, data, actor, when, recurrence_of=previous)
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
    ) -> Outcome:
        """Fire an event on a stored case and store the result.

        Args:
            case_id: The case.
            event: The event.
            actor: Who fires it.
            payload: The event's fields.
            evidence: References to the evidence given.
            reason: Why, where the event asks for a reason.
            expected_seq: The case's ``seq`` as the host read it (what its user saw); the
                fire is refused with ``ConcurrencyError`` if the case has moved on since.
                Without it, the case is read now.
            at: When; the clock's now by default.

        Raises:
            ConcurrencyError: Someone else changed the case first; nothing was written.
            EventRefusedError: The engine refused the event; nothing was written.
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` (or the clock's now) has no timezone.
        """
        when = self._now(at)
        case = self.store.get(case_id)
        if expected_seq is not None and case.seq != expected_seq:
            raise ConcurrencyError(case_id=case_id, expected=expected_seq, found=case.seq)
        engine = self.engine(case.workflow, case.version)
        outcome = engine.fire(
            case,
            event,
            actor,
            when,
            payload=payload,
            evidence=evidence,
            reason=reason,
        )
        self.store.append(outcome.case, case.seq, outcome.effects)
        return outcome

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
        merged, kept = engine.merge(duplicate, into, actor, when, reason=reason)
        # One transaction: a duplicate merged without its @merge record would be lost.
        self.store.append_all(
            [(merged.case, duplicate.seq, merged.effects), (kept.case, into.seq, kept.effects)]
        )
        return merged, kept

    # -- reading ----------------------------------------------------------------------

    def get(self, case_id: str) -> Case:
        """Return a stored case with its history."""
        return self.store.get(case_id)

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

    def cases(self) -> Iterator[Case]:
        """Yield every stored case."""
        return self.store.cases()

    # -- sweeping, delivering, verifying ------------------------------------------------

    def sweep(self, now: dt.datetime | None = None, *, batch: int = 1000) -> SweepReport:
        """Record every escalation due by ``now`` on the open cases, batch by batch.

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
        after: str | None = None
        while True:
            page = self.store.query(CaseQuery(open=True, after=after, limit=batch))
            if not page:
                break
            after = page[-1].id
            for case in page:
                looked += 1
                engine = self._engines.get((case.workflow, case.version))
                if engine is None or engine.spec.escalation is None:
                    continue
                outcome = escalate(engine, case, now)
                if not outcome.effects:
                    continue
                try:
                    self.store.append(outcome.case, case.seq, outcome.effects)
                except ConcurrencyError:
                    conflicts.append(case.id)
                    continue
                escalated.append(case.id)
                effects.extend(outcome.effects)
        return SweepReport(looked, tuple(escalated), tuple(effects), tuple(conflicts))

    def pending(self, limit: int = 100) -> list[Delivery]:
        """Return effects waiting for the host, oldest first."""
        return self.store.pending(limit)

    def acknowledge(self, ids: Iterable[str]) -> None:
        """Mark effects as delivered."""
        self.store.acknowledge(ids)

    def deliver(self, handler: Callable[[Delivery], None], *, limit: int = 100) -> int:
        """Hand pending effects to ``handler`` one by one, acknowledging each it accepts.

        An effect whose handler raises stays pending and comes again (at least once
        delivery: hosts dedupe on ``Delivery.id``). Returns how many were acknowledged.
        """
        done = 0
        for delivery in self.store.pending(limit):
            handler(delivery)
            self.store.acknowledge([delivery.id])
            done += 1
        return done

    def verify(self) -> VerifyReport:
        """Check the hash chain of every stored case, and that each ends at its head."""
        heads = {case_id: (seq, digest) for case_id, seq, digest in self.store.heads()}
        checked = 0
        problems: list[HistoryError] = []
        for case in self.store.cases():
            checked += 1
            try:
                verify_history(case)
                _check_head(case, heads.get(case.id))
            except HistoryError as exc:
                problems.append(exc)
        return VerifyReport(checked, tuple(problems))

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
        opened = (
            (outcome.case, outcome.effects)
            for outcome in (
                self.engine(workflow).open(case_id, data, actor, when)
                for case_id, workflow, data in items
            )
        )
        return self.store.add_many(opened, batch=batch, progress=progress)
