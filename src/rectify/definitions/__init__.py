"""Workflow definitions: the YAML they are written in, the frozen spec, and its checks.

Owns the located YAML source, the reader and parser (workflows, category tables, campaigns,
holiday files), the spec (``WorkflowSpec`` and its parts), the static checks with their
diagnostics, and the dump and diagram of a spec.

May import: ``rectify.exceptions``, ``rectify._diagnostics``, ``rectify._resources`` and
``rectify.templating`` (to check that the notices a workflow names exist).
"""

from __future__ import annotations

from rectify._diagnostics import Diagnostic, Location, Severity
from rectify.definitions._categories import Category, CategoryTable, SeverityLevel
from rectify.definitions._checks import Catalog
from rectify.definitions._diagram import draw_workflow
from rectify.definitions._dump import dump_workflow
from rectify.definitions._load import (
    ValidationReport,
    load_categories,
    load_workflow,
    validate_paths,
    validate_workflow,
)
from rectify.definitions._spec import (
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

__all__ = [
    "AfterDeadline",
    "BeforeDeadline",
    "Budget",
    "CalendarDays",
    "CampaignDate",
    "Catalog",
    "Category",
    "CategoryTable",
    "DeadlineRule",
    "Diagnostic",
    "Earliest",
    "Escalation",
    "EventSpec",
    "FieldDate",
    "FixedDate",
    "FromSeverity",
    "Ladder",
    "Level",
    "Location",
    "OnEvent",
    "OpenFor",
    "PayloadField",
    "Role",
    "Severity",
    "SeverityLevel",
    "StateSpec",
    "Transition",
    "Trigger",
    "ValidationReport",
    "WorkflowSpec",
    "WorkingDays",
    "draw_workflow",
    "dump_workflow",
    "load_categories",
    "load_workflow",
    "validate_paths",
    "validate_workflow",
]
