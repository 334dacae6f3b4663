"""What each notice is rendered with: contexts built from cases, purely.

A case notice (rectification slip, reminder, overdue warning, supervision order, interview
notice, escalation report) gets :data:`CASE_NOTICE_VARIABLES`; reports get theirs from
``_reports``. Contexts hold plain values (text, numbers, dates, lists, mappings), so their
canonical encoding, and with it the document's ``context_sha256``, is stable.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from rectify.calendar._deadlines import WorkingCalendar
from rectify.definitions._campaign import DEFAULT_NUMBER_FORMAT, Campaign
from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import CASE_NOTICE_VARIABLES, WorkflowSpec
from rectify.engine._case import Case, NoticeDue, Record
from rectify.engine._engine import OPEN, local_date
from rectify.templating._formatting import mask_values

__all__ = [
    "CASE_NOTICE_VARIABLES",
    "CASE_NUMBER",
    "COMMUNITY_RULE",
    "PHONE_ROLES",
    "RECURRENCE_OF_NUMBER",
    "Issuer",
    "case_notice_context",
    "case_number",
    "check_notice_context",
    "filing_view",
    "hazard_view",
    "issuer_for",
    "names_in",
    "people_view",
    "private_view",
    "reader_view",
    "recurrence_number",
]

#: Roles that may read phone numbers unmasked (the rest see 152****3801).
PHONE_ROLES: Final = frozenset(
    {"grid_worker", "building_head", "community", "town_office", "police", "fire_station"}
)

#: The case data field that holds the readable case number (正街-2024-013).
CASE_NUMBER: Final = "case_number"
#: The case data field of a relapse that holds the number of the case it repeats.
RECURRENCE_OF_NUMBER: Final = "recurrence_of_number"

#: The ledger fields of a hazard (Attachment 1) and the case fields that describe it.
_HAZARD_FIELDS: Final = (
    "town",
    "community",
    "community_name",
    "address",
    "building",
    "floors",
    "height",
    "building_head",
    "phone",
    "category",
    "severity",
    "description",
    "location",
    "responsible_party",
    "measures",
    "due",
)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Issuer:
    """Who issues a document: one office's name, header and people, and its number series.

    ``name`` is the office as the document signs it (署名) and names it in the text;
    ``header`` the red 发文机关标志 at the top (the name unless it says otherwise), so a
    document's header and signature always come from one office. ``code`` is the number
    series (机关代字): 虎峰镇消安〔2024〕12号; a document whose issuer has no ``code`` is not
    numbered. ``signatory`` is the 签发人 of documents sent up, ``supervisor`` the official
    who supervises a case, ``officials`` those who attend an interview.

    Build one from a campaign's ``offices``, ``series`` and ``documents`` with
    :func:`issuer_for`, or directly for a host without a campaign file.
    """

    name: str
    header: str = attrs.field(default="", kw_only=True)
    code: str = attrs.field(default="", kw_only=True)
    short: str = attrs.field(default="", kw_only=True)
    contact: str = attrs.field(default="", kw_only=True)
    phone: str = attrs.field(default="", kw_only=True)
    signatory: str = attrs.field(default="", kw_only=True)
    supervisor: str = attrs.field(default="", kw_only=True)
    officials: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=_names)
    number_format: str = attrs.field(default=DEFAULT_NUMBER_FORMAT, kw_only=True)

    def number(self, year: int, sequence: int) -> str:
        """Return the document number for ``sequence`` of ``year`` (``""`` if not numbered)."""
        if not self.code:
            return ""
        return self.number_format.format(code=self.code, year=year, number=sequence)

    def view(self) -> dict[str, object]:
        """Return what a template knows of the issuer.

        ``organ`` (the header) and ``office`` (the name) are kept for templates written
        before issuers were one office each.
        """
        out = attrs.asdict(self)
        out["header"] = self.header or self.name
        out["short"] = self.short or self.name
        out["officials"] = list(self.officials)
        out["organ"] = out["header"]
        out["office"] = self.name
        return out


#: What a rule of a community's own copy of a document kind is called: ``community_`` and the
#: kind (``community_rectification_plan``: a community's plan; ``rectification_plan``: the
#: town's annual plan).
COMMUNITY_RULE: Final = "community_{kind}"


def issuer_for(campaign: Campaign, kind: str, community: str = "") -> Issuer | None:
    """Return the issuer of document ``kind`` under ``campaign``'s ``documents`` rules.

    A community's office (its names hold ``{community}``) and a community's series issue
    for ``community``. A kind that a community issues for itself while the town issues it
    for the whole town (a rectification plan) has a second rule, ``community_<kind>``
    (:data:`COMMUNITY_RULE`): it decides when ``community`` is given, the kind's own rule
    when not. ``None`` when the campaign declares no rule for ``kind`` and no ``default``
    rule.

    Raises:
        ValueError: The rule's office is a community's and no ``community`` is given.
    """
    own = COMMUNITY_RULE.format(kind=kind)
    if community and any(r.kind == own for r in campaign.documents):
        kind = own
    rule = campaign.rule(kind)
    if rule is None:
        return None
    office = campaign.office_named(rule.issuer)
    if office.per_community and not community:
        raise ValueError(f"{kind!r} is issued by each community's office; name the community")
    name, header, short = office.names(community)
    series = campaign.series_named(rule.series) if rule.series else None
    return Issuer(
        name,
        header=header,
        code=series.code_for(community) if series else "",
        short=short,
        contact=office.contact,
        phone=office.phone,
        signatory=office.signatory,
        supervisor=office.supervisor,
        officials=office.officials,
        number_format=series.format if series else DEFAULT_NUMBER_FORMAT,
    )


def filing_view(campaign: Campaign | None, kind: str, issuer: Issuer) -> dict[str, object]:
    """Return where document ``kind`` goes: 主送 ``to``, 抄送 ``cc``, ``upward`` (上行文).

    ``printed_by`` is the 印发机关 of the 版记 (the issuer). Without a campaign rule the
    document has no addressee office and no copies.
    """
    rule = campaign.rule(kind) if campaign is not None else None
    return {
        "to": rule.to if rule else "",
        "cc": list(rule.cc) if rule else [],
        "upward": rule.upward if rule else False,
        "printed_by": issuer.name,
    }


def reader_view(role: str | None) -> dict[str, object]:
    """Return what a template knows of its reader (whether phones are shown)."""
    return {"role": role or "public", "may_see_phones": role in PHONE_ROLES}


def private_view(view: Mapping[str, object], reader_role: str | None) -> dict[str, object]:
    """Return ``view`` with the numbers in its text masked unless the reader may see them.

    Every string in the view, nested ones too (an event's payload), goes through
    ``mask_phone``: phone and ID-card numbers in any writing are masked, other text is
    kept. This is the one place where what a case holds is hidden from a reader whose
    role is not in :data:`PHONE_ROLES`; contexts pass their case-derived parts through it,
    so that no template (a host's included) can print a number from them.
    """
    if reader_role in PHONE_ROLES:
        return dict(view)
    return {key: mask_values(value) for key, value in view.items()}


def hazard_view(
    case: Case, categories: CategoryTable | None, *, reader_role: str | None = None
) -> dict[str, object]:
    """Return the hazard's ledger fields, with category and severity titles and legal basis.

    The titles come in Chinese (``category_title``, ``severity_title``) and in English
    (``category_title_en``, ``severity_title_en``: the table's ``title_en``, else the
    Chinese title); all are ``""`` when the table does not know the code or name.

    Phone and ID-card numbers in the fields are masked unless ``reader_role`` may see them
    (:func:`private_view`).
    """
    out: dict[str, object] = {key: case.data.get(key, "") for key in _HAZARD_FIELDS}
    out.update({k: v for k, v in case.data.items() if k not in out})
    code = str(case.data.get("category", ""))
    severity = str(case.data.get("severity", ""))
    out["category_title"] = out["severity_title"] = out["legal_basis"] = ""
    out["category_title_en"] = out["severity_title_en"] = ""
    if categories is not None:
        if code in categories.codes:
            category = categories.category(code)
            out["category_title"] = category.title
            out["category_title_en"] = category.title_en or category.title
            out["legal_basis"] = category.basis
        if severity in categories.severity_names:
            level = categories.severity(severity)
            out["severity_title"] = level.title
            out["severity_title_en"] = level.title_en or level.title
    return private_view(out, reader_role)


def case_number(case: Case) -> str:
    """Return the number a case is shown by: its readable ``case_number``, else its id."""
    return _number_in(case, CASE_NUMBER, case.id)


def recurrence_number(case: Case) -> str | None:
    """Return the number of the case ``case`` repeats (its id if it was not numbered)."""
    if case.recurrence_of is None:
        return None
    return _number_in(case, RECURRENCE_OF_NUMBER, case.recurrence_of)


def _number_in(case: Case, field: str, otherwise: str) -> str:
    number = case.data.get(field)
    return number if isinstance(number, str) and number else otherwise


def names_in(value: object) -> list[str]:
    """Return the people named in ``value``: a list, or text such as 王明、李娟 or 王明,李娟."""
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    if not isinstance(value, str):
        return []
    return [part for part in re.split(r"[、,，;；/\s]+", value) if part]


def people_view(case: Case, issuer: Issuer, reader_role: str | None) -> dict[str, object]:
    """Return the people a notice names: inspectors, witness, addressee and the office's.

    The inspectors and the witness are those the events recorded on the case (``inspectors``
    and ``witness`` in its data, from the assignment's payload); the addressee is the
    responsible party (a person's or a company's name); the supervisor, contact and
    interview officials are the issuing office's. Numbers in what the case holds are masked
    like the rest of the case for a reader who may not see them.
    """
    view: dict[str, object] = {
        "inspectors": names_in(case.data.get("inspectors")),
        "witness": str(case.data.get("witness") or ""),
        "addressee": str(case.data.get("responsible_party") or ""),
        "supervisor": issuer.supervisor,
        "contact": issuer.contact,
        "officials": list(issuer.officials),
    }
    return private_view(view, reader_role)


def _case_view(case: Case, spec: WorkflowSpec, today: dt.date) -> dict[str, object]:
    state = spec.state(case.state) if spec.has_state(case.state) else None
    overdue = (today - case.deadline).days if case.deadline and today > case.deadline else 0
    return {
        "id": case.id,
        "number": case_number(case),
        "workflow": spec.id,
        "workflow_title": spec.title,
        "workflow_title_en": spec.title_en or spec.title,
        "state": case.state,
        "state_title": state.title if state else case.state,
        "state_title_en": (state.title_en or state.title) if state else case.state,
        "final": case.final,
        "deadline": case.deadline,
        "overdue_days": overdue,
        "escalation": case.escalation,
        "opened_on": local_date(case.opened_at),
        "recurrence_of": case.recurrence_of,
        "recurrence_count": case.recurrence_count,
        "duplicate_of": case.duplicate_of,
        "extensions": case.extensions,
        "paused_days": case.paused_days,
    }


#: The titles (Chinese, English) of the records the engine writes itself.
_ENGINE_EVENTS: Final[Mapping[str, tuple[str, str]]] = {
    "@open": ("登记", "Opened"),
    "@escalate": ("升级督办", "Escalated"),
}


def _event_view(record: Record, spec: WorkflowSpec, reader_role: str | None) -> dict[str, object]:
    event = spec.event(record.event) if spec.has_event(record.event) else None
    title = event.title if event else ""
    title_en = (event.title_en or event.title) if event else ""
    engine_title, engine_title_en = _ENGINE_EVENTS.get(record.event, ("", ""))
    roles = {r.name: r.title for r in spec.roles}
    view: dict[str, object] = {
        "name": record.event,
        "title": title or engine_title,
        "title_en": title_en or engine_title_en,
        "at": record.at,
        "on": local_date(record.at),
        "actor": record.actor,
        "role": record.role,
        "role_title": roles.get(record.role, record.role),
        "reason": record.reason or "",
        "payload": dict(record.payload) if record.event != OPEN else {},
    }
    return private_view(view, reader_role)


def case_notice_context(
    effect: NoticeDue,
    case: Case,
    spec: WorkflowSpec,
    *,
    issuer: Issuer,
    sequence: int,
    issued_on: dt.date,
    categories: CategoryTable | None = None,
    calendar: WorkingCalendar | None = None,
    reader_role: str | None = None,
    recheck_working_days: int = 3,
    reply_working_days: int = 5,
    filing: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Return the context of a case notice (the variables in :data:`CASE_NOTICE_VARIABLES`).

    Args:
        effect: The notice effect the engine or a sweep produced.
        case: The case as it was right after that effect (its record is ``effect.seq``).
        spec: The case's workflow.
        issuer: Who issues the notice.
        sequence: The document's sequence number for ``issued_on``'s year (from a store's
            number book, never reused).
        issued_on: The date of issue.
        categories: The category table (titles, legal basis).
        calendar: Used for the planned re-check date; without it the deadline is used.
        reader_role: Who reads it; phone and ID-card numbers in the hazard and the event
            (their text and payload) are masked unless the role may see them.
        recheck_working_days: Re-inspection falls within this many working days after the
            deadline (3 under 公安部令第120号).
        reply_working_days: A supervision order asks for a written report within this many
            working days of issue (``notice.reply_by``; a week of calendar days without a
            calendar).
        filing: Where the notice goes (:func:`filing_view`); none by default.
    """
    record = case.history[effect.seq] if 0 <= effect.seq < len(case.history) else case.history[-1]
    roles = {r.name: r.title or r.name for r in spec.roles}
    level = None
    if effect.level is not None and spec.escalation is not None:
        for ladder in spec.escalation.ladders:
            level = next((lv for lv in ladder.levels if lv.level == effect.level), level)
    # The re-check follows the rectification deadline (the ``due`` the party was given),
    # not the deadline of the state the case is in: right after ``assign`` that one is
    # the few working days the party has to submit a plan.
    due = case.data.get("due")
    rectify_by = due if isinstance(due, dt.date) else case.deadline
    recheck = rectify_by
    if rectify_by is not None and calendar is not None:
        recheck = calendar.add_working_days(rectify_by, recheck_working_days)
    if calendar is not None:
        reply_by = calendar.add_working_days(issued_on, reply_working_days)
    else:
        reply_by = issued_on + dt.timedelta(days=7)
    return {
        "notice": {
            "name": effect.notice,
            "level": effect.level,
            "level_title": level.title if level else "",
            "level_title_en": (level.title_en or level.title) if level else "",
            "recipients": [roles.get(r, r) for r in effect.to],
            "reply_by": reply_by,
        },
        "number": issuer.number(issued_on.year, sequence),
        "issued_on": issued_on,
        "issuer": issuer.view(),
        "filing": dict(filing) if filing is not None else filing_view(None, "", issuer),
        "people": people_view(case, issuer, reader_role),
        "case": _case_view(case, spec, issued_on),
        "hazard": hazard_view(case, categories, reader_role=reader_role),
        "event": _event_view(record, spec, reader_role),
        "recheck_on": recheck,
        "reader": reader_view(reader_role),
    }


#: Stands in for the issuer when a notice is worked out only to see whether it can be.
_NO_ISSUER = Issuer("")


def check_notice_context(
    effect: NoticeDue,
    case: Case,
    spec: WorkflowSpec,
    *,
    issued_on: dt.date,
    calendar: WorkingCalendar | None,
    categories: CategoryTable | None = None,
) -> None:
    """Work out a notice's context without an issuer or a number, raising what that would.

    Done before a notice is queued (so that one whose dates cannot be computed, in a year no
    calendar covers, is refused with nothing stored) and before a number is taken for it (so
    that a failing notice leaves no gap in the numbers a town files).

    Raises:
        CalendarError: A date of the notice needs a year no calendar source covers.
    """
    case_notice_context(
        effect,
        case,
        spec,
        issuer=_NO_ISSUER,
        sequence=0,
        issued_on=issued_on,
        categories=categories,
        calendar=calendar,
    )
