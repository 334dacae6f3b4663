"""The engine: cases, events, the hash-chained history, escalation sweeps and replay.

Owns the case values (``Case``, ``Record``, ``Outcome`` and the effects), the case id
grammar (``check_case_id``, enforced by ``Engine.open``), the one module
that imports ``transitions``, guards and actions from the host's registry, payload checks,
sealing and verifying histories, escalation ladders and sweeps, severity and category
changes, replay and migration across workflow versions, and look-back sampling. Pure: no
files, clock, database or network; every function takes ``now`` and returns data.

May import: ``rectify.calendar``, ``rectify.definitions`` and the foundation.
"""

from __future__ import annotations

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
from rectify.engine._category import change_category
from rectify.engine._engine import Engine, EventOption, notices_of
from rectify.engine._escalation import (
    NEVER,
    Sweep,
    due_within,
    escalate,
    is_overdue,
    next_escalation,
    sweep,
)
from rectify.engine._guards import BUILTIN_GUARDS, Action, Guard, GuardContext
from rectify.engine._history import verify_history
from rectify.engine._ids import CASE_ID_MAX, check_case_id
from rectify.engine._lookback import ALWAYS_SAMPLED, sample_lookback
from rectify.engine._replay import (
    MigrationCheck,
    case_as_of,
    case_at,
    last_seq_at,
    migrate,
    plan_migration,
    replay,
)
from rectify.engine._severity import change_severity

__all__ = [
    "ALWAYS_SAMPLED",
    "BUILTIN_GUARDS",
    "CASE_ID_MAX",
    "NEVER",
    "Action",
    "Actor",
    "Case",
    "DeadlineCleared",
    "DeadlineSet",
    "Effect",
    "Engine",
    "Escalated",
    "EventOption",
    "Evidence",
    "Guard",
    "GuardContext",
    "MigrationCheck",
    "NoticeDue",
    "Outcome",
    "Record",
    "Sweep",
    "case_as_of",
    "case_at",
    "change_category",
    "change_severity",
    "check_case_id",
    "due_within",
    "escalate",
    "is_overdue",
    "last_seq_at",
    "migrate",
    "next_escalation",
    "notices_of",
    "plan_migration",
    "replay",
    "sample_lookback",
    "sweep",
    "verify_history",
]
