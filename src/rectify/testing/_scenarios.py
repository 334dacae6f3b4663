"""Scenario files: time-travel tests of workflows written in YAML, with no code.

A scenario opens a case, fires events, moves the clock, sweeps and checks what it expects::

    scenario: 整改逾期7天升级为镇级督办
    workflow: hazard                  # a shipped workflow, or a path next to the file
    start: 2024-05-06T09:00
    case: {data: {community: 正街社区, category: FAC.HOSE, severity: general}}
    steps:
      - fire: assign
        by: {actor: 社区-李, role: community}
        payload: {responsible_party: 物业, measures: 补齐水带, due: 2024-05-20}
      - advance: {working_days: 8}    # or {days: N}, or {to: 2024-06-01T18:00}
      - sweep: true
      - expect:
          state: planned
          escalation: 2
          notices: [{name: supervision_order, contains: [正街社区]}]
      - fire: close
        by: {actor: 社区-李, role: community}
        refused: EventNotAllowedError

Other steps: ``recur`` (a failed look-back opens a linked case and makes it current),
``severity_deadline`` and ``reports_due`` (the campaign's phase dates and report days).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from rectify import exceptions
from rectify._resources import default_workflows
from rectify.calendar._calendar import OfficialCalendar
from rectify.calendar._deadlines import due_date
from rectify.definitions._campaign import Campaign, load_campaign, reports_due
from rectify.definitions._categories import CategoryTable
from rectify.definitions._load import load_categories, load_workflow
from rectify.definitions._yamlsource import load_yaml
from rectify.documents._contexts import Issuer
from rectify.documents._publishing import Notices
from rectify.engine._case import Actor, Case, Effect, Evidence, NoticeDue
from rectify.engine._engine import TIMEZONE, Engine
from rectify.engine._escalation import escalate
from rectify.engine._replay import case_at
from rectify.exceptions import RectifyError

__all__ = ["ScenarioError", "ScenarioFailedError", "ScenarioResult", "run_scenario"]

_ISSUER = Issuer("测试镇消防安全委员会办公室", code="测试消安")


class ScenarioError(RectifyError):
    """A scenario file itself is wrong (unknown step, missing key, bad value)."""


class ScenarioFailedError(AssertionError):
    """A scenario's expectation did not hold: which step, what was expected, what was found."""


@attrs.frozen
class ScenarioResult:
    """A scenario that ran to its end: its name, steps, and the case it left."""

    name: str
    steps: int
    case: Case


def _when(value: object, what: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=TIMEZONE)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(9), TIMEZONE)
    if isinstance(value, str):
        try:
            return _when(dt.datetime.fromisoformat(value), what)
        except ValueError:
            pass
    raise ScenarioError(f"{what}: {value!r} is not a date or a date and time")


def _date(value: object, what: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    return _when(value, what).date()


class _Run:
    def __init__(
        self,
        doc: Mapping[str, Any],
        *,
        base: Path,
        calendar: OfficialCalendar,
        campaign: Campaign,
        categories: CategoryTable,
    ) -> None:
        self.name = str(doc.get("scenario", "scenario"))
        self.calendar, self.campaign, self.categories = calendar, campaign, categories
        severities = {level.name: level.period for level in categories.severities}
        self.severities = severities
        workflow = str(doc.get("workflow", "hazard"))
        local = base / workflow
        source = (
            local
            if local.suffix in (".yaml", ".yml") and local.exists()
            else (Path(str(default_workflows())) / f"{workflow}.yaml")
        )
        self.engine = Engine(
            load_workflow(source),
            calendar=calendar,
            phases=campaign.phase_ends,
            severities=severities,
        )
        self.now = _when(doc.get("start", "2024-03-01T09:00"), "start")
        self.effects: list[Effect] = []
        self.notices = Notices(_ISSUER, categories=categories, calendar=calendar)
        spec = doc.get("case") or {}
        opener = self.actor(spec.get("by", {"actor": "网格员", "role": "community"}), "case.by")
        outcome = self.engine.open(
            str(spec.get("id", "S-1")), dict(spec.get("data") or {}), opener, self.now
        )
        self.case, self.closed = outcome.case, [outcome.case]
        self.effects.extend(outcome.effects)

    def actor(self, value: object, what: str) -> Actor:
        if not isinstance(value, Mapping) or "role" not in value:
            raise ScenarioError(f"{what}: give {{actor: ..., role: ...}}")
        return Actor(str(value.get("actor", value["role"])), str(value["role"]))

    def step(self, index: int, step: Mapping[str, Any]) -> None:
        where = f"{self.name}, step {index + 1}"
        kinds = [
            k
            for k in (
                "fire",
                "advance",
                "sweep",
                "expect",
                "recur",
                "severity_deadline",
                "reports_due",
            )
            if k in step
        ]
        if len(kinds) != 1:
            raise ScenarioError(
                f"{where}: a step is one of fire, advance, sweep, expect, "
                f"recur, severity_deadline, reports_due; found {sorted(step)}"
            )
        getattr(self, f"do_{kinds[0]}")(where, step)

    def do_fire(self, where: str, step: Mapping[str, Any]) -> None:
        self.now += dt.timedelta(minutes=1)
        evidence = [
            Evidence.of(kind, f"{kind}.jpg", kind.encode()) for kind in step.get("evidence", [])
        ]
        try:
            outcome = self.engine.fire(
                self.case,
                str(step["fire"]),
                self.actor(step.get("by"), f"{where}: by"),
                self.now,
                payload=step.get("payload"),
                evidence=evidence,
                reason=step.get("reason"),
            )
        except exceptions.EventRefusedError as exc:
            wanted = step.get("refused")
            if wanted != type(exc).__name__:
                raise ScenarioFailedError(f"{where}: {step['fire']!r} was refused: {exc}") from exc
            return
        if "refused" in step:
            raise ScenarioFailedError(
                f"{where}: expected {step['fire']!r} to be refused with "
                f"{step['refused']}, but it was accepted"
            )
        self.case = outcome.case
        self.effects.extend(outcome.effects)

    def do_advance(self, where: str, step: Mapping[str, Any]) -> None:
        move = step["advance"]
        if not isinstance(move, Mapping):
            raise ScenarioError(
                f"{where}: advance takes {{days: N}}, {{working_days: N}} or {{to: time}}"
            )
        if "to" in move:
            self.now = max(self.now, _when(move["to"], where))
        elif "working_days" in move:
            day = self.calendar.add_working_days(self.now.date(), int(move["working_days"]))
            self.now = dt.datetime.combine(day, self.now.timetz())
        else:
            self.now += dt.timedelta(days=int(move.get("days", 0)))

    def do_sweep(self, where: str, step: Mapping[str, Any]) -> None:
        outcome = escalate(self.engine, self.case, self.now)
        self.case = outcome.case
        self.effects.extend(outcome.effects)

    def do_recur(self, where: str, step: Mapping[str, Any]) -> None:
        spec = step["recur"] or {}
        outcome = self.engine.open(
            str(spec.get("id", f"{self.case.id}-R")),
            dict(self.case.data),
            self.actor(spec.get("by", {"role": "community"}), where),
            self.now,
            recurrence_of=self.case,
        )
        self.closed.append(self.case)
        self.case = outcome.case
        self.effects.extend(outcome.effects)

    def do_severity_deadline(self, where: str, step: Mapping[str, Any]) -> None:
        spec = step["severity_deadline"]
        rule = self.severities.get(str(spec.get("severity")))
        if rule is None:
            raise ScenarioError(f"{where}: no severity {spec.get('severity')!r}")
        start = _date(spec.get("from"), where)
        got = due_date(
            rule,
            start,
            {},
            calendar=self.calendar,
            phases=self.campaign.phase_ends,
            severities=self.severities,
        )
        want = _date(spec.get("expect"), where)
        if got != want:
            raise ScenarioFailedError(
                f"{where}: severity {spec['severity']} from {start} is due {got}, expected {want}"
            )

    def do_reports_due(self, where: str, step: Mapping[str, Any]) -> None:
        spec = step["reports_due"]
        got = {
            (r.report, r.due, r.status)
            for r in reports_due(self.campaign, _date(spec.get("on"), where))
        }
        for item in spec.get("expect", []):
            want = (str(item["report"]), _date(item["due"], where), str(item["status"]))
            if want not in got:
                raise ScenarioFailedError(f"{where}: expected report {want} among {sorted(got)}")

    def do_expect(self, where: str, step: Mapping[str, Any]) -> None:
        want = step["expect"]
        case = self.case
        checks: Sequence[tuple[str, object]] = [
            ("state", case.state),
            ("escalation", case.escalation),
            ("deadline", case.deadline),
            ("final", case.final),
            ("recurrence_of", case.recurrence_of),
            ("recurrence_count", case.recurrence_count),
            ("extensions", case.extensions),
        ]
        for key, found in checks:
            if key in want:
                expected = want[key]
                if key == "deadline" and expected is not None:
                    expected = _date(expected, where)
                if found != expected:
                    raise ScenarioFailedError(f"{where}: {key} is {found!r}, expected {expected!r}")
        for item in want.get("notices", []):
            self.expect_notice(where, item)
        if "overdue" in want:
            overdue = case.deadline is not None and self.now.date() > case.deadline
            if overdue != bool(want["overdue"]):
                raise ScenarioFailedError(f"{where}: overdue is {overdue} on {self.now.date()}")

    def expect_notice(self, where: str, item: Mapping[str, Any]) -> None:
        name = str(item["name"])
        due = [e for e in self.effects if isinstance(e, NoticeDue) and e.notice == name]
        if not due:
            have = sorted({e.notice for e in self.effects if isinstance(e, NoticeDue)})
            raise ScenarioFailedError(f"{where}: no {name!r} notice; notices so far: {have}")
        effect = due[-1]  # rendered from the case as the record that queued it left it
        html, text = self.notices.render_effect(
            effect,
            case_at(self.engine, self.case, effect.seq),
            self.engine.spec,
            issued_on=self.now.date(),
            reader_role="community",
        )
        for needle in item.get("contains", []):
            if str(needle) not in html.body or str(needle) not in text.body:
                raise ScenarioFailedError(
                    f"{where}: the {name!r} notice does not contain {needle!r}"
                )


def run_scenario(
    source: str | Path,
    *,
    calendar: OfficialCalendar | None = None,
    campaign: Campaign | None = None,
    categories: CategoryTable | None = None,
) -> ScenarioResult:
    """Run a scenario file (or its YAML text) and return what it left.

    Raises:
        ScenarioFailedError: An expectation did not hold (an ``AssertionError``: pytest shows it).
        ScenarioError: The scenario itself is malformed.
        RectifyError: A workflow or definition it names is broken.
    """
    path = Path(source) if not (isinstance(source, str) and "\n" in source) else None
    text = path.read_text(encoding="utf-8") if path else str(source)
    # rectify's own YAML reading: ``on``, ``off``, ``yes`` and ``no`` stay text.
    loaded = load_yaml(text, str(path or "<string>"))
    if loaded.diagnostics:
        raise ScenarioError("; ".join(d.format() for d in loaded.diagnostics))
    doc = loaded.data
    if not isinstance(doc, Mapping) or not isinstance(doc.get("steps", []), list):
        raise ScenarioError(f"{path or '<string>'}: a scenario is a mapping with a list of steps")
    run = _Run(
        doc,
        base=path.parent if path else Path(),
        calendar=calendar or OfficialCalendar(),
        campaign=campaign or load_campaign(),
        categories=categories or load_categories(),
    )
    for index, step in enumerate(doc.get("steps", [])):
        if not isinstance(step, Mapping):
            raise ScenarioError(f"{run.name}, step {index + 1}: a step is a mapping")
        try:
            run.step(index, step)
        except KeyError as exc:
            raise ScenarioError(f"{run.name}, step {index + 1}: missing {exc}") from exc
    return ScenarioResult(run.name, len(doc.get("steps", [])), run.case)
