"""The one module that imports ``transitions``.

One ``transitions.Machine`` per workflow version holds the states, the transition table and
the guard conditions, shared by every case. It has no model: a case is a frozen value, not an
object the machine could inject methods into. To resolve an event, the engine hands the
machine a per-call probe; ``transitions`` evaluates the guard conditions of the candidate
transitions in declaration order, and the first whose guards all agree gives the target.
Guards are callables from the host's registry; no name from YAML ever reaches
``transitions``' import-by-string resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

import transitions
from transitions.core import EventData

from rectify.definitions._spec import WorkflowSpec
from rectify.engine._guards import Guard, GuardContext

__all__ = ["Resolution", "StateMachine"]


class _Probe:
    """Carries one resolution's context through ``transitions`` and collects refusals."""

    __slots__ = ("context", "refusal")

    def __init__(self, context: GuardContext) -> None:
        self.context = context
        self.refusal: tuple[str, str] | None = None


def _condition(name: str, guard: Guard) -> Callable[[EventData], bool]:
    def check(event_data: EventData) -> bool:
        probe = cast("_Probe", event_data.model)
        reason = guard(probe.context)
        if reason is None:
            return True
        if probe.refusal is None:
            probe.refusal = (name, reason)
        return False

    return check


Resolution = tuple[str | None, tuple[str, str] | None]


class StateMachine:
    """The shared, read-only state machine of one workflow version."""

    def __init__(self, spec: WorkflowSpec, guards: Mapping[str, Guard]) -> None:
        table = [
            {
                "trigger": event.name,
                "source": t.source,
                "dest": t.target,
                "conditions": [_condition(g, guards[g]) for g in t.guards],
            }
            for event in spec.events
            for t in event.transitions
        ]
        self._machine = transitions.Machine(
            model=None,
            states=[s.name for s in spec.states],
            initial=spec.initial,
            transitions=table,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        self._sources = {
            name: frozenset(src for src, branches in event.transitions.items() if branches)
            for name, event in self._machine.events.items()
        }
        self._from = {
            state: tuple(name for name, srcs in self._sources.items() if state in srcs)
            for state in self._machine.states
        }

    def events_from(self, state: str) -> tuple[str, ...]:
        """Return the events that have a transition from ``state``, in declaration order."""
        return self._from.get(state, ())

    def can_leave(self, state: str, event: str) -> bool:
        """Return whether ``event`` has a transition from ``state`` (guards aside)."""
        return state in self._sources.get(event, ())

    def resolve(self, state: str, event: str, context: Callable[[str], GuardContext]) -> Resolution:
        """Return the target of ``event`` from ``state``, or the first guard refusal.

        ``context`` makes what the guards of a transition to a given target see; it is
        called only for guarded transitions.
        """
        trigger = self._machine.events[event]
        branches = trigger.transitions.get(state, ())
        if branches and not branches[0].conditions:
            return branches[0].dest, None  # the common case: an unguarded transition
        if not branches:
            return None, None
        probe = _Probe(context(branches[0].dest or state))
        data = EventData(self._machine.get_state(state), trigger, self._machine, probe, (), {})
        for branch in branches:
            probe.context = context(branch.dest or state)  # guards see the target
            if all(c.check(data) for c in branch.conditions):
                return branch.dest, None
        return None, probe.refusal
