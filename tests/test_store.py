"""One store suite for every backend: memory, SQLite, PostgreSQL and MariaDB.

PostgreSQL and MariaDB run when their URLs are set (``.ci/run`` sets both)::

    RECTIFY_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test
    RECTIFY_TEST_MARIADB_URL=mysql+pymysql://root@127.0.0.1:3306/test

Each run uses its own table prefix on a server and drops its tables at the end.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
import sqlalchemy as sa

import rectify
from rectify import Case, Evidence, Record, SweepReport
from rectify.engine import NEVER, DeadlineSet, Effect, Escalated, NoticeDue, verify_history
from rectify.engine._history import chain, seal
from rectify.exceptions import (
    ArgumentError,
    CaseExistsError,
    CaseNotFoundError,
    ConcurrencyError,
    SchemaError,
    StoreError,
)
from rectify.stores import CaseQuery, CaseSummary, MemoryStore, SQLStore, Store, open_store
from rectify.stores._sql import SCHEMA_VERSION
from rectify.stores._store import MAX_IDS, matches
from tests.test_ledger import (
    DUE,
    SWEEP_AT,
    check_swept_once,
    close_planned,
    escalation_levels,
    make_ledger,
    open_planned,
    sweep_together,
)

SERVERS = {
    "postgresql": (
        "RECTIFY_TEST_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ),
    "mariadb": ("RECTIFY_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
SQL_BACKENDS = ["sqlite", "postgresql", "mariadb"]
BACKENDS = ["memory", *SQL_BACKENDS]
RUN = uuid.uuid4().hex[:8]  # this run's table prefix on the servers: t<RUN>_

TZ = ZoneInfo("Asia/Shanghai")
HOUR = dt.timedelta(hours=1)
T0 = dt.datetime(2024, 5, 6, 9, tzinfo=TZ)


def server_url(backend: str) -> str:
    variable, example = SERVERS[backend]
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{backend} tests need a server: set {variable}={example}")
    return url


def drop(store: SQLStore) -> None:
    store.metadata.drop_all(store.engine)


def clear(store: SQLStore) -> None:
    with store.engine.begin() as conn:
        for table in store.metadata.sorted_tables:
            if not table.name.endswith("schema"):
                conn.execute(table.delete())


class Servers:
    """One store per server for the whole run (tables made once), emptied per test."""

    def __init__(self) -> None:
        self.stores: dict[str, SQLStore] = {}

    def get(self, backend: str) -> SQLStore:
        if backend not in self.stores:
            self.stores[backend] = SQLStore.open(server_url(backend), prefix=f"t{RUN}_")
        store = self.stores[backend]
        clear(store)
        return store

    def close(self) -> None:
        for store in self.stores.values():
            drop(store)
            store.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    found = Servers()
    yield found
    found.close()


def make_store(backend: str, servers: Servers, tmp_path: Path) -> Iterator[Store]:
    if backend == "memory":
        yield MemoryStore()
    elif backend == "sqlite":
        store = SQLStore.open(tmp_path / "rectify.db")
        yield store
        store.close()
    else:
        yield servers.get(backend)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, servers: Servers, tmp_path: Path) -> Iterator[Store]:
    yield from make_store(request.param, servers, tmp_path)


@pytest.fixture(params=SQL_BACKENDS)
def sql_store(
    request: pytest.FixtureRequest, servers: Servers, tmp_path: Path
) -> Iterator[SQLStore]:
    for store in make_store(request.param, servers, tmp_path):
        assert isinstance(store, SQLStore)
        yield store


@pytest.fixture(params=SQL_BACKENDS)
def sql_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test may open SQL stores of its own (with its own prefix)."""
    if request.param == "sqlite":
        return str(tmp_path / "own.db")
    return server_url(request.param)


@pytest.fixture
def own_prefix(sql_target: str) -> Iterator[str]:
    prefix = f"o{uuid.uuid4().hex[:8]}_"
    yield prefix
    url = sql_target if "://" in sql_target else f"sqlite:///{sql_target}"
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    metadata.reflect(engine, only=lambda name, _: name.startswith(prefix))
    metadata.drop_all(engine)
    engine.dispose()


# -- cases to store ---------------------------------------------------------------------------


def make_case(
    case_id: str,
    *,
    state: str = "planned",
    workflow: str = "hazard",
    records: int = 2,
    deadline: dt.date | None = None,
    escalation: int | None = None,
    paused: bool = False,
    final: bool = False,
    **data: object,
) -> Case:
    history = chain(
        [
            Record(
                i,
                "@open" if i == 0 else "step",
                None if i == 0 else state,
                state,
                "a-1",
                "community",
                T0 + i * HOUR,
                {"n": i},
            )
            for i in range(records)
        ]
    )
    return Case(
        case_id,
        workflow,
        1,
        state,
        data,
        deadline=deadline,
        escalation=escalation,
        paused_since=T0 if paused else None,
        final=final,
        history=history,
    )


def grow(case: Case, *, event: str = "step", state: str | None = None) -> Case:
    """Return ``case`` with one more record."""
    target = state or case.state
    record = seal(
        Record(
            case.seq + 1,
            event,
            case.state,
            target,
            "a-2",
            "town_office",
            case.updated_at + HOUR,
            {"event": event},
        ),
        case.history[-1],
    )
    return attrs.evolve(case, state=target, history=(*case.history, record))


def notice(case: Case, name: str = "reminder") -> NoticeDue:
    return NoticeDue(case.id, name, case.seq, case.history[-1].event, to=("community",), level=1)


def rich_case() -> Case:
    """A case with everything a store must keep exactly: dates, zones, Unicode, evidence."""
    records = [
        Record(
            0,
            "@open",
            None,
            "discovered",
            "网格员-张三",
            "grid_worker",
            dt.datetime(2024, 3, 1, 8, 30, 15, 123456, tzinfo=TZ),
            {
                "data": {"community": "幸福小区 🔥", "found": dt.date(2024, 3, 1)},
                "list": [1, "二", dt.date(2024, 3, 2), [True, None, 2.5]],
                "when": dt.datetime(2024, 3, 1, 0, 0, tzinfo=dt.UTC),
            },
        ),
        Record(
            1,
            "assign",
            "discovered",
            "planned",
            "社区-李四",
            "community",
            dt.datetime(2024, 3, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            {"due": dt.date(2024, 6, 30), "measures": "更换不燃材料\n拆除雨棚 'a' \"b\" \\ c"},
            (
                Evidence.of("photo_before", "照片 1.jpg", "图".encode()),
                Evidence("inspection_record", "record.pdf", "0" * 64),
            ),
            "理由：整改量大\n第二行",
        ),
    ]
    return Case(
        "H-2024-001/幸福",
        "hazard",
        1,
        "planned",
        {
            "community": "幸福小区 🔥",
            "category": "STR.CANOPY",
            "severity": "phased",
            "found": dt.date(2024, 3, 1),
            "floors": 7,
            "height": 20.5,
            "elevator": False,
            "owner": None,
            "phone": "13800000000",
        },
        deadline=dt.date(2024, 6, 30),
        escalation=2,
        recurrence_of="H-2023-009",
        recurrence_count=1,
        extensions=2,
        paused_since=dt.datetime(2024, 4, 1, 10, 0, 0, 999, tzinfo=TZ),
        paused_days=3,
        history=chain(records),
    )


# -- writing and reading ----------------------------------------------------------------------


def test_a_case_comes_back_exactly_as_it_was_stored(store: Store) -> None:
    case = rich_case()
    store.add(case, [notice(case), DeadlineSet(case.id, "planned", dt.date(2024, 6, 30))])
    got = store.get(case.id)
    assert got == case
    assert got.history == case.history
    assert [r.at.isoformat() for r in got.history] == [r.at.isoformat() for r in case.history]
    assert got.paused_since is not None
    assert got.paused_since.isoformat() == "2024-04-01T10:00:00.000999+08:00"
    verify_history(got)
    assert [c.id for c in store.cases()] == [case.id]


def test_adding_an_id_twice_raises_case_exists_and_keeps_the_first(store: Store) -> None:
    first = make_case("H-1", community="东区")
    store.add(first, [notice(first)])
    with pytest.raises(CaseExistsError, match="H-1"):
        store.add(make_case("H-1", community="西区", records=3), [])
    assert store.get("H-1") == first
    assert len(store.pending()) == 1


def test_reading_a_missing_case_raises_case_not_found(store: Store) -> None:
    with pytest.raises(CaseNotFoundError, match="nope"):
        store.get("nope")
    with pytest.raises(KeyError):
        store.get("nope")


def test_append_stores_the_new_records_the_projection_and_the_effects(store: Store) -> None:
    case = make_case("H-1", deadline=dt.date(2024, 5, 20))
    store.add(case, [])
    later = attrs.evolve(grow(grow(case), state="fixed"), deadline=None, escalation=1)
    store.append(later, case.seq, [notice(later), Escalated(later.id, 1, later.seq)])
    got = store.get("H-1")
    assert got == later
    assert got.seq == case.seq + 2
    verify_history(got)
    assert [d.effect for d in store.pending()] == [
        notice(later),
        Escalated(later.id, 1, later.seq),
    ]
    assert store.query(CaseQuery(state="fixed")) == [later]
    assert store.query(CaseQuery(due_by=dt.date(2030, 1, 1))) == []


def test_appending_to_a_missing_case_raises_case_not_found(store: Store) -> None:
    case = make_case("ghost")
    with pytest.raises(CaseNotFoundError):
        store.append(grow(case), case.seq, [])


def test_of_two_writers_at_the_same_seq_one_wins_and_the_other_stores_nothing(
    store: Store,
) -> None:
    case = make_case("H-1")
    store.add(case, [])
    read_a, read_b = store.get("H-1"), store.get("H-1")
    a = grow(read_a, event="assign", state="assigned")
    b = grow(grow(read_b, event="dismiss", state="not_hazard"), event="x", state="not_hazard")
    store.append(a, read_a.seq, [notice(a, "rectification_slip")])
    with pytest.raises(ConcurrencyError) as caught:
        store.append(b, read_b.seq, [notice(b, "dismissal"), notice(b, "other")])
    assert (caught.value.case_id, caught.value.expected, caught.value.found) == (
        "H-1",
        case.seq,
        case.seq + 1,
    )
    assert store.get("H-1") == a
    assert [d.effect for d in store.pending()] == [notice(a, "rectification_slip")]
    assert store.query(CaseQuery(state="not_hazard")) == []


# -- queries ----------------------------------------------------------------------------------

D = dt.date


def query_cases() -> list[Case]:
    return [
        make_case(
            "q01",
            deadline=D(2024, 5, 20),
            community="东区",
            category="FAC.HOSE",
            severity="general-short",
        ),
        make_case(
            "q02",
            deadline=D(2024, 6, 30),
            escalation=1,
            community="西区",
            category="FAC.SPR",
            severity="engineering",
        ),
        make_case(
            "q03",
            state="waiting",
            deadline=D(2024, 5, 10),
            escalation=0,
            paused=True,
            community="东区",
            category="FAC.HOSE",
        ),
        make_case("q04", state="closed", final=True, community="东区", category="FAC.SPR"),
        make_case(
            "q05",
            workflow="immediate",
            state="found",
            deadline=D(2024, 5, 6),
            escalation=2,
            community="西区",
            category="PAS.LANE",
            severity="immediate",
        ),
        make_case("q06", state="assigned", deadline=D(2024, 5, 21), escalation=3),
        make_case("q07", community=5, category=None, severity=True, deadline=D(2024, 5, 1)),
        make_case("q08", state="closed", final=True, deadline=D(2024, 5, 1), escalation=1),
        make_case("q09", community="东区 ", category="fac.hose", severity="General-Short"),
    ]


QUERIES = [
    CaseQuery(),
    CaseQuery(community="东区"),
    CaseQuery(community="西区"),
    CaseQuery(community="5"),
    CaseQuery(community="东"),
    CaseQuery(state="planned"),
    CaseQuery(state="closed"),
    CaseQuery(category="FAC.HOSE"),
    CaseQuery(category="PAS.LANE"),
    CaseQuery(severity="general-short"),
    CaseQuery(severity="True"),
    CaseQuery(workflow="immediate"),
    CaseQuery(workflow="hazard"),
    CaseQuery(open=True),
    CaseQuery(open=False),
    CaseQuery(overdue_on=D(2024, 5, 21)),
    CaseQuery(overdue_on=D(2024, 5, 6)),
    CaseQuery(overdue_on=D(2024, 5, 7)),
    CaseQuery(due_by=D(2024, 5, 20)),
    CaseQuery(due_by=D(2024, 5, 1)),
    CaseQuery(min_escalation=0),
    CaseQuery(min_escalation=2),
    CaseQuery(community="东区", open=True),
    CaseQuery(category="FAC.SPR", open=False),
    CaseQuery(state="planned", due_by=D(2024, 6, 1), min_escalation=None),
    CaseQuery(workflow="hazard", open=True, min_escalation=1),
    CaseQuery(after="q03"),
    CaseQuery(limit=2),
    CaseQuery(limit=0),
    CaseQuery(open=True, after="q02", limit=3),
    CaseQuery(community="东区", after="q01", limit=1),
    CaseQuery(after="q99"),
    CaseQuery(ids=["q01", "q05", "q08", "nope"]),
    CaseQuery(ids=[]),
    CaseQuery(ids=["q02", "q03", "q04"], open=True, after="q02"),
]


def expected(cases: list[Case], query: CaseQuery) -> list[str]:
    """What ``matches`` says, ordered by id and paged: the oracle for every store."""
    found = sorted(c.id for c in cases if matches(c, query))
    if query.after is not None:
        found = [i for i in found if i > query.after]
    return found[: query.limit] if query.limit is not None else found


def test_every_query_field_selects_what_matches_says(store: Store) -> None:
    cases = query_cases()
    for case in cases:
        store.add(case, [])
    for query in QUERIES:
        got = store.query(query)
        assert [c.id for c in got] == expected(cases, query), query
        assert got == [store.get(c.id) for c in got]
        assert store.summaries(query) == [CaseSummary.of(c) for c in got], query
        assert store.count(query) == len(got), query
    # The oracle is not vacuous.
    assert expected(cases, CaseQuery(overdue_on=D(2024, 5, 21))) == ["q01", "q05", "q07"]
    assert expected(cases, CaseQuery(community="东区")) == ["q01", "q03", "q04"]
    assert expected(cases, CaseQuery(min_escalation=2)) == ["q05", "q06"]


def test_a_sweep_s_query_finds_the_cases_due_and_those_not_scheduled(store: Store) -> None:
    t = dt.datetime(2024, 5, 6, 9, 30, 15, 500_000, tzinfo=TZ)
    schedules: dict[str, dt.datetime | None] = {
        "s0": None,  # not known: always looked at
        "s1": t - dt.timedelta(days=1),
        "s2": t,  # due at that very instant
        "s3": t + dt.timedelta(microseconds=500_000),  # the next second: not yet
        "s4": t + dt.timedelta(days=3),
        "s5": NEVER,
    }
    for case_id, next_due in schedules.items():
        store.add(attrs.evolve(make_case(case_id), next_due=next_due), [])
    store.add(attrs.evolve(make_case("s6", final=True, state="closed"), next_due=t), [])
    due = store.query(CaseQuery(escalation_due=t))
    assert [c.id for c in due] == ["s0", "s1", "s2"]
    assert all(c.next_due is None for c in due), "a case read back has no schedule"
    assert store.count(CaseQuery(escalation_due=NEVER)) == 6
    store.reschedule([("s0", 1, t + dt.timedelta(days=1)), ("s1", 0, NEVER), ("nope", 1, t)])
    # s0 now waits a day; s1 was not at seq 0 (its head is 1), so it is left alone.
    assert [c.id for c in store.query(CaseQuery(escalation_due=t))] == ["s1", "s2"]


def test_a_query_names_at_most_max_ids_cases() -> None:
    assert len(CaseQuery(ids=[f"c{i}" for i in range(MAX_IDS)]).ids or ()) == MAX_IDS
    with pytest.raises(ArgumentError, match=f"at most {MAX_IDS} case ids, not {MAX_IDS + 1}"):
        CaseQuery(ids=[f"c{i}" for i in range(MAX_IDS + 1)])


def test_sqlite_s_own_name_of_a_memory_database_makes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLStore.open(":memory:") as store:
        store.add(make_case("m1"), [])
        assert store.get("m1") == make_case("m1")
    assert list(tmp_path.iterdir()) == []


def test_a_change_reads_and_stores_in_one_step_or_stores_nothing(store: Store) -> None:
    store.add(make_case("c1"), [])
    before = store.get("c1")

    def refuse(case: Case) -> rectify.Outcome:
        raise ConcurrencyError(case_id=case.id, expected=0, found=case.seq)

    with pytest.raises(ConcurrencyError):
        store.change("c1", refuse)
    assert store.get("c1") == before

    def advance(case: Case) -> rectify.Outcome:
        record = seal(
            Record(case.seq + 1, "plan", case.state, "planned", "p", "party", T0 + HOUR),
            case.history[-1],
        )
        return rectify.Outcome(attrs.evolve(case, history=(*case.history, record)))

    outcome = store.change("c1", advance)
    assert store.get("c1") == outcome.case
    assert store.get("c1").seq == before.seq + 1
    with pytest.raises(CaseNotFoundError):
        store.change("missing", advance)

    def other(case: Case) -> rectify.Outcome:
        return rectify.Outcome(attrs.evolve(case, id="c2"))

    with pytest.raises(StoreError, match="returned case 'c2'"):
        store.change("c1", other)


def test_paging_visits_every_case_once_in_code_point_order(store: Store) -> None:
    ids = [
        *(f"H-{i:02}" for i in range(20)),
        "a-1",
        "A-1",
        "a-1 ",
        "é",
        "东区-1",
        "Z",
        "_",
        "😀",
    ]
    for case_id in ids:
        store.add(make_case(case_id), [])
    seen: list[str] = []
    after: str | None = None
    while page := store.query(CaseQuery(after=after, limit=6)):
        assert len(page) <= 6
        seen.extend(c.id for c in page)
        after = page[-1].id
    assert seen == sorted(ids)
    assert [c.id for c in store.cases()] == sorted(ids)
    assert store.get("a-1 ").id == "a-1 "


def test_cases_reads_page_by_page(sql_store: SQLStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rectify.stores._sql_read._CHUNK", 3)
    cases = [make_case(f"H-{i:02}", records=i % 3 + 1) for i in range(10)]
    for case in cases:
        sql_store.add(case, [notice(case)])
    assert list(sql_store.cases()) == cases
    assert len(sql_store.pending(limit=100)) == 10
    sql_store.acknowledge(f"H-{i:02}:{cases[i].seq}:0" for i in range(10))
    assert sql_store.pending() == []


# -- the outbox -------------------------------------------------------------------------------


def test_each_hand_out_counts_an_attempt_the_first_being_attempt_one(store: Store) -> None:
    case = make_case("H-1")
    store.add(case, [notice(case), DeadlineSet(case.id, "planned", D(2024, 5, 20))])
    assert [(d.id, d.attempts) for d in store.pending()] == [("H-1:1:0", 1), ("H-1:1:1", 1)]
    assert [(d.id, d.attempts) for d in store.pending(limit=1)] == [("H-1:1:0", 2)]
    assert [(d.id, d.attempts) for d in store.pending()] == [("H-1:1:0", 3), ("H-1:1:1", 2)]
    later = grow(case)
    store.append(later, case.seq, [notice(later)])
    newest = [d for d in store.pending() if d.case_id == later.id][-1]
    assert (newest.id, newest.attempts) == (f"H-1:{later.seq}:0", 1)


def test_pending_is_at_least_once_until_acknowledged(store: Store) -> None:
    one, two = make_case("H-2"), make_case("H-1")
    store.add(one, [notice(one), DeadlineSet(one.id, "planned", D(2024, 5, 20))])
    store.add(two, [notice(two)])
    first = store.pending()
    assert [d.id for d in first] == ["H-2:1:0", "H-2:1:1", "H-1:1:0"]  # oldest first
    assert [d.case_id for d in first] == ["H-2", "H-2", "H-1"]
    assert [d.effect for d in first] == [
        notice(one),
        DeadlineSet(one.id, "planned", D(2024, 5, 20)),
        notice(two),
    ]
    assert [d.attempts for d in first] == [1, 1, 1]
    again = store.pending()
    assert [d.id for d in again] == [d.id for d in first]
    assert [d.attempts for d in again] == [2, 2, 2]
    assert [d.id for d in store.pending(limit=1)] == ["H-2:1:0"]
    store.acknowledge(["H-2:1:0", "H-2:1:0", "unknown"])
    rest = store.pending()
    assert [(d.id, d.attempts) for d in rest] == [("H-2:1:1", 3), ("H-1:1:0", 3)]
    store.acknowledge([])
    store.acknowledge(d.id for d in rest)
    assert store.pending() == []


def test_effects_keep_every_field(store: Store) -> None:
    case = make_case("H-1")
    effects: list[Effect] = [
        NoticeDue("H-1", "supervision_order", 1, "@escalate", ("community", "镇消安办"), 2),
        NoticeDue("H-1", "rectification_slip", 1, "assign"),
        DeadlineSet("H-1", "planned", D(2024, 12, 25)),
        Escalated("H-1", 3, 1),
    ]
    store.add(case, effects)
    assert [d.effect for d in store.pending()] == effects


# -- numbers ----------------------------------------------------------------------------------


def test_next_number_counts_up_per_code_and_year(store: Store) -> None:
    assert [store.next_number("限改", 2024) for _ in range(3)] == [1, 2, 3]
    assert store.next_number("限改", 2025) == 1
    assert store.next_number("督办", 2024) == 1
    assert store.next_number("限改", 2024) == 4


def test_next_number_is_never_reused_by_concurrent_callers(store: Store) -> None:
    numbers: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def take() -> None:
        barrier.wait()
        for _ in range(10):
            number = store.next_number("通报", 2024)
            with lock:
                numbers.append(number)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(numbers) == list(range(1, 41))


def test_numbers_survive_reopening(sql_target: str, own_prefix: str) -> None:
    with SQLStore.open(sql_target, prefix=own_prefix) as first:
        assert [first.next_number("X", 2024) for _ in range(2)] == [1, 2]
    with SQLStore.open(sql_target, prefix=own_prefix) as second:
        assert second.next_number("X", 2024) == 3


# -- bulk import ------------------------------------------------------------------------------


def test_add_many_skips_stored_ids_and_reports_progress(store: Store) -> None:
    stored = [make_case("H-03"), make_case("H-07")]
    for case in stored:
        store.add(case, [])
    items = [
        (make_case(f"H-{i:02}", records=2), [notice(make_case(f"H-{i:02}"))]) for i in range(10)
    ]
    items.append((make_case("H-01", records=3), []))  # the same id again in the input
    calls: list[tuple[int, int]] = []
    count = store.add_many(items, batch=3, progress=lambda done, seen: calls.append((done, seen)))
    assert count == 8
    assert [seen for _, seen in calls] == [3, 6, 9, 11]
    assert calls[-1] == (8, 11)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert [c.id for c in store.cases()] == [f"H-{i:02}" for i in range(10)]
    assert store.get("H-03") == stored[0]
    assert store.get("H-01").seq == 1  # the first H-01 of the input
    assert sorted(d.case_id for d in store.pending()) == sorted(
        f"H-{i:02}" for i in range(10) if i not in {3, 7}
    )
    assert store.add_many(items, batch=4) == 0


def test_add_many_commits_batch_by_batch(sql_store: SQLStore) -> None:
    good: list[tuple[Case, list[Effect]]] = [(make_case(f"H-{i}"), []) for i in range(3)]
    bad: tuple[Case, list[Effect]] = (make_case("x" * 201), [])
    with pytest.raises(StoreError, match=r"201|200"):
        sql_store.add_many([*good, bad], batch=2)
    assert [c.id for c in sql_store.cases()] == ["H-0", "H-1"]
    assert sql_store.add_many([]) == 0


# -- transactions -----------------------------------------------------------------------------


def failing_outbox(*_args: object) -> None:
    raise sa.exc.OperationalError("INSERT INTO outbox", {}, RuntimeError("disk full"))


def test_a_failed_outbox_write_leaves_nothing_of_an_append(
    sql_store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = make_case("H-1", deadline=D(2024, 5, 20))
    sql_store.add(case, [notice(case)])
    before = (sql_store.get("H-1"), sql_store.query(CaseQuery(state="planned")))

    def broken_outbox(conn: sa.Connection, *_args: object) -> None:
        conn.execute(sa.text("SELECT * FROM no_such_table_rectify"))

    monkeypatch.setattr(SQLStore, "_put_effects", lambda self, conn, items: broken_outbox(conn))
    later = grow(case, state="fixed")
    with pytest.raises(StoreError, match="appending to case 'H-1'") as caught:
        sql_store.append(later, case.seq, [notice(later)])
    assert isinstance(caught.value.__cause__, sa.exc.SQLAlchemyError)
    monkeypatch.undo()
    assert (sql_store.get("H-1"), sql_store.query(CaseQuery(state="planned"))) == before
    assert sql_store.query(CaseQuery(state="fixed")) == []
    with sql_store.engine.connect() as conn:
        events = sql_store.metadata.tables[f"{sql_store.prefix}events"]
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 2
    assert [d.effect for d in sql_store.pending()] == [notice(case)]
    # The failed write did not block the next one.
    sql_store.append(later, case.seq, [notice(later)])
    assert sql_store.get("H-1") == later


def test_a_failed_outbox_write_leaves_nothing_of_an_add(
    sql_store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SQLStore, "_put_effects", failing_outbox)
    case = make_case("H-1")
    with pytest.raises(StoreError, match=r"adding case 'H-1'.*disk full"):
        sql_store.add(case, [notice(case)])
    monkeypatch.undo()
    with pytest.raises(CaseNotFoundError):
        sql_store.get("H-1")
    assert sql_store.query(CaseQuery()) == []
    sql_store.add(case, [notice(case)])
    assert sql_store.get("H-1") == case


def test_a_conflicting_outbox_row_rolls_the_whole_append_back(sql_store: SQLStore) -> None:
    case = make_case("H-1")
    sql_store.add(case, [])
    later = grow(case)
    outbox = sql_store.metadata.tables[f"{sql_store.prefix}outbox"]
    with sql_store.engine.begin() as conn:  # a stray row with the id the append will use
        conn.execute(
            outbox.insert().values(
                id=f"H-1:{later.seq}:0", case_id="H-1", effect="{}", created=0, attempts=0
            )
        )
    with pytest.raises(StoreError, match="H-1") as caught:
        sql_store.append(later, case.seq, [notice(later)])
    assert not isinstance(caught.value, ConcurrencyError)
    assert sql_store.get("H-1") == case


# -- schema and set-up ------------------------------------------------------------------------


def test_a_newer_schema_is_refused(sql_target: str, own_prefix: str) -> None:
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        schema = store.metadata.tables[f"{own_prefix}schema"]
        with store.engine.begin() as conn:
            assert conn.execute(sa.select(schema.c.version)).scalar_one() == SCHEMA_VERSION
            conn.execute(schema.update().values(version=SCHEMA_VERSION + 1))
    with pytest.raises(SchemaError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        SQLStore.open(sql_target, prefix=own_prefix)
    with SQLStore.open(sql_target, prefix=f"{own_prefix}x") as other:  # another prefix is free
        drop(other)


def test_reopening_keeps_the_cases_and_the_schema(sql_target: str, own_prefix: str) -> None:
    case = rich_case()
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        store.add(case, [notice(case)])
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        assert store.get(case.id) == case
        assert [d.effect for d in store.pending()] == [notice(case)]
        schema = store.metadata.tables[f"{own_prefix}schema"]
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(schema.c.version)).scalars().all() == [SCHEMA_VERSION]


def test_database_errors_are_store_errors_naming_the_operation(
    sql_target: str, own_prefix: str
) -> None:
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        store.metadata.tables[f"{own_prefix}events"].drop(store.engine)
        store.add(make_case("H-1", records=0), [])  # no records: no events written
        with pytest.raises(StoreError, match="reading case 'H-1' failed") as caught:
            store.get("H-1")
        assert isinstance(caught.value.__cause__, sa.exc.SQLAlchemyError)


def test_ids_and_names_too_long_for_the_tables_are_refused(sql_store: SQLStore) -> None:
    with pytest.raises(StoreError, match="200"):
        sql_store.add(make_case("x" * 201), [])
    with pytest.raises(StoreError, match="community"):
        sql_store.add(make_case("H-1", community="区" * 256), [])
    sql_store.add(make_case("x" * 200, community="区" * 255), [])
    assert sql_store.get("x" * 200).data["community"] == "区" * 255


def test_the_sqlite_store_is_durable_and_waits_for_writers(tmp_path: Path) -> None:
    with SQLStore.open(tmp_path / "deep" / "folder" / "rectify.db") as store:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
        assert repr(store).startswith("SQLStore('sqlite:///")


def test_open_store_picks_the_store_from_its_argument(tmp_path: Path) -> None:
    assert isinstance(open_store("memory:"), MemoryStore)
    for target in (tmp_path / "a.db", f"sqlite:///{tmp_path / 'b.db'}", "sqlite://"):
        store = open_store(target)
        assert isinstance(store, SQLStore)
        store.add(make_case("H-1"), [])
        assert store.get("H-1") == make_case("H-1")
        store.close()
    with pytest.raises(StoreError, match="prefix"):
        SQLStore.open(tmp_path / "c.db", prefix="Robert'); DROP TABLE")
    with pytest.raises(StoreError, match="connecting to postgresql"):
        SQLStore.open(
            "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
        )


# -- the ledger on every backend --------------------------------------------------------------


def test_a_ledger_runs_cases_end_to_end(store: Store) -> None:
    ledger = make_ledger(store)
    planned = open_planned(ledger, "H-1")
    assert ledger.get("H-1") == planned
    open_planned(ledger, "H-2", community="西区")
    closed = close_planned(ledger, "H-1", planned.updated_at + HOUR)
    assert ledger.get("H-1") == closed
    assert closed.final
    report = ledger.sweep(SWEEP_AT, batch=1)
    assert report.escalated == ("H-2",)
    assert escalation_levels(ledger.get("H-2")) == [0, 1, 2]
    assert ledger.sweep(SWEEP_AT).escalated == ()
    assert [c.id for c in ledger.query(community="西区", min_escalation=2)] == ["H-2"]
    assert [c.id for c in ledger.query(open=False)] == ["H-1"]
    delivered: list[str] = []
    count = ledger.deliver(lambda d: delivered.append(d.id), limit=1000)
    assert count == len(delivered) == len(set(delivered))
    assert any(d.startswith("H-2:") for d in delivered)
    assert ledger.pending() == []
    assert ledger.verify().ok
    assert ledger.verify().checked == 2


def test_verify_finds_a_record_edited_in_the_database(sql_store: SQLStore) -> None:
    ledger = make_ledger(sql_store)
    open_planned(ledger, "H-1")
    open_planned(ledger, "H-2")
    events = sql_store.metadata.tables[f"{sql_store.prefix}events"]
    with sql_store.engine.begin() as conn:
        conn.execute(
            events.update()
            .where(events.c.case_id == "H-2", events.c.seq == 1)
            .values(actor="someone-else")
        )
    report = ledger.verify()
    assert [(p.case_id, p.seq) for p in report.problems] == [("H-2", 1)]


def test_two_ledgers_in_threads_sweep_each_case_once(sql_store: SQLStore) -> None:
    ids = [f"H-{i:03}" for i in range(30)]
    first = make_ledger(sql_store)
    for case_id in ids:
        open_planned(first, case_id)
    reports = sweep_together([first, make_ledger(sql_store)], SWEEP_AT)
    check_swept_once(sql_store, reports, ids)


def sweep_in_process(url: str, prefix: str, barrier: Any, results: Any) -> None:
    """Sweep the store at ``url`` once all sweepers are ready (run in a child process)."""
    try:
        with SQLStore.open(url, prefix=prefix) as store:
            ledger = make_ledger(store)
            barrier.wait(60)
            report = ledger.sweep(SWEEP_AT, batch=5)
        results.put((report.escalated, report.conflicts))
    except BaseException as exc:  # reported to the parent
        results.put(repr(exc))


def test_two_processes_sweep_each_case_once(sql_store: SQLStore) -> None:
    ids = [f"H-{i:03}" for i in range(40)]
    ledger = make_ledger(sql_store)
    for case_id in ids:
        open_planned(ledger, case_id, due=DUE)
    url = sql_store.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(target=sweep_in_process, args=(url, sql_store.prefix, barrier, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(60)
    reports = []
    for outcome in outcomes:
        assert isinstance(outcome, tuple), outcome
        escalated, conflicts = outcome
        reports.append(SweepReport(len(ids), tuple(escalated), (), tuple(conflicts)))
    check_swept_once(sql_store, reports, ids)


def test_heads_name_each_case_last_record(store: Store) -> None:
    case = grow(grow(make_case("H-1")))
    store.add(case, [])
    assert list(store.heads()) == [("H-1", case.seq, case.history[-1].digest)]


def test_verify_finds_records_cut_off_the_end_of_a_stored_history(sql_store: SQLStore) -> None:
    from rectify import Ledger  # noqa: PLC0415 - the ledger over this very store

    case = grow(grow(make_case("H-1")))
    sql_store.add(case, [])
    events = sql_store.metadata.tables[f"{sql_store.prefix}events"]
    with sql_store.engine.begin() as conn:  # the last record goes, the chain still holds
        conn.execute(events.delete().where(events.c.seq == case.seq))
    report = Ledger(sql_store, []).verify()
    assert not report.ok
    (problem,) = report.problems
    assert (problem.case_id, problem.seq) == ("H-1", case.seq)
    assert "records are missing" in problem.reason


def test_append_all_stores_every_case_or_none(store: Store) -> None:
    first, second = make_case("H-1"), make_case("H-2")
    store.add(first, [])
    store.add(second, [])
    stale = second.seq - 1  # the second writer read an older head: the whole write fails
    with pytest.raises(ConcurrencyError):
        store.append_all([(grow(first), first.seq, [notice(first)]), (grow(second), stale, [])])
    assert store.get("H-1") == first
    assert store.get("H-2") == second
    assert store.pending() == []
    store.append_all([(grow(first), first.seq, []), (grow(second), second.seq, [])])
    assert (store.get("H-1").seq, store.get("H-2").seq) == (first.seq + 1, second.seq + 1)


def _open_at_once(url: str, prefix: str, openers: int) -> tuple[list[SQLStore], list[Exception]]:
    """Open a store at ``url`` from ``openers`` threads released together."""
    gate = threading.Barrier(openers)
    opened: list[SQLStore] = []
    failed: list[Exception] = []

    def open_it() -> None:
        gate.wait()
        try:
            opened.append(SQLStore.open(url, prefix=prefix))
        except Exception as exc:  # reported by the test
            failed.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return opened, failed


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_processes_opening_a_new_database_at_once_set_it_up_once(backend: str) -> None:
    # Each opener migrates under a lock; the next one must see the schema the first left
    # (MySQL's lock released before the commit let a second opener insert the schema row).
    url = server_url(backend)
    for round_ in range(15):
        prefix = f"t{RUN}o{round_}_"
        opened, failed = _open_at_once(url, prefix, 6)
        try:
            assert failed == []
            assert len(opened) == 6
            with opened[0].engine.connect() as conn:
                rows = conn.execute(sa.select(opened[0].metadata.tables[f"{prefix}schema"])).all()
            assert len(rows) == 1
        finally:
            if opened:
                drop(opened[0])
            for store in opened:
                store.close()
