"""The sweep suite: one escalation sweep over many open cases, against comparing due dates.

The cases are built cheaply: one case is opened, assigned and planned through the engine,
and the others are ``attrs.evolve`` variants of it with their own id and deadline. One case
in twenty has its deadline within reach of the ladder's first level (a reminder some days
before the deadline), so a sweep records one ``@escalate`` for it; the others are due later.
The floor is a plain loop that compares each case's deadline with today plus those days:
it finds the same cases, but records nothing.

The cases are built before the timing and frozen out of the garbage collector's sight
(``gc.freeze``), so that collections set off by the sweep's own allocations do not walk a
million inputs; the collector otherwise stays on.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final
from zoneinfo import ZoneInfo

import attrs

import rectify
from suites.base import WORKFLOWS, Measurement, Settings, time_batch

TZ: Final = ZoneInfo("Asia/Shanghai")
#: When the sweep runs (a Monday morning), and when the base case was opened.
NOW: Final = dt.datetime(2024, 3, 18, 7, 0, tzinfo=TZ)
OPENED: Final = dt.datetime(2024, 3, 4, 9, 0, tzinfo=TZ)
#: One case in ``DUE_EVERY`` has a level due.
DUE_EVERY: Final = 20
#: The other cases' deadlines are spread over this many days past the reminder's reach.
SPREAD: Final = 60


@dataclass(frozen=True)
class Sizes:
    """How many cases each sweep covers, smallest first, and the timed calls per figure."""

    cases: tuple[int, ...]
    repeats: int


FULL_SIZES: Final = Sizes(cases=(10_000, 100_000, 1_000_000), repeats=3)
QUICK_SIZES: Final = Sizes(cases=(1_000, 3_000, 10_000), repeats=2)


def reminder_days(spec: rectify.WorkflowSpec) -> int:
    """Return how many days before the deadline the default ladder's first level fires."""
    escalation = spec.escalation
    if escalation is None:
        raise ValueError(f"{spec.id} has no escalation ladder to sweep")
    first = escalation.ladder_for(None).levels[0].triggers[0]
    if not isinstance(first, rectify.definitions.BeforeDeadline) or first.working:
        raise ValueError(f"{spec.id}: the first level is not a calendar-day reminder")
    return first.days


def planned_case(
    engine: rectify.Engine, case_id: str, due: dt.date, opened_at: dt.datetime
) -> rectify.Outcome:
    """Return a case opened at ``opened_at``, assigned and planned with its date ``due``.

    The store suite builds its stored cases with this too.
    """
    community = rectify.Actor("community-001", "community")
    party = rectify.Actor("party-001", "responsible_party")
    plan = (rectify.Evidence.of("plan_document", "plan.pdf", b"plan"),)
    data = {"address": "幸福里小区1号楼", "category": "evacuation_blocked", "severity": "general"}
    opener = rectify.Actor("grid-001", "grid_worker")
    case = engine.open(case_id, data, opener, opened_at).case
    order = {"responsible_party": party.id, "measures": "清理楼道堆物", "due": due}
    case = engine.fire(
        case, "assign", community, opened_at + dt.timedelta(hours=2), payload=order
    ).case
    return engine.fire(
        case,
        "plan",
        party,
        opened_at + dt.timedelta(days=1),
        payload={"measures": "清理楼道堆物，物业协助清运", "due": due},
        evidence=plan,
    )


def build_cases(engine: rectify.Engine, count: int, reach: int) -> list[rectify.Case]:
    """Return ``count`` planned cases, one in ``DUE_EVERY`` with its reminder due by ``NOW``."""
    base = planned_case(engine, "H-0000000", (OPENED + dt.timedelta(days=40)).date(), OPENED).case
    today = NOW.date()
    # Due: the deadline is today up to `reach` days out (the reminder, and nothing else, is
    # due). Not due: `reach + 1` to `reach + SPREAD` days out.
    soon = [today + dt.timedelta(days=d) for d in range(reach + 1)]
    later = [today + dt.timedelta(days=reach + 1 + d) for d in range(SPREAD)]
    return [
        attrs.evolve(
            base,
            id=f"H-{i:07d}",
            deadline=soon[i // DUE_EVERY % len(soon)] if i % DUE_EVERY == 0 else later[i % SPREAD],
        )
        for i in range(count)
    ]


def due_loop(cases: Sequence[rectify.Case], horizon: dt.date) -> list[rectify.Case]:
    """The floor: every case whose deadline is on or before ``horizon``."""
    due: list[rectify.Case] = []
    for case in cases:
        if case.deadline is not None and case.deadline <= horizon:
            due.append(case)
    return due


def suite(settings: Settings) -> list[Measurement]:
    """``rectify.engine.sweep`` over 10k, 100k and 1M open cases, against a due-date loop."""
    sizes = QUICK_SIZES if settings.quick else FULL_SIZES
    spec = rectify.load_workflow(WORKFLOWS / "hazard.yaml")
    engine = rectify.Engine(spec, calendar=rectify.OfficialCalendar())
    reach = reminder_days(spec)
    horizon = NOW.date() + dt.timedelta(days=reach)
    everything = build_cases(engine, max(sizes.cases), reach)
    quiet = [c for c in everything[: sizes.cases[1]] if c.deadline and c.deadline > horizon]

    for cases in (everything[: sizes.cases[0]], quiet):  # warm up, and check the work
        swept = rectify.engine.sweep(engine, cases, NOW)
        found = due_loop(cases, horizon)
        if swept.swept != len(cases) or [c.id for c in swept.cases] != [c.id for c in found]:
            raise RuntimeError("the sweep and the due-date loop disagree on what is due")
        if any(
            e.escalation != 0 or len(e.history) != len(found[0].history) + 1 for e in swept.cases
        ):
            raise RuntimeError("a due case was not raised to exactly the first level")

    smallest = f"rectify.engine.sweep [{sizes.cases[0]:,}]"
    work = (
        f"per case: one rectify.engine.sweep(engine, cases, now) over open cases in state planned, "
        f"1 in {DUE_EVERY} with its deadline within the reminder's {reach} days (one "
        f"@escalate record, hash-chained, and two effects each), the rest {reach + 1} to "
        f"{reach + SPREAD} days out"
    )
    floor_work = (
        f"per case: a plain loop keeping the cases whose deadline is at most today + {reach} "
        "days: finds the same cases, records nothing"
    )
    out: list[Measurement] = []
    gc.collect()
    gc.freeze()
    try:
        for count in sizes.cases:
            cases = everything[:count]
            loop, name = f"due-date loop [{count:,}]", f"rectify.engine.sweep [{count:,}]"
            out.append(
                time_batch(
                    loop,
                    partial(due_loop, cases, horizon),
                    count,
                    sizes.repeats,
                    description=floor_work,
                )
            )
            out.append(
                time_batch(
                    name,
                    partial(rectify.engine.sweep, engine, cases, NOW),
                    count,
                    sizes.repeats,
                    floor=loop,
                    extra_floors=() if name == smallest else (smallest,),
                    description=work
                    + (
                        f"; the ratio to {smallest} is the growth of the cost per case"
                        if name != smallest
                        else ""
                    ),
                )
            )
        loop, name = (
            f"due-date loop, none due [{len(quiet):,}]",
            f"rectify.engine.sweep, none due [{len(quiet):,}]",
        )
        out.append(
            time_batch(
                loop,
                partial(due_loop, quiet, horizon),
                len(quiet),
                sizes.repeats,
                description=f"{floor_work}; only the cases of the {sizes.cases[1]:,} that are "
                "not due",
            )
        )
        out.append(
            time_batch(
                name,
                partial(rectify.engine.sweep, engine, quiet, NOW),
                len(quiet),
                sizes.repeats,
                floor=loop,
                description=f"per case: rectify.engine.sweep over only the cases of the "
                f"{sizes.cases[1]:,} that are not due: the cost of finding that nothing is "
                "due, without the records",
            )
        )
    finally:
        gc.unfreeze()
    return out
