"""Tools for testing hosts' workflows and rectify itself.

- Fakes: :class:`FakeCalendar` (holidays a test chooses) and :class:`FakeClock`.
- Hypothesis strategies: payload values for every field type, actors, timelines, valid
  event sequences of any workflow (:func:`event_sequences`), ledger sheets for import tests.
- :func:`workflow_machine`: a ready ``RuleBasedStateMachine`` for a workflow, with built-in
  invariants (hash chain, replay, nothing after a final state, roles, separation of duties,
  working-day deadlines, escalation never falling) and the host's own rules.
- Scenario files: time-travel tests written in YAML, run by :func:`run_scenario` or by the
  pytest plugin ``rectify.testing.pytest_plugin`` (files named ``*.scenario.yaml``).
"""

from __future__ import annotations

from rectify.testing._fakes import FakeCalendar, FakeClock
from rectify.testing._ledgers import BrokenLedger, LedgerSheet, broken_ledgers, ledger_sheets
from rectify.testing._machine import Invariant, entered_only_from, separated, workflow_machine
from rectify.testing._scenarios import (
    ScenarioError,
    ScenarioFailedError,
    ScenarioResult,
    run_scenario,
)
from rectify.testing._strategies import (
    GuardPayloads,
    Step,
    actors,
    event_sequences,
    field_values,
    next_steps,
    payloads,
    timelines,
)

__all__ = [
    "BrokenLedger",
    "FakeCalendar",
    "FakeClock",
    "GuardPayloads",
    "Invariant",
    "LedgerSheet",
    "ScenarioError",
    "ScenarioFailedError",
    "ScenarioResult",
    "Step",
    "actors",
    "broken_ledgers",
    "entered_only_from",
    "event_sequences",
    "field_values",
    "ledger_sheets",
    "next_steps",
    "payloads",
    "run_scenario",
    "separated",
    "timelines",
    "workflow_machine",
]
