"""Every store is a document register: each document numbered once, its renderings' hashes kept.

A document registered the first time takes the next number of its code and year from the
same series as ``next_number``; registered again, it returns that number and its first date.
Taking the number and keeping the document are one transaction, so processes registering the
same new document at once all get one number and the series has no gap. Store tests run on
every backend of ``tests/test_store.py`` (PostgreSQL and MariaDB when their URLs are set).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rectify.documents import DocumentRegister
from rectify.exceptions import StoreError
from rectify.stores import MemoryStore, SQLStore, Store
from rectify.stores._sql_schema import _MIGRATIONS, SCHEMA_VERSION, _Tables
from tests.test_store import BACKENDS, SQL_BACKENDS, Servers, make_store

# The fixtures of the store suite: its servers, and SQL stores a test opens itself.
from tests.test_store import own_prefix as own_prefix  # noqa: PLC0414
from tests.test_store import servers as servers  # noqa: PLC0414
from tests.test_store import sql_target as sql_target  # noqa: PLC0414

CODE = "限改"
D1 = dt.date(2024, 5, 6)
D2 = dt.date(2024, 9, 30)
NEXT_YEAR = dt.date(2025, 1, 2)
T1, C1 = "a" * 64, "b" * 64
T2, C2 = "c" * 64, "d" * 64


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


def as_register(store: Store) -> DocumentRegister:
    return store  # mypy checks that the Store protocol is a DocumentRegister


def test_every_store_is_a_document_register() -> None:
    with SQLStore.open("sqlite://") as sql:
        for store in (MemoryStore(), sql):
            register = as_register(store)
            assert register.register_document("X", CODE, D1) == (1, D1)
            assert register.next_number(CODE, 2024) == 2


# -- numbering each document once -------------------------------------------------------------


def test_a_first_registration_takes_the_next_number_of_the_shared_series(store: Store) -> None:
    assert store.next_number(CODE, 2024) == 1
    assert store.register_document("notice:H-1:3:community", CODE, D1) == (2, D1)
    # Again, with another date and code: the number and the first date it was kept with.
    assert store.register_document("notice:H-1:3:community", CODE, D2) == (2, D1)
    assert store.register_document("notice:H-1:3:community", "督办", NEXT_YEAR) == (2, D1)
    assert store.next_number(CODE, 2024) == 3
    assert store.register_document("notice:H-2:1:community", CODE, D2) == (4, D2)


def test_each_code_and_year_has_its_own_series(store: Store) -> None:
    assert store.register_document("A", CODE, D1) == (1, D1)
    assert store.register_document("B", CODE, NEXT_YEAR) == (1, NEXT_YEAR)
    assert store.register_document("C", "督办", D1) == (1, D1)
    assert store.register_document("D", CODE, D2) == (2, D2)
    assert store.next_number(CODE, 2025) == 2
    assert store.next_number("督办", 2024) == 2


def test_identities_are_compared_exactly(store: Store) -> None:
    identities = ["doc", "Doc", "doc ", "文书", "文书 🔥"]
    numbered = [store.register_document(identity, CODE, D1) for identity in identities]
    assert numbered == [(n, D1) for n in range(1, 6)]
    assert [store.register_document(identity, CODE, D2) for identity in identities] == numbered


def test_a_registered_document_survives_reopening(sql_target: str, own_prefix: str) -> None:
    with SQLStore.open(sql_target, prefix=own_prefix) as first:
        assert first.register_document("A", CODE, D1) == (1, D1)
        assert first.fingerprint_document("A", "v", T1, C1) == (T1, C1)
    with SQLStore.open(sql_target, prefix=own_prefix) as second:
        assert second.register_document("A", CODE, D2) == (1, D1)
        assert second.fingerprint_document("A", "v", T2, C2) == (T1, C1)
        assert second.next_number(CODE, 2024) == 2


# -- fingerprints of renderings ---------------------------------------------------------------


def test_a_fingerprint_keeps_the_first_hashes(store: Store) -> None:
    assert store.fingerprint_document("A", "slip:community", T1, C1) == (T1, C1)
    assert store.fingerprint_document("A", "slip:community", T2, C2) == (T1, C1)
    assert store.fingerprint_document("A", "slip:community", T1, C2) == (T1, C1)


def test_variants_and_documents_are_fingerprinted_independently(store: Store) -> None:
    assert store.fingerprint_document("A", "slip:community", T1, C1) == (T1, C1)
    assert store.fingerprint_document("A", "slip:town_office", T2, C2) == (T2, C2)
    assert store.fingerprint_document("B", "slip:community", T2, C1) == (T2, C1)
    assert store.fingerprint_document("A", "", T1, C2) == (T1, C2)  # a variant may be empty
    assert store.fingerprint_document("A", "slip:town_office", T1, C1) == (T2, C2)
    assert store.next_number(CODE, 2024) == 1  # fingerprints take no number


# -- what does not fit ------------------------------------------------------------------------


def test_too_long_or_empty_identities_are_refused_and_take_no_number(store: Store) -> None:
    with pytest.raises(StoreError, match="256 characters long; at most 255"):
        store.register_document("区" * 256, CODE, D1)
    with pytest.raises(StoreError, match="must not be empty"):
        store.register_document("", CODE, D1)
    with pytest.raises(StoreError, match="256 characters long"):
        store.fingerprint_document("x" * 256, "v", T1, C1)
    with pytest.raises(StoreError, match="must not be empty"):
        store.fingerprint_document("", "v", T1, C1)
    assert store.next_number(CODE, 2024) == 1
    assert store.register_document("区" * 255, CODE, D1) == (2, D1)
    assert store.register_document("区" * 255, CODE, D2) == (2, D1)


def test_too_long_variants_and_hashes_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="variant of document 'A' is 300 characters long"):
        store.fingerprint_document("A", "v" * 300, T1, C1)
    with pytest.raises(StoreError, match="template hash of document 'A' is 65 characters"):
        store.fingerprint_document("A", "v", T1 + "0", C1)
    with pytest.raises(StoreError, match="context hash of document 'A' is 65 characters"):
        store.fingerprint_document("A", "v", T1, C1 + "0")
    assert store.fingerprint_document("A", "变" * 255, T2, C2) == (T2, C2)
    assert store.fingerprint_document("A", "v", T1, C1) == (T1, C1)  # nothing kept before


def test_database_errors_are_store_errors_and_take_no_number(
    sql_target: str, own_prefix: str
) -> None:
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        store.metadata.tables[f"{own_prefix}documents"].drop(store.engine)
        store.metadata.tables[f"{own_prefix}renderings"].drop(store.engine)
        with pytest.raises(StoreError, match="registering document 'A' failed") as caught:
            store.register_document("A", CODE, D1)
        assert isinstance(caught.value.__cause__, sa.exc.SQLAlchemyError)
        with pytest.raises(StoreError, match=r"fingerprinting document 'A' \('v'\) failed"):
            store.fingerprint_document("A", "v", T1, C1)
        assert store.next_number(CODE, 2024) == 1


# -- several writers at once ------------------------------------------------------------------


def test_a_loser_of_a_registration_race_rolls_its_number_back_and_reads_the_winner(
    sql_store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sql_store.register_document("A", CODE, D1) == (1, D1)
    kept = sql_store._kept_document
    blind = iter([True])

    def late(conn: sa.Connection, identity: str) -> tuple[int, dt.date] | None:
        # The first look misses the winner's row, as a racing writer's does.
        return None if next(blind, False) else kept(conn, identity)

    monkeypatch.setattr(sql_store, "_kept_document", late)
    assert sql_store.register_document("A", CODE, D2) == (1, D1)
    assert sql_store.next_number(CODE, 2024) == 2  # the loser's number was rolled back


def test_a_loser_of_a_fingerprint_race_reads_the_winner(
    sql_store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sql_store.fingerprint_document("A", "v", T1, C1) == (T1, C1)
    kept = sql_store._kept_rendering
    blind = iter([True])

    def late(conn: sa.Connection, identity: str, variant: str) -> tuple[str, str] | None:
        return None if next(blind, False) else kept(conn, identity, variant)

    monkeypatch.setattr(sql_store, "_kept_rendering", late)
    assert sql_store.fingerprint_document("A", "v", T2, C2) == (T1, C1)


IDENTITIES = [f"notice:H-{i}:1:community" for i in range(8)]
WRITERS = 4


def register_all(register: DocumentRegister) -> list[tuple[int, dt.date]]:
    """Register every identity in turn, each first at a date of its own."""
    numbered = [register.register_document(identity, CODE, D1) for identity in IDENTITIES]
    for identity in IDENTITIES:
        register.fingerprint_document(identity, "slip", T1, C1)
    return numbered


def check_registered_once(store: Store, outcomes: list[list[tuple[int, dt.date]]]) -> None:
    assert len(outcomes) == WRITERS
    assert all(outcome == outcomes[0] for outcome in outcomes), outcomes
    assert sorted(number for number, _ in outcomes[0]) == list(range(1, len(IDENTITIES) + 1))
    assert store.next_number(CODE, 2024) == len(IDENTITIES) + 1  # no number was lost


def test_threads_registering_the_same_documents_get_one_number_each(store: Store) -> None:
    outcomes: list[list[tuple[int, dt.date]]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)

    def register() -> None:
        barrier.wait(60)
        try:
            outcomes.append(register_all(store))
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    check_registered_once(store, outcomes)


def register_in_process(url: str, prefix: str, barrier: Any, results: Any) -> None:
    """Register every identity in the store at ``url`` once all writers are ready."""
    try:
        with SQLStore.open(url, prefix=prefix) as store:
            barrier.wait(60)
            results.put(register_all(store))
    except BaseException as exc:  # reported to the parent
        results.put(repr(exc))


def test_processes_registering_the_same_documents_get_one_number_each(
    sql_store: SQLStore,
) -> None:
    url = sql_store.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WRITERS), context.Queue()
    processes = [
        context.Process(target=register_in_process, args=(url, sql_store.prefix, barrier, results))
        for _ in range(WRITERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(60)
    for outcome in outcomes:
        assert isinstance(outcome, list), outcome
    check_registered_once(sql_store, outcomes)
    assert all(
        sql_store.fingerprint_document(identity, "slip", T2, C2) == (T1, C1)
        for identity in IDENTITIES
    )


# -- the schema: version 3 adds the register ---------------------------------------------------


def test_a_new_store_has_the_register_at_the_newest_schema(
    sql_target: str, own_prefix: str
) -> None:
    assert SCHEMA_VERSION == 4  # version 3 added the register, version 4 the sweep's schedule
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        names = set(sa.inspect(store.engine).get_table_names())
        assert {f"{own_prefix}documents", f"{own_prefix}renderings"} <= names
        schema = store.metadata.tables[f"{own_prefix}schema"]
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(schema.c.version)).scalars().all() == [SCHEMA_VERSION]


def make_version_2_store(target: str, prefix: str) -> None:
    """Set a store up as rectify with schema version 2 did, with numbers taken."""
    url = target if "://" in target else f"sqlite:///{target}"
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            pass  # the dialect learns the server's kind and version
        tables = _Tables(prefix, engine.dialect)
        with engine.begin() as conn:
            for migrate in _MIGRATIONS[:2]:
                migrate(conn, tables)
            tables.schema.create(conn)
            conn.execute(tables.schema.insert().values(id=1, version=2))
            conn.execute(
                tables.numbers.insert(),
                [
                    {"code": CODE, "year": 2024, "last": 7},
                    {"code": "督办", "year": 2024, "last": 2},
                ],
            )
        names = set(sa.inspect(engine).get_table_names())
        assert f"{prefix}numbers" in names
        assert f"{prefix}documents" not in names
        assert f"{prefix}renderings" not in names
    finally:
        engine.dispose()


def test_a_version_2_store_upgrades_in_place_keeping_its_numbers(
    sql_target: str, own_prefix: str
) -> None:
    make_version_2_store(sql_target, own_prefix)
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        schema = store.metadata.tables[f"{own_prefix}schema"]
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(schema.c.version)).scalars().all() == [SCHEMA_VERSION]
        assert store.register_document("A", CODE, D1) == (8, D1)
        assert store.next_number(CODE, 2024) == 9
        assert store.register_document("B", "督办", D2) == (3, D2)
        assert store.register_document("A", CODE, D2) == (8, D1)
        assert store.fingerprint_document("A", "slip", T1, C1) == (T1, C1)
    with SQLStore.open(sql_target, prefix=own_prefix) as again:  # migrated once only
        assert again.register_document("A", CODE, D2) == (8, D1)
        assert again.fingerprint_document("A", "slip", T2, C2) == (T1, C1)
        assert again.next_number(CODE, 2024) == 10


def test_registering_many_documents_is_registering_each(store: Store) -> None:
    """The batch an import numbers its cases with gives what one registration at a time gives."""
    day = dt.date(2024, 3, 1)
    assert store.register_document("a", "S", day) == (1, day)
    got = store.register_documents(
        [("b", "S", day), ("a", "S", day), ("c", "T", day), ("d", "S", day), ("b", "S", day)]
    )
    assert got == [(2, day), (1, day), (1, day), (3, day), (2, day)]
    assert store.register_document("e", "S", day) == (4, day)
    assert store.register_documents([]) == []
    with pytest.raises(StoreError):
        store.register_documents([("f", "S", day), ("", "S", day)])
    assert store.register_document("f", "S", day) == (5, day)  # the refused batch took none
