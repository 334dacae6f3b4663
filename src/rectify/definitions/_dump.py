"""Write a workflow spec back as YAML (spec → YAML → spec is the identity)."""

from __future__ import annotations

import yaml

from rectify.definitions._spec import (
    AfterDeadline,
    BeforeDeadline,
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
    StateSpec,
    Trigger,
    WorkflowSpec,
    WorkingDays,
)

__all__ = ["dump_workflow", "rule_to_data"]


class _Dumper(yaml.SafeDumper):
    r"""A safe dumper that double-quotes text holding a NEL (U+0085).

    PyYAML writes NEL as it is in plain and single-quoted scalars, where YAML reads it as a
    line break and folds it into a space; double quotes escape it as ``\N``.
    """


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if "\x85" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_workflow(spec: WorkflowSpec) -> str:
    """Return ``spec`` as a YAML document that loads back to an equal spec."""
    data: dict[str, object] = {"workflow": spec.id, "version": spec.version, "title": spec.title}
    _put(data, "title_en", spec.title_en)
    _put(data, "description", spec.description)
    if any(r.title for r in spec.roles):
        data["roles"] = {r.name: r.title for r in spec.roles}
    else:
        data["roles"] = [r.name for r in spec.roles]
    data["initial"] = spec.initial
    if any(title for _, title in spec.evidence):
        data["evidence"] = dict(spec.evidence)
    elif spec.evidence:
        data["evidence"] = [name for name, _ in spec.evidence]
    if spec.kind != "hazard":
        data["kind"] = spec.kind
    if spec.applies_to:
        data["applies_to"] = list(spec.applies_to)
    data["states"] = {s.name: _state(s) for s in spec.states}
    data["events"] = {e.name: _event(e) for e in spec.events}
    if spec.escalation:
        data["escalation"] = _escalation(spec.escalation)
    if spec.budget:
        data["budget"] = {
            "path": list(spec.budget.path),
            "max_working_days": spec.budget.max_working_days,
        }
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def _put(data: dict[str, object], key: str, value: object) -> None:
    if value not in (None, False, (), ""):
        data[key] = list(value) if isinstance(value, tuple) else value


def rule_to_data(rule: DeadlineRule) -> dict[str, object]:
    """Return a deadline rule in its YAML form."""
    match rule:
        case WorkingDays(days):
            return {"working_days": days}
        case CalendarDays(days):
            return {"calendar_days": days}
        case CampaignDate(phase):
            return {"campaign": phase}
        case FixedDate(date):
            return {"date": date}
        case FieldDate(field):
            return {"field": field}
        case FromSeverity():
            return {"from_severity": True}
        case Earliest(rules):
            return {"earliest": [rule_to_data(r) for r in rules]}
    raise AssertionError(rule)  # pragma: no cover - the union is exhaustive


def _state(state: StateSpec) -> dict[str, object]:
    out: dict[str, object] = {"title": state.title}
    _put(out, "title_en", state.title_en)
    _put(out, "final", state.final)
    if state.deadline:
        out["deadline"] = rule_to_data(state.deadline)
    _put(out, "no_deadline", state.no_deadline)
    _put(out, "pauses_clock", state.pauses_clock)
    _put(out, "notices", state.notices)
    _put(out, "outcome", state.outcome)
    return out


def _event(event: EventSpec) -> dict[str, object]:
    out: dict[str, object] = {}
    _put(out, "title", event.title)
    _put(out, "title_en", event.title_en)
    targets = {(t.target, t.guards) for t in event.transitions}
    if len(targets) == 1:
        ((target, guards),) = targets
        sources = list(event.sources)
        out["from"] = sources[0] if len(sources) == 1 else sources
        out["to"] = target
        _put(out, "guards", guards)
    else:
        out["transitions"] = [
            {"from": t.source, "to": t.target, **({"guards": list(t.guards)} if t.guards else {})}
            for t in event.transitions
        ]
    if event.roles is not None:
        out["roles"] = list(event.roles)
    _put(out, "require", _payload(event.require))
    _put(out, "optional", _payload(event.optional))
    _put(out, "evidence", event.evidence)
    _put(out, "not_same_actor_as", event.not_same_actor_as)
    _put(out, "notice", event.notice)
    if event.deadline:
        out["deadline"] = rule_to_data(event.deadline)
    _put(out, "extension", event.extension)
    _put(out, "reason", event.reason)
    if event.escalate_to is not None:
        out["escalate_to"] = event.escalate_to
    if event.min_escalation is not None:
        out["min_escalation"] = event.min_escalation
    _put(out, "actions", event.actions)
    return out


def _payload(fields: tuple[PayloadField, ...]) -> dict[str, object]:
    return {f.name: list(f.choices) if f.type == "choice" else f.type for f in fields}


def _escalation(esc: Escalation) -> dict[str, object]:
    out: dict[str, object] = {"default": esc.default}
    if esc.by_severity:
        out["by_severity"] = dict(esc.by_severity)
    out["ladders"] = {ladder.name: _ladder(ladder) for ladder in esc.ladders}
    return out


def _ladder(ladder: Ladder) -> object:
    levels = [_level(lv) for lv in ladder.levels]
    return {"states": list(ladder.states), "levels": levels} if ladder.states else levels


def _level(level: Level) -> dict[str, object]:
    out: dict[str, object] = {"level": level.level, "title": level.title}
    _put(out, "title_en", level.title_en)
    whens = [_trigger(t) for t in level.triggers]
    out["when"] = whens[0] if len(whens) == 1 else whens
    _put(out, "notice", level.notice)
    _put(out, "notify", level.notify)
    return out


def _trigger(trigger: Trigger) -> dict[str, object]:
    match trigger:
        case BeforeDeadline(days, working) | AfterDeadline(days, working):
            key = "before_deadline" if isinstance(trigger, BeforeDeadline) else "after_deadline"
            return {key: {"working_days": days} if working else days}
        case OnEvent(event, count):
            return {"event": event, **({"count": count} if count != 1 else {})}
        case OpenFor(days):
            return {"open_for": days}
    raise AssertionError(trigger)  # pragma: no cover - the union is exhaustive
