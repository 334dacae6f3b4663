"""rectify: fire-hazard rectification cases as YAML-defined state machines.

What a host needs on the first day is here; the rest lives in a namespace per concept::

    import rectify

    ledger = rectify.Ledger.with_workflows(rectify.open_store("town.db"))
    ledger.open("HZ-0001", "hazard", {...}, rectify.Actor("网格员-王", "grid_worker"))

=========================  ==========================================================
``rectify.definitions``    workflow YAML, the frozen spec, checks, dump and diagrams
``rectify.calendar``       the working-day calendar, holiday files, campaign dates
``rectify.engine``         cases, events, histories, escalation sweeps, replay
``rectify.documents``      notices and reports: contexts, numbering, rendering
``rectify.stores``         memory and SQL stores
``rectify.spreadsheets``   ledger (台账) import and export, CSV and XLSX
``rectify.ledger``         the host object on a store
``rectify.exceptions``     the error tree
``rectify.testing``        property tests and fakes for host workflows
=========================  ==========================================================

docs/architecture.md draws the layers. Names that used to be importable from ``rectify``
itself still are until 0.3, with a ``DeprecationWarning`` naming their new place.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing
import warnings as _warnings
from importlib import metadata as _metadata

from rectify._diagnostics import Diagnostic
from rectify._resources import default_notices, default_workflows
from rectify.calendar import OfficialCalendar
from rectify.definitions import (
    ValidationReport,
    WorkflowSpec,
    load_categories,
    load_workflow,
    validate_paths,
    validate_workflow,
)
from rectify.documents import Document, NoticeRenderer
from rectify.engine import Actor, Case, Engine, EventOption, Evidence, Outcome, Record
from rectify.exceptions import (
    CalendarError,
    CaseNotFoundError,
    ConcurrencyError,
    DefinitionError,
    EventRefusedError,
    NaiveDatetimeError,
    NoticeError,
    RectifyError,
    StoreError,
    WorkflowDefinitionError,
)
from rectify.ledger import Clock, Ledger, SweepReport, SystemClock, VerifyReport
from rectify.stores import open_store

try:
    __version__ = _metadata.version("rectify")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0+unknown"

__all__ = [
    "Actor",
    "CalendarError",
    "Case",
    "CaseNotFoundError",
    "Clock",
    "ConcurrencyError",
    "DefinitionError",
    "Diagnostic",
    "Document",
    "Engine",
    "EventOption",
    "EventRefusedError",
    "Evidence",
    "Ledger",
    "NaiveDatetimeError",
    "NoticeError",
    "NoticeRenderer",
    "OfficialCalendar",
    "Outcome",
    "Record",
    "RectifyError",
    "StoreError",
    "SweepReport",
    "SystemClock",
    "ValidationReport",
    "VerifyReport",
    "WorkflowDefinitionError",
    "WorkflowSpec",
    "__version__",
    "default_notices",
    "default_workflows",
    "load_categories",
    "load_workflow",
    "open_store",
    "validate_paths",
    "validate_workflow",
]

# Names exported here before 0.2, and where they live now. Kept for one minor version.
_MOVED = {
    "CalendarFallbackWarning": "rectify.calendar",
    "Campaign": "rectify.calendar",
    "HolidayData": "rectify.calendar",
    "Phase": "rectify.calendar",
    "ReportDue": "rectify.calendar",
    "ReportSpec": "rectify.calendar",
    "WorkingCalendar": "rectify.calendar",
    "load_campaign": "rectify.calendar",
    "load_holidays": "rectify.calendar",
    "reports_due": "rectify.calendar",
    "AfterDeadline": "rectify.definitions",
    "BeforeDeadline": "rectify.definitions",
    "Budget": "rectify.definitions",
    "CalendarDays": "rectify.definitions",
    "CampaignDate": "rectify.definitions",
    "Catalog": "rectify.definitions",
    "Category": "rectify.definitions",
    "CategoryTable": "rectify.definitions",
    "DeadlineRule": "rectify.definitions",
    "Earliest": "rectify.definitions",
    "Escalation": "rectify.definitions",
    "EventSpec": "rectify.definitions",
    "FieldDate": "rectify.definitions",
    "FixedDate": "rectify.definitions",
    "FromSeverity": "rectify.definitions",
    "Ladder": "rectify.definitions",
    "Level": "rectify.definitions",
    "Location": "rectify.definitions",
    "OnEvent": "rectify.definitions",
    "OpenFor": "rectify.definitions",
    "PayloadField": "rectify.definitions",
    "Role": "rectify.definitions",
    "Severity": "rectify.definitions",
    "SeverityLevel": "rectify.definitions",
    "StateSpec": "rectify.definitions",
    "Transition": "rectify.definitions",
    "Trigger": "rectify.definitions",
    "WorkingDays": "rectify.definitions",
    "draw_workflow": "rectify.definitions",
    "dump_workflow": "rectify.definitions",
    "CASE_NOTICE_VARIABLES": "rectify.documents",
    "Issuer": "rectify.documents",
    "LookbackResult": "rectify.documents",
    "MemoryNumberBook": "rectify.documents",
    "Notices": "rectify.documents",
    "NumberBook": "rectify.documents",
    "PHONE_ROLES": "rectify.documents",
    "REPORT_VARIABLES": "rectify.documents",
    "case_notice_context": "rectify.documents",
    "circular_context": "rectify.documents",
    "document_number": "rectify.documents",
    "en_date": "rectify.documents",
    "escalation_report_context": "rectify.documents",
    "ledger_context": "rectify.documents",
    "ledger_totals_context": "rectify.documents",
    "lookback_context": "rectify.documents",
    "mask_phone": "rectify.documents",
    "monthly_report_context": "rectify.documents",
    "report_context": "rectify.documents",
    "zh_date": "rectify.documents",
    "zh_ordinal": "rectify.documents",
    "ALWAYS_SAMPLED": "rectify.engine",
    "Action": "rectify.engine",
    "BUILTIN_GUARDS": "rectify.engine",
    "DeadlineCleared": "rectify.engine",
    "DeadlineSet": "rectify.engine",
    "Effect": "rectify.engine",
    "Escalated": "rectify.engine",
    "Guard": "rectify.engine",
    "GuardContext": "rectify.engine",
    "MigrationCheck": "rectify.engine",
    "NoticeDue": "rectify.engine",
    "Sweep": "rectify.engine",
    "change_severity": "rectify.engine",
    "due_within": "rectify.engine",
    "escalate": "rectify.engine",
    "is_overdue": "rectify.engine",
    "migrate": "rectify.engine",
    "plan_migration": "rectify.engine",
    "replay": "rectify.engine",
    "sample_lookback": "rectify.engine",
    "sweep": "rectify.engine",
    "verify_history": "rectify.engine",
    "CaseExistsError": "rectify.exceptions",
    "CaseFinalError": "rectify.exceptions",
    "DeadlineError": "rectify.exceptions",
    "EventNotAllowedError": "rectify.exceptions",
    "EvidenceMissingError": "rectify.exceptions",
    "GuardRefusedError": "rectify.exceptions",
    "HistoryError": "rectify.exceptions",
    "OutOfOrderError": "rectify.exceptions",
    "PayloadError": "rectify.exceptions",
    "ReplayError": "rectify.exceptions",
    "RoleNotPermittedError": "rectify.exceptions",
    "SchemaError": "rectify.exceptions",
    "SeparationOfDutiesError": "rectify.exceptions",
    "UnknownEventError": "rectify.exceptions",
    "DuplicateRow": "rectify.spreadsheets",
    "InferredCategory": "rectify.spreadsheets",
    "LEDGER_HEADERS": "rectify.spreadsheets",
    "LedgerImport": "rectify.spreadsheets",
    "LedgerProblem": "rectify.spreadsheets",
    "LedgerRow": "rectify.spreadsheets",
    "LedgerTotal": "rectify.spreadsheets",
    "ledger_totals": "rectify.spreadsheets",
    "read_ledger": "rectify.spreadsheets",
    "write_ledger": "rectify.spreadsheets",
    "write_ledger_totals": "rectify.spreadsheets",
}


if not _typing.TYPE_CHECKING:
    # Hidden from type checkers, so that mypy points hosts at the new places (and still
    # catches typos) while old imports keep working at run time.

    def __getattr__(name: str) -> object:
        where = _MOVED.get(name)
        if where is None:
            raise AttributeError(f"module 'rectify' has no attribute {name!r}")
        _warnings.warn(
            f"rectify.{name} is deprecated and will be removed in 0.3; "
            f"import it from {where} (from {where} import {name})",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_importlib.import_module(where), name)

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(_MOVED))
