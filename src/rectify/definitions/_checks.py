"""Static checks of a workflow spec: references, graph shape, deadlines, duties.

Each check appends diagnostics; none stops the others, so a document's problems are all
reported at once. Locations come from the YAML document when there is one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Final

import attrs

from rectify._diagnostics import Diagnostic, Location, Severity
from rectify.definitions._spec import (
    CASE_NOTICE_VARIABLES,
    CalendarDays,
    CampaignDate,
    DeadlineRule,
    Earliest,
    EventSpec,
    FieldDate,
    Ladder,
    OnEvent,
    Transition,
    WorkflowSpec,
    WorkingDays,
)
from rectify.definitions._yamlsource import Path, YamlDocument, dotted

__all__ = ["Catalog", "check_workflow"]

_SHOWN_CHOICES: Final = 30  # declared names a message lists; a long list is cut short


@attrs.frozen
class Catalog:
    """What a workflow may name beyond its own document.

    A ``None`` field is not checked; an empty set means that nothing is available.

    Attributes:
        guards: Guard names the host's registry provides.
        notices: Notice (template) names that exist.
        categories: Hazard category codes of the category table.
        severities: Severity names of the category table.
        phases: Campaign phase names.
        template_variables: What the notice templates use, as ``notice.variable`` (such as
            ``reminder.case``); each must be one the engine provides for a case notice.
        people: The payload fields naming people that each notice needs (the campaign's
            ``documents: NOTICE: people``); an event that queues the notice must declare
            them (required or optional), and no state or ladder level (which carry no
            payload) may queue it.
    """

    guards: frozenset[str] | None = None
    notices: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    severities: frozenset[str] | None = None
    phases: frozenset[str] | None = None
    template_variables: frozenset[str] | None = None
    people: Mapping[str, tuple[str, ...]] | None = None


def check_workflow(
    spec: WorkflowSpec, doc: YamlDocument | None = None, catalog: Catalog | None = None
) -> list[Diagnostic]:
    """Return every static problem of ``spec``; positions come from ``doc`` when given."""
    checker = _Checker(spec, doc, catalog or Catalog())
    checker.run()
    return list(dict.fromkeys(checker.diagnostics))  # one report per problem, in order


class _Checker:
    def __init__(self, spec: WorkflowSpec, doc: YamlDocument | None, catalog: Catalog) -> None:
        self.spec = spec
        self.doc = doc
        self.catalog = catalog
        self.diagnostics: list[Diagnostic] = []
        self.states = {s.name for s in spec.states}
        self.roles = set(spec.role_names)
        self.edges: dict[str, set[str]] = defaultdict(set)
        for event in spec.events:
            for t in event.transitions:
                self.edges[t.source].add(t.target)
        # A transition to or from an undeclared state is reported once, as such; graph
        # findings (traps, unreachable states, duties that never apply) would only echo it.
        self.graph_broken = not spec.has_state(spec.initial) or any(
            end not in self.states
            for event in spec.events
            for t in event.transitions
            for end in (t.source, t.target)
        )

    def run(self) -> None:
        self.check_states()
        self.check_events()
        self.check_graph()
        self.check_escalation()
        self.check_budget()
        self.check_categories()

    # -- reporting ----------------------------------------------------------------------

    def report(
        self, severity: Severity, code: str, message: str, *paths: Path, key: bool = False
    ) -> None:
        loc = self.locate(*paths, key=key)
        self.diagnostics.append(Diagnostic(severity, code, message, loc))

    def error(self, code: str, message: str, *paths: Path, key: bool = False) -> None:
        self.report(Severity.ERROR, code, message, *paths, key=key)

    def warning(self, code: str, message: str, *paths: Path) -> None:
        self.report(Severity.WARNING, code, message, *paths)

    def locate(self, *paths: Path, key: bool = False) -> Location:
        """Return the location of the first of ``paths`` the document has (its key's)."""
        if self.doc is None:
            return Location(self.spec.source, 0, 0, dotted(paths[0]) if paths else "")
        for path in paths:
            if self.doc.has(path):
                return self.doc.locate(path, key=key)
        return self.doc.locate(paths[-1] if paths else (), key=key)

    def in_list(self, path: Path, item: str) -> Path:
        """Return the path of ``item`` inside the list at ``path`` (or ``path`` itself)."""
        index = self._list_indexes.get(path)
        if index is None:  # indexed once per list: a long list of bad names stays linear
            raw = self.doc.value(path) if self.doc else None
            index = self._list_indexes[path] = {}
            for i, value in enumerate(raw if isinstance(raw, list) else ()):
                if isinstance(value, str):
                    index.setdefault(value, i)
        return (*path, index[item]) if item in index else path

    @cached_property
    def _list_indexes(self) -> dict[Path, dict[str, int]]:
        return {}

    def transition_paths(self, event: EventSpec, t: Transition, field: str) -> Iterator[Path]:
        """Yield candidate paths for ``field`` (from, to, guards) of one transition."""
        base: Path = ("events", event.name)
        raw = self.doc.value((*base, "transitions")) if self.doc else None
        if isinstance(raw, list):
            for i, item in enumerate(raw):
                if not isinstance(item, dict) or item.get("to") != t.target:
                    continue
                sources = item.get("from")
                if t.source == sources or (isinstance(sources, list) and t.source in sources):
                    yield self._field_path((*base, "transitions", i), field, t)
        yield self._field_path(base, field, t)

    def _field_path(self, base: Path, field: str, t: Transition) -> Path:
        return self.in_list((*base, field), t.source) if field == "from" else (*base, field)

    # -- checks -------------------------------------------------------------------------

    def check_states(self) -> None:
        if not self.spec.has_state(self.spec.initial):
            self.undeclared("state", self.spec.initial, self.states, ("initial",))
        if not self.spec.final_states:
            self.error("no-final-state", "the workflow has no final state", ("states",))
        for state in self.spec.states:
            path: Path = ("states", state.name)
            # A deadline written but unreadable is reported where it is, not as missing.
            unreadable = self.doc is not None and self.doc.has((*path, "deadline"))
            if state.final and (state.deadline or state.no_deadline):
                self.error(
                    "deadline-conflict",
                    f"final state {state.name!r} cannot have a deadline or no_deadline",
                    (*path, "deadline"),
                    (*path, "no_deadline"),
                )
            elif not state.final and state.deadline and state.no_deadline:
                self.error(
                    "deadline-conflict",
                    f"state {state.name!r} has both a deadline and no_deadline; keep one",
                    (*path, "no_deadline"),
                )
            elif not (state.final or state.deadline or state.no_deadline or unreadable):
                self.error(
                    "missing-deadline",
                    f"state {state.name!r} is not final and has "
                    "neither a deadline nor a no_deadline reason",
                    path,
                )
            if state.outcome and not state.final:
                self.error(
                    "bad-value",
                    f"only final states have an outcome; {state.name!r} is not final",
                    (*path, "outcome"),
                )
            if state.deadline:
                # The initial state's fields come with the data a case is opened with.
                fields = self.entering(state.name)
                opened = state.name == self.spec.initial
                self.check_rule(state.deadline, (*path, "deadline"), fields, opened=opened)
            for notice in state.notices:
                self.check_notice(notice, self.in_list((*path, "notices"), notice))
                self.check_unpeopled(
                    notice, self.in_list((*path, "notices"), notice), f"state {state.name!r}"
                )

    def entering(self, state: str) -> set[str]:
        """Return the payload fields that some event entering ``state`` carries."""
        return self._entering.get(state, set())

    @cached_property
    def _entering(self) -> dict[str, set[str]]:
        fields: dict[str, set[str]] = defaultdict(set)
        for e in self.spec.events:
            for target in {t.target for t in e.transitions}:
                fields[target].update(f.name for f in (*e.require, *e.optional))
        return fields

    @cached_property
    def event_names(self) -> set[str]:
        """Return the names of the declared events."""
        return {e.name for e in self.spec.events}

    def check_rule(
        self, rule: DeadlineRule, path: Path, fields: set[str], *, opened: bool = False
    ) -> None:
        if isinstance(rule, Earliest):
            for i, sub in enumerate(rule.rules):
                self.check_rule(sub, (*path, "earliest", i), fields, opened=opened)
        elif isinstance(rule, FieldDate) and rule.field not in fields and not opened:
            self.warning(
                "unknown-field",
                f"no event that sets this deadline carries field "
                f"{rule.field!r}; it must then come from the case data",
                (*path, "field"),
            )
        elif isinstance(rule, CampaignDate):
            phases = self.catalog.phases
            if phases is not None and rule.phase not in phases:
                self.undeclared(
                    "campaign phase", rule.phase, phases, (*path, "campaign"), code="unknown-phase"
                )

    def check_events(self) -> None:
        declared_evidence = {name for name, _ in self.spec.evidence}
        for event in self.spec.events:
            path: Path = ("events", event.name)
            for t in event.transitions:
                for end, field in ((t.source, "from"), (t.target, "to")):
                    if end not in self.states:
                        self.undeclared(
                            "state", end, self.states, *self.transition_paths(event, t, field)
                        )
                for guard in t.guards:
                    known = self.catalog.guards
                    if known is not None and guard not in known:
                        self.undeclared(
                            "guard",
                            guard,
                            known,
                            *self.guard_paths(event, t, guard),
                            code="unknown-guard",
                        )
            self.check_roles(event, path)
            for kind in event.evidence:
                if kind not in declared_evidence:
                    self.undeclared(
                        "evidence kind",
                        kind,
                        declared_evidence,
                        self.in_list((*path, "evidence"), kind),
                        code="undeclared-evidence",
                    )
            if event.notice:
                self.check_notice(event.notice, (*path, "notice"))
                self.check_people(event, (*path, "notice"))
            if event.deadline:
                fields = {f.name for f in (*event.require, *event.optional)}
                self.check_rule(event.deadline, (*path, "deadline"), fields)
            if event.min_escalation is not None:
                self.check_min_escalation(event.min_escalation, (*path, "min_escalation"))
            self.check_duties(event, path)
        self.check_ambiguity()

    def check_min_escalation(self, needed: int, path: Path) -> None:
        """Report a ``min_escalation`` no ladder level and no ``escalate_to`` reaches."""
        reached = {e.escalate_to for e in self.spec.events if e.escalate_to is not None}
        if self.spec.escalation is not None:
            reached |= {lv.level for lad in self.spec.escalation.ladders for lv in lad.levels}
        if any(level >= needed for level in reached):
            return
        top = f"the highest level it reaches is {max(reached)}" if reached else "it has no levels"
        self.error(
            "bad-value",
            f"min_escalation {needed} can never be met: {top} "
            "(its ladders' levels and its events' escalate_to)",
            path,
        )

    def guard_paths(self, event: EventSpec, t: Transition, guard: str) -> list[Path]:
        paths = [self.in_list(p, guard) for p in self.transition_paths(event, t, "guards")]
        return [*paths, self.in_list(("events", event.name, "guards"), guard)]

    def check_roles(self, event: EventSpec, path: Path) -> None:
        if event.roles is None:
            if not self.roles:
                self.error(
                    "no-role-may-fire",
                    f"the workflow declares no role, so nobody may fire event {event.name!r}",
                    path,
                )
            return
        undeclared = [role for role in event.roles if role not in self.roles]
        for role in undeclared:
            self.undeclared("role", role, self.roles, self.in_list((*path, "roles"), role))
        if not event.roles:  # an undeclared role is reported as such, not twice
            self.error(
                "no-role-may-fire",
                f"no declared role may fire event {event.name!r}",
                (*path, "roles"),
            )

    def check_duties(self, event: EventSpec, path: Path) -> None:
        for other in event.not_same_actor_as:
            where = self.in_list((*path, "not_same_actor_as"), other)
            if not self.spec.has_event(other):
                self.undeclared("event", other, self.event_names, where)
                continue
            after = self.reachable({t.target for t in self.spec.event(other).transitions})
            if not self.graph_broken and not after & set(event.sources):
                self.warning(
                    "sod-never-before",
                    f"event {other!r} can never happen before "
                    f"{event.name!r}, so this separation-of-duties rule never applies",
                    where,
                )

    def check_ambiguity(self) -> None:
        for event in self.spec.events:
            by_source: dict[str, list[Transition]] = defaultdict(list)
            for t in event.transitions:
                by_source[t.source].append(t)
            for source, branches in by_source.items():
                for i, first in enumerate(branches):
                    for second in branches[i + 1 :]:
                        if set(first.guards) == set(second.guards):
                            self.error(
                                "ambiguous-event",
                                f"event {event.name!r} has two transitions from {source!r} "
                                f"(to {first.target!r} and {second.target!r}) that no guard "
                                "separates",
                                *self.transition_paths(event, second, "from"),
                            )

    def check_people(self, event: EventSpec, path: Path) -> None:
        """Report people the event's notice names that its payload does not declare."""
        needed = (self.catalog.people or {}).get(event.notice or "", ())
        declared = {f.name for f in (*event.require, *event.optional)}
        missing = [name for name in needed if name not in declared]
        if missing:
            self.error(
                "notice-people",
                f"notice {event.notice!r} names {', '.join(missing)} (the campaign's "
                f"'documents: {event.notice}: people'), but event {event.name!r} does not "
                "take them in its payload; add them under 'require' or 'optional'",
                path,
            )

    def check_unpeopled(self, notice: str, path: Path, what: str) -> None:
        """Report a notice that names people queued by something that carries no payload."""
        needed = (self.catalog.people or {}).get(notice, ())
        if needed:
            self.error(
                "notice-people",
                f"notice {notice!r} names {', '.join(needed)} from its event's payload, but "
                f"{what} queues it without a payload",
                path,
            )

    def check_notice(self, notice: str, path: Path) -> None:
        known = self.catalog.notices
        if known is not None and notice not in known:
            self.undeclared("notice", notice, known, path, code="unknown-notice")
            return
        uses = self.catalog.template_variables or frozenset()
        extra = sorted(
            u.split(".", 1)[1]
            for u in uses
            if u.startswith(f"{notice}.") and u.split(".", 1)[1] not in CASE_NOTICE_VARIABLES
        )
        if extra:
            provided = ", ".join(sorted(CASE_NOTICE_VARIABLES))
            self.error(
                "notice-variable",
                f"template {notice!r} uses {', '.join(extra)}, which "
                f"the engine does not provide for a notice; provided: {provided}",
                path,
            )

    def check_graph(self) -> None:
        for state in self.spec.states:
            if state.final and self.edges.get(state.name):
                leaving = sorted(e.name for e in self.spec.events if state.name in e.sources)
                self.error(
                    "final-has-events",
                    f"final state {state.name!r} has outgoing events: {', '.join(leaving)}",
                    ("states", state.name),
                )
        if self.graph_broken:
            return
        reachable = self.reachable({self.spec.initial})
        finals = set(self.spec.final_states)
        can_finish = self.reaching(finals)
        for state in self.spec.states:
            path: Path = ("states", state.name)
            if state.name not in reachable:
                self.warning(
                    "unreachable-state",
                    f"state {state.name!r} cannot be reached from "
                    f"the initial state {self.spec.initial!r}",
                    path,
                )
            elif finals and state.name not in can_finish:
                self.error(
                    "trap-state", f"no final state can be reached from state {state.name!r}", path
                )

    def reachable(self, start: set[str]) -> set[str]:
        seen, todo = set(start), list(start)
        while todo:
            for nxt in self.edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def reaching(self, goals: set[str]) -> set[str]:
        back: dict[str, set[str]] = defaultdict(set)
        for source, targets in self.edges.items():
            for target in targets:
                back[target].add(source)
        seen, todo = set(goals), list(goals)
        while todo:
            for prev in back.get(todo.pop(), ()):
                if prev not in seen:
                    seen.add(prev)
                    todo.append(prev)
        return seen

    def check_escalation(self) -> None:
        esc = self.spec.escalation
        if esc is None:
            return
        base: Path = ("escalation",)
        names = {ladder.name for ladder in esc.ladders}
        if esc.default not in names:
            self.undeclared("ladder", esc.default, names, (*base, "default"))
        for severity, ladder_name in esc.by_severity:
            path: Path = (*base, "by_severity", severity)
            if ladder_name not in names:
                self.undeclared("ladder", ladder_name, names, path)
            known = self.catalog.severities
            if known is not None and severity not in known:
                self.undeclared(
                    "severity", severity, known, path, code="unknown-severity", key=True
                )
        for ladder in esc.ladders:
            self.check_ladder(ladder)

    def check_ladder(self, ladder: Ladder) -> None:
        events = {e.name for e in self.spec.events}
        scope: Path = ("escalation", "ladders", ladder.name, "states")
        for state in ladder.states:
            if state not in self.states:
                self.undeclared("state", state, self.states, self.in_list(scope, state))
        mapped = self.doc is not None and self.doc.has((*scope[:-1], "levels"))
        levels: Path = ("levels",) if mapped else ()
        previous = -1
        for i, level in enumerate(ladder.levels):
            path: Path = ("escalation", "ladders", ladder.name, *levels, i)
            if level.level <= previous:
                self.error(
                    "ladder-order",
                    f"level {level.level} of ladder {ladder.name!r} "
                    f"does not rise above level {previous}",
                    (*path, "level"),
                )
            previous = max(previous, level.level)
            if level.notice:
                self.check_notice(level.notice, (*path, "notice"))
                self.check_unpeopled(level.notice, (*path, "notice"), "an escalation level")
            for role in level.notify:
                if role not in self.roles:
                    self.undeclared("role", role, self.roles, self.in_list((*path, "notify"), role))
            for j, trigger in enumerate(level.triggers):
                if isinstance(trigger, OnEvent) and trigger.event not in events:
                    when: Path = (*path, "when")
                    paths = ((*when, j, "event"), (*when, "event"))
                    self.undeclared("event", trigger.event, events, *paths)

    def check_budget(self) -> None:
        budget = self.spec.budget
        if budget is None:
            return
        path: Path = ("budget", "path")
        total = 0
        for i, name in enumerate(budget.path):
            if name not in self.states:
                self.undeclared("state", name, self.states, (*path, i))
                return
            if i and name not in self.edges.get(budget.path[i - 1], set()):
                self.error(
                    "budget-path",
                    f"no event leads from {budget.path[i - 1]!r} to "
                    f"{name!r}, so this is not a path of the workflow",
                    (*path, i),
                )
                return
            rule = self.spec.state(name).deadline
            total += _working_days(rule) if rule else 0
        if total > budget.max_working_days:
            self.error(
                "budget-exceeded",
                f"default deadlines along the path add up to {total} "
                f"working days, more than the maximum {budget.max_working_days}",
                ("budget", "max_working_days"),
            )

    def check_categories(self) -> None:
        known = self.catalog.categories
        if known is None:
            return
        for i, code in enumerate(self.spec.applies_to):
            if code not in known:
                self.undeclared(
                    "category",
                    code,
                    known,
                    ("applies_to", i),
                    ("applies_to",),
                    code="unknown-category",
                )

    def undeclared(
        self,
        what: str,
        name: str,
        known: set[str] | frozenset[str],
        *paths: Path,
        code: str = "",
        key: bool = False,
    ) -> None:
        choices = self.choices(known)
        self.error(
            code or f"undeclared-{what}",
            f"{what} {name!r} is not declared; declared: {choices}",
            *paths,
            key=key,
        )

    def choices(self, known: set[str] | frozenset[str]) -> str:
        """Return ``known`` sorted for a message; past a few names, how many more there are.

        Worked out once per set (which the cache keeps alive, so its id is not reused), so
        that many undeclared names against many declared ones stay cheap.
        """
        cached = self._choices.get(id(known))
        if cached is None:
            names = sorted(known)
            text = ", ".join(names[:_SHOWN_CHOICES]) or "none"
            if len(names) > _SHOWN_CHOICES:
                text += f" and {len(names) - _SHOWN_CHOICES} more"
            cached = self._choices[id(known)] = (known, text)
        return cached[1]

    @cached_property
    def _choices(self) -> dict[int, tuple[set[str] | frozenset[str], str]]:
        return {}


def _working_days(rule: DeadlineRule) -> int:
    """Estimate a rule's length in working days; rules with no fixed length count 0."""
    if isinstance(rule, WorkingDays):
        return rule.days
    if isinstance(rule, CalendarDays):
        return math.ceil(rule.days * 5 / 7)
    if isinstance(rule, Earliest):
        known = [_working_days(r) for r in rule.rules if isinstance(r, WorkingDays | CalendarDays)]
        return min(known, default=0)
    return 0
