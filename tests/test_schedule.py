"""The sweep's schedule: each case's next escalation moment, kept by the ledger in its store.

``next_escalation`` says when ``escalate`` first records something; the ledger keeps that
moment with every case it writes (``Case.next_due``, the ``next_due`` column of a SQL
store), so that ``Ledger.sweep`` reads only the cases due; and it records the levels due
before an event with the event, so that a sweep run seldom loses no level. The properties
drive the shipped workflows through ``Ledger.fire`` on the memory store and on SQLite with
different sweep schedules, and find the same histories.
"""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import rectify
from rectify import Case, Ledger
from rectify.calendar import load_campaign
from rectify.engine import NEVER, escalate, next_escalation
from rectify.exceptions import EventRefusedError
from rectify.stores import CaseQuery, MemoryStore, SQLStore
from rectify.stores._sql import SCHEMA_VERSION
from rectify.testing import FakeCalendar
from tests.test_escalation import (
    DAY,
    ENGINES,
    HOUR,
    MOVES,
    OPENER,
    START,
    TZ,
    Walk,
    escalations,
    gaps,
    walks,
)

DATA = Path(__file__).parent / "data"
#: A store made by rectify 0.2's ``rectify demo`` (schema version 3), before the schedule.
V3_DEMO = DATA / "store-v3-demo.db.gz"


# -- next_escalation agrees with escalate --------------------------------------------------


@given(walk=walks(sweeps=True), later=gaps)
def test_next_escalation_is_when_escalate_first_records_something(
    walk: Walk, later: dt.timedelta
) -> None:
    due = next_escalation(walk.engine, walk.case)
    now = walk.now + later
    recorded = escalate(walk.engine, walk.case, now).effects != ()
    assert recorded == (due is not None and due <= now)
    if due is not None:
        assert escalate(walk.engine, walk.case, due).effects, "due at that very moment"
        just_before = due - dt.timedelta(microseconds=1)
        assert escalate(walk.engine, walk.case, just_before).effects == ()


def test_a_final_case_and_a_case_at_the_top_of_its_ladder_have_no_next_escalation() -> None:
    engine = ENGINES["immediate"]
    case = engine.open("i-1", {}, OPENER["immediate"], START).case
    assert next_escalation(engine, case) is not None
    closed = attrs.evolve(case, final=True, state="closed")
    assert next_escalation(engine, closed) is None
    assert escalate(engine, closed, START + 400 * DAY).effects == ()


# -- the ledger keeps the schedule and sweeps only what is due ------------------------------


def memory_ledger() -> Ledger:
    return Ledger(MemoryStore(), ENGINES.values())


def sqlite_ledger(path: Path) -> Ledger:
    return Ledger(SQLStore.open(path), ENGINES.values())


def stores(tmp_path: Path) -> Iterator[Ledger]:
    yield memory_ledger()
    yield sqlite_ledger(tmp_path / "schedule.db")


@attrs.frozen
class Plan:
    """A case of ``kind`` opened at ``START``: moves chosen by index, ``gaps`` apart."""

    kind: str
    steps: tuple[tuple[dt.timedelta, int, int], ...]  # (gap, move index, due in days)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    kind = draw(st.sampled_from(tuple(MOVES)))
    steps = draw(
        st.lists(st.tuples(gaps, st.integers(0, 5), st.integers(0, 40)), min_size=1, max_size=8)
    )
    return Plan(kind, tuple(steps))


def play(ledger: Ledger, plan: Plan, sweeps: str) -> tuple[Case, list[int]]:
    """Open the plan's case and fire its moves, sweeping ``never``, ``daily`` or ``before``.

    ``before``: a sweep one microsecond before each event. Returns the case after a last
    sweep at the end, and what each sweep looked at.
    """
    engine = ENGINES[plan.kind]
    case_id = f"{plan.kind}-1"
    ledger.open(case_id, plan.kind, {}, OPENER[plan.kind], at=START)
    now, looked = START, []
    for gap, index, days in plan.steps:
        then = now + gap
        if sweeps == "daily":
            day = dt.datetime.combine(now.date() + DAY, dt.time(), TZ)
            while day <= then:
                looked.append(ledger.sweep(day).looked_at)
                day += DAY
        elif sweeps == "before" and gap:
            looked.append(ledger.sweep(then - dt.timedelta(microseconds=1)).looked_at)
        now = then
        case = ledger.get(case_id)
        options = MOVES[plan.kind](case.state, now.date() + days * DAY)
        if engine.is_final(case) or not options:
            break
        event, actor, payload, evidence, reason = options[index % len(options)]
        try:
            ledger.fire(
                case_id, event, actor, payload=payload, evidence=evidence, reason=reason, at=now
            )
        except EventRefusedError:
            continue
    end = now + 30 * DAY
    looked.append(ledger.sweep(end).looked_at)
    again = ledger.sweep(end)
    assert (again.escalated, again.effects, again.looked_at) == ((), (), 0), "idempotent"
    return ledger.get(case_id), looked


@settings(max_examples=40, deadline=None)
@given(plan=plans(), sweeps=st.sampled_from(["daily", "before"]))
def test_a_store_s_histories_do_not_depend_on_when_it_is_swept(
    plan: Plan, sweeps: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("schedule")
    seldom, _ = play(memory_ledger(), plan, "never")
    for ledger in stores(folder):
        case, _ = play(ledger, plan, sweeps)
        assert case.history == seldom.history, type(ledger.store).__name__
        assert ledger.verify().ok
        ledger.store.close()


def planned(ledger: Ledger, case_id: str, due: dt.date) -> None:
    """Open a hazard at ``START``, assign it and plan it with deadline ``due``."""
    ledger.open(case_id, "hazard", {}, OPENER["hazard"], at=START)
    for state, when in (("discovered", START + HOUR), ("assigned", START + 2 * HOUR)):
        event, actor, payload, evidence, _ = MOVES["hazard"](state, due)[0]
        ledger.fire(case_id, event, actor, payload=payload, evidence=evidence, at=when)


def test_a_level_due_before_an_event_is_recorded_though_no_sweep_ran(tmp_path: Path) -> None:
    # Planned with a deadline, then reported fixed well after it with no sweep between:
    # the levels that came due while the case was planned stay on record, before the event.
    for ledger in stores(tmp_path):
        planned(ledger, "h-1", START.date() + 5 * DAY)
        late = START + 20 * DAY
        event, actor, payload, evidence, _ = MOVES["hazard"]("planned", late.date())[0]
        assert event == "report_fixed"
        outcome = ledger.fire("h-1", event, actor, payload=payload, evidence=evidence, at=late)
        assert [level for level, _ in escalations(outcome.case)] == [0, 1, 2]
        assert all(when < late for _, when in escalations(outcome.case))
        assert outcome.case.history[-1].event == "report_fixed"
        assert {type(e).__name__ for e in outcome.effects} >= {"Escalated", "NoticeDue"}
        assert ledger.sweep(late + 60 * DAY).escalated == (), "fixed: no ladder state"
        ledger.store.close()


def test_a_sweep_reads_only_the_cases_due(tmp_path: Path) -> None:
    for ledger in stores(tmp_path):
        for n in range(30):
            case_id = f"h-{n:02d}"
            if n % 10 == 0:  # 3 of 30 planned, with a deadline, and so a reminder
                planned(ledger, case_id, START.date() + 3 * DAY)
            else:
                ledger.open(case_id, "hazard", {}, OPENER["hazard"], at=START)
        report = ledger.sweep(START + 2 * DAY)
        assert report.looked_at == 3
        assert sorted(report.escalated) == ["h-00", "h-10", "h-20"]
        assert ledger.sweep(START + 2 * DAY).looked_at == 0
        due = ledger.store.query(CaseQuery(escalation_due=START + 400 * DAY))
        assert [case.id for case in due] == ["h-00", "h-10", "h-20"]
        assert all(case.next_due is None for case in due), "read back: not known"
        ledger.store.close()


def test_a_case_stored_without_a_schedule_is_looked_at_and_scheduled(tmp_path: Path) -> None:
    for ledger in stores(tmp_path):
        engine = ENGINES["hazard"]
        opened = engine.open("h-1", {}, OPENER["hazard"], START)
        ledger.store.add(opened.case, opened.effects)  # a host writing to the store itself
        assert opened.case.next_due is None
        first = ledger.sweep(START + HOUR)
        assert (first.looked_at, first.escalated) == (1, ())
        assert ledger.sweep(START + HOUR).looked_at == 0, "scheduled by the first sweep"
        ledger.store.close()


# -- verification finds a schedule that would hide a case ----------------------------------


def test_verify_finds_a_next_due_moved_later(tmp_path: Path) -> None:
    ledger = sqlite_ledger(tmp_path / "tampered.db")
    planned(ledger, "h-1", START.date() + 3 * DAY)
    assert ledger.verify().ok
    store = ledger.store
    assert isinstance(store, SQLStore)
    cases = store.metadata.tables["rectify_cases"]
    with store.engine.begin() as conn:
        conn.execute(cases.update().values(next_due=int(NEVER.timestamp())))
    report = ledger.verify()
    assert not report.ok
    (finding,) = report.findings
    assert finding.kind == "projection-mismatch"
    assert "next_due" in finding.detail
    assert ledger.sweep(START + 10 * DAY).looked_at == 0, "hidden: why verify must find it"
    with store.engine.begin() as conn:
        conn.execute(cases.update().values(next_due=0))
    assert ledger.verify().ok, "not known is always right: the sweep looks"
    store.close()


@pytest.mark.parametrize("stored", ["soon", -1, 2**62, 2.5])
def test_a_next_due_that_is_no_moment_is_a_corrupt_row_and_breaks_no_sweep(
    tmp_path: Path, stored: object
) -> None:
    ledger = sqlite_ledger(tmp_path / "corrupt.db")
    planned(ledger, "h-1", START.date() + 3 * DAY)
    store = ledger.store
    assert isinstance(store, SQLStore)
    with store.engine.begin() as conn:  # SQLite keeps any value in any column
        conn.execute(sa.text("UPDATE rectify_cases SET next_due = :v"), {"v": stored})
    report = ledger.verify()
    assert not report.ok
    (finding,) = report.findings
    assert finding.kind in {"corrupt-row", "projection-mismatch"}
    assert "next_due" in finding.detail
    ledger.sweep(START + 2 * DAY)  # a clear outcome, no error from the driver
    store.close()


# -- a store of the previous schema, with the demo's data ----------------------------------


@pytest.fixture
def v3_store(tmp_path: Path) -> Path:
    path = tmp_path / "rectify.db"
    with gzip.open(V3_DEMO) as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    return path


def test_a_version_3_store_is_migrated_and_scheduled_by_its_first_sweep(v3_store: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{v3_store}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM rectify_schema")).scalar_one() == 3
    engine.dispose()
    store = SQLStore.open(v3_store)
    ledger = Ledger.with_workflows(store, campaign=load_campaign())
    with store.engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version FROM rectify_schema")).scalar_one()
        unknown = conn.execute(
            sa.text("SELECT count(*) FROM rectify_cases WHERE next_due = 0")
        ).scalar_one()
        total = conn.execute(sa.text("SELECT count(*) FROM rectify_cases")).scalar_one()
    assert version == SCHEMA_VERSION == 4
    assert unknown == total == 202
    report = ledger.verify()
    assert report.ok, report.problems
    end = dt.datetime(2024, 12, 31, 18, tzinfo=TZ)
    first = ledger.sweep(end)
    assert first.looked_at == len(ledger.query(open=True))
    assert ledger.sweep(end).looked_at == 0
    assert ledger.verify().ok
    with store.engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM rectify_cases WHERE next_due = 0 AND NOT is_final")
        ).scalar_one()
    assert left == 0
    # Changed through the new one-transaction path, the migrated store still verifies.
    case = next(c for c in ledger.query(open=True, workflow="hazard"))
    town = rectify.Actor("t-1", "town_office")
    category = str(case.data["category"])
    at = end + dt.timedelta(hours=1)
    ledger.change_category(case.id, category, town, reason="核实类别", at=at)
    assert ledger.get(case.id).seq > case.seq
    assert ledger.verify().ok
    store.close()


def test_a_hazard_with_no_deadline_running_is_kept_as_never_due(tmp_path: Path) -> None:
    ledger = Ledger.with_workflows(SQLStore.open(tmp_path / "x.db"), calendar=FakeCalendar())
    ledger.open("h-1", "hazard", {}, rectify.Actor("c-1", "community"), at=START)
    store = ledger.store
    assert isinstance(store, SQLStore)
    with store.engine.connect() as conn:
        (due,) = conn.execute(sa.text("SELECT next_due FROM rectify_cases")).scalars()
    assert due == int(NEVER.timestamp()), "discovered: no ladder state, no level can come due"
    store.close()
