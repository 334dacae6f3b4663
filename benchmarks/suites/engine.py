"""The engine suite: cases through the hazard lifecycle, rectify against state-machine peers.

Every contender does the same work per case: open it, then fire assign, plan, report_fixed,
verify and close, each with its actor, time, payload and evidence (the same values for
everyone), keeping the case's data (the opening data, updated by every payload) and a
history list with one entry per event (event, source, target, actor, role, time, payload,
evidence). The peers check the source state and run one condition per transition (the
event's roles), through their library's own trigger path. rectify does more per event:
payload type checks, evidence checks, the role and separation-of-duties checks, the
time-order check, deadlines on the working-day calendar, a frozen new case value and a
history record sealed with SHA-256 into a hash chain.

A figure is the time per event: one pass over all the cases (opening counts as an event),
divided by six events per case. The inputs are built before the timing and frozen out of
the garbage collector's sight (``gc.freeze``), so collecting them is no contender's cost;
the collector otherwise stays on, as in real use.
"""

from __future__ import annotations

import datetime as dt
import gc
import tracemalloc
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Protocol, TypeVar
from zoneinfo import ZoneInfo

import statemachine
import transitions

import rectify
from suites.base import WORKFLOWS, Measurement, Settings, time_batch

TZ: Final = ZoneInfo("Asia/Shanghai")
#: When the first case is opened (a Monday); case ``i`` is opened ``i * SPACING`` later.
START: Final = dt.datetime(2024, 3, 4, 8, 0, tzinfo=TZ)
SPACING: Final = dt.timedelta(seconds=11)
EVENTS: Final = ("assign", "plan", "report_fixed", "verify", "close")
#: Events per case, opening included: the unit of the time figures.
PER_CASE: Final = 1 + len(EVENTS)
#: How many events of the lifecycle a case has had when its memory is measured (opening,
#: assign, plan, report_fixed, verify: a history of five records).
MEMORY_EVENTS: Final = 4


@dataclass(frozen=True)
class Sizes:
    """How many cases each measurement runs.

    Attributes:
        cases: Cases per pass for rectify, transitions with a shared machine and the dict
            table.
        few_cases: Cases per pass for the slow peers (a transitions Machine per case,
            python-statemachine), and for rectify again beside them: a pass of 100,000
            cases would take them minutes.
        memory_cases: Live cases whose memory is measured, per contender.
        repeats: Timed passes per figure; the figure is the best.
    """

    cases: int
    few_cases: int
    memory_cases: int
    repeats: int


FULL_SIZES: Final = Sizes(cases=100_000, few_cases=10_000, memory_cases=2_000, repeats=2)
QUICK_SIZES: Final = Sizes(cases=300, few_cases=100, memory_cases=100, repeats=2)


# --- the inputs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a case's lifecycle, as the host hands it over."""

    event: str
    actor: rectify.Actor
    at: dt.datetime
    payload: dict[str, object]
    evidence: tuple[rectify.Evidence, ...]


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """One case's inputs: what it is opened with and its five events, in order."""

    case_id: str
    data: dict[str, object]
    opener: rectify.Actor
    opened_at: dt.datetime
    steps: tuple[Step, ...]


def _actors(role: str, count: int) -> tuple[rectify.Actor, ...]:
    return tuple(rectify.Actor(f"{role}-{n:03d}", role) for n in range(count))


GRID: Final = _actors("grid_worker", 40)
COMMUNITY: Final = _actors("community", 12)
PARTY: Final = _actors("responsible_party", 300)
PROPERTY: Final = _actors("property", 20)
TOWN: Final = _actors("town_office", 6)


def lifecycle(i: int) -> Lifecycle:
    """Return the inputs of case ``i``: its own id, texts, times and evidence."""
    case_id = f"H-{i:07d}"
    opened = START + i * SPACING
    due = (opened + dt.timedelta(days=21)).date()
    party = PARTY[i % len(PARTY)]
    measures = f"清理{i // 100 + 1}号楼{i % 100 + 1}室门前楼道堆物，恢复疏散通道畅通"
    steps = (
        Step(
            "assign",
            COMMUNITY[i % len(COMMUNITY)],
            opened + dt.timedelta(hours=2),
            {"responsible_party": party.id, "measures": measures, "due": due},
            (),
        ),
        Step(
            "plan",
            party,
            opened + dt.timedelta(days=1),
            {"measures": f"{measures}；由物业协助清运", "due": due},
            (rectify.Evidence.of("plan_document", f"{case_id}-plan.pdf", case_id.encode()),),
        ),
        Step(
            "report_fixed",
            PROPERTY[i % len(PROPERTY)],
            opened + dt.timedelta(days=8),
            {"summary": f"{case_id} 堆物已清运，通道畅通"},
            (rectify.Evidence.of("photo_after", f"{case_id}-after.jpg", case_id.encode()),),
        ),
        Step(
            "verify",
            TOWN[i % len(TOWN)],
            opened + dt.timedelta(days=10),
            {},
            (rectify.Evidence.of("inspection_record", f"{case_id}-check.pdf", case_id.encode()),),
        ),
        Step("close", COMMUNITY[(i + 1) % len(COMMUNITY)], opened + dt.timedelta(days=11), {}, ()),
    )
    data: dict[str, object] = {
        "address": f"幸福里小区{i // 100 + 1}号楼{i % 100 + 1}室",
        "category": "evacuation_blocked",
        "severity": "general",
        "description": f"{i % 100 + 1}室门前楼道堆放杂物，占用疏散通道",
    }
    return Lifecycle(case_id, data, GRID[i % len(GRID)], opened, steps)


# --- the contenders -------------------------------------------------------------------------

C = TypeVar("C")


class Contender(Protocol[C]):
    """Runs cases one way: rectify, or a peer."""

    def open(self, lc: Lifecycle) -> C:
        """Open the case ``lc`` describes."""
        ...

    def fire(self, case: C, step: Step) -> C:
        """Fire ``step`` on ``case``; return the case as it is now."""
        ...

    def summary(self, case: C) -> tuple[str, int]:
        """Return the case's state and the length of its history."""
        ...


class RectifyEngine:
    """rectify: one ``Engine`` for the workflow, a frozen ``Case`` value per case."""

    def __init__(self, engine: rectify.Engine) -> None:
        self.engine = engine

    def open(self, lc: Lifecycle) -> rectify.Case:
        return self.engine.open(lc.case_id, lc.data, lc.opener, lc.opened_at).case

    def fire(self, case: rectify.Case, step: Step) -> rectify.Case:
        return self.engine.fire(
            case, step.event, step.actor, step.at, payload=step.payload, evidence=step.evidence
        ).case

    def summary(self, case: rectify.Case) -> tuple[str, int]:
        return case.state, len(case.history)


#: A peer's history entry: event, source, target, actor, role, time, payload, evidence.
PeerRecord = tuple[
    str, str | None, str, str, str, dt.datetime, Mapping[str, object], tuple[rectify.Evidence, ...]
]


class PeerCase:
    """A case as a host without rectify keeps it: state, data and a history list."""

    __slots__ = ("data", "history", "id", "state")

    def __init__(self, lc: Lifecycle, initial: str) -> None:
        self.id = lc.case_id
        self.state = initial
        self.data = dict(lc.data)
        opener = lc.opener
        self.history: list[PeerRecord] = [
            ("@open", None, initial, opener.id, opener.role, lc.opened_at, lc.data, ())
        ]

    def record(self, step: Step, source: str) -> None:
        """Keep what ``step`` brought, once the case has moved from ``source``."""
        self.data.update(step.payload)
        actor = step.actor
        self.history.append(
            (
                step.event,
                source,
                self.state,
                actor.id,
                actor.role,
                step.at,
                step.payload,
                step.evidence,
            )
        )


class RefusedError(RuntimeError):
    """A peer refused an event of the lifecycle: the benchmark is wrong, not slow."""


def peer_summary(case: PeerCase) -> tuple[str, int]:
    return case.state, len(case.history)


def role_condition(roles: frozenset[str]) -> Callable[..., bool]:
    """Return a transition condition: the actor passed to the trigger holds one of ``roles``."""

    def allowed(actor: rectify.Actor, **_: object) -> bool:
        return actor.role in roles

    return allowed


def event_roles(spec: rectify.WorkflowSpec) -> dict[str, frozenset[str]]:
    return {
        e.name: frozenset(e.roles if e.roles is not None else spec.role_names) for e in spec.events
    }


def transitions_table(spec: rectify.WorkflowSpec) -> list[dict[str, object]]:
    roles = event_roles(spec)
    return [
        {
            "trigger": e.name,
            "source": t.source,
            "dest": t.target,
            "conditions": [role_condition(roles[e.name])],
        }
        for e in spec.events
        for t in e.transitions
    ]


class SharedTransitions:
    """``transitions``, one Machine for every case: its cheapest correct pattern.

    The machine is built once with ``model=None``; a case is a light ``__slots__`` object
    with a ``state`` attribute that is never registered with the machine, and an event is
    fired with ``machine.events[name].trigger(case, actor=...)``. That is the trigger path
    a bound ``case.assign()`` takes: it reads the case's state, refuses an event with no
    transition from it (``MachineError``), runs the conditions, exit and enter callbacks,
    and sets the state. Measured alternatives, per event on the machine this was written
    on: this ~9 µs; ``machine.add_model(case)`` / ``remove_model`` around each case ~40 µs
    (it binds 36 partials, one per event, ``may_<event>`` and ``is_<state>``, onto every
    model, which also cost memory while the case lives); ``Machine(model=case)`` per case
    ~100 µs, below.
    Cheaper still is to skip the trigger path and check
    ``machine.events[name].transitions[state]`` and their conditions by hand, as rectify
    itself does inside ``Engine.fire``; that is reusing transitions' data structures, not
    a pattern of the library, so it is not the peer here.
    """

    def __init__(self, spec: rectify.WorkflowSpec) -> None:
        self.initial = spec.initial
        self.machine = transitions.Machine(
            model=None,
            states=[s.name for s in spec.states],
            initial=spec.initial,
            transitions=transitions_table(spec),
            auto_transitions=False,
        )
        self.events = self.machine.events

    def open(self, lc: Lifecycle) -> PeerCase:
        return PeerCase(lc, self.initial)

    def fire(self, case: PeerCase, step: Step) -> PeerCase:
        source = case.state
        if not self.events[step.event].trigger(case, actor=step.actor):
            raise RefusedError(f"{case.id}: {step.event} refused")
        case.record(step, source)
        return case

    summary = staticmethod(peer_summary)


class MachineCase(PeerCase):
    """A peer case that ``transitions`` binds its triggers onto (so it has a ``__dict__``)."""

    trigger: Callable[..., bool]


class MachinePerCase:
    """``transitions``, a ``Machine(model=case)`` per case, the pattern its README leads with.

    The machine lives as long as the case: the triggers bound onto the case refer to it.
    """

    def __init__(self, spec: rectify.WorkflowSpec) -> None:
        self.initial = spec.initial
        self.states = [s.name for s in spec.states]
        self.table = transitions_table(spec)

    def open(self, lc: Lifecycle) -> MachineCase:
        case = MachineCase(lc, self.initial)
        transitions.Machine(
            model=case,
            states=self.states,
            initial=self.initial,
            transitions=self.table,
            auto_transitions=False,
        )
        return case

    def fire(self, case: MachineCase, step: Step) -> MachineCase:
        source = case.state
        if not case.trigger(step.event, actor=step.actor):
            raise RefusedError(f"{case.id}: {step.event} refused")
        case.record(step, source)
        return case

    summary = staticmethod(peer_summary)


class StatemachineCase(PeerCase):
    """A peer case with its python-statemachine instance (which writes ``state`` on it)."""

    __slots__ = ("machine",)
    machine: Any


def statemachine_class(spec: rectify.WorkflowSpec) -> type[statemachine.StateMachine]:
    """Return a python-statemachine ``StateMachine`` subclass for ``spec``."""
    roles = event_roles(spec)
    states = {
        s.name: statemachine.State(
            s.name, value=s.name, initial=s.name == spec.initial, final=s.final
        )
        for s in spec.states
    }
    namespace: dict[str, object] = dict(states)
    for event in spec.events:
        condition = role_condition(roles[event.name])
        moves: Any = None
        for t in event.transitions:
            move = states[t.source].to(states[t.target], cond=condition)
            moves = move if moves is None else moves | move
        namespace[event.name] = moves
    return types.new_class(
        f"{spec.id.title()}StateMachine",
        (statemachine.StateMachine,),
        exec_body=lambda body: body.update(namespace),
    )


class StatemachinePerCase:
    """python-statemachine: one class per workflow, an instance per case (its cheapest).

    The instance writes the state on the case (its ``model``) and lives as long as the case.
    ``send`` raises ``TransitionNotAllowed`` for an event with no transition from the
    current state or whose conditions refuse. A single instance cannot serve many cases
    (it is bound to the model it was built with); the documented alternative, a new
    instance per event on a persisted model, builds a machine for every event and was
    about twice as slow when this was written.
    """

    def __init__(self, spec: rectify.WorkflowSpec) -> None:
        self.initial = spec.initial
        self.machine_class = statemachine_class(spec)

    def open(self, lc: Lifecycle) -> StatemachineCase:
        case = StatemachineCase(lc, self.initial)
        case.machine = self.machine_class(model=case)
        return case

    def fire(self, case: StatemachineCase, step: Step) -> StatemachineCase:
        source = case.state
        case.machine.send(step.event, actor=step.actor)
        case.record(step, source)
        return case

    summary = staticmethod(peer_summary)


class DictTable:
    """The floor: a dict from (state, event) to (target, roles), and nothing else."""

    def __init__(self, spec: rectify.WorkflowSpec) -> None:
        self.initial = spec.initial
        roles = event_roles(spec)
        self.table = {
            (t.source, e.name): (t.target, roles[e.name])
            for e in spec.events
            for t in e.transitions
        }

    def open(self, lc: Lifecycle) -> PeerCase:
        return PeerCase(lc, self.initial)

    def fire(self, case: PeerCase, step: Step) -> PeerCase:
        source = case.state
        move = self.table.get((source, step.event))
        if move is None or step.actor.role not in move[1]:
            raise RefusedError(f"{case.id}: {step.event} refused")
        case.state = move[0]
        case.record(step, source)
        return case

    summary = staticmethod(peer_summary)


# --- running and measuring ------------------------------------------------------------------


def run_all(contender: Contender[C], lifecycles: Iterable[Lifecycle]) -> list[C]:
    """Run every case through its whole lifecycle; return the closed cases."""
    out: list[C] = []
    for lc in lifecycles:
        case = contender.open(lc)
        for step in lc.steps:
            case = contender.fire(case, step)
        out.append(case)
    return out


def check_closed(name: str, contender: Contender[C], cases: Sequence[C]) -> None:
    """Raise unless every case is closed with six history entries (the work was done)."""
    for case in cases:
        if contender.summary(case) != ("closed", PER_CASE):
            raise RefusedError(f"{name}: a case ended as {contender.summary(case)}")


def memory_per_case(contender: Contender[C], count: int) -> float:
    """Return the bytes each of ``count`` live cases holds, its data and history included.

    Each case's inputs are made inside the measurement, so what a case keeps of them (its
    texts, times, payloads) counts, and what it copies and drops does not. The cases are
    kept alive in a list until the memory is read (``tracemalloc``: every allocation by
    Python; shared machinery such as the engine or a shared machine is built before).
    """
    for i in range(min(50, count)):  # warms caches (the calendar's days, interned names)
        lc = lifecycle(i)  # so that the count has only what the cases keep
        case = contender.open(lc)
        for step in lc.steps[:MEMORY_EVENTS]:
            case = contender.fire(case, step)
    del lc, case
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        live: list[C] = []  # alive until the memory is read
        for i in range(count):
            lc = lifecycle(i)
            case = contender.open(lc)
            for step in lc.steps[:MEMORY_EVENTS]:
                case = contender.fire(case, step)
            live.append(case)
        del lc, case
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    return used / count


@dataclass(frozen=True)
class Figure:
    """One contender's figure: its name, its input and what it is compared with."""

    name: str
    contender: Contender[Any]
    description: str
    few: bool = False
    floor: str | None = None
    extra_floors: tuple[str, ...] = ()
    targets: tuple[tuple[str, float], ...] = ()


PEER_WORK: Final = (
    "like every peer, it checks the source state and the actor's role (a condition per "
    "transition) and keeps a data dict and a history list of (event, source, target, actor, "
    "role, time, payload, evidence) tuples"
)
RECTIFY_WORK: Final = (
    "rectify does more per event than the peers: payload type checks, evidence, roles and "
    "separation of duties, time order, working-day deadlines, a new frozen case value and a "
    "history record hash-chained with SHA-256"
)


def suite(settings: Settings) -> list[Measurement]:
    """The hazard lifecycle per event and memory per live case, against peers and a floor.

    Floor: a dict transition table. Peers: transitions with one shared machine (its
    cheapest correct pattern) and with a Machine per case, and python-statemachine. The
    issue's targets are reported beside the ratios, never asserted.
    """
    sizes = QUICK_SIZES if settings.quick else FULL_SIZES
    if sizes.few_cases >= sizes.cases:
        raise ValueError("few_cases must be fewer than cases, or the figure names collide")
    spec = rectify.load_workflow(WORKFLOWS / "hazard.yaml")
    engine = rectify.Engine(spec, calendar=rectify.OfficialCalendar())
    rectify_engine = RectifyEngine(engine)
    shared, per_case = SharedTransitions(spec), MachinePerCase(spec)
    psm, table = StatemachinePerCase(spec), DictTable(spec)

    n, few = f"[{sizes.cases:,}]", f"[{sizes.few_cases:,}]"
    floor, cheapest = f"dict table {n}", f"transitions, shared machine {n}"
    per_case_name, psm_name = f"transitions, Machine per case {few}", f"python-statemachine {few}"
    each = f"per event (a pass of {{}} cases through open, {', '.join(EVENTS)}, / {PER_CASE})"
    many, fewer = each.format(f"{sizes.cases:,}"), each.format(f"{sizes.few_cases:,}")
    slow = f"fewer cases: a pass of {FULL_SIZES.cases:,} would take these peers minutes"
    figures = [
        Figure(floor, table, f"{many}; a dict (state, event) -> (target, roles); {PEER_WORK}"),
        Figure(
            cheapest,
            shared,
            f"{many}; one Machine(model=None) for all cases, "
            "machine.events[event].trigger(case, actor=...) on a __slots__ case never added "
            "to it: the cheapest correct pattern (see SharedTransitions)",
            floor=floor,
        ),
        Figure(
            f"rectify.Engine {n}",
            rectify_engine,
            f"{many}; Engine.open and Engine.fire; {RECTIFY_WORK}",
            floor=floor,
            extra_floors=(cheapest,),
            targets=((cheapest, 2.0),),
        ),
        Figure(
            per_case_name,
            per_case,
            f"{fewer}, {slow}; a Machine(model=case) per case, case.trigger(event, actor=...)",
            few=True,
            floor=floor,
        ),
        Figure(
            psm_name,
            psm,
            f"{fewer}, {slow}; a StateMachine subclass built from the workflow, an instance "
            "per case (model=case), send(event, actor=...)",
            few=True,
            floor=floor,
        ),
        Figure(
            f"rectify.Engine {few}",
            rectify_engine,
            f"{fewer}: rectify again, beside the slow peers",
            few=True,
            floor=per_case_name,
            extra_floors=(psm_name,),
            targets=((per_case_name, 0.2),),
        ),
    ]
    out = time_figures(figures, sizes)
    held = (
        f"bytes per live case after open, {', '.join(EVENTS[:MEMORY_EVENTS])} (a history of "
        f"{MEMORY_EVENTS + 1}), {sizes.memory_cases:,} cases kept alive in a list, by "
        "tracemalloc; each case's inputs are made inside the measurement, so the texts, times "
        "and payloads it keeps count"
    )
    floor, cheapest = "memory: dict table", "memory: transitions, shared machine"
    per_case_memory, psm_memory = (
        "memory: transitions, Machine per case",
        "memory: python-statemachine",
    )
    memory = [
        Figure(floor, table, held),
        Figure(cheapest, shared, "the same, for transitions with a shared machine", floor=floor),
        Figure(per_case_memory, per_case, "the same, the Machine included", floor=floor),
        Figure(psm_memory, psm, "the same, the StateMachine instance included", floor=floor),
        Figure(
            "memory: rectify.Engine",
            rectify_engine,
            "the same, for rectify: a frozen Case, frozen Records with two SHA-256 hex digests "
            "each, and frozen copies of the data and payloads",
            floor=cheapest,
            extra_floors=(floor, per_case_memory, psm_memory),
            targets=((cheapest, 1.5),),
        ),
    ]
    out.extend(memory_figures(memory, sizes))
    return out


def time_figures(figures: Sequence[Figure], sizes: Sizes) -> list[Measurement]:
    """Time every figure's pass over its cases (after a checked warm-up of each)."""
    lifecycles = [lifecycle(i) for i in range(sizes.cases)]  # built once, before any timing
    few_lifecycles = lifecycles[: sizes.few_cases]
    warm = lifecycles[: min(200, sizes.few_cases)]
    for figure in figures:  # warms up, and shows the work is done: every case closed
        check_closed(figure.name, figure.contender, run_all(figure.contender, warm))
    out: list[Measurement] = []
    gc.collect()
    gc.freeze()  # the inputs: no contender's collections should walk them
    try:
        for figure in figures:
            cases = few_lifecycles if figure.few else lifecycles
            out.append(
                time_batch(
                    figure.name,
                    partial(run_all, figure.contender, cases),
                    len(cases) * PER_CASE,
                    sizes.repeats,
                    floor=figure.floor,
                    extra_floors=figure.extra_floors,
                    targets=figure.targets,
                    description=figure.description,
                )
            )
    finally:
        gc.unfreeze()
    return out


def memory_figures(figures: Sequence[Figure], sizes: Sizes) -> list[Measurement]:
    """Measure every figure's memory per live case (no timing)."""
    return [
        Measurement(
            name=figure.name,
            value=memory_per_case(figure.contender, sizes.memory_cases),
            unit="B/case",
            floor=figure.floor,
            extra_floors=figure.extra_floors,
            targets=figure.targets,
            description=figure.description,
            repeats=1,
            number=sizes.memory_cases,
        )
        for figure in figures
    ]
