"""Hypothesis strategies for rectify's tests: the one module of builders.

Two families live here:

* builders of *valid* workflow specs (:func:`workflow_specs`), valid meaning that
  ``validate_workflow(dump_workflow(spec))`` reports no error;
* mutators of YAML documents, on the parsed data (:func:`mutated_data`) or on the raw text
  (:func:`mutated_texts`, :func:`hostile_texts`), to feed the loader what it must survive.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
import math
import operator
import re
import string
from collections.abc import Sequence
from typing import Final

import attrs
import yaml
from hypothesis import strategies as st

from rectify import WorkflowSpec
from rectify.definitions import (
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
    WorkingDays,
)
from rectify.definitions._spec import OUTCOMES, PAYLOAD_TYPES

# The ledger sheet builders live in rectify.testing, for hosts too.
from rectify.testing import BrokenLedger, LedgerSheet, broken_ledgers, ledger_sheets

__all__ = [
    "YAML11_BOOLEANS",
    "YAML_WORDS",
    "Blowup",
    "BrokenLedger",
    "LedgerSheet",
    "alias_bombs",
    "blowups",
    "broken_ledgers",
    "chinese_texts",
    "deadline_rules",
    "deep_nestings",
    "hostile_texts",
    "id_card_numbers",
    "landline_numbers",
    "ledger_sheets",
    "mobile_numbers",
    "mutated_data",
    "mutated_texts",
    "names",
    "payload_fields",
    "phone_free_texts",
    "phone_writings",
    "titles",
    "triggers",
    "workflow_specs",
    "yaml_values",
]

# --- names and texts --------------------------------------------------------------------

#: Identifiers that YAML 1.1 reads as booleans: rectify reads them as names, even unquoted.
YAML11_BOOLEANS: Final = (
    "on",
    "off",
    "yes",
    "no",
    "On",
    "OFF",
    "Yes",
    "NO",
    "y",
    "n",
    "Y",
    "N",
)

#: Identifiers that YAML reads as something else unless quoted (a dump must quote them).
YAML_WORDS: Final = (
    *YAML11_BOOLEANS,
    "true",
    "false",
    "True",
    "FALSE",
    "null",
    "Null",
    "NULL",
    "_",
)

#: Texts that mean something else to YAML (numbers, dates, indicators, breaks).
_TRICKY_TEXTS: Final = (
    *YAML_WORDS,
    "~",
    "2024-06-30",
    "2024-06-30 12:00:00",
    "1_000",
    "0x1F",
    "0o17",
    "017",
    "1:30",
    ".inf",
    "-.5",
    "+1",
    "12e3",
    "- item",
    "key: value",
    "#comment",
    "&anchor",
    "*alias",
    "!tag",
    "!!python/object:os.system",
    "|",
    "> folded",
    "'",
    '"',
    "%YAML 1.1",
    "---",
    "...",
    "<<",
    "=",
    "a\nb",
    "a\r\nb",
    "\ttab",
    " lead",
    "trail ",
    "  two\n  lines\n",
    "隐患整改",
    "\u00a0x",
    "x\u2028y",
    "x\u2029y",
    "x\x85y",
    "\ufeffbom",
    "🔥 emoji",
    "\x00nul",
    "\x1bescape",
    "\\back\\slash",
)


_HEAD: Final = string.ascii_letters + "_"
# What rectify.IDENTIFIER matches; built from alphabets, much cheaper to draw than from_regex.
_NAMES: Final = st.one_of(
    st.builds(operator.add, st.sampled_from(_HEAD), st.text(_HEAD + string.digits, max_size=11)),
    st.sampled_from(YAML_WORDS),
)
_TITLES: Final = st.one_of(
    st.text(min_size=1, max_size=24),
    st.sampled_from(_TRICKY_TEXTS),
).filter(lambda s: bool(s.strip()))
_OPTIONAL_TITLES: Final = st.none() | _TITLES
_OPTIONAL_NAMES: Final = st.none() | _NAMES


def names() -> st.SearchStrategy[str]:
    """Identifiers (state, event, role, field... names), YAML 1.1 words included."""
    return _NAMES


def titles() -> st.SearchStrategy[str]:
    """Non-blank text: arbitrary Unicode, plus texts that mean something to YAML."""
    return _TITLES


_MOBILES: Final = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
_HANZI: Final = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=6)


def mobile_numbers() -> st.SearchStrategy[str]:
    """Mainland mobile numbers as 11 ASCII digits: 1, then 3-9, then nine digits."""
    return _MOBILES


def chinese_texts() -> st.SearchStrategy[str]:
    """Short runs of CJK ideographs (names, addresses), possibly empty; never a digit."""
    return _HANZI


# --- phone numbers, ID-card numbers and the text around them ----------------------------

_LANDLINES: Final = st.from_regex(r"0(?:[1-9][0-9]|[1-9][0-9]{2})[2-9][0-9]{6,7}", fullmatch=True)
_BIRTHDAYS: Final = st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31))
_ID_CARDS: Final = st.builds(
    lambda region, born, serial, check: f"{region}{born:%Y%m%d}{serial}{check}",
    st.from_regex(r"[1-9][0-9]{5}", fullmatch=True),
    _BIRTHDAYS,
    st.from_regex(r"[0-9]{3}", fullmatch=True),
    st.sampled_from("0123456789X"),
)
#: How people separate digit groups: ASCII, full-width, dashes, dots, slashes, odd spaces.
_PHONE_SEPARATORS: Final = (
    "",
    " ",
    "-",
    "－",
    ".",
    "．",
    "/",
    "／",
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u00a0",  # no-break space
    "\u2009",  # thin space
    "\u202f",  # narrow no-break space
    "\u3000",  # ideographic space
)
_COUNTRY_CODES: Final = ("", "+86 ", "+86-", "0086 ", "86", "(+86)", "（＋86）", "+86")
_FULL_WIDTH: Final = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
_PIECE_SIZES: Final = st.integers(3, 5)


def landline_numbers() -> st.SearchStrategy[str]:
    """Mainland landlines with their area code: 0, two or three digits, 7 or 8 digits."""
    return _LANDLINES


def id_card_numbers() -> st.SearchStrategy[str]:
    """18-character resident ID numbers: region, birth date, serial, check digit or X."""
    return _ID_CARDS


@st.composite
def phone_writings(draw: st.DrawFn) -> tuple[str, str]:
    """Return ``(number, written)``: a mobile, landline or ID number as someone typed it.

    The number (ASCII digits, maybe a final X) is cut into groups of three to five
    characters joined by one drawn separator (the writings people use; a group of one or
    two digits would read as a date's month), maybe in full-width digits, and a mobile
    maybe with a country code in front.
    """
    kind = draw(st.sampled_from(("mobile", "landline", "id")))
    number = draw({"mobile": _MOBILES, "landline": _LANDLINES, "id": _ID_CARDS}[kind])
    groups, rest = [], number
    while len(rest) > 5:
        size = draw(_PIECE_SIZES)
        if len(rest) - size < 3:
            size = len(rest) - 3
        groups.append(rest[:size])
        rest = rest[size:]
    groups.append(rest)
    written = draw(st.sampled_from(_PHONE_SEPARATORS)).join(groups)
    if kind == "mobile":
        written = draw(st.sampled_from(_COUNTRY_CODES)) + written
    if draw(st.booleans()):
        written = written.translate(_FULL_WIDTH)
    return number, written


_LONG_RUN: Final = re.compile(r"[0-9]{7}").search
#: Numbers in hazard texts that are not phones: dates, document and case numbers, money,
#: buildings, heights, standards.
_NOT_PHONES: Final = st.one_of(
    st.integers(0, 999_999).map(str),
    _BIRTHDAYS.map(lambda d: f"{d:%Y-%m-%d}"),
    _BIRTHDAYS.map(lambda d: f"{d.year}.{d.month}.{d.day}"),
    _BIRTHDAYS.map(lambda d: f"{d.year}/{d.month}/{d.day}"),
    _BIRTHDAYS.map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
    st.builds("虎峰镇消安〔{}〕{}号".format, st.integers(2000, 2099), st.integers(1, 999)),
    st.from_regex(r"HZ-[0-9a-f]{10}", fullmatch=True).filter(lambda s: not _LONG_RUN(s)),
    st.integers(0, 10**9 - 1).map("{}元".format),
    st.integers(0, 10**6).map("￥{:,}.00".format),
    st.builds(
        "{}栋{}单元{}室".format, st.integers(1, 30), st.integers(1, 9), st.integers(101, 3303)
    ),
    st.integers(1, 99).map("{}层".format),
    st.integers(1, 300).map("{}米".format),
)
_SOME_HANZI: Final = st.text(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=6
)


@st.composite
def phone_free_texts(draw: st.DrawFn) -> str:
    """Chinese text with numbers that are not phones, each between runs of ideographs."""
    pieces = draw(st.lists(_NOT_PHONES, max_size=4))
    out = draw(_HANZI)
    for piece in pieces:
        out += piece + draw(_SOME_HANZI)
    return out


# Strategies are built once: building them afresh in every example costs more than drawing.


@functools.cache
def _unique_names(min_size: int = 0, max_size: int = 4) -> st.SearchStrategy[list[str]]:
    return st.lists(_NAMES, min_size=min_size, max_size=max_size, unique=True)


@functools.cache
def _indexes(size: int, min_size: int, max_size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, size - 1), min_size=min_size, max_size=max_size, unique=True)


def _subset(draw: st.DrawFn, pool: Sequence[str], min_size: int = 0) -> tuple[str, ...]:
    """Draw distinct members of ``pool``, at most four, in a drawn order."""
    if not pool:
        return ()
    return tuple(pool[i] for i in draw(_indexes(len(pool), min_size, min(4, len(pool)))))


def _one_of(draw: st.DrawFn, pool: Sequence[str]) -> str:
    return pool[draw(st.integers(0, len(pool) - 1))]


# --- parts of a workflow ----------------------------------------------------------------

_RULE_LEAVES: Final[st.SearchStrategy[DeadlineRule]] = st.one_of(
    st.builds(WorkingDays, st.integers(0, 3650)),
    st.builds(CalendarDays, st.integers(0, 3650)),
    st.builds(CampaignDate, _NAMES),
    st.builds(FixedDate, st.dates()),
    st.builds(FieldDate, _NAMES),
    st.just(FromSeverity()),
)
_RULES: Final[st.SearchStrategy[DeadlineRule]] = st.recursive(
    _RULE_LEAVES,
    lambda inner: st.builds(Earliest, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    max_leaves=6,
)
_OPTIONAL_RULES: Final = st.none() | _RULES


def deadline_rules() -> st.SearchStrategy[DeadlineRule]:
    """Deadline rules of every kind, ``Earliest`` nested in ``Earliest`` included."""
    return _RULES


_TRIGGER_KINDS: Final = st.sampled_from(("before", "after", "event", "open"))


@st.composite
def triggers(draw: st.DrawFn, events: Sequence[str]) -> Trigger:
    """Escalation triggers of every kind; ``OnEvent`` names one of ``events``."""
    kind = draw(_TRIGGER_KINDS)
    if kind == "event":
        return OnEvent(_one_of(draw, events), draw(st.integers(1, 100)))
    if kind == "open":
        return OpenFor(draw(st.integers(1, 3650)))
    days, working = draw(st.integers(0, 3650)), draw(st.booleans())
    return BeforeDeadline(days, working) if kind == "before" else AfterDeadline(days, working)


@st.composite
def payload_fields(draw: st.DrawFn) -> PayloadField:
    """A payload field of any type in ``PAYLOAD_TYPES``; a ``choice`` lists its values."""
    field_name = draw(_NAMES)
    kind = draw(st.sampled_from(PAYLOAD_TYPES))
    if kind != "choice":
        return PayloadField(field_name, kind)
    choices = draw(st.lists(_TITLES, min_size=1, max_size=4, unique=True))
    return PayloadField(field_name, kind, tuple(choices))


_PAYLOADS: Final = st.lists(payload_fields(), max_size=3, unique_by=lambda f: f.name).map(tuple)


def _levels(draw: st.DrawFn, roles: Sequence[str], events: Sequence[str]) -> tuple[Level, ...]:
    numbers = sorted(draw(st.lists(st.integers(0, 9), min_size=1, max_size=4, unique=True)))
    return tuple(
        Level(
            level=number,
            title=draw(_TITLES),
            triggers=tuple(draw(triggers(events)) for _ in range(draw(st.integers(1, 3)))),
            notice=draw(_OPTIONAL_NAMES),
            notify=_subset(draw, roles),
            title_en=draw(_OPTIONAL_TITLES),
        )
        for number in numbers
    )


def _escalation(
    draw: st.DrawFn, roles: Sequence[str], events: Sequence[str], states: Sequence[str]
) -> Escalation:
    ladder_names = draw(_unique_names(min_size=1, max_size=3))
    ladders = tuple(
        Ladder(n, _levels(draw, roles, events), _subset(draw, states)) for n in ladder_names
    )
    severities = draw(_unique_names(max_size=3))
    by_severity = tuple((s, _one_of(draw, ladder_names)) for s in severities)
    return Escalation(ladders, _one_of(draw, ladder_names), by_severity)


def _most_working_days(rule: DeadlineRule | None) -> int:
    """An upper bound of what the budget check may count for ``rule``."""
    if isinstance(rule, WorkingDays | CalendarDays):
        return rule.days
    if isinstance(rule, Earliest):
        return max(_most_working_days(r) for r in rule.rules)
    return 0


def _distinct_guards(
    draw: st.DrawFn, source: str, taken: set[tuple[str, frozenset[str]]]
) -> tuple[str, ...]:
    """Draw guards no other transition of the event from ``source`` has (no ambiguity)."""
    guards = draw(_unique_names(max_size=2))
    extra = 0
    while (source, frozenset(guards)) in taken:
        extra += 1
        guards = [g for g in guards if g != f"guard_{extra}"] + [f"guard_{extra}"]
    taken.add((source, frozenset(guards)))
    return tuple(guards)


# --- whole workflows --------------------------------------------------------------------


_OUTCOMES: Final = st.none() | st.sampled_from(OUTCOMES)
_LEVEL_NUMBERS: Final = st.none() | st.integers(0, 9)
_EVENT_TITLES: Final = st.just("") | _TITLES
_CATEGORY_CODES: Final = st.lists(
    st.lists(st.text(string.ascii_uppercase, min_size=1, max_size=4), min_size=1, max_size=3).map(
        ".".join
    ),
    max_size=3,
).map(tuple)


@st.composite
def workflow_specs(draw: st.DrawFn, max_states: int = 7) -> WorkflowSpec:
    """A valid workflow: every state is reachable and can reach a final state.

    The states are laid on a spine ``s0 → s1 → … → first final``; every other final state
    is entered from some non-final state, and extra edges only leave non-final states, so
    there is neither a trap nor an unreachable state and no final state has events.
    """
    count = draw(st.integers(2, max_states))
    state_names = draw(_unique_names(min_size=count, max_size=count))
    finals = draw(st.integers(1, count - 1))
    spine, other_finals = state_names[: count - finals + 1], state_names[count - finals + 1 :]
    non_final = spine[:-1]

    edges = list(itertools.pairwise(spine))
    edges += [(_one_of(draw, non_final), f) for f in other_finals]
    edges += [
        (_one_of(draw, non_final), _one_of(draw, state_names))
        for _ in range(draw(st.integers(0, 4)))
    ]
    event_count = draw(st.integers(1, len(edges)))
    event_names = draw(_unique_names(min_size=event_count, max_size=event_count))
    # Every event gets at least one edge; the rest are spread at random.
    owners = list(range(event_count))
    owners += [draw(st.integers(0, event_count - 1)) for _ in range(len(edges) - event_count)]
    owners = draw(st.permutations(owners))

    role_names = draw(_unique_names(min_size=1, max_size=5))  # no role: nobody may act
    titled_roles = draw(st.booleans())  # roles are all titled (a mapping) or none (a list)
    roles = tuple(Role(n, draw(_TITLES) if titled_roles else "") for n in role_names)
    evidence_names = draw(_unique_names(max_size=4))
    titled_evidence = draw(st.booleans())
    evidence = tuple((n, draw(_TITLES) if titled_evidence else "") for n in evidence_names)

    events = []
    for index, name in enumerate(event_names):
        taken: set[tuple[str, frozenset[str]]] = set()
        transitions = tuple(
            Transition(a, b, _distinct_guards(draw, a, taken))
            for (a, b), owner in zip(edges, owners, strict=True)
            if owner == index
        )
        restricted = bool(role_names) and draw(st.booleans())  # roles=None: any role
        events.append(
            EventSpec(
                name=name,
                transitions=transitions,
                title=draw(_EVENT_TITLES),
                title_en=draw(_OPTIONAL_TITLES),
                roles=_subset(draw, role_names, min_size=1) if restricted else None,
                require=draw(_PAYLOADS),
                optional=draw(_PAYLOADS),
                evidence=_subset(draw, evidence_names),
                not_same_actor_as=_subset(draw, event_names),
                notice=draw(_OPTIONAL_NAMES),
                deadline=draw(_OPTIONAL_RULES),
                extension=draw(st.booleans()),
                reason=draw(st.booleans()),
                escalate_to=draw(_LEVEL_NUMBERS),
                actions=tuple(draw(_unique_names(max_size=3))),
            )
        )

    states = []
    for name in state_names:
        final = name not in non_final
        deadline = None if final else draw(_OPTIONAL_RULES)
        states.append(
            StateSpec(
                name=name,
                title=draw(_TITLES),
                final=final,
                deadline=deadline,
                no_deadline=draw(_TITLES) if not final and deadline is None else None,
                notices=tuple(draw(_unique_names(max_size=2))),
                pauses_clock=draw(st.booleans()),
                outcome=draw(_OUTCOMES) if final else None,
                title_en=draw(_OPTIONAL_TITLES),
            )
        )
    states = draw(st.permutations(states))  # declaration order is free

    budget = None
    if draw(st.booleans()):
        path = spine[: draw(st.integers(1, len(spine)))]
        rules = {s.name: s.deadline for s in states}
        while sum(_most_working_days(rules[s]) for s in path) > 3650:
            path = path[:-1]
        if path:
            least = max(1, sum(_most_working_days(rules[s]) for s in path))
            budget = Budget(tuple(path), draw(st.integers(least, 3650)))

    return WorkflowSpec(
        id=draw(_NAMES),
        version=draw(st.integers(1, 10_000)),
        title=draw(_TITLES),
        roles=roles,
        initial=spine[0],
        states=tuple(states),
        events=tuple(events),
        title_en=draw(_OPTIONAL_TITLES),
        description=draw(_OPTIONAL_TITLES),
        evidence=evidence,
        escalation=_escalation(draw, role_names, event_names, state_names)
        if draw(st.booleans())
        else None,
        budget=budget,
        applies_to=draw(_CATEGORY_CODES),
    )


# --- random YAML data -------------------------------------------------------------------

# Numbers past 64 bits and past rectify's size limit for numbers (but printable: a dump of
# one past Python's int-to-text digit limit would fail in yaml.safe_dump itself).
_HUGE_INTEGERS: Final = st.one_of(st.integers(2**63, 10**1200), st.integers(-(10**1200), -(2**63)))


def _scalars() -> st.SearchStrategy[object]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        _HUGE_INTEGERS,
        st.floats(),  # nan and infinities included
        titles(),
        st.text(max_size=8),
        st.dates(),
        st.datetimes(),
        st.datetimes(timezones=st.just(dt.UTC)),
        st.binary(max_size=8),
    )


def _keys() -> st.SearchStrategy[object]:
    """Mapping keys: names, any text, and what YAML allows as well (numbers, lists...)."""
    return st.one_of(
        names(),
        st.text(max_size=8),
        st.integers(),
        st.booleans(),
        st.none(),
        st.dates(),
        st.tuples(st.integers(), st.text(max_size=3)),  # a complex key, "? [1, a]"
    )


def yaml_values(max_leaves: int = 12) -> st.SearchStrategy[object]:
    """Anything ``yaml.safe_dump`` can write: scalars, lists, mappings, nested."""
    return st.recursive(
        _scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(_keys(), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


_DataPath = tuple[object, ...]


def _paths(node: object, prefix: _DataPath = ()) -> list[_DataPath]:
    """Return the path of every node below ``node`` (not ``node`` itself)."""
    out: list[_DataPath] = []
    if isinstance(node, dict):
        children: list[tuple[object, object]] = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return out
    for key, child in children:
        path = (*prefix, key)
        out.append(path)
        out.extend(_paths(child, path))
    return out


def _parent(root: object, path: _DataPath) -> object:
    node = root
    for part in path[:-1]:
        node = node[part]  # type: ignore[index]
    return node


def _replacements(node: object) -> st.SearchStrategy[object]:
    """Values of another type than ``node``, random scalars and random structures."""
    wrong: list[object] = [None, True, 0, -1, 1.5, math.nan, "", " ", "text", [], {}, [node]]
    if isinstance(node, dict):
        wrong.append(list(node))
    if isinstance(node, list):
        wrong.append({str(i): v for i, v in enumerate(node)})
    return st.one_of(st.sampled_from(wrong), _scalars(), yaml_values())


@st.composite
def _mutate_once(draw: st.DrawFn, root: object) -> object:
    paths = _paths(root)
    if not paths:
        return draw(yaml_values())
    path = draw(st.sampled_from(paths))
    parent = _parent(root, path)
    last = path[-1]
    op = draw(st.sampled_from(("delete", "rename", "replace", "replace", "duplicate")))
    if isinstance(parent, dict):
        if op == "delete":
            del parent[last]
        elif op == "rename":
            new_key = draw(_keys())
            value = parent.pop(last)
            parent[new_key] = value
        elif op == "duplicate":
            parent[draw(_NAMES)] = copy.deepcopy(parent[last])
        else:
            parent[last] = draw(_replacements(parent[last]))
    elif isinstance(parent, list):
        assert isinstance(last, int)
        if op == "delete":
            del parent[last]
        elif op in ("rename", "duplicate"):
            parent.insert(last, copy.deepcopy(parent[last]))
        else:
            parent[last] = draw(_replacements(parent[last]))
    return root


@st.composite
def mutated_data(draw: st.DrawFn, data: object, max_mutations: int = 4) -> str:
    """Mutate a copy of parsed ``data`` (delete, rename, replace keys and values), as YAML."""
    root = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, max_mutations))):
        root = draw(_mutate_once(root))
    return yaml.safe_dump(root, allow_unicode=draw(st.booleans()), sort_keys=False)


# --- raw text ---------------------------------------------------------------------------

#: Pieces of YAML syntax to splice into a document.
_SYNTAX: Final = (
    ":",
    ": ",
    "- ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "#",
    "&a ",
    "*a",
    "*undefined",
    "<<: *a\n",
    "!!python/object:os.system ",
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system ",
    "!!binary ",
    "!!timestamp ",
    "!!bool ",
    "!!int ",
    "!!float ",
    "!!set ",
    "!!omap ",
    "!!str ",
    "!!null ",
    "!custom ",
    "!<tag:yaml.org,2002:int> ",
    "\t",
    "\n",
    "\r",
    "  ",
    "'",
    '"',
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%TAG ! tag:example.com,2000:\n",
    "\ufeff",
    "\x00",
    "\x85",
    "\u2028",
    "\udcff",
)

#: Scalars that resolve or are tagged into values the constructors may choke on.
_TAGGED: Final = (
    "!!timestamp 'not a date'",
    "!!timestamp ''",
    "!!bool maybe",
    "!!int ''",
    "!!int '-'",
    "!!int 0b",
    "!!float ''",
    "!!float x",
    "!!binary 'not base64 $'",
    "!!python/object:os.system ls",
    "!!python/object/apply:os.system {args: [ls]}",
    "!!python/name:os.system",
    "!!set [a, b]",
    "!!omap x",
    "!!pairs x",
    "!!map x",
    "!!seq x",
    "!!merge x",
    "!!value x",
    "2024-02-30",
    "2024-06-30 25:61:61",
    "2024-06-30T12:00:00+99:00",
    "0x" + "f" * 4000,
    "0o" + "7" * 5000,
    "0b" + "1" * 20000,
    ":".join(["59"] * 3000),
    "9" * 5000,
    "1" + "_" * 3000,
    "1e99999",
    ".NaN",
)


def _random_unicode(max_size: int = 12) -> st.SearchStrategy[str]:
    """Any code points, lone surrogates included."""
    return st.text(st.characters(exclude_categories=()), max_size=max_size)


def _random_bytes_as_text() -> st.SearchStrategy[str]:
    """Random bytes, read as Latin-1 or as UTF-8 with surrogate escapes."""
    return st.tuples(st.binary(min_size=1, max_size=12), st.booleans()).map(
        lambda b: b[0].decode("latin-1") if b[1] else b[0].decode("utf-8", "surrogateescape")
    )


def deep_nestings() -> st.SearchStrategy[str]:
    """Deeply nested text: runs of ``[`` or ``{`` (balanced or not), block nesting."""
    depth = st.integers(40, 12_000)
    return st.one_of(
        depth.map(lambda n: "[" * n),
        depth.map(lambda n: "{" * n),
        depth.map(lambda n: "[" * n + "]" * n),
        depth.map(lambda n: "{a: " * n + "}" * n),
        st.integers(40, 300).map(lambda n: "- " * n + "x"),
        st.integers(40, 200).map(lambda n: "".join(" " * i + f"k{i}:\n" for i in range(n))),
    )


def alias_bombs() -> st.SearchStrategy[str]:
    """Billion-laughs documents: each level a list of aliases of the level below."""

    def bomb(shape: tuple[int, int, bool]) -> str:
        width, depth, as_mapping = shape
        lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
        for i in range(1, depth):
            if as_mapping:
                items = ", ".join(f"k{j}: *l{i - 1}" for j in range(width))
                lines.append(f"l{i}: &l{i} {{{items}}}")
            else:
                lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
        return "\n".join(lines) + "\n"

    return st.tuples(st.integers(2, 10), st.integers(2, 12), st.booleans()).map(bomb)


_FRACTIONS: Final = st.floats(0, 1)


def _position(draw: st.DrawFn, last: int) -> int:
    """Draw a place in ``0..last``, spread evenly (integers favour the small end)."""
    return round(draw(_FRACTIONS) * last)


@st.composite
def _splice(draw: st.DrawFn, text: str) -> str:
    """Put a piece of syntax, a tagged scalar or random text somewhere in ``text``."""
    at = _position(draw, len(text))
    piece = draw(
        st.one_of(
            st.sampled_from(_SYNTAX),
            st.sampled_from(_TAGGED),
            _random_unicode(),
            _random_bytes_as_text(),
            deep_nestings().map(lambda s: s[:2000]),
        )
    )
    cut = draw(st.integers(0, 3))  # sometimes overwrite what was there
    return text[:at] + piece + text[at + cut :]


@st.composite
def _replace_value(draw: st.DrawFn, text: str) -> str:
    """Replace the value after some ``key:`` with a hostile value."""
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if ": " in line]
    if not candidates:
        return text
    i = draw(st.sampled_from(candidates))
    key = lines[i].split(": ", 1)[0]
    value = draw(
        st.one_of(
            st.sampled_from(_TAGGED),
            deep_nestings(),
            alias_bombs().map(lambda b: "\n" + b),
            _random_unicode(),
        )
    )
    lines[i] = f"{key}: {value}"
    return "\n".join(lines)


@st.composite
def _line_edit(draw: st.DrawFn, text: str) -> str:
    """Delete, duplicate, re-indent or swap a line."""
    lines = text.split("\n")
    i = _position(draw, len(lines) - 1)
    op = draw(st.sampled_from(("delete", "duplicate", "indent", "dedent", "swap")))
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "indent":
        lines[i] = " " * draw(st.integers(1, 5)) + lines[i]
    elif op == "dedent":
        lines[i] = lines[i].lstrip()
    else:
        j = _position(draw, len(lines) - 1)
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


@st.composite
def mutated_texts(draw: st.DrawFn, text: str, max_mutations: int = 3) -> str:
    """Mutate raw YAML ``text``: splices, hostile values, line edits, then maybe truncate."""
    for _ in range(draw(st.integers(1, max_mutations))):
        mutate = draw(st.sampled_from((_splice, _replace_value, _line_edit)))
        text = draw(mutate(text))
    if draw(st.booleans()):
        text = text[: _position(draw, len(text))]
    return text


def hostile_texts() -> st.SearchStrategy[str]:
    """Whole documents that are not workflows at all: noise, nesting, tags, random data.

    Alias bombs are left to :func:`alias_bombs`: each costs a walk up to the node limit.
    """
    return st.one_of(
        _random_unicode(max_size=200),
        _random_bytes_as_text(),
        deep_nestings(),
        st.sampled_from(_TAGGED),
        yaml_values().map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    )


@attrs.frozen
class Blowup:
    """A recipe to blow one part of a document up to about ``size`` characters.

    The recipe, not the megabytes, is what hypothesis draws and prints.

    Attributes:
        kind: ``scalar`` (one long value), ``states`` (many states with events between
            them), ``names`` (a long list of role names in an event), ``keys`` (many unknown
            keys) or ``comments``.
        size: About how long the document becomes.
        knob: For ``scalar`` the repeated character; for ``states`` every ``knob``-th event
            leads to a state that does not exist (0: none); for ``names`` the share in
            percent of names that are not declared.
    """

    kind: str
    size: int
    knob: int | str = 0

    def apply(self, text: str) -> str:
        """Return ``text`` blown up."""
        size, knob = self.size, self.knob
        if self.kind == "scalar":
            return text.replace("\ntitle:", f"\ndescription_en: x{str(knob) * size}\ntitle:", 1)
        if self.kind == "comments":
            return "# a comment line\n" * (size // 17) + text
        if self.kind == "keys":
            return text + "".join(f"x{i:07d}: 1\n" for i in range(size // 12))
        if self.kind == "names":
            count = size // 12
            wrong = count * int(knob) // 100
            items = ", ".join(f"u{i:07d}" if i < wrong else "community" for i in range(count))
            return text.replace("\n    roles: [", f"\n    roles: [{items}, ", 1)

        def state(i: int) -> str:
            return f"  s{i:07d}:\n    title: S\n    deadline: {{working_days: 1}}\n"

        def event(i: int) -> str:
            broken = knob and i % int(knob) == 0
            return f"  e{i:07d}: {{from: s{i:07d}, to: {'t' if broken else 's'}{i + 1:07d}}}\n"

        count = size // (len(state(0)) + len(event(0)))
        states = "".join(state(i) for i in range(count))
        events = "".join(event(i) for i in range(count))
        text = text.replace("\nstates:\n", "\nstates:\n" + states, 1)
        return text.replace("\nevents:\n", "\nevents:\n" + events, 1)


_SIZES: Final = st.one_of(st.integers(1_000_000, 1_990_000), st.integers(2_000_001, 3_000_000))


def blowups() -> st.SearchStrategy[Blowup]:
    """Recipes for documents of about 1 to 3 MB (rectify's limit is 2 MB)."""
    return st.one_of(
        st.builds(Blowup, st.just("scalar"), _SIZES, st.sampled_from("a长🔥 ")),
        st.builds(Blowup, st.just("states"), _SIZES, st.integers(0, 3)),
        st.builds(Blowup, st.just("names"), _SIZES, st.integers(0, 100)),
        st.builds(Blowup, st.sampled_from(("keys", "comments")), _SIZES),
    )
