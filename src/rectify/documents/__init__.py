"""Documents: what each notice and report says, how it is numbered, and how it is rendered.

Owns the contexts of case notices (slips, reminders, warnings, supervision orders) and of
reports (monthly report, circular, ledger, totals, look-back, escalation list, and the
campaign's survey coverage, estate register, task status and rectification plans, with the
rows of their tables), the number book, and the ``Notices`` publisher that turns due
notices into numbered documents. The rendering itself (``NoticeRenderer``, filters such as
``mask_phone``) lives in ``rectify.templating`` and is exported here, with ``docx_copy``,
the Word copy of a rendered HTML document (``rectify[docx]``).

May import: ``rectify.engine``, ``rectify.calendar``, ``rectify.definitions``,
``rectify.templating`` and the foundation. Never a store: callers pass the cases in.
"""

from __future__ import annotations

from rectify.documents._campaign_reports import (
    lookback_results,
    lookback_seed,
    plan_rows,
    rectification_plan_context,
    task_rows,
    task_status_context,
)
from rectify.documents._contexts import (
    CASE_NOTICE_VARIABLES,
    CASE_NUMBER,
    PHONE_ROLES,
    Issuer,
    case_notice_context,
    case_number,
    filing_view,
    issuer_for,
)
from rectify.documents._publishing import (
    DocumentRegister,
    MemoryNumberBook,
    Notices,
    NumberBook,
    notice_identity,
    report_identity,
)
from rectify.documents._register_reports import (
    coverage_rows,
    estate_register_context,
    register_rows,
    survey_coverage_context,
    unsurveyed_rows,
)
from rectify.documents._reports import (
    REPORT_DAY,
    REPORT_VARIABLES,
    STATUSES,
    TRANSFERRED_FROM,
    Facts,
    LookbackResult,
    Totals,
    circular_context,
    count,
    escalation_report_context,
    hazard_facts,
    ledger_context,
    ledger_totals_context,
    lookback_context,
    lookback_rows,
    monthly_report_context,
    places_by_community,
    report_context,
    report_period,
)
from rectify.templating._docx import docx_available, docx_copy
from rectify.templating._formatting import (
    document_number,
    en_date,
    mask_groups,
    mask_phone,
    zh_date,
    zh_ordinal,
)
from rectify.templating._renderer import Document, NoticeRenderer, TemplateProblem

__all__ = [
    "CASE_NOTICE_VARIABLES",
    "CASE_NUMBER",
    "PHONE_ROLES",
    "REPORT_DAY",
    "REPORT_VARIABLES",
    "STATUSES",
    "TRANSFERRED_FROM",
    "Document",
    "DocumentRegister",
    "Facts",
    "Issuer",
    "LookbackResult",
    "MemoryNumberBook",
    "NoticeRenderer",
    "Notices",
    "NumberBook",
    "TemplateProblem",
    "Totals",
    "case_notice_context",
    "case_number",
    "circular_context",
    "count",
    "coverage_rows",
    "document_number",
    "docx_available",
    "docx_copy",
    "en_date",
    "escalation_report_context",
    "estate_register_context",
    "filing_view",
    "hazard_facts",
    "issuer_for",
    "ledger_context",
    "ledger_totals_context",
    "lookback_context",
    "lookback_results",
    "lookback_rows",
    "lookback_seed",
    "mask_groups",
    "mask_phone",
    "monthly_report_context",
    "notice_identity",
    "places_by_community",
    "plan_rows",
    "rectification_plan_context",
    "register_rows",
    "report_context",
    "report_identity",
    "report_period",
    "survey_coverage_context",
    "task_rows",
    "task_status_context",
    "unsurveyed_rows",
    "zh_date",
    "zh_ordinal",
]
