"""Crash safety: a process killed mid-write loses nothing it confirmed and leaves nothing partial.

A worker process (``tests/crash_worker.py``) fires events on many cases and prints each
write the store confirmed; the test kills it with SIGKILL at a random moment, over and over
on the same database, and checks the store after every kill (see ``check_store``). Two
racing processes writing the same event on the same case from the same read: exactly one
wins, the other gets ``ConcurrencyError``, and the store holds the winner's write whole.

PostgreSQL and MariaDB run when their URLs are set (``.ci/run`` sets both); each run uses
its own table prefix and drops its tables at the end. ``RECTIFY_CRASH_SEED`` replays the
random delays of a run (the moments of the kills still vary with the machine).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.crash_worker import (
    CrashCheckError,
    CrashSoak,
    check_store,
    drop_tables,
    race,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SOAK = ROOT / "benchmarks" / "crash_soak.py"
SQLITE_ROUNDS = 50
SERVER_ROUNDS = 10
RACE_CASES = 20  # five raced events each: 100 rounds
SERVERS = {
    "postgresql": (
        "RECTIFY_TEST_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ),
    "mariadb": ("RECTIFY_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def server_url(backend: str) -> str:
    variable, example = SERVERS[backend]
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{backend} tests need a server: set {variable}={example}")
    return url


@pytest.fixture
def seed() -> int:
    given = os.environ.get("RECTIFY_CRASH_SEED")
    chosen = int(given) if given else random.randrange(2**31)  # noqa: S311 - not a secret
    print(f"RECTIFY_CRASH_SEED={chosen}")  # noqa: T201 - shown when a test fails
    return chosen


def target_of(backend: str, tmp_path: Path) -> str:
    return str(tmp_path / "crash.db") if backend == "sqlite" else server_url(backend)


@pytest.fixture
def prefix(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A table prefix of this test's own, its tables dropped at the end on a server."""
    own = f"k{uuid.uuid4().hex[:8]}_"
    yield own
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("backend", "sqlite") if callspec else "sqlite"
    if backend != "sqlite":
        drop_tables(server_url(backend), own)


def soak(target: str, prefix: str, rounds: int, seed: int) -> CrashSoak:
    crash = CrashSoak(target, prefix, seed=seed)
    try:
        for _ in range(rounds):
            crash.round()
    finally:
        crash.close()
    print(crash.stats.summary())  # noqa: T201 - the figures, with -s
    return crash


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_worker_killed_at_random_moments_loses_nothing_it_confirmed(
    backend: str, tmp_path: Path, prefix: str, seed: int
) -> None:
    rounds = SQLITE_ROUNDS if backend == "sqlite" else SERVER_ROUNDS
    crash = soak(target_of(backend, tmp_path), prefix, rounds, seed)
    stats = crash.stats
    assert stats.rounds == stats.kills == rounds  # every worker was killed mid-run
    assert stats.confirmed >= rounds  # each printed at least its first write
    assert len(crash.confirmed) <= stats.cases
    assert stats.events >= len(crash.confirmed)
    # The delays spread over the run, not all at its start.
    assert max(stats.delays) > 0.5 * crash.max_delay


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_of_two_processes_racing_on_each_event_exactly_one_wins(
    backend: str, tmp_path: Path, prefix: str, seed: int
) -> None:
    stats = race(target_of(backend, tmp_path), prefix, cases=RACE_CASES, seed=seed)
    assert stats.rounds == 5 * RACE_CASES
    assert sum(stats.wins.values()) == stats.rounds
    print(f"{stats.rounds} races, wins {stats.wins}")  # noqa: T201 - the figures, with -s


def test_the_checks_find_partial_and_lost_writes(tmp_path: Path, seed: int) -> None:
    """The checks are not vacuous: each kind of damage a crash could leave is reported."""
    target, prefix = str(tmp_path / "crash.db"), "rectify_"
    crash = soak(target, prefix, 2, seed)
    check_store(target, prefix, crash.confirmed)
    case_id, seq = max(crash.confirmed.items(), key=lambda item: item[1])
    with pytest.raises(CrashCheckError, match="is at seq"):  # a confirmed write lost
        check_store(target, prefix, {**crash.confirmed, case_id: seq + 1})
    with pytest.raises(CrashCheckError, match="is missing"):
        check_store(target, prefix, {**crash.confirmed, "never-stored": 0})

    engine = sa.create_engine(f"sqlite:///{target}")
    metadata = sa.MetaData()
    metadata.reflect(engine)
    events, cases, outbox = (metadata.tables[f"{prefix}{t}"] for t in ("events", "cases", "outbox"))
    with engine.connect() as conn:
        last = conn.execute(
            sa.select(events).where(events.c.case_id == case_id, events.c.seq == seq)
        ).one()
        (case_json,) = conn.execute(sa.select(cases.c.case_json).where(cases.c.id == case_id)).one()
        (effect,) = conn.execute(sa.select(outbox).where(outbox.c.id == f"{case_id}:{seq}:0")).all()
    edited = json.loads(case_json)
    edited["extensions"] += 1

    def damaged(match: str, damage: sa.Executable, undo: sa.Executable) -> None:
        with engine.begin() as conn:
            conn.execute(damage)
        try:
            with pytest.raises(CrashCheckError, match=match):
                check_store(target, prefix, {})
        finally:
            with engine.begin() as conn:
                conn.execute(undo)
        check_store(target, prefix, crash.confirmed)

    # A record written past the head (its projection update lost): reads never show it, but
    # Ledger.verify finds it before the harness's own count of records does.
    past = {**last._asdict(), "seq": seq + 1, "prev": last.digest, "digest": "0" * 64}
    damaged(
        "events-past-head",
        events.insert().values(past),
        events.delete().where(events.c.case_id == case_id, events.c.seq == seq + 1),
    )
    # The outbox row of a write missing.
    damaged(
        "outbox",
        outbox.delete().where(outbox.c.id == effect.id),
        outbox.insert().values(effect._asdict()),
    )
    # A projection that is not what its history gives.
    damaged(
        "projection-mismatch|projection",
        cases.update().where(cases.c.id == case_id).values(case_json=json.dumps(edited)),
        cases.update().where(cases.c.id == case_id).values(case_json=case_json),
    )
    engine.dispose()


def test_the_soak_script_runs_a_few_rounds(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SOAK), "--rounds", "2", "--race-cases", "1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 rounds, 2 kills mid-run" in done.stdout
    assert "5 races" in done.stdout
