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
from rectify._documents import CASE_NOTICE_VARIABLES, PHONE_ROLES, Issuer, case_notice_context
from rectify._dump import dump_workflow
from rectify._engine import Engine, EventOption
from rectify._escalation import Sweep, due_within, escalate, is_overdue, sweep
from rectify._formatting import document_number, en_date, mask_phone, zh_date, zh_ordinal
from rectify._guards import BUILTIN_GUARDS, Action, Guard, GuardContext
from rectify._history import verify_history
from rectify._ledger import Clock, Ledger, SweepReport, SystemClock, VerifyReport
from rectify._load import (
    ValidationReport,
    load_categories,
    load_workflow,
    validate_paths,
    validate_workflow,
)
from rectify._lookback import ALWAYS_SAMPLED, sample_lookback
from rectify._notices import Document, NoticeRenderer
from rectify._publishing import MemoryNumberBook, Notices, NumberBook
from rectify._replay import MigrationCheck, migrate, plan_migration, replay
from rectify._reports import (
    REPORT_VARIABLES,
    LookbackResult,
    circular_context,
    escalation_report_context,
    ledger_context,
    ledger_totals_context,
    lookback_context,
    monthly_report_context,
)
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
from rectify._spreadsheet import (
    LEDGER_HEADERS,
    DuplicateRow,
    InferredCategory,
    LedgerImport,
    LedgerProblem,
    LedgerRow,
    LedgerTotal,
    ledger_totals,
    read_ledger,
    write_ledger,
    write_ledger_totals,
)
from rectify.exceptions import (
    CalendarError,
    CaseExistsError,
    CaseFinalError,
    CaseNotFoundError,
    ConcurrencyError,
    DeadlineError,
    DefinitionError,
    EventNotAllowedError,
    EventRefusedError,
    EvidenceMissingError,
    GuardRefusedError,
    HistoryError,
    NaiveDatetimeError,
    NoticeError,
    OutOfOrderError,
    PayloadError,
    RectifyError,
    ReplayError,
    RoleNotPermittedError,
    SchemaError,
    SeparationOfDutiesError,
    StoreError,
    UnknownEventError,
    WorkflowDefinitionError,
)

try:
    __version__ = _metadata.version("rectify")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0+unknown"

__all__ = [
    "ALWAYS_SAMPLED",
    "BUILTIN_GUARDS",
    "CASE_NOTICE_VARIABLES",
    "LEDGER_HEADERS",
    "PHONE_ROLES",
    "REPORT_VARIABLES",
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
    "CaseExistsError",
    "CaseFinalError",
    "CaseNotFoundError",
    "Catalog",
    "Category",
    "CategoryTable",
    "Clock",
    "ConcurrencyError",
    "DeadlineCleared",
    "DeadlineError",
    "DeadlineRule",
    "DeadlineSet",
    "DefinitionError",
    "Diagnostic",
    "Document",
    "DuplicateRow",
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
    "InferredCategory",
    "Issuer",
    "Ladder",
    "Ledger",
    "LedgerImport",
    "LedgerProblem",
    "LedgerRow",
    "LedgerTotal",
    "Level",
    "Location",
    "LookbackResult",
    "MemoryNumberBook",
    "MigrationCheck",
    "NaiveDatetimeError",
    "NoticeDue",
    "NoticeError",
    "NoticeRenderer",
    "Notices",
    "NumberBook",
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
    "SchemaError",
    "SeparationOfDutiesError",
    "Severity",
    "SeverityLevel",
    "StateSpec",
    "StoreError",
    "Sweep",
    "SweepReport",
    "SystemClock",
    "Transition",
    "Trigger",
    "UnknownEventError",
    "ValidationReport",
    "VerifyReport",
    "WorkflowDefinitionError",
    "WorkflowSpec",
    "WorkingCalendar",
    "WorkingDays",
    "__version__",
    "case_notice_context",
    "change_severity",
    "circular_context",
    "default_notices",
    "default_workflows",
    "document_number",
    "draw_workflow",
    "due_within",
    "dump_workflow",
    "en_date",
    "escalate",
    "escalation_report_context",
    "is_overdue",
    "ledger_context",
    "ledger_totals",
    "ledger_totals_context",
    "load_campaign",
    "load_categories",
    "load_holidays",
    "load_workflow",
    "lookback_context",
    "mask_phone",
    "migrate",
    "monthly_report_context",
    "plan_migration",
    "read_ledger",
    "replay",
    "reports_due",
    "sample_lookback",
    "sweep",
    "validate_paths",
    "validate_workflow",
    "verify_history",
    "write_ledger",
    "write_ledger_totals",
    "zh_date",
    "zh_ordinal",
]
