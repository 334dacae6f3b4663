"""The store suite: rectify's SQL store against raw SQL doing the same writes and reads.

Every floor works on the store's own tables (created by ``SQLStore``, so the same columns
and indexes) and writes or reads the very rows rectify does: they are computed with the
same engine before the timing (``_projection``, ``_event_row`` and the effects' JSON, the
functions ``SQLStore`` itself writes with). A floor does no checks and builds no values; the
ratio is what the store, the ledger and the engine add on top of the database's own work.

- **durable fires** on SQLite: ``Ledger.fire`` on a ``SQLStore`` (WAL, ``synchronous=FULL``,
  one transaction per fire: it reads the case, runs the engine and appends), against raw
  ``sqlite3`` doing the same writes (insert the record, update the projection where the head
  is the one read, insert the outbox rows; one ``BEGIN IMMEDIATE`` transaction each, WAL and
  ``synchronous=FULL``). Target: at least half of raw's fires per second (ratio <= 2).
- **bulk import**: ``Ledger.import_cases`` (the engine opens each case) and
  ``SQLStore.add_many`` (cases opened before the timing), against raw ``executemany`` of
  the same rows, 500 cases a transaction. Target: at least half of raw's rate.
- **the overdue query** over many stored cases (1,000,000; 20,000 with ``--quick``):
  ``SQLStore.query(CaseQuery(overdue_on=day))``, which returns the cases with their
  histories, against the raw indexed ``SELECT`` of the same projections (target: at most
  2x) and against raw ``SELECT``s of the projections and their records (what the store
  reads). The store is filled by raw ``executemany`` into its own tables, with exactly the
  rows ``add_many`` would write (checked on a sample: the cases read back equal the
  engine's, their histories verify): opening a million cases through the engine would take
  minutes.
- **Ledger.sweep** per due case, in the steady state: every case stored with its schedule
  (``next_due``) as the ledger keeps it, so the sweep reads only the due cases through the
  ``(is_final, next_due)`` index and escalates them, one transaction each. Against a raw
  sweep: the same indexed ``SELECT`` of the due cases and the same writes (the escalated
  case's new ``next_due`` included). Target: at most 2x. On a small store filled through
  ``add_many`` (1 in 20 due, a fresh copy per pass), and on two big ones filled by raw
  ``executemany`` like the overdue store, with the same cases due (10,000; 200 with
  ``--quick``) among 100,000 and 1,000,000 stored cases (2,000 and 20,000): the sweep's
  cost should follow the cases due, not the cases stored (target: the bigger store's time
  per due case at most 1.3x the smaller's). A sweep writes, so before each pass of these
  the due cases are put back as built (the rows the last pass added deleted, their
  projection rows rewritten): every pass sweeps the same cases, without copying the file.
- **PostgreSQL fires** with 1, 2 and 4 processes, each on its own cases, against raw
  ``psycopg`` doing the same writes (target: at most 2x; and 4 processes at least 1.5x the
  fires per second of 1: a wall time per fire at most 0.67x); only when
  ``RECTIFY_BENCH_POSTGRES_URL`` or ``RECTIFY_TEST_POSTGRES_URL`` is set (tables with a
  prefix of their own, dropped after).

SQLite files go to a temporary folder (``RECTIFY_BENCH_DIR`` chooses where): the durable
figures depend on how fast that disk makes an ``fsync``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import sqlalchemy as sa

import rectify
from rectify.engine._history import canonical
from rectify.ledger import _scheduled
from rectify.stores import CaseQuery, CaseSummary, SQLStore
from rectify.stores._codec import effect_to_json
from rectify.stores._sql_rows import _event_row, _projection
from rectify.stores._store import effect_ids
from suites.base import Measurement, Settings
from suites.engine import EVENTS, Lifecycle, lifecycle
from suites.sweep import planned_case, reminder_days

TZ: Final = ZoneInfo("Asia/Shanghai")
PREFIX: Final = "rectify_"
#: Fires per case in the fire figures: assign, plan, report_fixed, verify and close.
FIRES: Final = len(EVENTS)
#: Cases a raw import writes per transaction, as ``add_many`` does by default.
BATCH: Final = 500
#: The overdue store: cases opened on one of these days after ``OPENED``; one case in
#: ``OVERDUE_EVERY`` on an early day (overdue on ``OVERDUE_ON``), the others later.
OPENED: Final = dt.datetime(2024, 3, 4, 9, 0, tzinfo=TZ)
EARLY_DAYS: Final = tuple(range(10))
LATE_DAYS: Final = tuple(range(40, 100))
OVERDUE_EVERY: Final = 20
OVERDUE_ON: Final = (OPENED + dt.timedelta(days=30)).date()
#: The sweep store: planned cases, one in ``OVERDUE_EVERY`` with its reminder due at ``NOW``.
NOW: Final = dt.datetime(2024, 3, 18, 7, 0, tzinfo=TZ)
#: ``NOW`` as the ``next_due`` column compares it: whole seconds since the epoch, floored.
NOW_SECONDS: Final = math.floor(NOW.timestamp())
SPREAD: Final = 60
# Replaced by each case's id in the rows; it follows the case id grammar (no "@").
PLACEHOLDER: Final = "H-QZXQZXQ"
POSTGRES_VARIABLES: Final = ("RECTIFY_BENCH_POSTGRES_URL", "RECTIFY_TEST_POSTGRES_URL")
PROCESSES: Final = (1, 2, 4)


@dataclass(frozen=True)
class Sizes:
    """How much each figure does.

    Attributes:
        fire_cases: Cases per timed pass of durable fires (five fires each).
        import_cases: Cases per timed import.
        query_cases: Cases in the overdue store.
        sweep_cases: Cases in the sweep store.
        sweep_stored: Cases in the two stores of the growth figures, smaller first.
        sweep_due: Cases due in each of those stores (1 % of the bigger).
        postgres_cases: Cases per process per timed pass on PostgreSQL (five fires each).
        repeats: Timed passes per figure; the figure is the best.
        query_repeats: Timed queries per query figure.
    """

    fire_cases: int
    import_cases: int
    query_cases: int
    sweep_cases: int
    sweep_stored: tuple[int, int]
    sweep_due: int
    postgres_cases: int
    repeats: int
    query_repeats: int


FULL_SIZES: Final = Sizes(
    fire_cases=200,
    import_cases=20_000,
    query_cases=1_000_000,
    sweep_cases=20_000,
    sweep_stored=(100_000, 1_000_000),
    sweep_due=10_000,
    postgres_cases=60,
    repeats=3,
    query_repeats=3,
)
QUICK_SIZES: Final = Sizes(
    fire_cases=6,
    import_cases=500,
    query_cases=20_000,
    sweep_cases=600,
    sweep_stored=(2_000, 20_000),
    sweep_due=200,
    postgres_cases=4,
    repeats=2,
    query_repeats=2,
)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- raw SQL on the store's own tables ----------------------------------------------------------


def _sqlite_value(value: object) -> object:
    """A value as SQLAlchemy stores it in SQLite (dates as ISO text)."""
    return value.isoformat() if isinstance(value, dt.date) else value


def _same(value: object) -> object:
    return value


class RawSQL:
    """Plain statements on the store's tables, for a DB-API driver (``?`` or ``%s``)."""

    def __init__(self, metadata: sa.MetaData, prefix: str, mark: str) -> None:
        tables = metadata.tables
        self.case_columns = [c.name for c in tables[f"{prefix}cases"].columns]
        self.event_columns = [c.name for c in tables[f"{prefix}events"].columns]
        updated = [c for c in self.case_columns if c != "id"]
        self.updated_columns = updated

        # The names come from the store's own metadata, the values go as parameters.
        def insert(table: str, columns: Sequence[str]) -> str:
            names, marks = ", ".join(columns), ", ".join([mark] * len(columns))
            return f"INSERT INTO {prefix}{table} ({names}) VALUES ({marks})"  # noqa: S608

        self.insert_case = insert("cases", self.case_columns)
        self.insert_event = insert("events", self.event_columns)
        self.insert_outbox = insert("outbox", ["id", "case_id", "effect", "created", "attempts"])
        sets = ", ".join(f"{c} = {mark}" for c in updated)
        where = f"id = {mark} AND head_seq = {mark}"
        self.update_case = f"UPDATE {prefix}cases SET {sets} WHERE {where}"  # noqa: S608
        overdue = (
            f"is_final = {mark} AND is_paused = {mark} AND deadline IS NOT NULL "
            f"AND deadline < {mark}"
        )
        self.overdue = (
            f"SELECT id, head_seq, case_json FROM {prefix}cases WHERE {overdue} ORDER BY id"  # noqa: S608
        )
        # What a listing reads (SQLStore.summaries): the projection's columns, no JSON case.
        columns = "id, workflow, version, state, data, deadline, escalation, is_final, is_paused"
        self.overdue_columns = (
            f"SELECT {columns}, head_seq FROM {prefix}cases WHERE {overdue} ORDER BY id"  # noqa: S608
        )
        self.events_of = f"SELECT * FROM {prefix}events WHERE case_id IN ({{}}) ORDER BY seq"  # noqa: S608
        # What a sweep reads, through the (is_final, next_due) index.
        due = f"is_final = 0 AND next_due <= {mark}"
        self.due = f"SELECT id, head_seq, case_json FROM {prefix}cases WHERE {due} ORDER BY id"  # noqa: S608
        # Puts a case's projection back as it was (between sweep passes): no head check.
        self.restore_case = f"UPDATE {prefix}cases SET {sets} WHERE id = {mark}"  # noqa: S608
        self.mark = mark


@dataclass(frozen=True)
class Write:
    """The rows one append writes: new records, the projection, the outbox rows."""

    events: list[tuple[object, ...]]
    update: tuple[object, ...]  # the projection's columns, then the id and the head read
    outbox: list[tuple[str, str, str]]  # id, case id, effect JSON


def write_of(
    sql: RawSQL, before: int, outcome: rectify.Outcome, convert: Callable[[object], object]
) -> Write:
    """Return the rows ``SQLStore.append`` writes for ``outcome`` (the case was at ``before``)."""
    case = outcome.case
    projection = _projection(case)
    events = [
        tuple(convert(row[c]) for c in sql.event_columns)
        for row in (_event_row(case.id, r) for r in case.history if r.seq > before)
    ]
    update = (*(convert(projection[c]) for c in sql.updated_columns), case.id, before)
    ids = effect_ids(case, outcome.effects)
    outbox = [
        (i, case.id, _json(effect_to_json(e))) for i, e in zip(ids, outcome.effects, strict=True)
    ]
    return Write(events, update, outbox)


def new_rows(
    sql: RawSQL, items: Sequence[tuple[rectify.Case, Sequence[rectify.engine.Effect]]]
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[str, str, str]]]:
    """Return the cases, events and outbox rows ``add_many`` writes for ``items`` (SQLite)."""
    cases = [tuple(_sqlite_value(_projection(c)[k]) for k in sql.case_columns) for c, _ in items]
    events = [
        tuple(_sqlite_value(row[k]) for k in sql.event_columns)
        for c, _ in items
        for row in (_event_row(c.id, r) for r in c.history)
    ]
    outbox = [
        (i, c.id, _json(effect_to_json(e)))
        for c, effects in items
        for i, e in zip(effect_ids(c, effects), effects, strict=True)
    ]
    return cases, events, outbox


def sqlite_connect(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """A raw connection as the store sets its own up: WAL, ``synchronous``, no implicit BEGIN."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def raw_sqlite_fires(conn: sqlite3.Connection, sql: RawSQL, writes: Sequence[Write]) -> None:
    """The floor of durable fires: one transaction per write, as the store does."""
    for w in writes:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql.insert_event, w.events)
        if conn.execute(sql.update_case, w.update).rowcount != 1:
            raise RuntimeError("the raw update missed its case")
        base = time.time_ns()
        conn.executemany(sql.insert_outbox, [(*o, base + n, 0) for n, o in enumerate(w.outbox)])
        conn.execute("COMMIT")


def raw_sqlite_import(
    conn: sqlite3.Connection,
    sql: RawSQL,
    rows: tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[str, str, str]]],
) -> None:
    """The floor of bulk import: batched ``executemany``, one transaction per batch."""
    cases, events, outbox = rows
    per_case_events = len(events) // len(cases)
    per_case_effects = len(outbox) // len(cases)
    base = time.time_ns()
    for start in range(0, len(cases), BATCH):
        stop = start + BATCH
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql.insert_case, cases[start:stop])
        conn.executemany(sql.insert_event, events[start * per_case_events : stop * per_case_events])
        conn.executemany(
            sql.insert_outbox,
            [
                (*o, base + start * per_case_effects + n, 0)
                for n, o in enumerate(outbox[start * per_case_effects : stop * per_case_effects])
            ],
        )
        conn.execute("COMMIT")


def ledger_fires(ledger: rectify.Ledger, lifecycles: Sequence[Lifecycle]) -> None:
    """Fire every event of every case through the ledger (each a durable transaction)."""
    for lc in lifecycles:
        for step in lc.steps:
            ledger.fire(
                lc.case_id,
                step.event,
                step.actor,
                payload=step.payload,
                evidence=step.evidence,
                at=step.at,
            )


def opened(
    engine: rectify.Engine, lifecycles: Sequence[Lifecycle]
) -> list[tuple[rectify.Case, tuple[rectify.engine.Effect, ...]]]:
    """Return the cases of ``lifecycles`` opened, scheduled as the ledger stores them."""
    out = []
    for lc in lifecycles:
        outcome = engine.open(lc.case_id, lc.data, lc.opener, lc.opened_at)
        out.append((_scheduled(engine, outcome.case), outcome.effects))
    return out


def lifecycle_writes(
    engine: rectify.Engine,
    sql: RawSQL,
    items: Sequence[tuple[rectify.Case, Sequence[rectify.engine.Effect]]],
    lifecycles: Sequence[Lifecycle],
    convert: Callable[[object], object],
) -> list[Write]:
    """Return the writes of every fire of ``lifecycles``, from their opened cases.

    Each case is scheduled as ``Ledger.fire`` stores it (its ``next_due`` column).
    """
    writes: list[Write] = []
    for (first, _), lc in zip(items, lifecycles, strict=True):
        case = first
        for step in lc.steps:
            outcome = engine.fire(
                case, step.event, step.actor, step.at, payload=step.payload, evidence=step.evidence
            )
            scheduled = rectify.Outcome(_scheduled(engine, outcome.case), outcome.effects)
            writes.append(write_of(sql, case.seq, scheduled, convert))
            case = outcome.case
    return writes


class Folder:
    """Where the suite's SQLite files go; removed at the end."""

    def __init__(self) -> None:
        self._temporary = tempfile.TemporaryDirectory(
            prefix="rectify-bench-", dir=os.environ.get("RECTIFY_BENCH_DIR")
        )
        self.path = Path(self._temporary.name)
        self._count = 0

    def new(self, name: str) -> Path:
        """Return a new file's path, its store's tables made."""
        self._count += 1
        path = self.path / f"{self._count:03d}-{name}.db"
        with SQLStore.open(path, prefix=PREFIX):
            pass
        return path

    def close(self) -> None:
        self._temporary.cleanup()


@dataclass(frozen=True)
class Timed:
    """A figure to time: ``run()`` times one pass and returns its time per operation."""

    name: str
    run: Callable[[], float]
    count: int
    floor: str | None = None
    extra_floors: tuple[str, ...] = ()
    targets: tuple[tuple[str, float], ...] = ()
    description: str = ""


def per_op(operation: Callable[[], object], count: int) -> Callable[[], float]:
    """Return a timer of one call of ``operation``, which does ``count`` operations."""

    def run() -> float:
        gc.collect()  # before, not during: the collector stays on, as in real use
        start = time.perf_counter()
        operation()
        return (time.perf_counter() - start) / count

    return run


def in_turns(figures: Sequence[Timed], repeats: int) -> list[Measurement]:
    """Time every figure ``repeats`` times, taking turns; each figure is its best pass.

    A figure and its floor run one after the other in every round, so a slow spell of the
    disk (an ``fsync`` that takes ten times as long for a while) falls on both, not on all
    the repeats of one of them.
    """
    times: dict[str, list[float]] = {f.name: [] for f in figures}
    for _ in range(repeats):
        for figure in figures:
            times[figure.name].append(figure.run())
    return [
        Measurement(
            name=f.name,
            value=min(times[f.name]),
            unit="s",
            floor=f.floor,
            extra_floors=f.extra_floors,
            targets=f.targets,
            description=f.description,
            median=statistics.median(times[f.name]),
            repeats=repeats,
            number=f.count,
        )
        for f in figures
    ]


def _fresh(values: Sequence[Any]) -> Callable[[], Any]:
    """Return a function giving the next of ``values`` per call (a fresh input per pass)."""
    left: Iterator[Any] = iter(values)
    return lambda: next(left)


# --- the figures ----------------------------------------------------------------------------


def fire_figures(folder: Folder, sizes: Sizes, metadata: sa.MetaData) -> list[Measurement]:
    """Durable fires on SQLite: Ledger.fire against raw sqlite3 doing the same writes."""
    n = sizes.fire_cases
    sql = RawSQL(metadata, PREFIX, "?")
    store = SQLStore.open(folder.new("fires-rectify"), prefix=PREFIX)
    raw_path = folder.new("fires-raw")
    raw = sqlite_connect(raw_path)
    ledger = rectify.Ledger.with_workflows(store)
    engine = ledger.engine("hazard")
    passes = [[lifecycle(p * n + i) for i in range(n)] for p in range(sizes.repeats + 1)]
    rectify_passes, raw_passes = [], []
    with SQLStore.open(raw_path, prefix=PREFIX) as raw_store:
        for lifecycles in passes:
            items = opened(engine, lifecycles)
            store.add_many(items)
            raw_store.add_many(items)
            rectify_passes.append(lifecycles)
            raw_passes.append(lifecycle_writes(engine, sql, items, lifecycles, _sqlite_value))
    try:
        # Warm up (the first pass), and check that both did every write.
        ledger_fires(ledger, rectify_passes[0])
        raw_sqlite_fires(raw, sql, raw_passes[0])
        _check_same_tables(store, raw_path)
        fires = n * FIRES
        floor = f"raw sqlite3, durable fires [{fires:,}]"
        work = (
            f"per fire: a pass of {n:,} stored cases through {', '.join(EVENTS)} ({fires:,} "
            "fires), one durable transaction per fire on SQLite (WAL, synchronous=FULL)"
        )
        next_raw, next_rectify = _fresh(raw_passes[1:]), _fresh(rectify_passes[1:])
        return in_turns(
            [
                Timed(
                    floor,
                    per_op(lambda: raw_sqlite_fires(raw, sql, next_raw()), fires),
                    fires,
                    description=f"{work}: raw sqlite3, BEGIN IMMEDIATE, insert the record, update "
                    "the projection where the head is the one read, insert the outbox rows, "
                    "COMMIT; the same rows as rectify's, computed before the timing",
                ),
                Timed(
                    f"Ledger.fire on SQLStore [{fires:,}]",
                    per_op(lambda: ledger_fires(ledger, next_rectify()), fires),
                    fires,
                    floor=floor,
                    targets=((floor, 2.0),),
                    description=f"{work}: Ledger.fire reads the case and its history, runs the "
                    "engine (checks, deadlines, the sealed record) and appends; target: at least "
                    "half of raw's fires per second",
                ),
            ],
            sizes.repeats,
        )
    finally:
        raw.close()
        store.close()


def _check_same_tables(store: SQLStore, raw_path: Path) -> None:
    """Raise unless the raw file holds the same rows as the store (times aside)."""
    schedule = sa.text(f"SELECT id, next_due FROM {PREFIX}cases ORDER BY id")  # noqa: S608
    with SQLStore.open(raw_path, prefix=PREFIX) as raw_store:
        mine = {c.id: c for c in store.cases()}
        theirs = {c.id: c for c in raw_store.cases()}
        if mine != theirs:
            raise RuntimeError("the raw floor did not write what rectify wrote")
        with store.engine.connect() as a, raw_store.engine.connect() as b:
            if a.execute(schedule).all() != b.execute(schedule).all():
                raise RuntimeError("the raw floor did not keep the schedule rectify kept")
        if sorted(d.id for d in store.pending(10**9)) != sorted(
            d.id for d in raw_store.pending(10**9)
        ):
            raise RuntimeError("the raw floor did not write the outbox rectify wrote")


def import_figures(folder: Folder, sizes: Sizes, metadata: sa.MetaData) -> list[Measurement]:
    """Bulk import: Ledger.import_cases and SQLStore.add_many against raw executemany."""
    n = sizes.import_cases
    sql = RawSQL(metadata, PREFIX, "?")
    lifecycles = [lifecycle(i) for i in range(n)]
    actor, at = lifecycles[0].opener, lifecycles[0].opened_at
    entries = [(lc.case_id, "hazard", lc.data) for lc in lifecycles]
    runs = sizes.repeats + 1  # the first warms up
    stores = [
        (SQLStore.open(folder.new("import-ledger"), prefix=PREFIX), folder.new("import-many"))
        for _ in range(runs)
    ]
    ledgers = [rectify.Ledger.with_workflows(s) for s, _ in stores]
    many = [SQLStore.open(path, prefix=PREFIX) for _, path in stores]
    raws = [sqlite_connect(folder.new("import-raw")) for _ in range(runs)]
    engine = ledgers[0].engine("hazard")
    items = [
        (_scheduled(engine, o.case), o.effects)
        for o in (engine.open(i, d, actor, at) for i, _, d in entries)
    ]
    rows = new_rows(sql, items)
    try:
        ledgers[0].import_cases(entries, actor, at=at)
        many[0].add_many(items)
        raw_sqlite_import(raws[0], sql, rows)
        if ledgers[0].query(CaseQuery(limit=3)) != many[0].query(CaseQuery(limit=3)):
            raise RuntimeError("import_cases and add_many stored different cases")
        _check_same_tables(stores[0][0], stores[0][1])  # the same rows, schedules too
        floor = f"raw executemany import [{n:,}]"
        work = (
            f"per case: {n:,} new cases into an empty SQLite store, {BATCH} a transaction "
            "(WAL, synchronous=FULL); each case a projection row, its @open record and its "
            "outbox row"
        )
        next_ledger, next_many, next_raw = _fresh(ledgers[1:]), _fresh(many[1:]), _fresh(raws[1:])
        return in_turns(
            [
                Timed(
                    floor,
                    per_op(lambda: raw_sqlite_import(next_raw(), sql, rows), n),
                    n,
                    description=f"{work}: raw sqlite3 executemany of the rows add_many writes, "
                    "computed before the timing",
                ),
                Timed(
                    f"SQLStore.add_many [{n:,}]",
                    per_op(lambda: next_many().add_many(items), n),
                    n,
                    floor=floor,
                    targets=((floor, 2.0),),
                    description=f"{work}: SQLStore.add_many of cases the engine opened before the "
                    "timing (it skips ids already stored: one SELECT per batch); target: at least "
                    "half of raw's rate",
                ),
                Timed(
                    f"Ledger.import_cases [{n:,}]",
                    per_op(lambda: next_ledger().import_cases(entries, actor, at=at), n),
                    n,
                    floor=floor,
                    targets=((floor, 2.0),),
                    description=f"{work}: Ledger.import_cases from (id, workflow, data): the "
                    "engine opens each case (checks, deadline, sealed record), then add_many; "
                    "target: at least half of raw's rate",
                ),
            ],
            sizes.repeats,
        )
    finally:
        for conn in raws:
            conn.close()
        for store in [*many, *(s for s, _ in stores)]:
            store.close()


def build_overdue_store(path: Path, count: int, engine: rectify.Engine) -> list[str]:
    """Fill the store at ``path`` with ``count`` open cases; return the overdue ones' ids.

    The rows are those ``add_many`` writes for cases the engine opens: one template case
    per opening day, opened with a placeholder id, and each case's rows that template's
    with its own id, its record's digest computed afresh. Written by raw ``executemany``.
    """
    with SQLStore.open(path, prefix=PREFIX) as store:
        sql = RawSQL(store.metadata, PREFIX, "?")
    actor = rectify.Actor("grid_worker-001", "grid_worker")
    data = {"address": "幸福里小区1号楼", "category": "evacuation_blocked", "severity": "general"}
    templates = []
    for day in (*EARLY_DAYS, *LATE_DAYS):
        outcome = engine.open(PLACEHOLDER, data, actor, OPENED + dt.timedelta(days=day))
        cases, events, outbox = new_rows(sql, [(outcome.case, outcome.effects)])
        if len(events) != 1 or len(outbox) != 1:
            raise RuntimeError("an opened case should have one record and one effect")
        templates.append((cases[0], events[0], outbox[0], canonical(outcome.case.history[0])))
    case_digest = sql.case_columns.index("head_digest")
    event_digest = sql.event_columns.index("digest")
    early = len(EARLY_DAYS)
    placeholder = PLACEHOLDER.encode()

    def text(value: object, case_id: str) -> object:
        return value.replace(PLACEHOLDER, case_id) if isinstance(value, str) else value

    def rows(start: int, stop: int) -> Iterator[tuple[tuple[object, ...], ...]]:
        for i in range(start, stop):
            case_id = f"H-{i:07d}"
            pick = (
                (i // OVERDUE_EVERY) % early
                if i % OVERDUE_EVERY == 0
                else early + i % len(LATE_DAYS)
            )
            case, event, effect, body = templates[pick]
            digest = hashlib.sha256(body.replace(placeholder, case_id.encode())).hexdigest()
            case_row = [text(v, case_id) for v in case]
            case_row[case_digest] = digest
            event_row = [text(v, case_id) for v in event]
            event_row[event_digest] = digest
            yield tuple(case_row), tuple(event_row), tuple(text(v, case_id) for v in effect)

    conn = sqlite_connect(path, synchronous="OFF")  # a build, not a measurement
    try:
        base = time.time_ns()
        chunk = 50_000
        for start in range(0, count, chunk):
            built = list(rows(start, min(count, start + chunk)))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql.insert_case, [b[0] for b in built])
            conn.executemany(sql.insert_event, [b[1] for b in built])
            conn.executemany(
                sql.insert_outbox,
                [(*b[2], base + start + n, 0) for n, b in enumerate(built)],
            )
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    overdue = [f"H-{i:07d}" for i in range(0, count, OVERDUE_EVERY)]
    with SQLStore.open(path, prefix=PREFIX) as store:  # the rows are add_many's
        step = max(1, count // 40)
        for i in [*range(0, count, step), count - 1]:
            case_id = f"H-{i:07d}"
            got = store.get(case_id)
            day = (
                EARLY_DAYS[(i // OVERDUE_EVERY) % early]
                if i % OVERDUE_EVERY == 0
                else LATE_DAYS[i % len(LATE_DAYS)]
            )
            want = engine.open(case_id, data, actor, OPENED + dt.timedelta(days=day)).case
            if got != want:
                raise RuntimeError(f"the built store's {case_id} is not the engine's")
            rectify.engine.verify_history(got)
    return overdue


def raw_overdue(conn: sqlite3.Connection, sql: RawSQL) -> list[tuple[Any, ...]]:
    """The floor: the indexed SELECT of the overdue cases' projections, ordered by id."""
    return conn.execute(sql.overdue, (0, 0, OVERDUE_ON.isoformat())).fetchall()


def raw_overdue_columns(conn: sqlite3.Connection, sql: RawSQL) -> list[tuple[Any, ...]]:
    """The floor of a listing: the same indexed SELECT of the columns a summary reads."""
    return conn.execute(sql.overdue_columns, (0, 0, OVERDUE_ON.isoformat())).fetchall()


def raw_overdue_with_records(
    conn: sqlite3.Connection, sql: RawSQL
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The floor of what the store reads: the projections, then their records by 500 ids."""
    found = raw_overdue(conn, sql)
    records: list[tuple[Any, ...]] = []
    for start in range(0, len(found), 500):
        ids = [row[0] for row in found[start : start + 500]]
        statement = sql.events_of.format(", ".join("?" * len(ids)))
        records.extend(conn.execute(statement, ids).fetchall())
    return found, records


def query_figures(folder: Folder, sizes: Sizes, engine: rectify.Engine) -> list[Measurement]:
    """The overdue query over many stored cases against the raw indexed SELECT."""
    n = sizes.query_cases
    path = folder.new("overdue")
    started = time.perf_counter()
    overdue = build_overdue_store(path, n, engine)
    built = time.perf_counter() - started
    store = SQLStore.open(path, prefix=PREFIX)
    sql = RawSQL(store.metadata, PREFIX, "?")
    conn = sqlite_connect(path)
    query = CaseQuery(overdue_on=OVERDUE_ON)
    try:
        # Warm up (the file into the page cache), and check all three find the same cases.
        found = store.query(query)
        rows, records = raw_overdue_with_records(conn, sql)
        if [c.id for c in found] != overdue or [r[0] for r in rows] != overdue:
            raise RuntimeError("the query and the raw SELECT disagree on what is overdue")
        listed = store.summaries(query)
        if [s.id for s in listed] != overdue or listed != [CaseSummary.of(c) for c in found]:
            raise RuntimeError("the summaries are not those of the cases the query found")
        if [r[0] for r in raw_overdue_columns(conn, sql)] != overdue:
            raise RuntimeError("the raw SELECT of the columns found other cases")
        if len(records) != len(overdue):
            raise RuntimeError("the raw SELECT found other records")
        each = (
            f"per query: the {len(overdue):,} overdue cases (1 in {OVERDUE_EVERY}) among "
            f"{n:,} open cases on SQLite, found through the (is_final, deadline) index and "
            f"ordered by id; the store was filled by raw executemany in {built:.0f} s with "
            "the rows add_many writes (checked on a sample)"
        )
        floor, records_floor, columns_floor = (
            f"raw indexed SELECT overdue [{n:,}]",
            f"raw SELECT overdue with records [{n:,}]",
            f"raw indexed SELECT overdue columns [{n:,}]",
        )
        return in_turns(
            [
                Timed(
                    columns_floor,
                    per_op(lambda: raw_overdue_columns(conn, sql), 1),
                    1,
                    description=f"{each}: raw sqlite3 SELECT of the columns a listing reads (id, "
                    "workflow, version, state, data, deadline, escalation, flags, head_seq), as "
                    "tuples",
                ),
                Timed(
                    f"SQLStore.summaries overdue_on [{n:,}]",
                    per_op(lambda: store.summaries(query), 1),
                    1,
                    floor=columns_floor,
                    extra_floors=(floor,),
                    targets=((columns_floor, 2.0),),
                    description=f"{each}: SQLStore.summaries(CaseQuery(overdue_on=day)), the "
                    "same SQL, each row a CaseSummary with its data decoded, no record read "
                    "(what rectify cases lists); target: at most 2x the raw SELECT of the columns",
                ),
                Timed(
                    floor,
                    per_op(lambda: raw_overdue(conn, sql), 1),
                    1,
                    description=f"{each}: raw sqlite3 SELECT id, head_seq, case_json of open, "
                    "unpaused cases with deadline < the day",
                ),
                Timed(
                    records_floor,
                    per_op(lambda: raw_overdue_with_records(conn, sql), 1),
                    1,
                    description=f"{each}: the same SELECT, then the cases' records by 500 ids "
                    "(the rows the store reads), as tuples",
                ),
                Timed(
                    f"SQLStore.query overdue_on [{n:,}]",
                    per_op(lambda: store.query(query), 1),
                    1,
                    floor=records_floor,
                    extra_floors=(floor,),
                    targets=((records_floor, 2.0),),
                    description=f"{each}: SQLStore.query(CaseQuery(overdue_on=day)), the same "
                    "SQL, then every case decoded with its history into Case values; target: at "
                    "most 2x the raw SELECTs of the same rows (what a listing needs is "
                    "SQLStore.summaries)",
                ),
            ],
            sizes.query_repeats,
        )
    finally:
        conn.close()
        store.close()


def sweep_cases(engine: rectify.Engine, count: int) -> list[Any]:
    """Return ``count`` planned cases, one in ``OVERDUE_EVERY`` with its reminder due.

    Scheduled as the ledger stores them (``Case.next_due``), so a sweep reads the due ones.
    """
    reach = reminder_days(engine.spec)
    items = []
    for i in range(count):
        due = NOW.date() + dt.timedelta(days=sweep_offset(i, OVERDUE_EVERY, reach))
        outcome = planned_case(engine, f"S-{i:07d}", due, NOW - dt.timedelta(days=14))
        items.append((_scheduled(engine, outcome.case), outcome.effects))
    return items


def escalation_writes(
    engine: rectify.Engine, sql: RawSQL, cases: Sequence[rectify.Case]
) -> dict[str, Write]:
    """Return the writes of a sweep at ``NOW`` of ``cases``: the due ones' escalations."""
    writes = {}
    for case in cases:
        outcome = rectify.engine.escalate(engine, case, NOW)
        if outcome.effects:
            scheduled = rectify.Outcome(_scheduled(engine, outcome.case), outcome.effects)
            writes[case.id] = write_of(sql, case.seq, scheduled, _sqlite_value)
    return writes


def raw_sweep(conn: sqlite3.Connection, sql: RawSQL, writes: Mapping[str, Write]) -> int:
    """The floor of a sweep: the indexed SELECT of the due cases, then their writes."""
    due = conn.execute(sql.due, (NOW_SECONDS,)).fetchall()
    raw_sqlite_fires(conn, sql, [writes[row[0]] for row in due])
    return len(due)


def sweep_figures(folder: Folder, sizes: Sizes, engine: rectify.Engine) -> list[Measurement]:
    """Ledger.sweep per due case against the raw indexed SELECT and the same writes."""
    n = sizes.sweep_cases
    master = folder.new("sweep")
    items = sweep_cases(engine, n)
    with SQLStore.open(master, prefix=PREFIX) as store:
        store.add_many(items)
        sql = RawSQL(store.metadata, PREFIX, "?")
    writes = escalation_writes(engine, sql, [case for case, _ in items])
    due = len(writes)
    copies = []
    for n_copy in range(2 * sizes.repeats):
        copy = folder.path / f"sweep-copy-{n_copy}.db"
        shutil.copyfile(master, copy)
        copies.append(copy)
    ledgers = [
        rectify.Ledger.with_workflows(SQLStore.open(path, prefix=PREFIX))
        for path in copies[: sizes.repeats]
    ]
    raws = [sqlite_connect(path) for path in copies[sizes.repeats :]]
    reports: list[rectify.SweepReport] = []
    counts: list[int] = []
    next_ledger, next_raw = _fresh(ledgers), _fresh(raws)
    try:
        each = (
            f"per due case: {n:,} planned cases on SQLite (WAL, synchronous=FULL), stored "
            "through add_many scheduled as the ledger keeps them (next_due), 1 in "
            f"{OVERDUE_EVERY} with its reminder due ({due:,}): one @escalate record and two "
            "outbox rows each, one transaction per case; each pass on a fresh copy of the store"
        )
        floor = f"raw sweep [{n:,}]"
        out = in_turns(
            [
                Timed(
                    floor,
                    per_op(lambda: counts.append(raw_sweep(next_raw(), sql, writes)), due),
                    due,
                    description=f"{each}: raw sqlite3, the SELECT of the due cases through the "
                    "(is_final, next_due) index (is_final = 0 AND next_due <= now, ordered by "
                    "id), then the same writes as rectify's (computed before the timing, the new "
                    "next_due included)",
                ),
                Timed(
                    f"Ledger.sweep [{n:,}]",
                    per_op(lambda: reports.append(next_ledger().sweep(NOW)), due),
                    due,
                    floor=floor,
                    targets=((floor, 2.0),),
                    description=f"{each}: Ledger.sweep(now) reads the due cases with their "
                    "histories through the same index (pages of 1,000), works out the due levels "
                    "with the engine and appends each with its next schedule; target: at most 2x "
                    "the raw sweep",
                ),
            ],
            sizes.repeats,
        )
        if (
            any(sorted(r.escalated) != sorted(writes) for r in reports)
            or any(r.looked_at != due for r in reports)
            or any(c != due for c in counts)
        ):
            raise RuntimeError("the sweep and the raw sweep read or escalated different cases")
        return out
    finally:
        for conn in raws:
            conn.close()
        for ledger in ledgers:
            ledger.store.close()


class Template:
    """The rows ``add_many`` writes for one case with a placeholder id, made any case's.

    ``rows(case_id)`` puts the id in and chains the records' digests afresh (the first
    record's encoding holds the id, each later one the digest before it).
    """

    def __init__(
        self, sql: RawSQL, case: rectify.Case, effects: Sequence[rectify.engine.Effect]
    ) -> None:
        cases, events, outbox = new_rows(sql, [(case, effects)])
        if len(outbox) != 1:
            raise RuntimeError("the template case should have one effect")
        self.digests = [r.digest for r in case.history]
        self.bodies = [canonical(r) for r in case.history]
        self._rows = [(row, self._slots(row)) for row in (cases[0], *events, outbox[0])]

    def _slots(self, row: Sequence[object]) -> list[tuple[int, list[str] | None, int]]:
        """Return the columns that change: (column, the text around the id, or the record)."""
        slots: list[tuple[int, list[str] | None, int]] = []
        for column, value in enumerate(row):
            if not isinstance(value, str):
                continue
            if value in self.digests:
                slots.append((column, None, self.digests.index(value)))
            elif any(d in value for d in self.digests):
                raise RuntimeError("a digest inside a column: the template cannot make the rows")
            elif PLACEHOLDER in value:
                slots.append((column, value.split(PLACEHOLDER), -1))
        return slots

    def rows(self, case_id: str) -> list[tuple[object, ...]]:
        """Return the case's row, its records' rows and its effect's row (id, case, JSON)."""
        digests: list[str] = []
        for k, body in enumerate(self.bodies):
            mine = body.replace(PLACEHOLDER.encode(), case_id.encode())
            if k:
                mine = mine.replace(self.digests[k - 1].encode(), digests[k - 1].encode())
            digests.append(hashlib.sha256(mine).hexdigest())
        out = []
        for row, slots in self._rows:
            values = list(row)
            for column, parts, record in slots:
                values[column] = digests[record] if parts is None else case_id.join(parts)
            out.append(tuple(values))
        return out


def sweep_offset(i: int, every: int, reach: int) -> int:
    """Return how many days after ``NOW``'s day sweep case ``i``'s deadline is.

    1 in ``every`` is due: today to ``reach`` days out (its reminder, and nothing else, is
    due at ``NOW``); the others are ``reach + 1`` to ``reach + SPREAD`` days out.
    """
    return (i // every) % (reach + 1) if i % every == 0 else reach + 1 + i % SPREAD


def build_sweep_store(path: Path, engine: rectify.Engine, count: int, due: int) -> list[str]:
    """Fill the store at ``path`` with ``count`` planned cases; return the ``due`` ones' ids.

    One case in ``count // due`` has its reminder due at ``NOW``; the others come due later.
    The rows are those ``add_many`` writes for cases planned through the engine and scheduled
    as the ledger stores them: one template case per deadline, and each case's rows that
    template's with its own id and its records' digests chained afresh. Written by raw
    ``executemany``; a sample is checked against the engine.
    """
    with SQLStore.open(path, prefix=PREFIX) as store:
        sql = RawSQL(store.metadata, PREFIX, "?")
    reach = reminder_days(engine.spec)
    every = count // due
    opened_at = NOW - dt.timedelta(days=14)

    def planned(case_id: str, offset: int) -> rectify.Outcome:
        deadline = NOW.date() + dt.timedelta(days=offset)
        outcome = planned_case(engine, case_id, deadline, opened_at)
        return rectify.Outcome(_scheduled(engine, outcome.case), outcome.effects)

    templates = [
        Template(sql, outcome.case, outcome.effects)
        for outcome in (planned(PLACEHOLDER, offset) for offset in range(reach + 1 + SPREAD))
    ]

    def rows(start: int, stop: int) -> Iterator[list[tuple[object, ...]]]:
        for i in range(start, stop):
            yield templates[sweep_offset(i, every, reach)].rows(f"S-{i:07d}")

    conn = sqlite_connect(path, synchronous="OFF")  # a build, not a measurement
    try:
        # The cases table's own indexes are made after its rows: quicker than row by row.
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (f"{PREFIX}cases",),
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        base = time.time_ns()
        chunk = 50_000
        for start in range(0, count, chunk):
            built = list(rows(start, min(count, start + chunk)))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql.insert_case, [b[0] for b in built])
            conn.executemany(sql.insert_event, [e for b in built for e in b[1:-1]])
            conn.executemany(
                sql.insert_outbox, [(*b[-1], base + start + n, 0) for n, b in enumerate(built)]
            )
            conn.execute("COMMIT")
        for _, statement in indexes:
            conn.execute(statement)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with SQLStore.open(path, prefix=PREFIX) as store:  # the rows are add_many's
            step = max(1, count // 40)
            for i in sorted({*range(0, count, step), *range(1, count, step), count - 1}):
                case_id = f"S-{i:07d}"
                got = store.get(case_id)
                want = planned(case_id, sweep_offset(i, every, reach)).case
                kept = conn.execute(
                    f"SELECT next_due FROM {PREFIX}cases WHERE id = ?",  # noqa: S608
                    (case_id,),
                ).fetchone()
                if got != want or kept[0] != _projection(want)["next_due"]:
                    raise RuntimeError(f"the built store's {case_id} is not the engine's")
                rectify.engine.verify_history(got)
    finally:
        conn.close()
    return [f"S-{i:07d}" for i in range(0, count, every)]


class SweepStore:
    """A built sweep store, the writes of its due cases, and a way to put them back.

    A sweep writes: it escalates the due cases and schedules their next level. Instead of
    a fresh copy of the file for every pass, ``restore`` deletes the rows the last pass
    added (records and outbox rows past the build's, by rowid) and rewrites the due cases'
    projection rows as built, so that every pass sweeps the same due cases at ``NOW``.
    """

    def __init__(self, folder: Folder, engine: rectify.Engine, stored: int, due: int) -> None:
        self.path = folder.new(f"sweep-{stored}")
        started = time.perf_counter()
        self.due = build_sweep_store(self.path, engine, stored, due)
        self.built = time.perf_counter() - started
        self.stored = stored
        self.store = SQLStore.open(self.path, prefix=PREFIX)
        self.ledger = rectify.Ledger.with_workflows(self.store)
        self.sql = RawSQL(self.store.metadata, PREFIX, "?")
        self.conn = sqlite_connect(self.path)
        try:
            self.writes, self.saved, self.marks = self._prepare(engine)
        except BaseException:
            self.close()
            raise

    def _prepare(
        self, engine: rectify.Engine
    ) -> tuple[dict[str, Write], list[tuple[Any, ...]], dict[str, int]]:
        """Return the due cases' writes, their rows as built, and the tables' last rowids."""
        cases = self.store.query(CaseQuery(escalation_due=NOW))
        if [c.id for c in cases] != self.due:
            raise RuntimeError("the store's sweep query did not find the due cases")
        writes = escalation_writes(engine, self.sql, cases)
        if list(writes) != self.due:
            raise RuntimeError("a case the sweep query found is not due")
        columns = ", ".join([*self.sql.updated_columns, "id"])
        saved = self.conn.execute(
            f"SELECT {columns} FROM {PREFIX}cases WHERE is_final = 0 AND next_due <= ?",  # noqa: S608
            (NOW_SECONDS,),
        ).fetchall()
        marks = {
            table: self.conn.execute(f"SELECT max(rowid) FROM {PREFIX}{table}").fetchone()[0]  # noqa: S608
            for table in ("events", "outbox")
        }
        return writes, saved, marks

    def restore(self) -> None:
        """Put the due cases back as built (untimed, between passes)."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        for table, mark in self.marks.items():
            conn.execute(f"DELETE FROM {PREFIX}{table} WHERE rowid > ?", (mark,))  # noqa: S608
        conn.executemany(self.sql.restore_case, self.saved)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def timed(self, kind: str) -> Callable[[], float]:
        """Return a timer of one pass (``"raw"`` or ``"rectify"``), checked, on a restored store."""
        due = len(self.due)

        def raw() -> None:
            if raw_sweep(self.conn, self.sql, self.writes) != due:
                raise RuntimeError("the raw sweep found other cases")

        def ledger() -> None:
            report = self.ledger.sweep(NOW)
            if list(report.escalated) != self.due or report.looked_at != due or report.conflicts:
                raise RuntimeError("Ledger.sweep read or escalated other cases than the due ones")

        timer = per_op(raw if kind == "raw" else ledger, due)

        def run() -> float:
            self.restore()
            return timer()

        return run

    def close(self) -> None:
        self.conn.close()
        self.store.close()


def growth_figures(folder: Folder, sizes: Sizes, engine: rectify.Engine) -> list[Measurement]:
    """Ledger.sweep with the same cases due in a store 10 times bigger, against raw sweeps."""
    due = sizes.sweep_due
    stores: list[SweepStore] = []
    try:
        for stored in sizes.sweep_stored:
            stores.append(SweepStore(folder, engine, stored, due))
        figures: list[Timed] = []
        small: SweepStore | None = None
        for rig in stores:
            stored = rig.stored
            what = (
                f"per due case: {due:,} planned cases with their reminder due (1 in "
                f"{stored // due}) among {stored:,} open planned cases on SQLite (WAL, "
                "synchronous=FULL), the others due 1 to 60 days later, every case scheduled as "
                "the ledger keeps it (next_due); one @escalate record and two outbox rows per due "
                f"case, one transaction each. The store was filled by raw executemany in "
                f"{rig.built:.0f} s with the rows add_many writes (checked on a sample). Before "
                "each pass (untimed) the due cases are put back as built: the records and outbox "
                "rows the last pass added are deleted and the due cases' projection rows "
                "rewritten, so every pass sweeps the same cases at the same moment without a "
                "copy of the file"
            )
            floor = f"raw indexed sweep, {due:,} due [{stored:,} stored]"
            name = f"Ledger.sweep, {due:,} due [{stored:,} stored]"
            growth = (
                () if small is None else (f"Ledger.sweep, {due:,} due [{small.stored:,} stored]",)
            )
            raw_growth = (
                ()
                if small is None
                else (f"raw indexed sweep, {due:,} due [{small.stored:,} stored]",)
            )
            figures += [
                Timed(
                    floor,
                    rig.timed("raw"),
                    due,
                    extra_floors=raw_growth,
                    description=f"{what}: raw sqlite3, the SELECT of the due cases through the "
                    "(is_final, next_due) index (is_final = 0 AND next_due <= now, ordered by "
                    "id), then the same writes as rectify's (computed before the timing)"
                    + ("; the ratio to the smaller store is SQLite's own growth" if small else ""),
                ),
                Timed(
                    name,
                    rig.timed("rectify"),
                    due,
                    floor=floor,
                    extra_floors=growth,
                    targets=((floor, 2.0), *((g, 1.3) for g in growth)),
                    description=f"{what}: Ledger.sweep(now), which reads only the due cases "
                    "(CaseQuery(escalation_due=now), pages of 1,000) and escalates them; target: "
                    "at most 2x the raw sweep"
                    + (
                        f", and at most 1.3x the time per due case in the store of "
                        f"{small.stored:,} (the sweep's cost follows the cases due, not the "
                        "cases stored)"
                        if small
                        else ""
                    ),
                ),
            ]
            small = rig
        return in_turns(figures, sizes.repeats)
    finally:
        for rig in stores:
            rig.close()


# --- PostgreSQL, several processes ----------------------------------------------------------


def postgres_url() -> str | None:
    for variable in POSTGRES_VARIABLES:
        if url := os.environ.get(variable):
            return url
    return None


def raw_postgres_fires(
    conn: Any,  # noqa: ANN401 - a psycopg connection (an optional dependency)
    sql: RawSQL,
    writes: Sequence[Write],
) -> None:
    """The floor of fires on PostgreSQL: one transaction per write, as the store does."""
    for w in writes:
        with conn.transaction():
            conn.cursor().executemany(sql.insert_event, w.events)
            if conn.execute(sql.update_case, w.update).rowcount != 1:
                raise RuntimeError("the raw update missed its case")
            base = time.time_ns()
            conn.cursor().executemany(
                sql.insert_outbox, [(*o, base + n, 0) for n, o in enumerate(w.outbox)]
            )


def _postgres_child(
    url: str, prefix: str, index: int, pipe: Connection, barriers: dict[int, Any]
) -> None:
    """Serve fire passes for the parent: prepare cases, wait at the barrier, fire, report."""
    import psycopg  # noqa: PLC0415 - optional: only this part needs it

    try:
        store = SQLStore.open(url, prefix=prefix)
        ledger = rectify.Ledger.with_workflows(store)
        engine = ledger.engine("hazard")
        sql = RawSQL(store.metadata, prefix, "%s")
        plain = sa.make_url(url).set(drivername="postgresql")
        raw = psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True)
        pipe.send("ready")
        while (command := pipe.recv()) is not None:
            kind, processes, first, count = command
            lifecycles = [lifecycle(first + index * count + i) for i in range(count)]
            items = opened(engine, lifecycles)
            store.add_many(items)
            writes = lifecycle_writes(engine, sql, items, lifecycles, _same)
            barriers[processes].wait(120)
            start = time.perf_counter()  # system-wide: comparable between processes
            if kind == "rectify":
                ledger_fires(ledger, lifecycles)
            else:
                raw_postgres_fires(raw, sql, writes)
            pipe.send((start, time.perf_counter(), count * FIRES))
        raw.close()
        store.close()
    except BaseException as exc:  # the parent reports it
        pipe.send(f"error: {exc!r}")


class PostgresPool:
    """Four processes with a store and a raw connection each, run 1, 2 or 4 at a time."""

    def __init__(self, url: str, prefix: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.barriers = {p: context.Barrier(p) for p in PROCESSES}
        self.pipes: list[Connection] = []
        self.processes: list[Any] = []
        for index in range(max(PROCESSES)):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_postgres_child,
                args=(url, prefix, index, theirs, self.barriers),
                daemon=True,
            )
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)
        self.first = 0
        try:
            for pipe in self.pipes:
                self._answer(pipe)
        except BaseException:
            self.close()
            raise

    def _answer(self, pipe: Connection) -> Any:  # noqa: ANN401 - what the child sent
        if not pipe.poll(300):
            raise RuntimeError("a PostgreSQL benchmark process did not answer")
        answer = pipe.recv()
        if isinstance(answer, str) and answer.startswith("error"):
            raise RuntimeError(f"a PostgreSQL benchmark process failed: {answer}")
        return answer

    def run(self, kind: str, processes: int, count: int) -> float:
        """Run one pass; return the wall time per fire over all ``processes``."""
        for pipe in self.pipes[:processes]:
            pipe.send((kind, processes, self.first, count))
        self.first += max(PROCESSES) * count
        spans: list[tuple[float, float, int]] = [
            self._answer(pipe) for pipe in self.pipes[:processes]
        ]
        fires = sum(s[2] for s in spans)
        return (max(s[1] for s in spans) - min(s[0] for s in spans)) / fires

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self.processes:
            process.join(60)
            if process.is_alive():
                process.terminate()


def _processes(count: int) -> str:
    return f"{count} process{'es' if count > 1 else ''}"


def postgres_figures(url: str, sizes: Sizes) -> list[Measurement]:
    """Fires per second on PostgreSQL with 1, 2 and 4 processes, rectify against raw."""
    prefix = f"bench_{uuid.uuid4().hex[:8]}_"
    SQLStore.open(url, prefix=prefix).close()  # the tables, made once
    n = sizes.postgres_cases
    out: list[Measurement] = []
    pool: PostgresPool | None = None
    try:
        pool = PostgresPool(url, prefix)
        pool.run("rectify", max(PROCESSES), 1)  # warm up every process
        pool.run("raw", max(PROCESSES), 1)
        single = f"Ledger.fire on PostgreSQL, 1 process [{n * FIRES:,} fires]"
        figures: list[Timed] = []
        for processes in PROCESSES:
            fires = n * FIRES * processes
            what = (
                f"per fire, the wall time of {_processes(processes)} firing at once ({n:,} "
                f"cases each through {', '.join(EVENTS)}: {fires:,} fires in all, each process "
                "on its own cases), one transaction per fire"
            )
            floor = f"raw psycopg, {_processes(processes)} [{fires:,} fires]"
            scaling = (
                f"; the ratio to {single} is how the time per fire scales with processes"
                if processes > 1
                else ""
            )
            # Issue 16: 4 processes make at least 1.5x the fires per second of 1 process,
            # so at most 1 / 1.5 of its wall time per fire.
            scaling_target = ((single, 0.67),) if processes == max(PROCESSES) else ()
            if scaling_target:
                scaling += " (target: at most 0.67, at least 1.5x the fires per second of 1)"
            figures += [
                Timed(
                    floor,
                    partial(pool.run, "raw", processes, n),
                    fires,
                    description=f"{what}: raw psycopg, the same writes as rectify's",
                ),
                Timed(
                    f"Ledger.fire on PostgreSQL, {_processes(processes)} [{fires:,} fires]",
                    partial(pool.run, "rectify", processes, n),
                    fires,
                    floor=floor,
                    extra_floors=(single,) if processes > 1 else (),
                    targets=((floor, 2.0), *scaling_target),
                    description=f"{what}: Ledger.fire on a SQLStore (psycopg through "
                    f"SQLAlchemy); target: at most 2x raw psycopg{scaling}",
                ),
            ]
        out = in_turns(figures, sizes.repeats)
    finally:
        if pool is not None:
            pool.close()
        with SQLStore.open(url, prefix=prefix) as store:
            store.metadata.drop_all(store.engine)
    return out


# --- the suite ------------------------------------------------------------------------------


def suite(settings: Settings) -> list[Measurement]:
    """Durable fires, bulk import, the overdue query, the sweep and PostgreSQL processes."""
    sizes = QUICK_SIZES if settings.quick else FULL_SIZES
    folder = Folder()
    try:
        with SQLStore.open(folder.new("schema"), prefix=PREFIX) as store:
            metadata = store.metadata
            engine = rectify.Ledger.with_workflows(store).engine("hazard")
        out = fire_figures(folder, sizes, metadata)
        out += import_figures(folder, sizes, metadata)
        out += query_figures(folder, sizes, engine)
        out += sweep_figures(folder, sizes, engine)
        out += growth_figures(folder, sizes, engine)
    finally:
        folder.close()
    url = postgres_url()
    if url is None:
        print(
            "store: the PostgreSQL figures were skipped; to run them, set "
            f"{POSTGRES_VARIABLES[0]} (or {POSTGRES_VARIABLES[1]}) to a database URL, e.g. "
            f"{POSTGRES_VARIABLES[0]}=postgresql+psycopg://postgres@127.0.0.1:5432/test "
            ".venv/bin/python benchmarks/run.py store",
            file=sys.stderr,
        )
    else:
        out += postgres_figures(url, sizes)
    return out
