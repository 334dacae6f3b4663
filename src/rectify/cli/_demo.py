"""The campaign demo: the town's 2024 campaign simulated on a fresh SQLite file.

It imports the sample ledger, works the cases day by day with seeded randomness (most fixed
on time, some late, some failing re-inspection, on-the-spot refusals referred to the police,
one suspected major hazard, a look-back that finds a relapse), sweeps every evening, renders
every notice, the monthly reports on the 22nd and the circulars, and writes an index.html.
The same seed gives the same documents.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

import attrs

from rectify.calendar._deadlines import due_date
from rectify.cli._dashboard import Filed, Table, dashboard
from rectify.cli._demo_campaign import CampaignWork
from rectify.cli._export import write_export
from rectify.cli._files import safe_child
from rectify.definitions._campaign import Campaign, load_campaign
from rectify.definitions._categories import CategoryTable
from rectify.definitions._load import load_categories
from rectify.definitions._spec import WorkflowSpec
from rectify.documents._campaign_reports import task_rows
from rectify.documents._contexts import CASE_NUMBER
from rectify.documents._publishing import Notices, notice_identity, report_identity
from rectify.documents._register_reports import coverage_rows
from rectify.documents._reports import (
    PERIODIC_REPORTS,
    REPORT_DAY,
    TRANSFERRED_FROM,
    report_context,
)
from rectify.engine._case import Actor, Case, Evidence, NoticeDue
from rectify.engine._engine import TIMEZONE, local_date
from rectify.ledger import Ledger, digest_heads, heads_as_of
from rectify.stores._sql import SQLStore
from rectify.templating._docx import docx_available, docx_copy
from rectify.templating._formatting import display_width, pad
from rectify.templating._renderer import Document

__all__ = ["DemoResult", "SimulatedClock", "run_demo", "standard_report"]

#: Community staff who inspect and sign (fictitious names); each community has two.
_STAFF: Final = ("王芳", "李强", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴婷")
_LOOKBACK_DAY: Final = dt.date(2024, 11, 15)
_TOTALS_DAY: Final = dt.date(2024, 4, 5)
_REPORT_DAY: Final = 22


@attrs.define
class SimulatedClock:
    """A clock the simulation moves forward."""

    current: dt.datetime

    def now(self) -> dt.datetime:
        """Return the simulated now."""
        return self.current


@attrs.frozen
class DemoResult:
    """What the demo produced."""

    out: Path
    database: Path
    cases: int
    fires: int
    documents: int
    timings: Mapping[str, float]
    summary: tuple[str, ...]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), TIMEZONE)


def _evidence(kind: str, case_id: str, day: dt.date) -> Evidence:
    return Evidence.of(
        kind, f"{case_id}-{kind}-{day.isoformat()}.jpg", f"{case_id}/{kind}/{day}".encode()
    )


@attrs.define
class _Plan:
    """A case's fate in the simulation."""

    profile: str  # prompt, late, failing, refuser, major
    failed: bool = False


class _Simulation:
    def __init__(
        self,
        out: Path,
        *,
        ledger: Ledger,
        notices: Notices,
        campaign: Campaign,
        categories: CategoryTable,
        seed: int,
        clock: SimulatedClock,
        register: Sequence[tuple[str, str, Mapping[str, object]]] = (),
        earlier: Sequence[tuple[str, str, Mapping[str, object]]] = (),
        hazards: Sequence[tuple[str, str, Mapping[str, object]]] = (),
        scale: int = 1,
    ) -> None:
        self.out = out
        self.ledger = ledger
        self.notices = notices
        self.campaign = campaign
        self.categories = categories
        self.rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
        self.clock = clock
        self.agenda: dict[dt.date, list[str]] = defaultdict(list)
        self.summons: dict[dt.date, list[str]] = defaultdict(list)  # interviews (约谈) due
        self.plans: dict[str, _Plan] = {}
        self.fires = 0
        self.documents: list[Filed] = []
        # What it takes to render each document again (docs/notices.md, section 8).
        self.manifest: list[dict[str, object]] = []
        self.timings: defaultdict[str, float] = defaultdict(float)
        # A scale run measures the store: its case notices get HTML and text, not the Word
        # copy, which costs more than the rest of a notice (the reports keep theirs).
        self.word_notices = scale == 1
        self.specs = [e.spec for e in ledger.engines]
        self.severities = {level.name: level.period for level in categories.severities}
        self.work = CampaignWork(
            self, register=register, earlier=earlier, hazards=hazards, scale=scale
        )

    # -- people ------------------------------------------------------------------------

    def staff(self, case: Case) -> tuple[str, str]:
        """Return the two community staff who inspect ``case``'s community (the same each time)."""
        community = str(case.data.get("community", ""))
        first = sum(map(ord, community)) % len(_STAFF)
        return _STAFF[first], _STAFF[(first + 1) % len(_STAFF)]

    def actor(self, role: str, case: Case) -> Actor:
        community = str(case.data.get("community", "镇"))
        names = {
            "grid_worker": f"{community}网格员",
            "community": f"{community}{self.staff(case)[0]}",
            "property": f"{case.data.get('community_name', '')}物业",
            "responsible_party": str(case.data.get("responsible_party") or "责任人"),
            "town_office": "镇消安办",
            "police": "虎峰派出所",
            "fire_station": "铜梁消防救援站",
            "government": "虎峰镇人民政府",
            "building_head": "楼栋长",
        }
        return Actor(names.get(role, role), role)

    # -- the day's work -----------------------------------------------------------------

    def schedule(self, case_id: str, day: dt.date) -> None:
        self.agenda[day].append(case_id)

    def fire(
        self,
        case: Case,
        event: str,
        role: str,
        day: dt.date,
        *,
        payload: Mapping[str, object] | None = None,
        evidence: tuple[str, ...] = (),
        reason: str | None = None,
        actor: Actor | None = None,
    ) -> Case:
        started = time.perf_counter()
        # Minutes spread the day's events; a case's second event that day (a refusal then
        # its referral) must not fall before its first when the minute wraps round.
        at = max(_at(day, 10, self.fires % 60), case.updated_at.astimezone(TIMEZONE))
        outcome = self.ledger.fire(
            case.id,
            event,
            actor or self.actor(role, case),
            at=at,
            payload=payload,
            evidence=[_evidence(k, case.id, day) for k in evidence],
            reason=reason,
        )
        self.timings["fires"] += time.perf_counter() - started
        self.fires += 1
        return outcome.case

    def default_due(self, case: Case, day: dt.date) -> dt.date:
        due = case.data.get("due")
        if isinstance(due, dt.date):
            return max(due, day)
        severity = str(case.data.get("severity", "general"))
        rule = self.severities.get(severity, self.severities.get("general"))
        if rule is None:
            return day + dt.timedelta(days=30)
        return max(
            day,
            due_date(
                rule,
                day,
                case.data,
                calendar=self.ledger.engine("hazard").calendar,
                phases=self.campaign.phase_ends,
                severities=self.severities,
            ),
        )

    def step(self, case_id: str, day: dt.date) -> None:
        case = self.ledger.get(case_id)
        if case.final:
            return
        plan = self.plans[case_id]
        move = {"hazard": self.hazard, "immediate": self.immediate, "major": self.major}
        nxt = move[case.workflow](case, plan, day)
        if nxt is not None:
            self.schedule(case_id, nxt)

    def hazard(self, case: Case, plan: _Plan, day: dt.date) -> dt.date | None:
        rng = self.rng
        if case.state == "discovered":
            if plan.profile == "major":
                self.fire(
                    case,
                    "refer_major",
                    "town_office",
                    day,
                    reason="住宅内设置生产经营场所，涉嫌构成重大火灾隐患，移交判定",
                )
                self.open_major(case, day)
                return None
            category = self.categories.category(str(case.data.get("category")))
            self.fire(
                case,
                "assign",
                "community",
                day,
                payload={
                    "responsible_party": case.data.get("responsible_party")
                    or _party_name(case, category.party),
                    "measures": case.data.get("measures")
                    or f"按照国家消防技术标准整改：{category.title}",
                    "due": self.default_due(case, day),
                    # 120号令: two inspectors by name, and the building head as witness.
                    "inspectors": "、".join(self.staff(case)),
                    **_witness(case),
                },
            )
            return day + dt.timedelta(days=rng.randint(1, 3))
        if case.state == "assigned":
            due = case.data.get("due")
            self.fire(
                case,
                "plan",
                "property",
                day,
                evidence=("plan_document",),
                payload={"measures": str(case.data.get("measures")), "due": due},
            )
            assert isinstance(due, dt.date)  # noqa: S101 - assign set it
            if plan.profile == "late":
                return due + dt.timedelta(days=rng.randint(3, 45))
            span = max((due - day).days, 1)
            return day + dt.timedelta(days=rng.randint(1, span))
        if case.state == "planned":
            self.fire(
                case,
                "report_fixed",
                "property",
                day,
                evidence=("photo_after",),
                payload={"summary": "已按整改措施完成整改"},
            )
            return day + dt.timedelta(days=rng.randint(1, 3))
        if case.state == "fixed":
            if plan.profile == "failing" and not plan.failed:
                plan.failed = True
                self.fire(
                    case,
                    "fail_verification",
                    "community",
                    day,
                    evidence=("inspection_record",),
                    payload={"findings": "复查发现整改不到位，仍存在隐患"},
                )
                return day + dt.timedelta(days=rng.randint(5, 12))
            self.fire(case, "verify", "community", day, evidence=("inspection_record",))
            return day + dt.timedelta(days=1)
        if case.state == "verified":
            self.fire(case, "close", "community", day)
        return None

    def immediate(self, case: Case, plan: _Plan, day: dt.date) -> dt.date | None:
        if case.state == "found":
            if plan.profile != "refuser":
                self.fire(
                    case,
                    "correct_on_spot",
                    "grid_worker",
                    day,
                    evidence=("photo_before", "photo_after"),
                )
                return day + dt.timedelta(days=1)
            self.fire(
                case,
                "refuse",
                "grid_worker",
                day,
                evidence=("photo_before", "refusal_record"),
                payload={"refusal": "当事人拒不改正，经劝阻无效"},
            )
            return day
        if case.state == "corrected":
            self.fire(case, "close", "grid_worker", day)
        elif case.state == "refused":
            self.fire(case, "refer", "community", day, payload={"agency": "police"})
            return day + dt.timedelta(days=1)
        elif case.state == "referred":
            self.fire(
                case,
                "record_order",
                "police",
                day,
                evidence=("order_document",),
                payload={
                    "organ": "铜梁区公安局虎峰派出所",
                    "document_number": f"虎峰派〔2024〕{self.fires}号",
                    "order_kind": "deadline_correction",
                    "due": day + dt.timedelta(days=5),
                },
            )
            return day + dt.timedelta(days=self.rng.randint(2, 9))
        elif case.state == "ordered":
            self.fire(case, "comply", "responsible_party", day, evidence=("photo_after",))
            return day + dt.timedelta(days=1)
        elif case.state == "complied":
            self.fire(case, "verify", "police", day)
        return None

    def major(self, case: Case, plan: _Plan, day: dt.date) -> dt.date | None:
        steps: dict[str, tuple[str, str, dict[str, object], tuple[str, ...], int]] = {
            "suspected": (
                "determine",
                "fire_station",
                {"panel_size": 5, "votes_for": 4, "standard": "GB35181-2017"},
                ("determination_record",),
                2,
            ),
            "determined": (
                "list",
                "government",
                {"due": day + dt.timedelta(days=60), "supervisor": "镇人民政府分管领导"},
                ("listing_order",),
                50,
            ),
            "listed": (
                "report_fixed",
                "responsible_party",
                {"summary": "已搬离生产经营设备"},
                ("photo_after",),
                2,
            ),
            "rectified": ("reinspect", "fire_station", {}, ("inspection_record",), 3),
            "reinspected": ("close_case", "town_office", {}, (), 5),
            "case_closed": ("delist", "government", {}, (), 0),
        }
        event, role, payload, evidence, delay = steps[case.state]
        self.fire(case, event, role, day, payload=payload or None, evidence=evidence)
        return day + dt.timedelta(days=delay) if case.state != "case_closed" else None

    def open_major(self, case: Case, day: dt.date) -> None:
        major_id = f"MJ-{case.id}"
        data = {**case.data, TRANSFERRED_FROM: case.id}  # one hazard, followed on in MJ-
        self.ledger.open(major_id, "major", data, self.actor("fire_station", case), at=_at(day, 11))
        self.plans[major_id] = _Plan("major")
        self.schedule(major_id, day + dt.timedelta(days=5))

    def interview(self, day: dt.date) -> None:
        """Summon the parties of the cases due an interview today (约谈, after 督办)."""
        calendar = self.ledger.engine("hazard").calendar
        for case_id in self.summons.pop(day, []):
            case = self.ledger.get(case_id)
            summon = self.ledger.engine(case.workflow, case.version).spec.event("summon")
            if case.final or case.state not in summon.sources:
                continue  # reported fixed (or complied) in the meantime: no interview
            on = calendar.add_working_days(day, 2) if calendar else day + dt.timedelta(days=2)
            community = str(case.data.get("community", ""))
            payload = {
                "interview_on": on,
                "interview_time": "9:30",
                "place": f"{community}居民委员会会议室",
                # Who attends for the office: the campaign file's officials of its issuer.
                "officials": "、".join(self.notices.issuer_for("interview_notice").officials)
                or "镇消安办工作人员",
            }
            self.fire(case, "summon", "town_office", day, payload=payload)

    # -- evenings: sweep, notices, reports ----------------------------------------------

    def evening(self, day: dt.date) -> None:
        self.interview(day)
        started = time.perf_counter()
        self.ledger.sweep(_at(day, 18))
        self.timings["sweeps"] += time.perf_counter() - started
        started = time.perf_counter()
        self.deliver(day)
        self.timings["notices"] += time.perf_counter() - started

    def deliver(self, day: dt.date) -> None:
        specs = {(s.id, s.version): s for s in self.specs}
        while batch := self.ledger.pending(500):
            for delivery in batch:
                effect = delivery.effect
                if isinstance(effect, NoticeDue):
                    # Built from the case as the record that queued it left it.
                    case = self.ledger.case_at(delivery.case_id, effect.seq)
                    html, text = self.notices.render_effect(
                        effect,
                        case,
                        specs[(case.workflow, case.version)],
                        issued_on=day,
                        reader_role="community",
                    )
                    page = self.write(
                        f"notices/{day:%Y-%m}",
                        f"{day}-{effect.notice}-{case.id}",
                        html,
                        text,
                        day=day,
                        kind=effect.notice,
                        case=case,
                    )
                    if effect.notice == "supervision_order" and effect.level == 2:  # noqa: PLR2004
                        self.summon_later(case.id, day)
                    self.manifest.append(
                        {
                            "page": page,
                            "kind": "notice",
                            "identity": notice_identity(effect),
                            "effect": {
                                "case_id": effect.case_id,
                                "notice": effect.notice,
                                "seq": effect.seq,
                                "event": effect.event,
                                "to": list(effect.to),
                                "level": effect.level,
                            },
                            "issued_on": day.isoformat(),
                            "reader_role": "community",
                        }
                    )
            self.ledger.acknowledge([d.id for d in batch])

    def summon_later(self, case_id: str, day: dt.date) -> None:
        """Plan the interview of a case put under town supervision: 3 working days on."""
        calendar = self.ledger.engine("hazard").calendar
        later = calendar.add_working_days(day, 3) if calendar else day + dt.timedelta(days=5)
        self.summons[later].append(case_id)

    def write(
        self,
        folder: str,
        stem: str,
        html: Document,
        text: Document,
        *,
        day: dt.date,
        kind: str,
        case: Case | None = None,
        community: str = "",
    ) -> str:
        """Write a document's HTML and text copies; return the HTML's path in ``out``.

        The index lists it by what it is about: ``case`` (its community, estate and case
        number) for a case notice, ``community`` for a community's report.
        """
        where = self.out / folder
        where.mkdir(parents=True, exist_ok=True)
        base, copy = stem, 1
        # Stems hold case ids and community names: safe_child slugs them.
        while safe_child(where, stem, ".html").exists():  # a second notice of a kind that day
            copy += 1
            stem = f"{base}-{copy}"
        page = safe_child(where, stem, ".html")
        page.write_text(html.body, encoding="utf-8")
        safe_child(where, stem, ".txt").write_text(text.body, encoding="utf-8")
        if docx_available() and (case is None or self.word_notices):  # rectify[docx]
            safe_child(where, stem, ".docx").write_bytes(docx_copy(html))
        link = page.relative_to(self.out).as_posix()
        if case is None:
            self.documents.append(Filed(link, html.title, day, kind, community=community))
        else:
            self.documents.append(
                Filed(
                    link,
                    html.title,
                    day,
                    kind,
                    community=str(case.data.get("community") or ""),
                    estate=str(case.data.get("community_name") or ""),
                    number=str(case.data.get(CASE_NUMBER) or ""),
                    case_id=case.id,
                )
            )
        return link

    def file_report(
        self,
        name: str,
        stem: str,
        *,
        day: dt.date,
        context: Mapping[str, object],
        identity: str,
        entry: Mapping[str, object],
    ) -> None:
        started = time.perf_counter()
        html = self.notices.render(name, context, fmt="html", identity=identity)
        text = self.notices.render(name, context, fmt="text", identity=identity)
        community = str(entry.get("community") or "")
        page = self.write(
            f"reports/{day:%Y-%m}", stem, html, text, day=day, kind=name, community=community
        )
        self.manifest.append({"page": page, "kind": name, "identity": identity, **entry})
        self.timings["reports"] += time.perf_counter() - started

    def standard(
        self, name: str, stem: str, day: dt.date, cases: list[Case], community: str | None = None
    ) -> None:
        """Render one of the standard reports of ``day`` (``cases`` as of that day)."""
        period = (day.year, day.month) if name in PERIODIC_REPORTS else None
        identity, context = standard_report(
            self.notices,
            name,
            day,
            cases,
            self.specs,
            community=community,
            period=period,
            categories=self.categories,
            due_on=_TOTALS_DAY,
            campaign=self.campaign,
        )
        entry = {"as_of": day.isoformat(), "community": community, "period": period}
        self.file_report(name, stem, day=day, context=context, identity=identity, entry=entry)

    def arrivals(
        self, rows: Sequence[tuple[str, str, Mapping[str, object]]], scale: int
    ) -> dict[dt.date, list[tuple[str, str, Mapping[str, object]]]]:
        """Plan when each hazard is found (its building's survey day) and how it goes."""
        rng, survey = self.rng, self.campaign.phase("survey")
        arrivals: dict[dt.date, list[tuple[str, str, Mapping[str, object]]]] = defaultdict(list)
        major_done = False
        for copy in range(scale):
            for case_id, workflow, data in rows:
                cid = case_id if scale == 1 else f"{case_id}-{copy:03d}"
                day = survey.starts + dt.timedelta(
                    days=rng.randint(0, (survey.ends - survey.starts).days)
                )
                arrivals[self.work.arrival(data) or day].append((cid, workflow, data))
                profile = _profile(rng, workflow, str(data.get("category", "")))
                if not major_done and data.get("category") == "MIX.SHOP" and workflow == "hazard":
                    profile, major_done = "major", True
                self.plans[cid] = _Plan(profile)
        return arrivals

    def reports(self, day: dt.date) -> None:
        """File the reports due ``day``: the register, coverage, plans, monthly, look-back."""
        if day == _TOTALS_DAY:
            self.totals(day)
        if day == self.campaign.phase("survey").ends:
            self.survey_done(day)
        if day == self.campaign.phase("concentrated").ends:
            self.rectification_plans(day)
        if day.day == _REPORT_DAY:
            self.monthly(day)
        if day == _LOOKBACK_DAY:
            self.lookback(day)

    def communities(self, cases: Sequence[Case]) -> list[str]:
        """Return the communities with a hazard among ``cases``, by name."""
        hazards = {s.id for s in self.specs if s.kind == "hazard"}
        return sorted({str(c.data.get("community", "")) for c in cases if c.workflow in hazards})

    def monthly(self, day: dt.date) -> None:
        cases = list(self.ledger.cases_as_of(day))
        for community in self.communities(cases):
            self.standard("monthly_report", f"monthly-{community}", day, cases, community)
        self.standard("circular", "circular", day, cases)

    def totals(self, day: dt.date) -> None:
        """The register due on April 5: the totals by community and the estates one by one."""
        cases = list(self.ledger.cases_as_of(day))
        self.standard("ledger_totals", "ledger-totals", day, cases)
        self.standard("estate_register", "estate-register", day, cases)

    def survey_done(self, day: dt.date) -> None:
        """The survey phase's end: the coverage it reached and where the tasks stand."""
        cases = list(self.ledger.cases_as_of(day))
        self.standard("survey_coverage", "survey-coverage", day, cases)
        self.standard("task_status", "task-status", day, cases)

    def rectification_plans(self, day: dt.date) -> None:
        """June 30: each community's rectification plan, the town's annual plan, the tasks."""
        cases = list(self.ledger.cases_as_of(day))
        for community in self.communities(cases):
            self.standard("rectification_plan", f"plan-{community}", day, cases, community)
        self.standard("rectification_plan", "annual-plan", day, cases)
        self.standard("task_status", "task-status", day, cases)

    def reopen(self, case: Case, day: dt.date) -> None:
        """Open the relapse a look-back found of this year's closed ``case``."""
        data = dict(case.data)
        data.pop(CASE_NUMBER, None)  # the relapse takes a number of its own
        self.open_relapse(f"{case.id}-R1", case.workflow, data, case, day)

    def open_relapse(
        self, new_id: str, workflow: str, data: Mapping[str, object], origin: Case, day: dt.date
    ) -> None:
        """Open ``new_id``, the hazard ``origin`` (closed) turned out to be again."""
        self.ledger.open(
            new_id,
            workflow,
            data,
            self.actor("grid_worker", origin),
            at=_at(day, 9),
            recurrence_of=origin.id,
        )
        self.plans[new_id] = _Plan("prompt")
        self.schedule(new_id, day + dt.timedelta(days=1))

    def lookback(self, day: dt.date) -> None:
        """Look again at the day's sample (this year's and earlier years'), then report it."""
        self.work.look_back(day)
        self.standard("lookback_report", "lookback", day, list(self.ledger.cases_as_of(day)))

    def closing(self, day: dt.date) -> None:
        cases = list(self.ledger.cases_as_of(day))
        self.standard("ledger", "ledger", day, cases)
        self.standard("escalation_levels", "escalation-levels", day, cases)
        self.standard("task_status", "task-status", day, cases)
        self.exports(day, cases)

    def exports(self, day: dt.date, cases: Sequence[Case]) -> None:
        """Write the campaign's tables as workbooks ready to print (rectify[xlsx])."""
        try:
            import openpyxl  # noqa: F401, PLC0415 - only to know whether xlsx can be written
        except ImportError:
            return
        folder = self.out / "exports"
        folder.mkdir(exist_ok=True)
        titles = {
            "ledger": "老旧小区台账（xlsx）",
            "register": "老旧小区基础台账（xlsx）",
            "totals": "老旧小区总数台账统计表（xlsx）",
            "coverage": "排查覆盖情况（xlsx）",
            "tasks": "任务清单推进情况（xlsx）",
            "plan": "尚未整改完毕的隐患（整改计划，xlsx）",
            "lookback": f"回头看情况（{_LOOKBACK_DAY:%m月%d日}，xlsx）",
        }
        looked_back = list(self.ledger.cases_as_of(_LOOKBACK_DAY))
        for kind, title in titles.items():
            # The look-back's table is of its own day: the sample that day's report holds.
            of, rows = (_LOOKBACK_DAY, looked_back) if kind == "lookback" else (day, cases)
            for public in (False, True):
                stem = f"{kind}-public" if public else kind
                path = safe_child(folder, stem, ".xlsx")
                write_export(
                    kind,
                    rows,
                    self.specs,
                    campaign=self.campaign,
                    out=path,
                    fmt="xlsx",
                    day=of,
                    public=public,
                )
                shown = f"{title}（公开版）" if public else title
                link = path.relative_to(self.out).as_posix()
                self.documents.append(Filed(link, shown, day, "export"))


def standard_report(
    notices: Notices,
    name: str,
    day: dt.date,
    cases: Sequence[Case],
    specs: Sequence[WorkflowSpec],
    *,
    community: str | None = None,
    period: tuple[int, int] | None = None,
    categories: CategoryTable | None = None,
    due_on: dt.date | None = None,
    report_day: int = REPORT_DAY,
    campaign: Campaign | None = None,
) -> tuple[str, dict[str, object]]:
    """Return the identity and context of the standard report ``name`` as of ``day``.

    ``cases`` are the cases as of ``day`` (``Ledger.cases_as_of(day)``). The report is
    numbered once (``Notices.number``): built again for the same day, period and community,
    it has the same number, so rendering it with its identity gives the same bytes. The demo
    and ``rectify report`` both build their reports here.

    ``period`` (year, month) is the month a monthly report or circular covers; other
    reports have none and ignore it. A circular follows ``campaign``'s calendar (its phase
    deadlines and year-end summary); built again, it must be given the campaign it was first
    built with.
    """
    period = period if name in PERIODIC_REPORTS else None
    identity = report_identity(name, day, period=period, community=community or "")
    issuer = notices.issuer_for(name, community or "")
    sequence, _ = notices.number(identity, day, issuer)
    context = report_context(
        name,
        cases,
        specs,
        as_of=day,
        issuer=issuer,
        filing=notices.filing(name, issuer),
        sequence=sequence,
        categories=categories,
        community=community,
        due_on=due_on,
        period=period,
        heads_digest=digest_heads(heads_as_of(cases, day)),
        report_day=report_day,
        campaign=campaign,
    )
    return identity, context


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def _witness(case: Case) -> dict[str, object]:
    """Return the witness of ``case``'s inspection: its building head, when the ledger names one."""
    head = str(case.data.get("building_head") or "").strip()
    return {"witness": head} if head else {}


def _party_name(case: Case, party: str) -> str:
    """Return a named party for a hazard the ledger names none for (not a bare role name).

    The category's party is who is usually responsible (物业服务企业; 业主…): a property
    company gets the estate's name, the others the community's residents' committee, which
    answers for a hazard until a party is found.
    """
    estate = str(case.data.get("community_name") or "").removesuffix("小区")
    if party.startswith("物业服务企业") and estate:
        return f"重庆{estate}物业服务有限公司"
    community = str(case.data.get("community") or "")
    return f"{community}居民委员会" if community else party


def _profile(rng: random.Random, workflow: str, category: str) -> str:
    roll = rng.random()
    if workflow == "immediate":
        return "refuser" if roll < 0.2 else "prompt"  # noqa: PLR2004 - a fifth refuse
    if roll < 0.12:  # noqa: PLR2004
        return "late"
    if roll < 0.2 and category not in ("STR.CANOPY", "STR.NET"):  # noqa: PLR2004
        return "failing"
    return "prompt"


def run_demo(
    out: Path,
    rows: list[tuple[str, str, Mapping[str, object]]],
    *,
    register: Sequence[tuple[str, str, Mapping[str, object]]] = (),
    earlier: Sequence[tuple[str, str, Mapping[str, object]]] = (),
    seed: int = 2024,
    scale: int = 1,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Simulate the campaign into ``out`` (a fresh folder) from ledger ``rows``.

    Args:
        out: The output folder; emptied first. It receives ``rectify.db``, the documents,
            the exported workbooks and ``index.html`` (the campaign's dashboard).
        rows: ``(case id, workflow, data)`` of the ledger to import.
        register: The old-estate register's buildings (``read_register``), surveyed during
            the survey phase; a hazard of a registered building is found the day it is.
        earlier: Earlier years' rectified hazards (``read_earlier``), looked at again.
        seed: Seeds every random choice: the same seed gives the same documents.
        scale: Repeat the ledger this many times (case ids get a suffix).
        progress: Called with a line of news at each stage.
    """
    say = progress or (lambda _line: None)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    database = safe_child(out, "rectify", ".db")
    campaign, categories = load_campaign(), load_categories()
    clock = SimulatedClock(_at(campaign.starts, 8))
    store = SQLStore.open(database)
    ledger = Ledger.with_workflows(store, campaign=campaign, categories=categories, clock=clock)
    notices = Notices(
        campaign=campaign,
        numbers=store,
        categories=categories,
        calendar=ledger.engine("hazard").calendar,
    )
    sim = _Simulation(
        out,
        ledger=ledger,
        notices=notices,
        campaign=campaign,
        categories=categories,
        seed=seed,
        clock=clock,
        register=register,
        earlier=earlier,
        hazards=rows,
        scale=scale,
    )
    rng = sim.rng
    sim.work.plan(rng, campaign)
    started = time.perf_counter()
    arrivals = sim.arrivals(rows, scale)
    say(f"排查阶段待导入隐患 {sum(len(v) for v in arrivals.values())} 处")
    for day in _days(campaign.starts, campaign.ends):
        clock.current = _at(day, 9)
        sim.work.arrive(day, _at(day, 9))
        if arrivals.get(day):
            begun = time.perf_counter()
            grid = Actor("摸排组", "community")  # a role every shipped workflow has
            ledger.import_cases(arrivals[day], grid, at=_at(day, 9))
            sim.timings["import"] += time.perf_counter() - begun
            for cid, _, _ in arrivals[day]:
                sim.schedule(cid, day + dt.timedelta(days=rng.randint(0, 2)))
        while todo := sim.agenda.pop(day, []):  # a step may schedule more for today
            for cid in todo:
                sim.step(cid, day)
        sim.work.survey(day)
        sim.work.tasks(day)
        sim.evening(day)
        sim.reports(day)
        if day.day == _REPORT_DAY:
            say(f"{day}：已出月报和通报；累计 {sim.fires} 条记录")
    sim.closing(campaign.ends)
    sim.timings["total"] = time.perf_counter() - started
    report = ledger.verify()
    everything = list(ledger.cases())
    summary = _summary(everything, sim.specs, campaign.ends, report.ok)
    table = _hazard_table(everything, sim.specs)
    page = dashboard(
        campaign,
        campaign.ends,
        summary=summary[len(table.rows) + 1 :],  # the lines under the table
        tables=_tables(everything, sim.specs, campaign),
        documents=sim.documents,
        hazards=table,
    )
    safe_child(out, "index", ".html").write_text(page, encoding="utf-8")
    manifest = json.dumps(sim.manifest, ensure_ascii=False, indent=1)
    safe_child(out, "documents", ".json").write_text(manifest + "\n", encoding="utf-8")
    store.close()
    return DemoResult(
        out,
        database,
        report.checked,
        sim.fires,
        len(sim.documents),
        dict(sim.timings),
        tuple(summary),
    )


def _by_state(
    cases: list[Case], specs: list[WorkflowSpec]
) -> tuple[list[str], dict[str, Counter[str]]]:
    """Return the hazard states' titles found and each community's hazards by state title."""
    titles = {(s.id, st.name): st.title for s in specs for st in s.states}
    kinds = {s.id: s.kind for s in specs}
    by_community: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        if kinds.get(case.workflow) == "hazard":
            community = str(case.data.get("community", ""))
            by_community[community][titles[(case.workflow, case.state)]] += 1
    states = sorted({t for counter in by_community.values() for t in counter})
    return states, dict(sorted(by_community.items()))


def _hazard_table(cases: list[Case], specs: list[WorkflowSpec]) -> Table:
    """Return the hazards by community and state, as the dashboard shows them."""
    states, by_community = _by_state(cases, specs)
    rows = tuple(
        (community, *(counter[s] for s in states), sum(counter.values()))
        for community, counter in by_community.items()
    )
    return Table("隐患", ("社区", *states, "合计"), rows)


def _summary(
    cases: list[Case], specs: list[WorkflowSpec], day: dt.date, verified: bool
) -> list[str]:
    kinds = {s.id: s.kind for s in specs}
    hazards = [c for c in cases if kinds.get(c.workflow) == "hazard"]
    states, by_community = _by_state(cases, specs)
    widths = [max(display_width(s), 4) + 2 for s in states]
    head = "".join(pad(s, w, right=True) for s, w in zip(states, widths, strict=True))
    lines = [pad("社区", 12) + head + pad("合计", 8, right=True)]
    for community, counter in by_community.items():
        cells = [pad(str(counter[s]), w, right=True) for s, w in zip(states, widths, strict=True)]
        total = pad(str(sum(counter.values())), 8, right=True)
        lines.append(pad(community, 12) + "".join(cells) + total)
    overdue = sum(1 for c in hazards if c.deadline and not c.final and day > c.deadline)
    escalated = sum(1 for c in hazards if (c.escalation or -1) >= 2)  # noqa: PLR2004 - 督办
    relapses = sum(1 for c in hazards if c.recurrence_of)
    lines.append(
        f"隐患 {len(hazards)} 件；{day} 逾期 {overdue} 件；升级至镇督办及以上 {escalated} 件；"
        f"复发 {relapses} 件；历史记录校验：{'通过' if verified else '未通过'}"
    )
    lines += _campaign_lines(cases, kinds)
    if not docx_available():
        lines.append("未安装 rectify[docx]，未生成 Word 副本（.docx）")
    return lines


def _campaign_lines(cases: list[Case], kinds: Mapping[str, str]) -> list[str]:
    """Return the summary of the register, the tasks and earlier years (where there are any)."""
    of = Counter((kinds.get(c.workflow), c.state) for c in cases)
    lines = []
    buildings = [c for c in cases if kinds.get(c.workflow) == "survey"]
    if buildings:
        estates = {(c.data.get("community"), c.data.get("community_name")) for c in buildings}
        lines.append(
            f"老旧小区 {len(estates)} 个、楼栋 {len(buildings)} 栋："
            f"已摸排 {of['survey', 'surveyed']} 栋，移出台账 {of['survey', 'delisted']} 栋"
        )
    tasks = [c for c in cases if kinds.get(c.workflow) == "task"]
    if tasks:
        late = sum(
            1
            for c in tasks
            if c.state == "done"
            and isinstance(due := c.data.get("due"), dt.date)
            and local_date(c.updated_at) > due
        )
        lines.append(
            f"任务 {len(tasks)} 项：已完成 {of['task', 'done']} 项，其中逾期完成 {late} 项"
        )
    earlier = [c for c in cases if kinds.get(c.workflow) == "archive"]
    if earlier:
        looked = len(earlier) - of["archive", "rectified"]
        lines.append(
            f"往年已整改隐患 {len(earlier)} 处：回头看 {looked} 处，"
            f"发现反弹 {of['archive', 'relapsed']} 处"
        )
    return lines


def _tables(cases: list[Case], specs: list[WorkflowSpec], campaign: Campaign) -> list[Table]:
    """Return the dashboard's survey coverage and task list, as of the campaign's end."""
    day = campaign.ends
    coverage = coverage_rows(cases, specs, as_of=day)
    tasks = task_rows(cases, specs, as_of=day, campaign=campaign)
    out = []
    if coverage:
        out.append(
            Table(
                "排查覆盖",
                (
                    "社区",
                    "小区",
                    "已排查小区",
                    "楼栋",
                    "已排查",
                    "移出台账",
                    "覆盖率",
                    "无隐患楼栋",
                    "隐患",
                ),
                tuple(
                    (
                        r["community"],
                        r["estates"],
                        r["estates_surveyed"],
                        r["buildings"],
                        r["surveyed"],
                        r["delisted"],
                        f"{float(r['coverage']):.1%}",  # type: ignore[arg-type]
                        r["no_hazard"],
                        r["hazards"],
                    )
                    for r in coverage
                ),
            )
        )
    if tasks:
        out.append(
            Table(
                "任务清单",
                ("阶段", "具体内容", "责任单位", "完成时限", "状态", "完成日期", "逾期"),
                tuple(
                    (
                        r["phase_title"],
                        r["content"],
                        r["units"],
                        r["due"],
                        r["state_title"],
                        r["done_on"] or "",
                        _lateness(r),
                    )
                    for r in tasks
                ),
            )
        )
    return out


def _lateness(row: Mapping[str, object]) -> str:
    """Return how late a task is (open past its date) or was (done after it)."""
    due, done = row.get("due"), row.get("done_on")
    if isinstance(due, dt.date) and isinstance(done, dt.date) and done > due:
        return f"逾期{(done - due).days}天完成"
    return f"逾期{row['overdue_days']}天" if row.get("overdue_days") else ""
