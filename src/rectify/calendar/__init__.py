"""Time: the official working-day calendar, deadline arithmetic and the campaign's dates.

Owns ``OfficialCalendar`` (chinese-calendar plus a host's holiday files), the
``WorkingCalendar`` protocol every calendar meets, how a deadline rule becomes a date, and
the campaign (phases, reporting dates, and the offices, number series and document rules
its documents go out under) as a host reads it.

May import: ``rectify.definitions`` and the foundation (``rectify.exceptions``,
``rectify._diagnostics``, ``rectify._resources``).
"""

from __future__ import annotations

from rectify.calendar._calendar import CalendarFallbackWarning, OfficialCalendar
from rectify.calendar._deadlines import WorkingCalendar
from rectify.definitions._campaign import (
    Campaign,
    CampaignTask,
    CaseNumbering,
    DocumentRule,
    Office,
    Phase,
    ReportDue,
    ReportSpec,
    Series,
    community_short,
    load_campaign,
    reports_due,
)
from rectify.definitions._holidays import HolidayData, load_holidays

__all__ = [
    "CalendarFallbackWarning",
    "Campaign",
    "CampaignTask",
    "CaseNumbering",
    "DocumentRule",
    "HolidayData",
    "Office",
    "OfficialCalendar",
    "Phase",
    "ReportDue",
    "ReportSpec",
    "Series",
    "WorkingCalendar",
    "community_short",
    "load_campaign",
    "load_holidays",
    "reports_due",
]
