"""The Ledger on the memory store: writing, concurrency, merging, sweeping, delivery, audit.

The helpers here (actors, a ledger on the shipped workflows, a case driven to ``planned``)
are shared with ``test_store.py``, which runs the same flows on every SQL backend.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any, Never
from zoneinfo import ZoneInfo

import attrs
import pytest

from rectify import Actor, Case, EventOption, Evidence, Ledger, SweepReport
from rectify.exceptions import CaseNotFoundError, ConcurrencyError, NaiveDatetimeError
from rectify.stores import CaseQuery, Delivery, MemoryStore, Store
from rectify.testing import FakeCalendar

TZ = ZoneInfo("Asia/Shanghai")
HOUR = dt.timedelta(hours=1)
T0 = dt.datetime(2024, 5, 6, 9, tzinfo=TZ)
DUE = dt.date(2024, 5, 20)
SWEEP_AT = dt.datetime(2024, 6, 1, 9, tzinfo=TZ)  # levels 0, 1 and 2 of ``DUE`` are due

COMMUNITY = Actor("c-1", "community")
INSPECTOR = Actor("c-2", "community")
TOWN = Actor("t-1", "town_office")
PARTY = Actor("p-1", "responsible_party")


def proof(kind: str) -> Evidence:
    return Evidence.of(kind, f"{kind}.jpg", kind.encode())


def make_ledger(store: Store) -> Ledger:
    return Ledger.with_workflows(store, calendar=FakeCalendar())


def hazard_data(community: str = "东区") -> dict[str, object]:
    return {"community": community, "category": "FAC.HOSE", "severity": "general-short"}


def open_planned(
    ledger: Ledger, case_id: str, *, due: dt.date = DUE, community: str = "东区"
) -> Case:
    """Open a hazard case and drive it to ``planned`` with ``due`` as its deadline."""
    ledger.open(case_id, "hazard", hazard_data(community), COMMUNITY, at=T0)
    ledger.fire(
        case_id,
        "assign",
        COMMUNITY,
        payload={"responsible_party": "某物业公司", "measures": "补齐水带", "due": due},
        at=T0 + HOUR,
    )
    return ledger.fire(
        case_id,
        "plan",
        PARTY,
        payload={"measures": "采购水带和水枪", "due": due},
        evidence=[proof("plan_document")],
        at=T0 + 2 * HOUR,
    ).case


def close_planned(ledger: Ledger, case_id: str, at: dt.datetime) -> Case:
    """Drive a planned hazard case to ``closed``."""
    ledger.fire(
        case_id,
        "report_fixed",
        PARTY,
        payload={"summary": "已补齐"},
        evidence=[proof("photo_after")],
        at=at,
    )
    ledger.fire(case_id, "verify", INSPECTOR, evidence=[proof("inspection_record")], at=at + HOUR)
    return ledger.fire(case_id, "close", COMMUNITY, at=at + 2 * HOUR).case


def escalation_levels(case: Case) -> list[object]:
    return [r.payload["level"] for r in case.history if r.event == "@escalate"]


def sweep_together(ledgers: list[Ledger], now: dt.datetime) -> list[SweepReport]:
    """Sweep with every ledger at once, each in its own thread."""
    barrier = threading.Barrier(len(ledgers))
    reports: list[SweepReport | None] = [None] * len(ledgers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            reports[i] = ledgers[i].sweep(now, batch=7)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ledgers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return [r for r in reports if r is not None]


def check_swept_once(store: Store, reports: list[SweepReport], ids: list[str]) -> None:
    """Each case escalated by exactly one sweeper, each level recorded once."""
    escalated = [case_id for report in reports for case_id in report.escalated]
    assert sorted(escalated) == sorted(ids)
    for case_id in ids:
        assert escalation_levels(store.get(case_id)) == [0, 1, 2]
    assert make_ledger(store).verify().ok


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def ledger(store: MemoryStore) -> Ledger:
    return make_ledger(store)


# -- writing ----------------------------------------------------------------------------------


def test_open_stores_the_case_and_its_effects(ledger: Ledger) -> None:
    outcome = ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
    assert ledger.get("H-1") == outcome.case
    assert outcome.case.state == "discovered"
    assert [d.effect for d in ledger.pending()] == list(outcome.effects)


def test_fire_with_a_stale_expected_seq_is_refused_and_writes_nothing(ledger: Ledger) -> None:
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
    seen = ledger.get("H-1").seq  # what a clerk's screen shows
    ledger.fire(
        "H-1",
        "assign",
        COMMUNITY,
        payload={"responsible_party": "物业", "measures": "整改", "due": DUE},
        expected_seq=seen,
        at=T0 + HOUR,
    )
    before = ledger.get("H-1")
    with pytest.raises(ConcurrencyError) as caught:
        ledger.fire(
            "H-1",
            "refer_major",
            TOWN,
            reason="疑似重大隐患",
            expected_seq=seen,
            at=T0 + 2 * HOUR,
        )
    assert (caught.value.expected, caught.value.found) == (seen, seen + 1)
    assert ledger.get("H-1") == before


def test_a_write_from_a_stale_read_loses_to_the_first(store: MemoryStore) -> None:
    first, second = make_ledger(store), make_ledger(store)
    first.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
    case = store.get("H-1")
    engine = first.engine("hazard")
    won = engine.fire(
        case,
        "assign",
        COMMUNITY,
        T0 + HOUR,
        payload={"responsible_party": "物业", "measures": "整改", "due": DUE},
    )
    lost = engine.fire(
        case, "dismiss", TOWN, T0 + HOUR, evidence=[proof("inspection_record")], reason="误报"
    )
    store.append(won.case, case.seq, won.effects)
    with pytest.raises(ConcurrencyError):
        store.append(lost.case, case.seq, lost.effects)
    assert second.get("H-1") == won.case


def test_fire_on_a_missing_case_raises_case_not_found(ledger: Ledger) -> None:
    with pytest.raises(CaseNotFoundError):
        ledger.fire("nope", "assign", COMMUNITY, at=T0)


class Untouchable(MemoryStore):
    """A memory store that fails the test the moment it is read or written."""

    def _touched(self, *_args: object, **_kwargs: object) -> Never:
        raise AssertionError("the store was touched")

    add = append = append_all = add_many = get = query = _touched


class NaiveClock:
    """A broken clock that tells naive times."""

    def now(self) -> dt.datetime:
        return NAIVE


NAIVE = dt.datetime(2024, 5, 6, 9)  # naive on purpose
# Every ledger entry point that takes a time, called with ``when`` (None: the clock's).
ENTRY_POINTS: dict[str, Callable[[Ledger, Any], object]] = {
    "open": lambda ledger, when: ledger.open(
        "H-1", "hazard", hazard_data(), COMMUNITY, at=when, recurrence_of="H-0"
    ),
    "fire": lambda ledger, when: ledger.fire("H-1", "assign", COMMUNITY, at=when),
    "merge": lambda ledger, when: ledger.merge("H-2", "H-1", TOWN, reason="重复", at=when),
    "sweep": lambda ledger, when: ledger.sweep(when),
    "import_cases": lambda ledger, when: ledger.import_cases([], COMMUNITY, at=when),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_date_for_a_time_is_refused_by_every_entry_point_before_the_store(entry: str) -> None:
    ledger = make_ledger(Untouchable())
    with pytest.raises(TypeError, match=r"aware datetime.*datetime\.date\(2024, 5, 1\)"):
        ENTRY_POINTS[entry](ledger, dt.date(2024, 5, 1))


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_naive_time_is_refused_by_every_entry_point_before_the_store(entry: str) -> None:
    ledger = make_ledger(Untouchable())
    with pytest.raises(NaiveDatetimeError, match=r"2024-05-06T09:00:00 has no timezone"):
        ENTRY_POINTS[entry](ledger, NAIVE)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_naive_clock_is_refused_by_every_entry_point_before_the_store(entry: str) -> None:
    ledger = Ledger(Untouchable(), make_ledger(MemoryStore()).engines, clock=NaiveClock())
    with pytest.raises(NaiveDatetimeError, match="no timezone"):
        ENTRY_POINTS[entry](ledger, None)


def test_a_naive_sweep_of_an_empty_store_is_refused_not_silently_done(ledger: Ledger) -> None:
    with pytest.raises(NaiveDatetimeError, match="no timezone"):
        ledger.sweep(NAIVE)


def test_merge_closes_the_duplicate_and_records_it_on_the_kept_case(ledger: Ledger) -> None:
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
    ledger.open("H-2", "hazard", {**hazard_data(), "note": "同一处"}, COMMUNITY, at=T0)
    merged, kept = ledger.merge("H-2", "H-1", TOWN, reason="重复上报", at=T0 + HOUR)
    duplicate, into = ledger.get("H-2"), ledger.get("H-1")
    assert (duplicate, into) == (merged.case, kept.case)
    assert duplicate.final
    assert duplicate.duplicate_of == "H-1"
    assert into.history[-1].event == "@merge"
    assert into.history[-1].payload["duplicate"] == "H-2"
    assert into.history[-1].payload["head"] == duplicate.history[-1].digest
    assert ledger.verify().ok


class _StaleReads(MemoryStore):
    """A store whose next read of one case returns the case as it was before a change."""

    def __init__(self) -> None:
        super().__init__()
        self.stale: Case | None = None

    def get(self, case_id: str) -> Case:
        if self.stale is not None and self.stale.id == case_id:
            stale, self.stale = self.stale, None
            return stale
        return super().get(case_id)


def test_a_merge_that_loses_a_race_stores_nothing_of_either_case() -> None:
    store = _StaleReads()
    ledger = make_ledger(store)
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
    ledger.open("H-2", "hazard", hazard_data(), COMMUNITY, at=T0)
    read = ledger.get("H-1")
    ledger.fire(
        "H-1",
        "assign",
        COMMUNITY,
        at=T0 + HOUR,
        payload={"responsible_party": "物业", "measures": "补齐", "due": DUE},
    )
    store.stale = read  # the merge reads H-1 as it was before the assignment
    with pytest.raises(ConcurrencyError):
        ledger.merge("H-2", "H-1", TOWN, reason="重复上报", at=T0 + 2 * HOUR)
    assert ledger.get("H-2").state == "discovered"  # the duplicate was not merged alone
    assert ledger.get("H-1").history[-1].event == "assign"
    assert ledger.verify().ok


def test_query_filters_and_pages(ledger: Ledger) -> None:
    for i in range(5):
        open_planned(ledger, f"H-{i}", community="东区" if i % 2 else "西区")
    close_planned(ledger, "H-1", T0 + 5 * HOUR)
    assert [c.id for c in ledger.query(community="东区")] == ["H-1", "H-3"]
    assert [c.id for c in ledger.query(community="东区", open=True)] == ["H-3"]
    assert [c.id for c in ledger.query(CaseQuery(state="planned", after="H-2"))] == ["H-3", "H-4"]
    assert [c.id for c in ledger.query(overdue_on=dt.date(2024, 5, 21), limit=2)] == [
        "H-0",
        "H-2",
    ]


def test_allowed_events_of_a_stored_case_are_its_engines_answer(ledger: Ledger) -> None:
    open_planned(ledger, "H-1")
    case = ledger.get("H-1")
    expected = ledger.engine(case.workflow, case.version).allowed_events(case, PARTY)
    options = ledger.allowed_events("H-1", PARTY)
    assert options == expected
    assert all(isinstance(o, EventOption) for o in options)
    assert [o.event for o in options if o.allowed] == ["report_fixed"]


def test_allowed_events_of_an_unknown_case_raise_what_get_raises(ledger: Ledger) -> None:
    with pytest.raises(CaseNotFoundError) as from_get:
        ledger.get("nope")
    with pytest.raises(CaseNotFoundError) as caught:
        ledger.allowed_events("nope", COMMUNITY)
    assert str(caught.value) == str(from_get.value)


# -- sweeping ---------------------------------------------------------------------------------


def test_sweep_records_due_levels_once_and_is_idempotent(ledger: Ledger) -> None:
    for i in range(3):
        open_planned(ledger, f"H-{i}")
    close_planned(ledger, "H-2", T0 + 5 * HOUR)
    first = ledger.sweep(SWEEP_AT, batch=2)
    assert first.escalated == ("H-0", "H-1")
    assert first.looked_at == 2
    assert escalation_levels(ledger.get("H-0")) == [0, 1, 2]
    again = ledger.sweep(SWEEP_AT)
    assert (again.escalated, again.effects, again.conflicts) == ((), (), ())
    assert escalation_levels(ledger.get("H-0")) == [0, 1, 2]


def test_two_ledgers_sweeping_at_once_escalate_each_case_once(store: MemoryStore) -> None:
    ids = [f"H-{i:03}" for i in range(60)]
    first = make_ledger(store)
    for case_id in ids:
        open_planned(first, case_id)
    reports = sweep_together([first, make_ledger(store)], SWEEP_AT)
    check_swept_once(store, reports, ids)


class Interleaving(MemoryStore):
    """A memory store that runs ``hook`` once, right after a query has read a page of cases.

    A sweep reads the ids of the cases due, then the cases a page at a time
    (``CaseQuery(ids=...)``): the hook runs after the first page is read.
    """

    def __init__(self) -> None:
        super().__init__()
        self.hook: Callable[[], object] | None = None

    def query(self, query: CaseQuery) -> list[Case]:
        page = super().query(query)
        if query.ids is None:
            return page
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return page


def test_a_sweeper_that_read_before_another_wrote_skips_the_conflicts() -> None:
    store = Interleaving()
    slow, fast = make_ledger(store), make_ledger(store)
    ids = ["H-1", "H-2", "H-3"]
    for case_id in ids:
        open_planned(slow, case_id)
    results: list[SweepReport] = []
    store.hook = lambda: results.append(fast.sweep(SWEEP_AT))
    late = slow.sweep(SWEEP_AT)
    assert results[0].escalated == tuple(ids)
    assert late.escalated == ()
    assert late.conflicts == tuple(ids)
    check_swept_once(store, [results[0], late], ids)


# -- delivering, verifying, importing --------------------------------------------------------


def test_deliver_records_an_effect_whose_handler_raised_and_redelivers_it(
    ledger: Ledger,
) -> None:
    ledger.open("H-1", "hazard", hazard_data(), COMMUNITY, at=T0)
    ledger.fire(
        "H-1",
        "assign",
        COMMUNITY,
        payload={"responsible_party": "物业", "measures": "整改", "due": DUE},
        at=T0 + HOUR,
    )
    handled: list[Delivery] = []
    failed: list[Delivery] = []

    def flaky(delivery: Delivery) -> None:
        if len(handled) == 1 and not failed:
            failed.append(delivery)
            raise RuntimeError("mail server down")
        handled.append(delivery)

    assert ledger.deliver(flaky) == 2  # the others are delivered all the same
    assert failed[0].attempts == 1  # the first hand-out is the first attempt
    assert [(d.id, d.last_error) for d in ledger.failed()] == [(failed[0].id, "mail server down")]
    assert ledger.deliver(flaky) == 1  # the failed effect comes again
    assert handled[-1].id == failed[0].id
    assert handled[-1].attempts == 2
    assert len({d.id for d in handled}) == 3
    assert ledger.pending() == []
    assert ledger.deliver(flaky) == 0


def test_verify_finds_a_tampered_case(store: MemoryStore, ledger: Ledger) -> None:
    open_planned(ledger, "H-1")
    open_planned(ledger, "H-2")
    case = store.get("H-2")
    edited = attrs.evolve(case.history[1], payload={"responsible_party": "别人", "due": DUE})
    history = (case.history[0], edited, *case.history[2:])
    store._cases["H-2"] = attrs.evolve(case, history=history)
    report = ledger.verify()
    assert report.checked == 2
    assert not report.ok
    assert [(p.case_id, p.seq) for p in report.problems] == [("H-2", 1)]


def test_import_cases_skips_ids_already_stored(ledger: Ledger) -> None:
    rows = [(f"H-{i}", "hazard", hazard_data()) for i in range(5)]
    calls: list[tuple[int, int]] = []
    assert ledger.import_cases(rows[:2], COMMUNITY, at=T0) == 2
    stored = ledger.import_cases(
        rows, COMMUNITY, at=T0, batch=2, progress=lambda done, seen: calls.append((done, seen))
    )
    assert stored == 3
    assert calls[-1] == (3, 5)
    assert [c.id for c in ledger.cases()] == [r[0] for r in rows]
    assert ledger.import_cases(rows, COMMUNITY, at=T0) == 0


def test_a_fires_check_sees_the_case_it_fires_on_and_its_refusal_writes_nothing() -> None:
    ledger = make_ledger(MemoryStore())
    open_planned(ledger, "H-1")
    before = ledger.get("H-1")
    seen: list[Case] = []

    def refuse(case: Case) -> None:
        seen.append(case)
        raise CaseNotFoundError(case.id)  # as the service answers a case outside a scope

    with pytest.raises(CaseNotFoundError):
        # The check runs before expected_seq: a stale seq would otherwise tell the seq.
        ledger.fire("H-1", "extend", TOWN, payload={"due": DUE}, reason="r", expected_seq=0,
                    at=T0 + 3 * HOUR, check=refuse)  # fmt: skip
    assert seen == [before]
    assert ledger.get("H-1") == before
    outcome = ledger.fire("H-1", "extend", TOWN, payload={"due": DUE}, reason="r",
                          at=T0 + 3 * HOUR, check=seen.append)  # fmt: skip
    assert outcome.case.seq == before.seq + 1
