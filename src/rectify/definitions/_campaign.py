"""Campaigns: phases with dates (deadline rules refer to them) and the reports they require."""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Collection, Iterator, Mapping
from functools import cached_property
from typing import Final

import attrs

from rectify.definitions._reader import Reader, read_definition
from rectify.definitions._yamlsource import Path, Source

__all__ = [
    "COMMUNITY_SUFFIX",
    "DEFAULT_NUMBER_FORMAT",
    "Campaign",
    "CampaignTask",
    "CaseNumbering",
    "DocumentRule",
    "Office",
    "Phase",
    "ReportDue",
    "ReportSpec",
    "Series",
    "community_short",
    "load_campaign",
    "parse_campaign",
    "reports_due",
]

_REPORT_KEYS: Final = ("title_en", "due", "monthly", "from", "to", "notice")
_TASK_KEYS: Final = ("phase", "title", "content", "units", "due")
_LAST_DAY_OF_ANY_MONTH: Final = 28  # a monthly day every month has
_OFFICE_KEYS: Final = (
    "header",
    "short",
    "contact",
    "phone",
    "signatory",
    "supervisor",
    "officials",
)
_RULE_KEYS: Final = ("series", "to", "cc", "upward", "people")
#: The placeholders an office's names and a series code may hold.
_PLACES: Final = frozenset({"community", "community_short"})
#: The placeholders of a series format and of the case-number pattern.
_NUMBER_PLACES: Final = frozenset({"code", "year", "number"})
_CASE_PLACES: Final = frozenset({"community", "community_short", "year", "seq"})
#: The widest a placeholder of a pattern may be padded ({seq:03d} pads to 3).
_WIDEST: Final = 32
#: What a community's name ends in; its short name is the rest (正街社区 → 正街).
COMMUNITY_SUFFIX: Final = "社区"
#: The format of a document number unless its series says otherwise: 虎峰镇消安〔2024〕12号.
DEFAULT_NUMBER_FORMAT: Final = "{code}〔{year}〕{number}号"


def community_short(community: str) -> str:
    """Return a community's short name: 正街社区 → 正街 (a name without 社区 stays as it is)."""
    return community.removesuffix(COMMUNITY_SUFFIX) or community


def _fill(text: str, community: str) -> str:
    """Fill ``{community}`` and ``{community_short}`` in ``text`` (checked at load time)."""
    if "{" not in text:
        return text
    return text.format(community=community, community_short=community_short(community))


@attrs.frozen
class Phase:
    """A phase of a campaign; its end date is what ``{campaign: NAME}`` deadlines give."""

    name: str
    title: str
    starts: dt.date
    ends: dt.date
    title_en: str | None = None


@attrs.frozen
class ReportSpec:
    """A report the campaign requires: once by ``due``, or every month by day ``monthly``."""

    name: str
    title: str
    sender: str
    recipient: str
    due: dt.date | None = None
    monthly: int | None = None
    notice: str | None = None
    title_en: str | None = None

    def instances(self, campaign: Campaign) -> Iterator[dt.date]:
        """Yield the due date of every instance of this report during ``campaign``."""
        if self.due is not None:
            yield self.due
            return
        if self.monthly is None:
            return
        year, month = campaign.starts.year, campaign.starts.month
        while True:
            day = dt.date(year, month, self.monthly)
            if day > campaign.ends:
                return
            if day >= campaign.starts:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)  # noqa: PLR2004


@attrs.frozen
class Office:
    """An office that issues documents: its name (the header and the signature) and people.

    ``name`` is both the 发文机关标志 at the top and the 署名 at the end, unless ``header``
    says otherwise (a header such as 虎峰镇人民政府文件). ``name``, ``header`` and ``short``
    may hold ``{community}``: such an office is each community's own (its 居民委员会).
    """

    key: str
    name: str
    header: str = ""
    short: str = ""
    contact: str = ""
    phone: str = ""
    signatory: str = ""
    supervisor: str = ""
    officials: tuple[str, ...] = ()

    @property
    def per_community(self) -> bool:
        """Return whether this is each community's office (its names hold ``{community}``)."""
        return any("{" in text for text in (self.name, self.header, self.short))

    def names(self, community: str = "") -> tuple[str, str, str]:
        """Return ``(name, header, short)`` of this office, for ``community`` if it is one's."""
        name = _fill(self.name, community)
        return name, _fill(self.header, community) or name, _fill(self.short, community) or name


@attrs.frozen
class Series:
    """A document number series: its code (机关代字) and how a number is written.

    Each series is numbered from 1 every year without gaps. ``code`` may hold
    ``{community_short}`` (a series of each community's own).
    """

    key: str
    code: str
    format: str = DEFAULT_NUMBER_FORMAT

    def code_for(self, community: str = "") -> str:
        """Return the series code, for ``community`` if it is a community's series."""
        return _fill(self.code, community)


@attrs.frozen
class DocumentRule:
    """Who issues a kind of document, in which series, to whom, and which people it names.

    ``series`` of ``None``: the documents are not numbered (reminders). ``to`` is the
    主送机关, ``cc`` the 抄送机关; ``upward`` marks a document sent up (上行文: it names its
    签发人). ``people`` are payload fields the events that queue the notice must require
    (``rectify validate`` checks it).
    """

    kind: str
    issuer: str
    series: str | None = None
    to: str = ""
    cc: tuple[str, ...] = ()
    upward: bool = False
    people: tuple[str, ...] = ()


@attrs.frozen
class CampaignTask:
    """A task of the campaign's task list (the work plan's Attachment 2).

    Each task is tracked as a case of the ``task`` workflow (its id is ``TASK-`` and the
    key): ``title`` is the 工作任务 (the stage heading), ``content`` the 具体内容, ``units``
    the 责任单位 and ``due`` the 完成时限; ``phase`` names the campaign phase it belongs to.
    """

    key: str
    phase: str
    title: str
    content: str
    units: tuple[str, ...]
    due: dt.date

    @property
    def case_id(self) -> str:
        """Return the id of the case that tracks this task: ``TASK-`` and the key."""
        return f"TASK-{self.key}"

    def data(self) -> dict[str, object]:
        """Return the case data the task's case is opened with."""
        return {
            "task": self.key,
            "phase": self.phase,
            "title": self.title,
            "content": self.content,
            "units": "、".join(self.units),
            "due": self.due,
        }


class _Seq:
    """Stands for the sequence number where a case-number pattern names its series."""

    def __format__(self, spec: str) -> str:
        return "#"


@attrs.frozen
class CaseNumbering:
    """Readable case numbers from a pattern: ``{community_short}-{year}-{seq:03d}``.

    A case's number is given when it is opened: the next ``seq`` of its series (the pattern
    filled in with everything but ``seq``: 正街-2024-#), so 正街-2024-013 is the thirteenth
    case of 正街社区 opened in 2024. The pattern was checked when the campaign was read.
    """

    pattern: str

    def _values(self, data: Mapping[str, object], day: dt.date) -> dict[str, object]:
        community = str(data.get("community") or "")
        return {
            "community": community,
            "community_short": community_short(community),
            "year": day.year,
        }

    def series(self, data: Mapping[str, object], day: dt.date) -> str:
        """Return the series a case with ``data`` opened on ``day`` is numbered in."""
        return "case:" + self.pattern.format(**self._values(data, day), seq=_Seq())

    def number(self, data: Mapping[str, object], day: dt.date, seq: int) -> str:
        """Return the number of the ``seq``-th case of that series."""
        return self.pattern.format(**self._values(data, day), seq=seq)


@attrs.frozen
class Campaign:
    """A rectification campaign: its span, phases and required reports."""

    id: str
    title: str
    organ: str
    office: str
    starts: dt.date
    ends: dt.date
    phases: tuple[Phase, ...]
    reports: tuple[ReportSpec, ...] = ()
    title_en: str | None = None
    source: str = attrs.field(default="<campaign>", eq=False, repr=False)
    offices: tuple[Office, ...] = ()
    series: tuple[Series, ...] = ()
    documents: tuple[DocumentRule, ...] = ()
    case_numbers: CaseNumbering | None = None
    tasks: tuple[CampaignTask, ...] = ()

    @cached_property
    def phase_ends(self) -> dict[str, dt.date]:
        """Return each phase's end date by phase name (what deadline rules read)."""
        return {p.name: p.ends for p in self.phases}

    def office_named(self, key: str) -> Office:
        """Return the office ``key`` (``KeyError`` if there is none)."""
        found = next((o for o in self.offices if o.key == key), None)
        if found is None:
            raise KeyError(f"no office {key!r}; offices: {', '.join(o.key for o in self.offices)}")
        return found

    def series_named(self, key: str) -> Series:
        """Return the number series ``key`` (``KeyError`` if there is none)."""
        found = next((s for s in self.series if s.key == key), None)
        if found is None:
            raise KeyError(f"no series {key!r}; series: {', '.join(s.key for s in self.series)}")
        return found

    @cached_property
    def _rules(self) -> dict[str, DocumentRule]:
        return {r.kind: r for r in self.documents}

    def rule(self, kind: str) -> DocumentRule | None:
        """Return the rule of document ``kind`` (else the ``default`` rule; ``None`` if neither)."""
        return self._rules.get(kind, self._rules.get("default"))

    def phase(self, name: str) -> Phase:
        """Return the phase called ``name`` (``KeyError`` if there is none)."""
        found = next((p for p in self.phases if p.name == name), None)
        if found is None:
            raise KeyError(f"no phase {name!r}; phases: {', '.join(self.phase_ends)}")
        return found


@attrs.frozen
class ReportDue:
    """One instance of a required report and where it stands on a given day."""

    report: str
    title: str
    due: dt.date
    status: str  # "due" (due within the look-ahead) or "late" (past due, not submitted)


def reports_due(
    campaign: Campaign,
    day: dt.date,
    *,
    submitted: Collection[tuple[str, dt.date]] = (),
    within: int = 7,
) -> tuple[ReportDue, ...]:
    """Return the reports due within ``within`` days of ``day`` and those late on ``day``.

    Args:
        campaign: The campaign.
        day: The day asked about.
        submitted: ``(report name, due date)`` of the instances already sent.
        within: How many days ahead counts as due.
    """
    out: list[ReportDue] = []
    for spec in campaign.reports:
        for due in spec.instances(campaign):
            if (spec.name, due) in submitted:
                continue
            if due < day:
                out.append(ReportDue(spec.name, spec.title, due, "late"))
            elif (due - day).days <= within:
                out.append(ReportDue(spec.name, spec.title, due, "due"))
    return tuple(sorted(out, key=lambda r: (r.due, r.report)))


def load_campaign(source: Source | None = None) -> Campaign:
    """Load a campaign file; by default the 2024 campaign shipped with rectify.

    Raises:
        WorkflowDefinitionError: The file has errors, each with its line and column.
        DefinitionError: The file cannot be read.
    """
    return read_definition(source, parse_campaign, default="campaign-2024.yaml")


def parse_campaign(reader: Reader) -> Campaign | None:
    """Build a campaign from ``reader.doc``, recording diagnostics; ``None`` when too broken."""
    top = reader.mapping(
        (),
        reader.doc.data,
        required=("campaign", "title", "organ", "office", "starts", "ends", "phases"),
        optional=(
            "title_en",
            "reports",
            "offices",
            "series",
            "documents",
            "case_numbers",
            "tasks",
        ),
        what="a campaign",
    )
    if top is None:
        return None
    cid = (
        reader.name(("campaign",), top.get("campaign"), "campaign id")
        if ("campaign" in top)
        else None
    )
    title = reader.string(("title",), top.get("title"))
    organ = reader.string(("organ",), top.get("organ"))
    office = reader.string(("office",), top.get("office"))
    starts = reader.date(("starts",), top.get("starts"))
    ends = reader.date(("ends",), top.get("ends"))
    phases = reader.entries(
        ("phases",), top.get("phases"), lambda p, n, v: _phase(reader, p, n, v), "phase name"
    )
    reports = reader.entries(
        ("reports",),
        top.get("reports", {}),
        lambda p, n, v: _report(reader, p, n, v),
        "report name",
    )
    offices = reader.entries(
        ("offices",), top.get("offices", {}), lambda p, n, v: _office(reader, p, n, v), "office"
    )
    series = reader.entries(
        ("series",), top.get("series", {}), lambda p, n, v: _series(reader, p, n, v), "series"
    )
    documents = reader.entries(
        ("documents",),
        top.get("documents", {}),
        lambda p, n, v: _rule(reader, p, n, v),
        "document kind",
    )
    _check_rules(reader, documents, offices, series)
    tasks = reader.entries(
        ("tasks",), top.get("tasks", {}), lambda p, n, v: _task(reader, p, n, v), "task"
    )
    case_numbers = None
    if "case_numbers" in top:
        pattern = reader.string(("case_numbers",), top["case_numbers"])
        if pattern is not None and _pattern(
            reader, ("case_numbers",), pattern, _CASE_PLACES, needs="seq"
        ):
            case_numbers = CaseNumbering(pattern)
            try:
                case_numbers.number({"community": "正街社区"}, starts or dt.date(2000, 1, 1), 1)
                case_numbers.series({"community": "正街社区"}, starts or dt.date(2000, 1, 1))
            except (ValueError, TypeError) as exc:
                reader.error(
                    "bad-value", f"{pattern!r} cannot number a case: {exc}", ("case_numbers",)
                )
                case_numbers = None
    if cid is None or title is None or organ is None or office is None:
        return None
    if starts is None or ends is None:
        return None
    if ends < starts:
        reader.error(
            "bad-value", f"the campaign ends ({ends}) before it starts ({starts})", ("ends",)
        )
    _check_tasks(reader, tasks, phases, starts, ends)
    for phase in phases:
        if not starts <= phase.starts <= phase.ends <= ends:
            reader.error(
                "bad-value",
                f"phase {phase.name!r} ({phase.starts} to {phase.ends}) "
                f"is not within the campaign ({starts} to {ends})",
                ("phases", phase.name),
            )
    return Campaign(
        cid,
        title,
        organ,
        office,
        starts,
        ends,
        phases,
        reports,
        reader.optional_text((), top, "title_en"),
        source=reader.doc.file,
        offices=offices,
        series=series,
        documents=documents,
        case_numbers=case_numbers,
        tasks=tasks,
    )


def _pattern(
    reader: Reader, path: Path, text: str, places: frozenset[str], *, needs: str = ""
) -> bool:
    """Check that ``text`` is a format string using only ``places`` (and ``needs``, if given)."""
    try:
        parts = [(field, spec or "") for _, field, spec, _ in string.Formatter().parse(text)]
    except ValueError as exc:
        reader.error("bad-value", f"{text!r} is not a valid pattern: {exc}", path)
        return False
    used = {field for field, _ in parts if field is not None}
    widest = max((int(n) for _, spec in parts for n in re.findall(r"\d+", spec)), default=0)
    if widest > _WIDEST:  # {seq:>999999999} would fill memory with padding
        reader.error("bad-value", f"{text!r} pads to {widest} characters; at most {_WIDEST}", path)
        return False
    names = {field.split(".")[0].split("[")[0] for field in used}
    wrong = sorted(names - places)
    if wrong or "" in names:
        shown = ", ".join(repr(w) for w in wrong) if wrong else "an empty {}"
        allowed = ", ".join("{" + p + "}" for p in sorted(places))
        reader.error("bad-value", f"{text!r} uses {shown}; it may use {allowed}", path)
        return False
    if needs and needs not in names:
        reader.error("bad-value", f"{text!r} must hold {{{needs}}}", path)
        return False
    return True


def _texts(reader: Reader, path: Path, value: object) -> tuple[str, ...] | None:
    """Read a list of non-empty texts (a single text counts as a list of one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        reader.wrong_type(path, value, "a list of texts")
        return None
    out = [reader.string((*path, i), item) for i, item in enumerate(items)]
    return None if any(o is None for o in out) else tuple(o for o in out if o is not None)


def _office(reader: Reader, path: Path, key: str, value: object) -> Office | None:
    table = reader.mapping(
        path, value, required=("name",), optional=_OFFICE_KEYS, what=f"office {key!r}"
    )
    if table is None:
        return None
    name = reader.string((*path, "name"), table.get("name"))
    # A phone written as a number is not text (its leading 0 would be lost): reported here.
    texts = {
        field: text
        for field in ("header", "short", "contact", "phone", "signatory", "supervisor")
        if (text := reader.optional_text(path, table, field)) is not None
    }
    officials = _texts(reader, (*path, "officials"), table.get("officials", []))
    if name is None:
        return None
    for field, text in {**texts, "name": name}.items():
        if field in ("name", "header", "short"):
            _pattern(reader, (*path, field), text, _PLACES)
    return Office(key, name, officials=officials or (), **texts)


def _series(reader: Reader, path: Path, key: str, value: object) -> Series | None:
    table = reader.mapping(
        path, value, required=("code",), optional=("format",), what=f"series {key!r}"
    )
    if table is None:
        return None
    code = reader.string((*path, "code"), table.get("code"))
    fmt = reader.string((*path, "format"), table.get("format", DEFAULT_NUMBER_FORMAT))
    if code is None or fmt is None:
        return None
    if not _pattern(reader, (*path, "code"), code, _PLACES):
        return None
    if not _pattern(reader, (*path, "format"), fmt, _NUMBER_PLACES, needs="number"):
        return None
    return Series(key, code, fmt)


def _rule(reader: Reader, path: Path, kind: str, value: object) -> DocumentRule | None:
    table = reader.mapping(
        path, value, required=("issuer",), optional=_RULE_KEYS, what=f"document {kind!r}"
    )
    if table is None:
        return None
    issuer = reader.name((*path, "issuer"), table.get("issuer"), "office")
    series = (
        reader.name((*path, "series"), table["series"], "series")
        if table.get("series") is not None
        else None
    )
    to = reader.string((*path, "to"), table["to"]) if "to" in table else ""
    cc = _texts(reader, (*path, "cc"), table.get("cc", []))
    upward = reader.boolean((*path, "upward"), table.get("upward", False))
    people = reader.names((*path, "people"), table.get("people", []), "payload field")
    if issuer is None or to is None or cc is None or upward is None or people is None:
        return None
    return DocumentRule(kind, issuer, series, to, cc, upward, people)


def _check_rules(
    reader: Reader,
    rules: tuple[DocumentRule, ...],
    offices: tuple[Office, ...],
    series: tuple[Series, ...],
) -> None:
    """Report document rules naming an office or series the campaign does not declare."""
    office_keys = {o.key for o in offices}
    series_keys = {s.key for s in series}
    for rule in rules:
        path: Path = ("documents", rule.kind)
        if rule.issuer not in office_keys:
            known = ", ".join(sorted(office_keys)) or "none"
            reader.error(
                "unknown-office",
                f"office {rule.issuer!r} is not declared under 'offices'; declared: {known}",
                (*path, "issuer"),
            )
        if rule.series is not None and rule.series not in series_keys:
            known = ", ".join(sorted(series_keys)) or "none"
            reader.error(
                "unknown-series",
                f"series {rule.series!r} is not declared under 'series'; declared: {known}",
                (*path, "series"),
            )


def _task(reader: Reader, path: Path, key: str, value: object) -> CampaignTask | None:
    table = reader.mapping(path, value, required=_TASK_KEYS, optional=(), what=f"task {key!r}")
    if table is None:
        return None
    phase = reader.name((*path, "phase"), table.get("phase"), "campaign phase")
    title = reader.string((*path, "title"), table.get("title"))
    content = reader.string((*path, "content"), table.get("content"))
    units = _texts(reader, (*path, "units"), table.get("units"))
    due = reader.date((*path, "due"), table.get("due"))
    if phase is None or title is None or content is None or units is None or due is None:
        return None
    return CampaignTask(key, phase, title, content, units, due)


def _check_tasks(
    reader: Reader,
    tasks: tuple[CampaignTask, ...],
    phases: tuple[Phase, ...],
    starts: dt.date,
    ends: dt.date,
) -> None:
    """Report tasks naming an undeclared phase or due outside the campaign."""
    names = {p.name for p in phases}
    for task in tasks:
        path: Path = ("tasks", task.key)
        if task.phase not in names:
            known = ", ".join(sorted(names)) or "none"
            reader.error(
                "unknown-phase",
                f"phase {task.phase!r} is not declared under 'phases'; declared: {known}",
                (*path, "phase"),
            )
        if not starts <= task.due <= ends:
            reader.error(
                "bad-value",
                f"task {task.key!r} is due {task.due}, outside the campaign ({starts} to {ends})",
                (*path, "due"),
            )
        if not task.units:
            reader.error("bad-value", f"task {task.key!r} names no unit", (*path, "units"))


def _phase(reader: Reader, path: Path, name: str, value: object) -> Phase | None:
    table = reader.mapping(
        path,
        value,
        required=("title", "starts", "ends"),
        optional=("title_en",),
        what=f"phase {name!r}",
    )
    if table is None:
        return None
    title = reader.string((*path, "title"), table.get("title"))
    starts = reader.date((*path, "starts"), table.get("starts"))
    ends = reader.date((*path, "ends"), table.get("ends"))
    if title is None or starts is None or ends is None:
        return None
    if ends < starts:
        reader.error("bad-value", f"phase {name!r} ends before it starts", (*path, "ends"))
    return Phase(name, title, starts, ends, reader.optional_text(path, table, "title_en"))


def _report(reader: Reader, path: Path, name: str, value: object) -> ReportSpec | None:
    table = reader.mapping(
        path,
        value,
        required=("title", "from", "to"),
        optional=_REPORT_KEYS,
        what=f"report {name!r}",
    )
    if table is None:
        return None
    if ("due" in table) == ("monthly" in table):
        reader.error(
            "bad-rule",
            "a report has exactly one of 'due' (a date) or 'monthly' (a day of the month)",
            path,
        )
        return None
    due = reader.date((*path, "due"), table["due"]) if "due" in table else None
    monthly = (
        reader.integer(
            (*path, "monthly"), table["monthly"], minimum=1, maximum=_LAST_DAY_OF_ANY_MONTH
        )
        if "monthly" in table
        else None
    )
    title = reader.string((*path, "title"), table.get("title"))
    sender = reader.name((*path, "from"), table.get("from"), "role name")
    recipient = reader.name((*path, "to"), table.get("to"), "role name")
    notice = (
        reader.name((*path, "notice"), table["notice"], "notice name")
        if ("notice" in table)
        else None
    )
    if title is None or sender is None or recipient is None or (due is None and monthly is None):
        return None
    return ReportSpec(
        name,
        title,
        sender,
        recipient,
        due,
        monthly,
        notice,
        reader.optional_text(path, table, "title_en"),
    )
