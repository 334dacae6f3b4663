"""Parse located YAML data into a :class:`~rectify.definitions._spec.WorkflowSpec`.

The parser checks shape (keys, types, names); cross-references and graph properties are
the checker's job (``_checks``). It never raises for bad input: it returns what it could
build and a diagnostic for everything it could not.
"""

from __future__ import annotations

import re
from typing import Final

from rectify.definitions._reader import Reader
from rectify.definitions._spec import (
    KINDS,
    OUTCOMES,
    PAYLOAD_TYPES,
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
from rectify.definitions._yamlsource import Path, Unreadable

__all__ = ["CATEGORY_CODE", "parse_deadline", "parse_workflow_data"]

CATEGORY_CODE: Final = re.compile(r"[A-Z][A-Z0-9]*(\.[A-Z][A-Z0-9]*)*")

_TOP_REQUIRED: Final = ("workflow", "version", "title", "roles", "initial", "states", "events")
_TOP_OPTIONAL: Final = (
    "title_en",
    "description",
    "kind",
    "evidence",
    "escalation",
    "budget",
    "applies_to",
)
_STATE_KEYS: Final = (
    "title_en",
    "final",
    "deadline",
    "no_deadline",
    "notices",
    "pauses_clock",
    "outcome",
)
_EVENT_KEYS: Final = (
    "title",
    "title_en",
    "from",
    "to",
    "transitions",
    "roles",
    "guards",
    "require",
    "optional",
    "evidence",
    "not_same_actor_as",
    "notice",
    "deadline",
    "extension",
    "reason",
    "escalate_to",
    "min_escalation",
    "actions",
)
_RULE_KEYS: Final = (
    "working_days",
    "calendar_days",
    "campaign",
    "date",
    "field",
    "from_severity",
    "earliest",
)
_TRIGGER_KEYS: Final = ("before_deadline", "after_deadline", "event", "count", "open_for")
_MAX_LEVEL: Final = 9


def parse_workflow_data(reader: Reader) -> WorkflowSpec | None:
    """Build a workflow spec from ``reader.doc``; ``None`` when the shape is too broken."""
    top = reader.mapping(
        (),
        reader.doc.data,
        required=_TOP_REQUIRED,
        optional=_TOP_OPTIONAL,
        what="a workflow document",
    )
    if top is None:
        return None
    wid = reader.name(("workflow",), top.get("workflow"), "workflow id")
    version = reader.integer(("version",), top.get("version"), minimum=1, maximum=10_000)
    title = reader.string(("title",), top.get("title"))
    roles = _roles(reader, top.get("roles"))
    initial = reader.name(("initial",), top.get("initial"), "state name")
    states = reader.entries(
        ("states",), top.get("states"), lambda p, n, v: _state(reader, p, n, v), "state name"
    )
    events = reader.entries(
        ("events",), top.get("events"), lambda p, n, v: _event(reader, p, n, v), "event name"
    )
    optional = _top_optional(reader, top)
    if wid is None or version is None or title is None or initial is None or roles is None:
        return None
    return WorkflowSpec(
        id=wid,
        version=version,
        title=title,
        roles=roles,
        initial=initial,
        states=states,
        events=events,
        source=reader.doc.file,
        **optional,  # type: ignore[arg-type]
    )


def _top_optional(reader: Reader, top: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {
        "title_en": reader.optional_text(("title_en",), top, "title_en"),
        "description": reader.optional_text(("description",), top, "description"),
    }
    if "evidence" in top:
        out["evidence"] = _evidence(reader, top["evidence"])
    if "escalation" in top:
        out["escalation"] = _escalation(reader, ("escalation",), top["escalation"])
    if "budget" in top:
        out["budget"] = _budget(reader, ("budget",), top["budget"])
    if "applies_to" in top:
        out["applies_to"] = _codes(reader, ("applies_to",), top["applies_to"])
    if "kind" in top and (kind := _choice(reader, ("kind",), top["kind"], KINDS)) is not None:
        out["kind"] = kind
    return out


def _roles(reader: Reader, value: object) -> tuple[Role, ...] | None:
    if isinstance(value, dict):
        return reader.entries(
            ("roles",), value, lambda p, n, v: _titled_role(reader, p, n, v), "role name"
        )
    names = reader.names(("roles",), value, "role name")
    return None if names is None else tuple(Role(n) for n in names)


def _titled_role(reader: Reader, path: Path, name: str, value: object) -> Role | None:
    title = reader.string(path, value)
    return None if title is None else Role(name, title)


def _evidence(reader: Reader, value: object) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        return reader.entries(
            ("evidence",),
            value,
            lambda p, n, v: None if (t := reader.string(p, v)) is None else (n, t),
            "evidence kind",
        )
    return tuple((n, "") for n in reader.names(("evidence",), value, "evidence kind") or ())


def _codes(reader: Reader, path: Path, value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for i, item in enumerate(items):
        where = (*path, i) if isinstance(value, list) else path
        if isinstance(item, str) and CATEGORY_CODE.fullmatch(item):
            out.append(item)
        else:
            reader.wrong_type(where, item, "a category code such as PAS.LANE")
    return tuple(out)


def _state(reader: Reader, path: Path, name: str, value: object) -> StateSpec | None:
    table = reader.mapping(
        path, value, required=("title",), optional=_STATE_KEYS, what=f"state {name!r}"
    )
    if table is None:
        return None
    title = reader.string((*path, "title"), table.get("title"))
    final = _flag(reader, path, table, "final")
    deadline = (
        parse_deadline(reader, (*path, "deadline"), table["deadline"])
        if ("deadline" in table)
        else None
    )
    no_deadline = reader.optional_text(path, table, "no_deadline")
    notices = reader.names((*path, "notices"), table.get("notices", []), "notice name") or ()
    outcome = None
    if "outcome" in table:
        outcome = _choice(reader, (*path, "outcome"), table["outcome"], OUTCOMES)
    if title is None:
        return None
    return StateSpec(
        name=name,
        title=title,
        final=final,
        deadline=deadline,
        no_deadline=no_deadline,
        notices=notices,
        pauses_clock=_flag(reader, path, table, "pauses_clock"),
        outcome=outcome,
        title_en=reader.optional_text(path, table, "title_en"),
    )


def _flag(reader: Reader, path: Path, table: dict[str, object], key: str) -> bool:
    if key not in table:
        return False
    return bool(reader.boolean((*path, key), table[key]))


def _choice(reader: Reader, path: Path, value: object, choices: tuple[str, ...]) -> str | None:
    if isinstance(value, str) and value in choices:
        return value
    if isinstance(value, Unreadable):
        return None
    reader.error("bad-value", f"{value!r} is not one of: {', '.join(choices)}", path)
    return None


def parse_deadline(reader: Reader, path: Path, value: object) -> DeadlineRule | None:
    """Read a deadline rule: a mapping with exactly one of the rule keys."""
    table = reader.mapping(path, value, optional=_RULE_KEYS, what="a deadline rule")
    if table is None:
        return None
    kinds = [k for k in table if k in _RULE_KEYS]
    if not kinds and len(table) > len(kinds):
        return None  # only unknown keys: reported as such, with the allowed ones
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        reader.error(
            "bad-rule",
            f"a deadline rule has exactly one of {', '.join(_RULE_KEYS)}; found {found}",
            path,
        )
        return None
    kind = kinds[0]
    sub = (*path, kind)
    raw = table[kind]
    if kind in ("working_days", "calendar_days"):
        days = reader.integer(sub, raw, maximum=3650)
        if days is None:
            return None
        return WorkingDays(days) if kind == "working_days" else CalendarDays(days)
    if kind == "campaign":
        phase = reader.name(sub, raw, "campaign phase")
        return None if phase is None else CampaignDate(phase)
    if kind == "date":
        day = reader.date(sub, raw)
        return None if day is None else FixedDate(day)
    if kind == "field":
        field = reader.name(sub, raw, "field name")
        return None if field is None else FieldDate(field)
    if kind == "from_severity":
        if raw is not True:
            reader.wrong_type(sub, raw, "true")
            return None
        return FromSeverity()
    return _earliest(reader, sub, raw)


def _earliest(reader: Reader, path: Path, raw: object) -> DeadlineRule | None:
    if not isinstance(raw, list) or len(raw) < 2:  # noqa: PLR2004 - "earliest" of one is no choice
        reader.wrong_type(path, raw, "a list of at least two deadline rules")
        return None
    rules = [parse_deadline(reader, (*path, i), item) for i, item in enumerate(raw)]
    if any(r is None for r in rules):
        return None
    return Earliest(tuple(r for r in rules if r is not None))


def _event(reader: Reader, path: Path, name: str, value: object) -> EventSpec | None:
    table = reader.mapping(path, value, optional=_EVENT_KEYS, what=f"event {name!r}")
    if table is None:
        return None
    transitions = _transitions(reader, path, table)
    roles = (
        reader.names((*path, "roles"), table["roles"], "role name") if ("roles" in table) else None
    )
    escalate_to = None
    if "escalate_to" in table:
        escalate_to = reader.integer(
            (*path, "escalate_to"), table["escalate_to"], maximum=_MAX_LEVEL
        )
    min_escalation = None
    if "min_escalation" in table:
        min_escalation = reader.integer(
            (*path, "min_escalation"), table["min_escalation"], maximum=_MAX_LEVEL
        )
    deadline = (
        parse_deadline(reader, (*path, "deadline"), table["deadline"])
        if ("deadline" in table)
        else None
    )
    if transitions is None:
        return None
    return EventSpec(
        name=name,
        transitions=transitions,
        title=reader.optional_text(path, table, "title") or "",
        title_en=reader.optional_text(path, table, "title_en"),
        roles=roles,
        require=_payload(reader, (*path, "require"), table.get("require")),
        optional=_payload(reader, (*path, "optional"), table.get("optional")),
        evidence=_names_at(reader, path, table, "evidence", "evidence kind"),
        not_same_actor_as=_names_at(reader, path, table, "not_same_actor_as", "event name"),
        notice=reader.name((*path, "notice"), table["notice"], "notice name")
        if ("notice" in table)
        else None,
        deadline=deadline,
        extension=_flag(reader, path, table, "extension"),
        reason=_flag(reader, path, table, "reason"),
        escalate_to=escalate_to,
        actions=_names_at(reader, path, table, "actions", "action name"),
        min_escalation=min_escalation,
    )


def _names_at(
    reader: Reader, path: Path, table: dict[str, object], key: str, what: str
) -> tuple[str, ...]:
    if key not in table:
        return ()
    return reader.names((*path, key), table[key], what) or ()


def _transitions(
    reader: Reader, path: Path, table: dict[str, object]
) -> tuple[Transition, ...] | None:
    shared = _names_at(reader, path, table, "guards", "guard name")
    if "transitions" in table:
        if "from" in table or "to" in table:
            reader.error(
                "bad-event",
                "give either 'from' and 'to' or 'transitions', not both",
                (*path, "transitions"),
                key=True,
            )
        raw = table["transitions"]
        if not isinstance(raw, list) or not raw:
            reader.wrong_type((*path, "transitions"), raw, "a non-empty list of transitions")
            return None
        out: list[Transition] = []
        for i, item in enumerate(raw):
            sub = (*path, "transitions", i)
            branch = reader.mapping(
                sub, item, required=("from", "to"), optional=("guards",), what="a transition"
            )
            if branch is None:
                continue
            guards = (*shared, *_names_at(reader, sub, branch, "guards", "guard name"))
            out.extend(_branch(reader, sub, branch, guards))
        return tuple(out)
    for key in ("from", "to"):
        if key not in table:
            reader.error("missing-key", f"missing required key {key!r} (or 'transitions')", path)
    if "from" not in table or "to" not in table:
        return None
    return tuple(_branch(reader, path, table, shared))


def _branch(
    reader: Reader, path: Path, table: dict[str, object], guards: tuple[str, ...]
) -> list[Transition]:
    sources = reader.names((*path, "from"), table.get("from"), "state name") or ()
    if table.get("from") == []:  # an event from nowhere could never fire
        reader.wrong_type((*path, "from"), [], "a state name or a non-empty list of state names")
    target = reader.name((*path, "to"), table.get("to"), "state name")
    if target is None:
        return []
    return [Transition(source, target, tuple(dict.fromkeys(guards))) for source in sources]


def _payload(reader: Reader, path: Path, value: object) -> tuple[PayloadField, ...]:
    if value is None:
        return ()

    def one(sub: Path, name: str, kind: object) -> PayloadField | None:
        if isinstance(kind, list):
            if not kind:
                reader.error("bad-value", "a choice needs at least one value", sub)
                return None
            choices = [reader.string((*sub, i), item) for i, item in enumerate(kind)]
            if any(c is None for c in choices):
                return None
            if len(set(choices)) != len(choices):
                reader.error("duplicate-name", "a choice lists the same value twice", sub)
                return None
            return PayloadField(name, "choice", tuple(c for c in choices if c is not None))
        if isinstance(kind, str) and kind in PAYLOAD_TYPES and kind != "choice":
            return PayloadField(name, kind)
        if isinstance(kind, Unreadable):
            return None
        allowed = ", ".join(t for t in PAYLOAD_TYPES if t != "choice")
        reader.error(
            "bad-value",
            f"unknown field type {kind!r}; allowed: {allowed}, or a list of choices",
            sub,
        )
        return None

    return reader.entries(path, value, one, "field name")


def _escalation(reader: Reader, path: Path, value: object) -> Escalation | None:
    table = reader.mapping(
        path, value, required=("ladders",), optional=("default", "by_severity"), what="escalation"
    )
    if table is None:
        return None
    ladders = reader.entries(
        (*path, "ladders"),
        table.get("ladders"),
        lambda p, n, v: _ladder(reader, p, n, v),
        "ladder name",
    )
    if isinstance(table.get("ladders"), dict) and not table["ladders"]:
        reader.error("bad-value", "declare at least one ladder", (*path, "ladders"))
    if "default" in table:
        default = reader.name((*path, "default"), table["default"], "ladder name")
    else:
        default = ladders[0].name if ladders else None
        if len(ladders) > 1:
            reader.error("missing-key", "with several ladders, name the 'default' one", path)
    by_severity: tuple[tuple[str, str], ...] = ()
    if "by_severity" in table:
        by_severity = reader.entries(
            (*path, "by_severity"),
            table["by_severity"],
            lambda p, n, v: None if (lad := reader.name(p, v, "ladder name")) is None else (n, lad),
            "severity",
        )
    if default is None or not ladders:
        return None
    return Escalation(ladders=ladders, default=default, by_severity=by_severity)


def _ladder(reader: Reader, path: Path, name: str, value: object) -> Ladder | None:
    states: tuple[str, ...] = ()
    if isinstance(value, dict):
        table = reader.mapping(
            path, value, required=("levels",), optional=("states",), what=f"ladder {name!r}"
        )
        if table is None:
            return None
        states = _names_at(reader, path, table, "states", "state name")
        path, value = (*path, "levels"), table.get("levels")
    if not isinstance(value, list) or not value:
        reader.wrong_type(path, value, "a non-empty list of levels (or states and levels)")
        return None
    levels = [_level(reader, (*path, i), item) for i, item in enumerate(value)]
    return Ladder(name, tuple(lv for lv in levels if lv is not None), states)


def _level(reader: Reader, path: Path, value: object) -> Level | None:
    table = reader.mapping(
        path,
        value,
        required=("level", "title", "when"),
        optional=("title_en", "notice", "notify"),
        what="a ladder level",
    )
    if table is None:
        return None
    level = reader.integer((*path, "level"), table.get("level"), maximum=_MAX_LEVEL)
    title = reader.string((*path, "title"), table.get("title"))
    raw = table.get("when")
    items = raw if isinstance(raw, list) else [raw]
    triggers = [
        _trigger(reader, (*path, "when", i) if isinstance(raw, list) else (*path, "when"), item)
        for i, item in enumerate(items)
    ]
    notice = (
        reader.name((*path, "notice"), table["notice"], "notice name")
        if ("notice" in table)
        else None
    )
    if level is None or title is None or any(t is None for t in triggers):
        return None
    return Level(
        level=level,
        title=title,
        triggers=tuple(t for t in triggers if t is not None),
        notice=notice,
        notify=_names_at(reader, path, table, "notify", "role name"),
        title_en=reader.optional_text(path, table, "title_en"),
    )


def _trigger(reader: Reader, path: Path, value: object) -> Trigger | None:
    table = reader.mapping(path, value, optional=_TRIGGER_KEYS, what="a trigger")
    if table is None:
        return None
    kinds = [k for k in ("before_deadline", "after_deadline", "event", "open_for") if k in table]
    if len(kinds) != 1 or ("count" in table and kinds != ["event"]):
        reader.error(
            "bad-rule",
            "a trigger has exactly one of before_deadline, after_deadline, "
            "event (with an optional count) or open_for",
            path,
        )
        return None
    kind = kinds[0]
    if kind == "event":
        event = reader.name((*path, "event"), table["event"], "event name")
        count = reader.integer((*path, "count"), table.get("count", 1), minimum=1, maximum=100)
        return None if event is None or count is None else OnEvent(event, count)
    if kind == "open_for":
        days = reader.integer((*path, "open_for"), table["open_for"], minimum=1, maximum=3650)
        return None if days is None else OpenFor(days)
    return _offset_trigger(reader, (*path, kind), kind, table[kind])


def _offset_trigger(reader: Reader, path: Path, kind: str, raw: object) -> Trigger | None:
    working = False
    if isinstance(raw, dict):
        table = reader.mapping(path, raw, optional=("days", "working_days"), what="an offset")
        if table is None or len(table) != 1:
            reader.error(
                "bad-rule", "an offset is a number of days, or one of days or working_days", path
            )
            return None
        working = "working_days" in table
        raw = table.get("working_days", table.get("days"))
        path = (*path, "working_days" if working else "days")
    days = reader.integer(path, raw, maximum=3650)
    if days is None:
        return None
    return (BeforeDeadline if kind == "before_deadline" else AfterDeadline)(days, working)


def _budget(reader: Reader, path: Path, value: object) -> Budget | None:
    table = reader.mapping(path, value, required=("path", "max_working_days"), what="a budget")
    if table is None:
        return None
    states = reader.names((*path, "path"), table.get("path"), "state name")
    if table.get("path") == []:
        reader.wrong_type((*path, "path"), [], "a list of at least two state names")
    limit = reader.integer(
        (*path, "max_working_days"), table.get("max_working_days"), minimum=1, maximum=3650
    )
    if not states or limit is None:
        return None
    return Budget(states, limit)
