"""rectify: fire-hazard rectification cases as YAML-defined state machines.

Load a workflow, check it, draw it::

    import rectify

    spec = rectify.load_workflow("workflows/hazard.yaml")
    print(rectify.draw_workflow(spec, "mermaid"))
"""

from __future__ import annotations

from importlib import metadata as _metadata

from rectify._calendar import CalendarFallbackWarning, HolidayData, OfficialCalendar, load_holidays
from rectify._campaign import Campaign, Phase, ReportDue, ReportSpec, load_campaign, reports_due
from rectify._case import (
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
from rectify._categories import Category, CategoryTable, SeverityLevel
from rectify._checks import Catalog
from rectify._deadlines import WorkingCalendar
from rectify._diagnostics import Diagnostic, Location, Severity
from rectify._diagram import draw_workflow
from rectify._dump import dump_workflow
from rectify._engine import Engine, EventOption
from rectify._escalation import Sweep, due_within, escalate, is_overdue, sweep
from rectify._guards import BUILTIN_GUARDS, Action, Guard, GuardContext
from rectify._history import verify_history
from rectify._load import (
    ValidationReport,
    load_categories,
    load_workflow,
    validate_paths,
    validate_workflow,
)
from rectify._replay import MigrationCheck, migrate, plan_migration, replay
from rectify._resources import default_notices, default_workflows
from rectify._severity import change_severity
from rectify._spec import (
    AfterDeadline,
    BeforeDeadline,
    Budget,
    CalendarDays,
    CampaignDate,
    DeadlineRule,
    Earliest,
    Escalation,
    EventSpec,
    FieldDate,
    FixedDate,
    FromSeverity,
    Ladder,
    Level,
    OnEvent,
    OpenFor,
    PayloadField,
    Role,
    StateSpec,
    Transition,
    Trigger,
    WorkflowSpec,
    WorkingDays,
)
from rectify.exceptions import (
    CalendarError,
    CaseFinalError,
    DeadlineError,
    DefinitionError,
    EventNotAllowedError,
    EventRefusedError,
    EvidenceMissingError,
    GuardRefusedError,
    HistoryError,
    NaiveDatetimeError,
    OutOfOrderError,
    PayloadError,
    RectifyError,
    ReplayError,
    RoleNotPermittedError,
    SeparationOfDutiesError,
    UnknownEventError,
    WorkflowDefinitionError,
)

try:
    __version__ = _metadata.version("rectify")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0+unknown"

__all__ = [
    "BUILTIN_GUARDS",
    "Action",
    "Actor",
    "AfterDeadline",
    "BeforeDeadline",
    "Budget",
    "CalendarDays",
    "CalendarError",
    "CalendarFallbackWarning",
    "Campaign",
    "CampaignDate",
    "Case",
    "CaseFinalError",
    "Catalog",
    "Category",
    "CategoryTable",
    "DeadlineCleared",
    "DeadlineError",
    "DeadlineRule",
    "DeadlineSet",
    "DefinitionError",
    "Diagnostic",
    "Earliest",
    "Effect",
    "Engine",
    "Escalated",
    "Escalation",
    "EventNotAllowedError",
    "EventOption",
    "EventRefusedError",
    "EventSpec",
    "Evidence",
    "EvidenceMissingError",
    "FieldDate",
    "FixedDate",
    "FromSeverity",
    "Guard",
    "GuardContext",
    "GuardRefusedError",
    "HistoryError",
    "HolidayData",
    "Ladder",
    "Level",
    "Location",
    "MigrationCheck",
    "NaiveDatetimeError",
    "NoticeDue",
    "OfficialCalendar",
    "OnEvent",
    "OpenFor",
    "OutOfOrderError",
    "Outcome",
    "PayloadError",
    "PayloadField",
    "Phase",
    "Record",
    "RectifyError",
    "ReplayError",
    "ReportDue",
    "ReportSpec",
    "Role",
    "RoleNotPermittedError",
    "SeparationOfDutiesError",
    "Severity",
    "SeverityLevel",
    "StateSpec",
    "Sweep",
    "Transition",
    "Trigger",
    "UnknownEventError",
    "ValidationReport",
    "WorkflowDefinitionError",
    "WorkflowSpec",
    "WorkingCalendar",
    "WorkingDays",
    "__version__",
    "change_severity",
    "default_notices",
    "default_workflows",
    "draw_workflow",
    "due_within",
    "dump_workflow",
    "escalate",
    "is_overdue",
    "load_campaign",
    "load_categories",
    "load_holidays",
    "load_workflow",
    "migrate",
    "plan_migration",
    "replay",
    "reports_due",
    "sweep",
    "validate_paths",
    "validate_workflow",
    "verify_history",
]
