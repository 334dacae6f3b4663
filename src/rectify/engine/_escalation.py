"""Escalation ladders and sweeps; overdue is derived, not a state.

A sweep is pure: given cases and the current time it returns the escalations due since the
last sweep, each recorded as an ``@escalate`` record in the case's history. The level only
rises, so sweeping twice at the same moment, or hourly instead of daily, yields each level
exactly once; after a long gap one sweep catches up in the order the levels came due,
recording what sweeps at every instant would have (a level that came due only after a higher
one was reached is passed over).

A sweep judges each case as it is now: deadline triggers count only while the case is in one
of its ladder's states. So that no level is lost when a case moves on before a sweep runs,
the ledger records the levels due by an event's time before the event itself (catching up
what a sweep at every instant would have recorded); ``next_escalation`` says when a case's
next level can come due, which a store indexes so that a sweep reads only the cases due.

One notice per cause per day: a level's notice is not queued when the case's records of the
same day already queued that notice for the same roles (an event's ``notice``, or another
level's); the level is recorded all the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence

import attrs

from rectify.calendar._deadlines import require_date
from rectify.definitions._spec import (
    AfterDeadline,
    BeforeDeadline,
    Ladder,
    Level,
    OnEvent,
    OpenFor,
    Trigger,
)
from rectify.engine._case import Case, Effect, Escalated, NoticeDue, Outcome, Record
from rectify.engine._engine import (
    ESCALATE,
    TIMEZONE,
    Engine,
    instant,
    local_date,
    notices_queued_on,
    unrepeated,
)
from rectify.engine._history import seal
from rectify.exceptions import DeadlineError

__all__ = [
    "ESCALATE",
    "NEVER",
    "SYSTEM",
    "Sweep",
    "apply_escalation",
    "due_within",
    "escalate",
    "is_overdue",
    "next_escalation",
    "sweep",
]

#: The actor and role the sweep records (``ESCALATE``, the event name of an escalation
#: record, is defined with the engine's other record names).
SYSTEM = "rectify"

#: The ``Case.next_due`` of a case no escalation level can come due for until it changes.
NEVER = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def is_overdue(case: Case, day: dt.date) -> bool:
    """Return whether ``case`` is open, its clock running, and past its deadline on ``day``.

    Raises:
        ArgumentError: ``day`` is not a date (a datetime included; also a ``TypeError``).
    """
    require_date(day)
    return case.deadline is not None and case.paused_since is None and day > case.deadline


def due_within(case: Case, day: dt.date, days: int) -> bool:
    """Return whether ``case``'s deadline falls within ``days`` days from ``day``.

    Raises:
        ArgumentError: ``day`` is not a date (a datetime included; also a ``TypeError``).
    """
    require_date(day)
    if case.deadline is None:
        return False
    return day <= case.deadline <= day + dt.timedelta(days=days)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), TIMEZONE)


def _moment(engine: Engine, case: Case, trigger: Trigger, ladder: Ladder) -> dt.datetime | None:
    """Return when ``trigger`` became (or becomes) true for ``case``, or ``None``."""
    match trigger:
        case BeforeDeadline() | AfterDeadline():
            deadline = _running_deadline(case, ladder)
            return None if deadline is None else _deadline_moment(engine, deadline, trigger)
        case OnEvent(event, count):
            seen = [r.at for r in case.history if r.event == event]
            return seen[count - 1] if len(seen) >= count else None
        case OpenFor(days):
            return _midnight(local_date(case.opened_at) + dt.timedelta(days=days))
    raise AssertionError(trigger)  # pragma: no cover - the union is exhaustive


def _running_deadline(case: Case, ladder: Ladder) -> dt.date | None:
    """Return the deadline ``ladder``'s deadline triggers count from for ``case``, if any.

    ``None`` when the case has no deadline, its clock is paused, or the ladder's deadline
    triggers do not count in the case's state. This is all a deadline trigger reads of a
    case (``_Quiet`` relies on it).
    """
    if case.deadline is None or case.paused_since is not None:
        return None
    if ladder.states and case.state not in ladder.states:
        return None
    return case.deadline


def _deadline_moment(
    engine: Engine, deadline: dt.date, trigger: BeforeDeadline | AfterDeadline
) -> dt.datetime:
    """Return when ``trigger`` fires for a case whose running deadline is ``deadline``."""
    sign = -1 if isinstance(trigger, BeforeDeadline) else 1
    return _midnight(_offset(engine, deadline, sign * trigger.days, working=trigger.working))


def _offset(engine: Engine, day: dt.date, days: int, *, working: bool) -> dt.date:
    if not working:
        return day + dt.timedelta(days=days)
    calendar = engine.calendar
    if calendar is None:
        raise DeadlineError("a trigger in working days needs a working-day calendar")
    if days >= 0:
        return calendar.add_working_days(day, days)
    back = day
    for _ in range(-days):  # counting back: the previous working day, `days` times
        back -= dt.timedelta(days=1)
        while calendar.add_working_days(back, 0) != back:
            back -= dt.timedelta(days=1)
    return back


def _due_levels(
    engine: Engine, case: Case, now: dt.datetime
) -> Iterator[tuple[Level, dt.datetime]]:
    escalation = engine.spec.escalation
    if escalation is None or engine.is_final(case):
        return
    severity = case.data.get("severity")
    ladder = escalation.ladder_for(severity if isinstance(severity, str) else None)
    current = -1 if case.escalation is None else case.escalation
    due: list[tuple[dt.datetime, int, Level]] = []
    for level in ladder.levels:
        if level.level <= current:
            continue
        moments = [m for t in level.triggers if (m := _moment(engine, case, t, ladder)) is not None]
        first = min(moments, key=instant, default=None)
        if first is not None and instant(first) <= instant(now):
            due.append((first, level.level, level))
    # In the order they came due, as a sweep at every instant would see them: a level that
    # came due after a higher one was reached is passed over, so the schedule does not matter.
    for moment, number, level in sorted(due, key=lambda d: (instant(d[0]), d[1])):
        if number > current:
            current = number
            yield level, moment


def next_escalation(engine: Engine, case: Case) -> dt.datetime | None:
    """Return when ``case``'s next escalation level comes (or came) due, if one can.

    The earliest moment of any trigger of a level above the case's own, as ``escalate``
    judges them: ``escalate(engine, case, now)`` records something exactly when this is
    not ``None`` and not after ``now``. ``None`` when no level can come due until the
    case changes (a final case, no ladder, every level reached, or triggers that wait on
    an event or a deadline the case does not have).

    Raises:
        CalendarError: A trigger counts working days in a year no calendar source covers.
    """
    escalation = engine.spec.escalation
    if escalation is None or engine.is_final(case):
        return None
    severity = case.data.get("severity")
    ladder = escalation.ladder_for(severity if isinstance(severity, str) else None)
    current = -1 if case.escalation is None else case.escalation
    moments = (
        moment
        for level in ladder.levels
        if level.level > current
        for trigger in level.triggers
        if (moment := _moment(engine, case, trigger, ladder)) is not None
    )
    return min(moments, key=instant, default=None)


def escalate(engine: Engine, case: Case, now: dt.datetime) -> Outcome:
    """Record every escalation level due for ``case`` by ``now``, in the order they came due.

    Each level is an ``@escalate`` record with an ``Escalated`` effect and, when the level
    has a notice, a ``NoticeDue`` to its ``notify`` roles, unless the case's records of the
    record's day already queued that notice for those roles (``notices_queued_on``): the
    level is still recorded, only the repeated notice is dropped.

    Returns the case unchanged, with no effects, when nothing is due.
    """
    local_date(now)
    effects: list[Effect] = []
    for level, moment in _due_levels(engine, case, now):
        at = max(moment, case.updated_at, key=instant)
        record = seal(
            Record(
                case.seq + 1,
                ESCALATE,
                case.state,
                case.state,
                SYSTEM,
                SYSTEM,
                at,
                {"level": level.level, "title": level.title},
            ),
            case.history[-1],
        )
        # One notice per cause per day: the level's notice is not queued again when the
        # case's records of that day (before this one) already queued it.
        queued = notices_queued_on(engine, case, local_date(at)) if level.notice else []
        case = apply_escalation(case, record)
        effects.append(Escalated(case.id, level.level, record.seq))
        if level.notice:
            notice = NoticeDue(
                case.id, level.notice, record.seq, ESCALATE, to=level.notify, level=level.level
            )
            effects.extend(unrepeated(queued, [notice]))
    return Outcome(case, tuple(effects))


def apply_escalation(case: Case, record: Record) -> Case:
    """Return ``case`` with an ``@escalate`` record appended and its level raised."""
    level = record.payload.get("level")
    if not isinstance(level, int):
        raise DeadlineError(f"escalation record {record.seq} names no level")
    raised = max(level, -1 if case.escalation is None else case.escalation)
    return attrs.evolve(case, escalation=raised, history=(*case.history, record))


class _Quiet:
    """A sweep's cheap pre-check: is ``case`` one that ``escalate`` would leave unchanged?

    ``escalate`` records something exactly when a level above the case's own has a trigger
    whose moment has come. A deadline trigger's moment depends on the case only through
    its running deadline, so for each engine, ladder, level reached and deadline the
    earliest moment of the deadline triggers above that level is worked out once and
    remembered for the rest of the sweep (a sweep's cases share few deadlines); the other
    triggers (an event count, days open) are checked case by case. A case found quiet is
    skipped; every other case goes through ``escalate`` as before, so what a sweep records
    is unchanged.
    """

    def __init__(self, now: dt.datetime) -> None:
        local_date(now)  # as escalate does first: a naive ``now`` is refused, not compared
        self.now = now
        # (escalation, severity, level reached) -> the ladder, and the triggers above that
        # level that are not deadline triggers.
        self._plans: dict[
            tuple[int, str | None, int], tuple[Ladder, tuple[OnEvent | OpenFor, ...]]
        ] = {}
        # (engine, ladder, level reached, running deadline) -> the earliest moment of the
        # deadline triggers above that level (the engine's calendar counts working days).
        self._earliest: dict[tuple[int, int, int, dt.date], dt.datetime | None] = {}

    def __call__(self, engine: Engine, case: Case) -> bool:
        escalation = engine.spec.escalation
        if escalation is None or engine.is_final(case):
            return True
        severity = case.data.get("severity")
        named = severity if isinstance(severity, str) else None
        current = -1 if case.escalation is None else case.escalation
        plan = self._plans.get((id(escalation), named, current))
        if plan is None:
            ladder = escalation.ladder_for(named)
            others = tuple(
                trigger
                for level in ladder.levels
                if level.level > current
                for trigger in level.triggers
                if not isinstance(trigger, BeforeDeadline | AfterDeadline)
            )
            plan = self._plans[id(escalation), named, current] = (ladder, others)
        ladder, others = plan
        deadline = _running_deadline(case, ladder)
        if deadline is not None:
            key = (id(engine), id(ladder), current, deadline)
            if key in self._earliest:
                earliest = self._earliest[key]
            else:
                earliest = self._earliest[key] = min(
                    (
                        _deadline_moment(engine, deadline, trigger)
                        for level in ladder.levels
                        if level.level > current
                        for trigger in level.triggers
                        if isinstance(trigger, BeforeDeadline | AfterDeadline)
                    ),
                    key=instant,
                    default=None,
                )
            if earliest is not None and instant(earliest) <= instant(self.now):
                return False
        for trigger in others:
            moment = _moment(engine, case, trigger, ladder)
            if moment is not None and instant(moment) <= instant(self.now):
                return False
        return True


@attrs.frozen
class Sweep:
    """What a sweep did: the cases it escalated (new values) and the effects."""

    cases: tuple[Case, ...]
    effects: tuple[Effect, ...]
    swept: int


def sweep(engines: Engine | Sequence[Engine], cases: Iterable[Case], now: dt.datetime) -> Sweep:
    """Escalate every case that has a level due by ``now``.

    Pure and idempotent: sweeping the result again at the same ``now`` changes nothing.
    Cases of a workflow version with no engine given are left alone.
    """
    pool: Mapping[tuple[str, int], Engine] = {
        (e.spec.id, e.spec.version): e
        for e in ([engines] if isinstance(engines, Engine) else engines)
    }
    changed: list[Case] = []
    effects: list[Effect] = []
    count = 0
    quiet: _Quiet | None = None  # made for the first case that could escalate
    for case in cases:
        count += 1
        engine = pool.get((case.workflow, case.version))
        if engine is None or (case.deadline is None and engine.spec.escalation is None):
            continue
        if quiet is None:
            quiet = _Quiet(now)
        if quiet(engine, case):
            continue
        outcome = escalate(engine, case, now)
        if outcome.effects:
            changed.append(outcome.case)
            effects.extend(outcome.effects)
    return Sweep(tuple(changed), tuple(effects), count)
