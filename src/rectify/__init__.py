"""rectify: fire-hazard rectification cases as YAML-defined state machines.

Load a workflow, check it, draw it::

    import rectify

    spec = rectify.load_workflow("workflows/hazard.yaml")
    print(rectify.draw_workflow(spec, "mermaid"))
"""

from __future__ import annotations

from importlib import metadata as _metadata

from rectify._categories import Category, CategoryTable, SeverityLevel
from rectify._checks import Catalog
from rectify._diagnostics import Diagnostic, Location, Severity
from rectify._diagram import draw_workflow
from rectify._dump import dump_workflow
from rectify._load import (
    ValidationReport,
    load_categories,
    load_workflow,
    validate_paths,
    validate_workflow,
)
from rectify._resources import default_notices, default_workflows
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
from rectify.exceptions import DefinitionError, RectifyError, WorkflowDefinitionError

try:
    __version__ = _metadata.version("rectify")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0+unknown"

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
    "DefinitionError",
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
    "RectifyError",
    "Role",
    "Severity",
    "SeverityLevel",
    "StateSpec",
    "Transition",
    "Trigger",
    "ValidationReport",
    "WorkflowDefinitionError",
    "WorkflowSpec",
    "WorkingDays",
    "__version__",
    "default_notices",
    "default_workflows",
    "draw_workflow",
    "dump_workflow",
    "load_categories",
    "load_workflow",
    "validate_paths",
    "validate_workflow",
]
