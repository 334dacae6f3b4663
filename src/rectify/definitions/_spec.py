"""The workflow model: frozen values that the parser builds and the engine reads.

A workflow is data. Nothing here knows about YAML, files, clocks or ``transitions``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property
from typing import Final, TypeAlias

import attrs

__all__ = [
    "CASE_NOTICE_VARIABLES",
    "KINDS",
    "OUTCOMES",
    "PAYLOAD_TYPES",
    "AfterDeadline",
    "BeforeDeadline",
    "Budget",
    "CalendarDays",
    "CampaignDate",
    "DeadlineRule",
    "Earliest",
    "Escalation",
    "EventSpec",
    "FieldDate",
    "FixedDate",
    "FromSeverity",
    "Ladder",
    "Level",
    "OnEvent",
    "OpenFor",
    "PayloadField",
    "Role",
    "StateSpec",
    "Transition",
    "Trigger",
    "WorkflowSpec",
    "WorkingDays",
]

#: Types a payload field may declare; a list of strings in YAML declares a ``choice``.
PAYLOAD_TYPES: Final = (
    "bool",
    "choice",
    "date",
    "datetime",
    "float",
    "int",
    "phone",
    "str",
    "text",
)

#: The variables every case notice template may use (the engine's effects provide them).
CASE_NOTICE_VARIABLES: Final = frozenset(
    {
        "notice",
        "number",
        "issued_on",
        "issuer",
        "filing",
        "people",
        "case",
        "hazard",
        "event",
        "recheck_on",
        "reader",
    }
)

#: What a final state means for reports: fixed, dismissed at triage, merged, or handed over.
OUTCOMES: Final = ("dismissed", "merged", "rectified", "transferred")

#: What a workflow's cases are (the ``kind`` key): hazards (the default), buildings to
#: survey, the campaign's own tasks, or earlier years' rectified hazards kept for look-back.
#: Hazard reports count ``hazard`` cases only; look-back samples ``hazard`` and ``archive``.
KINDS: Final = ("hazard", "survey", "task", "archive")


# --- deadline rules ---------------------------------------------------------------------


@attrs.frozen
class WorkingDays:
    """N working days on the official calendar, counted from entering the state."""

    days: int


@attrs.frozen
class CalendarDays:
    """N calendar days, counted from entering the state (0 means the same day)."""

    days: int


@attrs.frozen
class CampaignDate:
    """The end date of a campaign phase (``concentrated``, ``canopies``...)."""

    phase: str


@attrs.frozen
class FixedDate:
    """A fixed calendar date."""

    date: dt.date


@attrs.frozen
class FieldDate:
    """A date taken from a case or payload field (the party's planned date)."""

    field: str


@attrs.frozen
class FromSeverity:
    """The default period of the case's severity, from the category table."""


@attrs.frozen
class Earliest:
    """The earliest of several rules."""

    rules: tuple[DeadlineRule, ...]


DeadlineRule: TypeAlias = (
    WorkingDays | CalendarDays | CampaignDate | FixedDate | FieldDate | FromSeverity | Earliest
)


# --- escalation -------------------------------------------------------------------------


@attrs.frozen
class BeforeDeadline:
    """Fires ``days`` before the deadline (working days when ``working``)."""

    days: int
    working: bool = False


@attrs.frozen
class AfterDeadline:
    """Fires ``days`` after the deadline has passed (working days when ``working``)."""

    days: int
    working: bool = False


@attrs.frozen
class OnEvent:
    """Fires once ``event`` has happened ``count`` times on the case."""

    event: str
    count: int = 1


@attrs.frozen
class OpenFor:
    """Fires when the case has been open for ``days`` calendar days."""

    days: int


Trigger: TypeAlias = BeforeDeadline | AfterDeadline | OnEvent | OpenFor


@attrs.frozen
class Level:
    """One rung of an escalation ladder; any of its triggers raises the case to it."""

    level: int
    title: str
    triggers: tuple[Trigger, ...]
    notice: str | None = None
    notify: tuple[str, ...] = ()
    title_en: str | None = None


@attrs.frozen
class Ladder:
    """A named escalation ladder, levels in rising order.

    Deadline triggers count only while the case is in one of ``states`` (all states when
    empty): a ladder about the rectification deadline should not spend its reminder on the
    triage deadline before the party is even named.
    """

    name: str
    levels: tuple[Level, ...]
    states: tuple[str, ...] = ()


@attrs.frozen
class Escalation:
    """The ladders of a workflow and which one applies to which severity."""

    ladders: tuple[Ladder, ...]
    default: str
    by_severity: tuple[tuple[str, str], ...] = ()

    def ladder_for(self, severity: str | None) -> Ladder:
        """Return the ladder that applies to ``severity``."""
        name = dict(self.by_severity).get(severity or "", self.default)
        return next(ladder for ladder in self.ladders if ladder.name == name)


# --- states, events, workflow -----------------------------------------------------------


@attrs.frozen
class Role:
    """A role that may act in a workflow (``community``: 社区)."""

    name: str
    title: str = ""


@attrs.frozen
class PayloadField:
    """A payload field an event requires or accepts."""

    name: str
    type: str
    choices: tuple[str, ...] = ()


@attrs.frozen
class Transition:
    """One way an event moves a case: from ``source`` to ``target`` if all guards agree."""

    source: str
    target: str
    guards: tuple[str, ...] = ()


@attrs.frozen
class StateSpec:
    """A state of a workflow.

    A non-final state has either a ``deadline`` rule or a ``no_deadline`` reason. While a
    case is in a state with ``pauses_clock``, the open deadline does not run.
    """

    name: str
    title: str
    final: bool = False
    deadline: DeadlineRule | None = None
    no_deadline: str | None = None
    notices: tuple[str, ...] = ()
    pauses_clock: bool = False
    outcome: str | None = None
    title_en: str | None = None


@attrs.frozen
class EventSpec:
    """An event: who may fire it, what it needs, and where it takes a case.

    ``roles`` of ``None`` means any role of the workflow. ``deadline`` overrides the target
    state's deadline (a planned date, an approved extension). ``escalate_to`` raises the
    escalation level to at least that level. ``min_escalation`` admits the event only once
    the case's escalation level is at least that level (an interview, 约谈, only after town
    supervision).
    """

    name: str
    transitions: tuple[Transition, ...]
    title: str = ""
    roles: tuple[str, ...] | None = None
    require: tuple[PayloadField, ...] = ()
    optional: tuple[PayloadField, ...] = ()
    evidence: tuple[str, ...] = ()
    not_same_actor_as: tuple[str, ...] = ()
    notice: str | None = None
    deadline: DeadlineRule | None = None
    extension: bool = False
    reason: bool = False
    escalate_to: int | None = None
    actions: tuple[str, ...] = ()
    title_en: str | None = None
    min_escalation: int | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """Return the states this event can be fired from, in declaration order."""
        return tuple(dict.fromkeys(t.source for t in self.transitions))

    @property
    def guards(self) -> tuple[str, ...]:
        """Return every guard name used by this event's transitions."""
        return tuple(dict.fromkeys(g for t in self.transitions for g in t.guards))


@attrs.frozen
class Budget:
    """The most working days the default deadlines along ``path`` may add up to."""

    path: tuple[str, ...]
    max_working_days: int


@attrs.frozen
class WorkflowSpec:
    """A whole workflow, as declared in one YAML document."""

    id: str
    version: int
    title: str
    roles: tuple[Role, ...]
    initial: str
    states: tuple[StateSpec, ...]
    events: tuple[EventSpec, ...]
    title_en: str | None = None
    description: str | None = None
    evidence: tuple[tuple[str, str], ...] = ()
    escalation: Escalation | None = None
    budget: Budget | None = None
    applies_to: tuple[str, ...] = ()
    kind: str = "hazard"
    source: str = attrs.field(default="<spec>", eq=False, repr=False)

    @cached_property
    def _states(self) -> Mapping[str, StateSpec]:
        return {s.name: s for s in self.states}

    @cached_property
    def _events(self) -> Mapping[str, EventSpec]:
        return {e.name: e for e in self.events}

    @property
    def role_names(self) -> tuple[str, ...]:
        """Return the declared role names."""
        return tuple(r.name for r in self.roles)

    def state(self, name: str) -> StateSpec:
        """Return the state called ``name`` (``KeyError`` if there is none)."""
        return self._states[name]

    def event(self, name: str) -> EventSpec:
        """Return the event called ``name`` (``KeyError`` if there is none)."""
        return self._events[name]

    def has_state(self, name: str) -> bool:
        """Return whether a state called ``name`` is declared."""
        return name in self._states

    def has_event(self, name: str) -> bool:
        """Return whether an event called ``name`` is declared."""
        return name in self._events

    @property
    def final_states(self) -> tuple[str, ...]:
        """Return the names of the final states."""
        return tuple(s.name for s in self.states if s.final)
