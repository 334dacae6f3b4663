"""The case engine: pure functions of (case, event, actor, payload, evidence, at).

The engine never reads a clock, a file or a database: ``at`` comes from the caller, and the
working-day calendar, campaign dates and severity periods are injected. It holds no mutable
per-case state, so one engine serves every case from any number of threads.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from zoneinfo import ZoneInfo

import attrs

from rectify._diagnostics import Diagnostic, Location, Severity
from rectify.calendar._deadlines import WorkingCalendar, due_date
from rectify.definitions._checks import Catalog, check_workflow
from rectify.definitions._spec import (
    CalendarDays,
    DeadlineRule,
    EventSpec,
    StateSpec,
    WorkflowSpec,
    WorkingDays,
)
from rectify.engine._case import (
    Actor,
    Case,
    DeadlineCleared,
    DeadlineSet,
    Effect,
    Escalated,
    Evidence,
    NoticeDue,
    Outcome,
    Record,
)
from rectify.engine._guards import BUILTIN_GUARDS, Action, Guard, GuardContext
from rectify.engine._history import new_record, seal
from rectify.engine._ids import check_case_id
from rectify.engine._machine import StateMachine
from rectify.engine._payload import check_payload, encodable
from rectify.exceptions import (
    ArgumentError,
    CaseFinalError,
    DeadlineError,
    EscalationLevelError,
    EventNotAllowedError,
    EventRefusedError,
    EvidenceMissingError,
    GuardRefusedError,
    NaiveDatetimeError,
    OutOfOrderError,
    PayloadError,
    RectifyError,
    RoleNotPermittedError,
    SeparationOfDutiesError,
    UnknownEventError,
    WorkflowDefinitionError,
)

__all__ = [
    "ESCALATE",
    "MERGE",
    "MIGRATE",
    "OPEN",
    "SEVERITY",
    "TIMEZONE",
    "Engine",
    "EventOption",
    "NoticeKey",
    "before",
    "instant",
    "local_date",
    "notices_of",
    "notices_queued_on",
    "require_aware",
    "unrepeated",
]

#: The event name of a case's first record. Names starting with ``@`` are the engine's own.
OPEN = "@open"
#: The event name of the record a case gets when a duplicate is merged into it.
MERGE = "@merge"
#: The event name of an escalation record (a sweep raised the level; ``_escalation``).
ESCALATE = "@escalate"
#: The event name of a severity change record (``_severity``).
SEVERITY = "@severity"
#: The event name of the record a migration appends (``_replay``).
MIGRATE = "@migrate"
TIMEZONE = ZoneInfo("Asia/Shanghai")
_SCALARS = (str, int, float, bool, dt.date, type(None))


def require_aware(value: object, name: str = "at") -> dt.datetime:
    """Return ``value`` if it is a timezone-aware datetime; the one check of every time given.

    Args:
        value: The time to check.
        name: The argument's name, for the message.

    Raises:
        ArgumentError: ``value`` is not a datetime (a ``datetime.date`` included); also a
            ``TypeError``.
        NaiveDatetimeError: ``value`` has no timezone.
    """
    if not isinstance(value, dt.datetime):
        raise ArgumentError(
            f"{name} must be an aware datetime (a datetime.datetime with a timezone), not {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name} {value.isoformat()} has no timezone; give an aware datetime "
            "(for example with tzinfo=ZoneInfo('Asia/Shanghai'))"
        )
    return value


def local_date(at: dt.datetime) -> dt.date:
    """Return the date of ``at`` in Asia/Shanghai, refusing naive datetimes and dates.

    Raises:
        DeadlineError: ``at`` falls on no date Python can hold in Asia/Shanghai (a time
            near ``datetime.max`` or ``datetime.min`` in another zone).
    """
    try:
        return require_aware(at).astimezone(TIMEZONE).date()
    except OverflowError as exc:
        raise DeadlineError(
            f"{at.isoformat()} has no date in Asia/Shanghai between {dt.date.min} and {dt.date.max}"
        ) from exc


def instant(at: dt.datetime) -> dt.timedelta:
    """Return a key that orders aware datetimes as the instants they are.

    Python compares two datetimes of the same ``tzinfo`` by their wall-clock readings,
    ignoring ``fold``: 01:10 EST after a fall-back would sort before 01:30 EDT, 40 minutes
    earlier. The key is the time since ``datetime.min`` in UTC, as a timedelta, so it
    cannot overflow at either end of the calendar as ``astimezone`` can.
    """
    return at.replace(tzinfo=None) - dt.datetime.min - (at.utcoffset() or dt.timedelta())


def before(at: dt.datetime, last: dt.datetime) -> bool:
    """Return whether ``at`` is an instant earlier than ``last`` (see :func:`instant`)."""
    return instant(at) < instant(last)


@attrs.frozen
class EventOption:
    """One event as an actor sees it now: allowed, or why not.

    ``reason`` says why not in words; ``refusal`` is the refusal itself, with its fields
    (the events allowed now, the roles that may, the level needed), for a screen that
    words it in its own language.
    """

    event: str
    title: str
    allowed: bool
    reason: str | None = None
    require: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    refusal: EventRefusedError | None = attrs.field(default=None, eq=False, repr=False)


class Engine:
    """Runs the cases of one workflow version.

    Args:
        spec: The workflow.
        guards: The host's guards by name (the built-in ones are always available).
        actions: The host's actions by name.
        calendar: The working-day calendar (needed by working-day deadline rules).
        phases: Campaign phase end dates by phase name.
        severities: Default deadline rules by severity name (from the category table).

    Raises:
        WorkflowDefinitionError: The workflow names a guard or an action the registries lack.
    """

    def __init__(
        self,
        spec: WorkflowSpec,
        *,
        guards: Mapping[str, Guard] | None = None,
        actions: Mapping[str, Action] | None = None,
        calendar: WorkingCalendar | None = None,
        phases: Mapping[str, dt.date] | None = None,
        severities: Mapping[str, DeadlineRule] | None = None,
    ) -> None:
        self.spec = spec
        self._guards = {**BUILTIN_GUARDS, **(guards or {})}
        self._actions = dict(actions or {})
        self._bind()
        self._machine = StateMachine(spec, self._guards)
        # Plain dicts for the hot path (the spec's own lookups are cached properties).
        self._state_specs = {state.name: state for state in spec.states}
        self._event_specs = {event.name: event for event in spec.events}
        self._evidence_kinds = frozenset(name for name, _ in spec.evidence)
        self._calendar = calendar
        self._phases = dict(phases or {})
        self._severities = dict(severities or {})

    def _bind(self) -> None:
        catalog = Catalog(guards=frozenset(self._guards))
        problems = [d for d in check_workflow(self.spec, None, catalog) if d.is_error]
        for event in self.spec.events:
            missing = [a for a in event.actions if a not in self._actions]
            if missing:
                problems.append(_unknown_action(self.spec, event, missing))
        if problems:
            raise WorkflowDefinitionError(self.spec.source, problems)

    # -- opening and firing -----------------------------------------------------------

    def open(
        self,
        case_id: str,
        data: Mapping[str, object],
        actor: Actor,
        at: dt.datetime,
        *,
        recurrence_of: Case | None = None,
    ) -> Outcome:
        """Open a case in the initial state and return it with its first effects.

        Args:
            case_id: The host's id for the case.
            data: The hazard's data (ledger fields, category, severity, description...):
                text, numbers, booleans and dates.
            actor: Who opens it.
            at: When (timezone-aware).
            recurrence_of: A closed case this one repeats (a failed look-back); the new
                case is linked to it and its recurrence count is one more.

        Raises:
            CaseIdError: ``case_id`` does not follow the case id grammar (``check_case_id``).
            PayloadError: A data value is not text, a number, a boolean or a date.
            RectifyError: ``recurrence_of`` is a case of this workflow that is not closed.
        """
        check_case_id(case_id)  # the one door for new ids: ledgers and imports come here
        day = local_date(at)
        if actor.role not in self.spec.role_names:
            raise RoleNotPermittedError(
                case_id=case_id,
                state=self.spec.initial,
                event=OPEN,
                role=actor.role,
                roles=self.spec.role_names,
            )
        self._check_texts(
            case_id,
            self.spec.initial,
            OPEN,
            {
                "case id": case_id,
                "actor": actor.id,
                **{f"data {k}": f"{k}{v if isinstance(v, str) else ''}" for k, v in data.items()},
            },
        )
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise PayloadError(
                    case_id=case_id,
                    state=self.spec.initial,
                    event=OPEN,
                    field=key,
                    problem=f"must be a finite number, not {value!r}",
                )
            if not isinstance(value, _SCALARS):
                raise PayloadError(
                    case_id=case_id,
                    state=self.spec.initial,
                    event=OPEN,
                    field=key,
                    problem="must be text, a number, a date or a "
                    f"boolean, not {type(value).__name__}",
                )
        payload: dict[str, object] = {
            "case_id": case_id,
            "workflow": self.spec.id,
            "version": self.spec.version,
            "data": dict(data),
        }
        if recurrence_of is not None:
            if not recurrence_of.final:
                raise RectifyError(
                    f"case {recurrence_of.id!r} is still open; only a closed "
                    "case can recur (closed cases are never reopened)"
                )
            payload["recurrence_of"] = recurrence_of.id
            payload["recurrence_count"] = recurrence_of.recurrence_count + 1
        record = seal(
            Record(0, OPEN, None, self.spec.initial, actor.id, actor.role, at, payload), None
        )
        return self.opened(record, day)

    def opened(self, record: Record, day: dt.date | None = None) -> Outcome:
        """Return the case an ``@open`` record opens (used by ``open`` and by replay)."""
        payload = record.payload
        data = payload.get("data")
        count = payload.get("recurrence_count", 0)
        case = Case(
            _text(payload.get("case_id")) or "",
            self.spec.id,
            self.spec.version,
            self.spec.initial,
            data if isinstance(data, Mapping) else {},
            recurrence_of=_text(payload.get("recurrence_of")),
            recurrence_count=count if isinstance(count, int) else 0,
            history=(record,),
        )
        state = self.spec.state(self.spec.initial)
        effects: list[Effect] = []
        case = self._enter(case, state, day or local_date(record.at), effects)
        effects.extend(NoticeDue(case.id, n, 0, OPEN) for n in state.notices)
        return Outcome(case, tuple(effects))

    def merge(
        self, duplicate: Case, into: Case, actor: Actor, at: dt.datetime, *, reason: str
    ) -> tuple[Outcome, Outcome]:
        """Merge a duplicate report into an existing case; both histories are kept.

        The duplicate fires the workflow's event that leads to a final state with outcome
        ``merged`` (``duplicate_of`` set to ``into``); ``into`` gets a ``@merge`` record
        naming the duplicate, the digest of its last record and its data.

        Raises:
            RectifyError: The two are one case; no event leads from the duplicate's state to
                a merged state, or that event has no ``duplicate_of`` field.
            CaseFinalError: ``into`` is closed.
            EventRefusedError: The merging event is refused for the duplicate.
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` has no timezone.
        """
        require_aware(at)
        if duplicate.id == into.id:
            raise RectifyError(f"case {into.id!r} cannot be merged into itself")
        if self.is_final(into):
            raise CaseFinalError(case_id=into.id, state=into.state, event=MERGE)
        if before(at, into.updated_at):
            raise OutOfOrderError(
                case_id=into.id,
                state=into.state,
                event=MERGE,
                at=at.isoformat(),
                last=into.updated_at.isoformat(),
            )
        event = next(
            (
                e
                for e in self.spec.events
                if any(
                    t.source == duplicate.state and self.spec.state(t.target).outcome == "merged"
                    for t in e.transitions
                )
            ),
            None,
        )
        if event is None:
            raise RectifyError(
                f"no event of {self.spec.id} leads from state "
                f"{duplicate.state!r} to a state with outcome 'merged'"
            )
        fields = {f.name for f in (*event.require, *event.optional)}
        if "duplicate_of" not in fields:
            # The link must be in the duplicate's own history, or replay could not restore it.
            raise RectifyError(
                f"event {event.name!r} of {self.spec.id} leads to a merged state "
                "but has no 'duplicate_of' field to record the link"
            )
        merged = self.fire(
            duplicate, event.name, actor, at, payload={"duplicate_of": into.id}, reason=reason
        )
        record = seal(
            Record(
                into.seq + 1,
                MERGE,
                into.state,
                into.state,
                actor.id,
                actor.role,
                at,
                {
                    "duplicate": duplicate.id,
                    "head": merged.record.digest,
                    "data": dict(duplicate.data),
                },
                (),
                reason,
            ),
            into.history[-1],
        )
        return merged, Outcome(attrs.evolve(into, history=(*into.history, record)))

    def fire(
        self,
        case: Case,
        event: str,
        actor: Actor,
        at: dt.datetime,
        *,
        payload: Mapping[str, object] | None = None,
        evidence: Sequence[Evidence] = (),
        reason: str | None = None,
    ) -> Outcome:
        """Fire ``event`` on ``case`` and return the new case and its effects.

        Raises:
            EventRefusedError: One of its subclasses, saying why; ``case`` is unchanged.
            TypeError: ``at`` is not a datetime.
            NaiveDatetimeError: ``at`` has no timezone.
        """
        day = local_date(at)
        spec = self._event(case, event)
        self._check_actor(case, spec, actor)
        self._check_level(case, spec)
        if before(at, case.updated_at):
            raise OutOfOrderError(
                case_id=case.id,
                state=case.state,
                event=event,
                at=at.isoformat(),
                last=case.updated_at.isoformat(),
            )
        clean, problem = check_payload(spec, payload or {})
        if problem:
            raise PayloadError(
                case_id=case.id, state=case.state, event=event, field=problem[0], problem=problem[1]
            )
        if spec.reason and not (reason and reason.strip()):
            raise PayloadError(
                case_id=case.id,
                state=case.state,
                event=event,
                field="reason",
                problem="is required: this event must say why",
            )
        self._check_texts(
            case.id,
            case.state,
            event,
            {
                **{name: value for name, value in clean.items() if isinstance(value, str)},
                "reason": reason or "",
                "actor": actor.id,
                **{f"evidence {e.kind}": e.kind + e.name + e.sha256 for e in evidence},
            },
        )
        given = {e.kind for e in evidence}
        unknown = sorted(given - self._evidence_kinds)
        if unknown:
            declared = ", ".join(sorted(self._evidence_kinds)) or "none"
            raise PayloadError(
                case_id=case.id,
                state=case.state,
                event=event,
                field="evidence",
                problem=f"kind {', '.join(unknown)} is not declared by the "
                f"workflow; declared: {declared}",
            )
        missing = [k for k in spec.evidence if k not in given]
        if missing:
            raise EvidenceMissingError(
                case_id=case.id, state=case.state, event=event, missing=missing
            )
        given_evidence = tuple(evidence)

        def context(target: str) -> GuardContext:
            return GuardContext(case, event, target, actor, clean, given_evidence, at)

        target, refusal = self._machine.resolve(case.state, event, context)
        if target is None:
            guard, why = refusal or ("", "no transition applies")
            raise GuardRefusedError(
                case_id=case.id, state=case.state, event=event, guard=guard, reason=why
            )
        data = {**case.data, **clean}
        for name in spec.actions:
            data.update(self._actions[name](context(target)) or {})
        record = new_record(
            case.history[-1],
            seq=case.seq + 1,
            event=event,
            source=case.state,
            target=target,
            actor=actor,
            at=at,
            payload=MappingProxyType(clean),  # check_payload admits scalars only
            evidence=given_evidence,
            reason=reason,
        )
        return self._after(case, spec, record, data, day)

    def _after(
        self, case: Case, spec: EventSpec, record: Record, data: dict[str, object], day: dt.date
    ) -> Outcome:
        """Build the case an event leads to, in one go (this is the engine's hot path)."""
        effects: list[Effect] = []
        state = self._state_specs[record.target]
        paused_since, paused_days, resumed = self._clock(case, state, record)
        deadline = case.deadline
        if record.source != record.target or spec.deadline:
            deadline = self._deadline(
                case.id,
                state,
                running=deadline,
                data=data,
                override=spec.deadline,
                day=day,
                effects=effects,
                shift=resumed,
            )
        escalation = case.escalation
        if spec.escalate_to is not None and (escalation is None or escalation < spec.escalate_to):
            escalation = spec.escalate_to
            effects.append(Escalated(case.id, spec.escalate_to, record.seq))
        notices = [NoticeDue(case.id, spec.notice, record.seq, spec.name)] if spec.notice else []
        if record.source != record.target:
            notices.extend(NoticeDue(case.id, n, record.seq, spec.name) for n in state.notices)
        if notices:  # one notice per cause per day: not one the day's records already queued
            effects.extend(unrepeated(notices_queued_on(self, case, day), notices))
        link = data.get("duplicate_of") if "duplicate_of" in record.payload else None
        moved = Case(
            case.id,
            case.workflow,
            case.version,
            record.target,
            data if spec.actions else MappingProxyType(data),  # scalars only: no deep freeze
            deadline,
            escalation,
            case.recurrence_of,
            link if isinstance(link, str) else case.duplicate_of,
            case.recurrence_count,
            case.extensions + spec.extension,
            paused_since,
            paused_days,
            state.final,
            (*case.history, record),
        )
        return Outcome(moved, tuple(effects))

    def _clock(
        self, case: Case, state: StateSpec, record: Record
    ) -> tuple[dt.datetime | None, int, int | None]:
        """Start or end a pause of the clock.

        Returns when the pause began (``None`` when the clock runs), the paused days in
        all, and the days of a pause that just ended (``None`` unless one did; a pause
        within one day is 0 days).
        """
        if state.pauses_clock and case.paused_since is None:
            return record.at, case.paused_days, None
        if not state.pauses_clock and case.paused_since is not None:
            days = (local_date(record.at) - local_date(case.paused_since)).days
            return None, case.paused_days + days, days
        return case.paused_since, case.paused_days, None

    def _enter(self, case: Case, state: StateSpec, day: dt.date, effects: list[Effect]) -> Case:
        """Return ``case`` with the deadline of entering ``state`` (when it is opened)."""
        deadline = self._deadline(
            case.id,
            state,
            running=case.deadline,
            data=case.data,
            override=None,
            day=day,
            effects=effects,
        )
        return attrs.evolve(case, deadline=deadline)

    def _deadline(
        self,
        case_id: str,
        state: StateSpec,
        *,
        running: dt.date | None,
        data: Mapping[str, object],
        override: DeadlineRule | None,
        day: dt.date,
        effects: list[Effect],
        shift: int | None = None,
    ) -> dt.date | None:
        """Return the deadline on entering ``state`` (a pausing state keeps the running one).

        When a pause of ``shift`` days just ended, a deadline anchored on a date (a planned
        date, an extension, a phase end) is the running one moved by the paused days, so
        earlier pauses and extensions still count; a deadline counted from now starts afresh.
        """
        if state.pauses_clock and not override:
            return running
        rule = override or state.deadline
        if rule is None or state.final:
            if running is not None or state.final:
                effects.append(DeadlineCleared(case_id, state.name))
            return None
        due = due_date(
            rule,
            day,
            data,
            calendar=self._calendar,
            phases=self._phases,
            severities=self._severities,
        )
        if shift is not None and not isinstance(rule, WorkingDays | CalendarDays):
            base = running if running is not None and not override else due
            due = base + dt.timedelta(days=shift)
        effects.append(DeadlineSet(case_id, state.name, due))
        return due

    @staticmethod
    def _check_texts(case_id: str, state: str, event: str, texts: Mapping[str, str]) -> None:
        """Refuse text that some store cannot keep, so every backend gives the same answer.

        Text that UTF-8 cannot encode could never be stored or hashed; a NUL character is
        kept by SQLite and MariaDB but refused by PostgreSQL (text and JSON alike).
        """
        for field, text in texts.items():
            problem = None
            if not encodable(text):
                problem = "holds a lone surrogate, which UTF-8 cannot encode"
            elif "\x00" in text:
                problem = "holds a NUL character (\\x00), which PostgreSQL cannot store"
            if problem is not None:
                raise PayloadError(
                    case_id=case_id, state=state, event=event, field=field, problem=problem
                )

    def _event(self, case: Case, event: str) -> EventSpec:
        if case.workflow != self.spec.id or case.version != self.spec.version:
            raise RectifyError(
                f"case {case.id!r} follows {case.workflow} v{case.version}; this "
                f"engine runs {self.spec.id} v{self.spec.version}"
            )
        if event not in self._event_specs:
            raise UnknownEventError(
                case_id=case.id,
                state=case.state,
                event=event,
                known=[e.name for e in self.spec.events],
            )
        if self._state_specs[case.state].final:
            raise CaseFinalError(case_id=case.id, state=case.state, event=event)
        if not self._machine.can_leave(case.state, event):
            raise EventNotAllowedError(
                case_id=case.id,
                state=case.state,
                event=event,
                allowed=self._machine.events_from(case.state),
            )
        return self._event_specs[event]

    def _check_actor(self, case: Case, spec: EventSpec, actor: Actor) -> None:
        roles = spec.roles if spec.roles is not None else self.spec.role_names
        if actor.role not in roles:
            raise RoleNotPermittedError(
                case_id=case.id, state=case.state, event=spec.name, role=actor.role, roles=roles
            )
        for other in spec.not_same_actor_as:
            last = next((r for r in reversed(case.history) if r.event == other), None)
            if last is not None and last.actor == actor.id:
                raise SeparationOfDutiesError(
                    case_id=case.id, state=case.state, event=spec.name, actor=actor.id, other=other
                )

    def _check_level(self, case: Case, spec: EventSpec) -> None:
        """Refuse an event whose ``min_escalation`` the case's level has not reached."""
        needed = spec.min_escalation
        if needed is None or (case.escalation is not None and case.escalation >= needed):
            return
        title = ""
        if self.spec.escalation is not None:
            severity = case.data.get("severity")
            ladder = self.spec.escalation.ladder_for(
                severity if isinstance(severity, str) else None
            )
            title = next((lv.title for lv in ladder.levels if lv.level == needed), "")
        raise EscalationLevelError(
            case_id=case.id,
            state=case.state,
            event=spec.name,
            required=needed,
            level=case.escalation,
            title=title,
        )

    # -- questions --------------------------------------------------------------------

    def allowed_events(self, case: Case, actor: Actor) -> tuple[EventOption, ...]:
        """Return every event of the workflow as ``actor`` sees it on ``case`` now.

        Guards are not evaluated here (they depend on the payload); they run on fire.
        """
        out: list[EventOption] = []
        for spec in self.spec.events:
            reason: str | None = None
            refusal: EventRefusedError | None = None
            try:
                self._event(case, spec.name)
                self._check_actor(case, spec, actor)
                self._check_level(case, spec)
            except RectifyError as exc:
                reason = str(exc).split(" refused: ", 1)[-1]
                refusal = exc if isinstance(exc, EventRefusedError) else None
            out.append(
                EventOption(
                    spec.name,
                    spec.title,
                    reason is None,
                    reason,
                    tuple(f.name for f in spec.require),
                    spec.evidence,
                    refusal,
                )
            )
        return tuple(out)

    @property
    def phases(self) -> Mapping[str, dt.date]:
        """Return the campaign phase end dates this engine's deadlines read."""
        return self._phases

    @property
    def severities(self) -> Mapping[str, DeadlineRule]:
        """Return the default deadline rule of each severity."""
        return self._severities

    @property
    def calendar(self) -> WorkingCalendar | None:
        """Return the working-day calendar this engine counts deadlines on."""
        return self._calendar

    def is_final(self, case: Case) -> bool:
        """Return whether ``case`` is in a final state."""
        return self.spec.state(case.state).final


#: A notice as the rule "one notice per cause per day" compares them: its kind (``notice``)
#: and its recipients (``to``, as a set; empty means the notice's default recipients).
NoticeKey = tuple[str, frozenset[str]]


def notices_queued_on(engine: Engine, case: Case, day: dt.date) -> list[NoticeKey]:
    """Return the notices ``case``'s records dated ``day`` (Asia/Shanghai) queued, in order.

    Derived from the history, as ``engine`` makes notices: an ``@open`` record queued its
    initial state's ``notices``; an event record its event's ``notice`` and, when it changed
    the state, the entered state's ``notices``; an ``@escalate`` record its ladder level's
    ``notice``, to the level's ``notify`` roles (the ladder of the case's severity then). A
    notice that repeated one queued before it that day was not queued (``unrepeated``), so
    it is left out here too. Only the records of ``day`` at the end of the history are read
    (records are in time order), and none before a ``@migrate`` record, whose notices were
    made by another version of the workflow.
    """
    # A stored record's time was checked by ``local_date`` when it was made.
    day_records = _since_migration(case, lambda r: r.at.astimezone(TIMEZONE).date() == day)
    queued: list[NoticeKey] = []
    for record, severity in day_records:
        for notice, to in _record_notices(engine, record, severity):
            key = (notice, frozenset(to))
            if not any(_same_cause(key, earlier) for earlier in queued):
                queued.append(key)
    return queued


def notices_of(engine: Engine, case: Case) -> list[NoticeDue]:
    """Return every notice ``case``'s history queued, oldest first, as the engine queued them.

    Worked out from the records as :func:`notices_queued_on` works out one day's: a notice
    that repeated one of the same cause queued earlier the same day (Asia/Shanghai) was not
    queued and is left out. Records before a ``@migrate`` record are skipped: another
    version of the workflow made their notices. Each notice is what ``Ledger.case_at(case.id,
    notice.seq)`` renders.
    """
    found: list[NoticeDue] = []
    queued: list[NoticeKey] = []
    day: dt.date | None = None
    for record, severity in _since_migration(case, lambda _: True):
        today = record.at.astimezone(TIMEZONE).date()
        if today != day:
            day, queued = today, []
        level = record.payload.get("level") if record.event == ESCALATE else None
        for notice, to in _record_notices(engine, record, severity):
            due = NoticeDue(
                case.id,
                notice,
                record.seq,
                record.event,
                to,
                level if isinstance(level, int) else None,
            )
            found.extend(unrepeated(queued, (due,)))
    return found


def _since_migration(case: Case, keep: Callable[[Record], bool]) -> list[tuple[Record, object]]:
    """Return the last records of ``case`` that ``keep`` holds for, oldest first.

    Each with the severity in force when it was made (a ``@severity`` record's ``from`` for
    the records before it). None before a ``@migrate`` record, whose notices another
    version of the workflow made.
    """
    severity = case.data.get("severity")
    records: list[tuple[Record, object]] = []
    for record in reversed(case.history):
        if record.event == MIGRATE or not keep(record):
            break
        records.append((record, severity))
        if record.event == SEVERITY:  # the records before it had the severity it replaced
            severity = record.payload.get("from")
    records.reverse()
    return records


def unrepeated(queued: list[NoticeKey], notices: Iterable[NoticeDue]) -> Iterator[NoticeDue]:
    """Yield the ``notices`` that repeat none queued the same day, adding each to ``queued``.

    Two notices have the same cause when they are of one kind and go to the same recipients:
    their ``to`` sets are equal, or either has none (its notice's default recipients, who may
    be anyone: an event's notice names no roles, so it is taken to cover a ladder level's).
    """
    for due in notices:
        key = (due.notice, frozenset(due.to))
        if not any(_same_cause(key, earlier) for earlier in queued):
            queued.append(key)
            yield due


def _same_cause(one: NoticeKey, other: NoticeKey) -> bool:
    return one[0] == other[0] and (not one[1] or not other[1] or one[1] == other[1])


def _record_notices(
    engine: Engine, record: Record, severity: object
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Yield the (notice, recipients) ``record`` queued before repeats were dropped."""
    spec = engine.spec
    if record.event == ESCALATE:
        level = record.payload.get("level")
        if spec.escalation is None or not isinstance(level, int):
            return
        ladder = spec.escalation.ladder_for(severity if isinstance(severity, str) else None)
        for rung in ladder.levels:
            if rung.level == level and rung.notice:
                yield rung.notice, rung.notify
        return
    if record.event == OPEN:
        if spec.has_state(record.target):
            yield from ((n, ()) for n in spec.state(record.target).notices)
        return
    event = spec.event(record.event) if spec.has_event(record.event) else None
    if event is None:  # the engine's other records (``@merge``, ``@severity``) queue none
        return
    if event.notice:
        yield event.notice, ()
    if record.source != record.target and spec.has_state(record.target):
        yield from ((n, ()) for n in spec.state(record.target).notices)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unknown_action(spec: WorkflowSpec, event: EventSpec, missing: list[str]) -> Diagnostic:
    return Diagnostic(
        Severity.ERROR,
        "unknown-action",
        f"action {', '.join(repr(m) for m in missing)} of event {event.name!r} is not in the "
        "action registry",
        Location(spec.source, 0, 0, f"events.{event.name}.actions"),
    )
