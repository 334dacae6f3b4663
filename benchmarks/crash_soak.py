"""Crash soak: kill a firing worker many times over on one store, checking it after each kill.

Usage::

    python benchmarks/crash_soak.py [--rounds 500] [--target PATH_OR_URL] [--race-cases 50]
                                    [--seed N] [--max-delay 0.12] [--dir FOLDER]

The same harness as ``tests/test_crash.py`` (``tests/crash_worker.py``), for many more
rounds: a worker process runs cases through the hazard lifecycle on a SQL store and prints
every write the store confirmed; it is killed with SIGKILL a random delay after its first
write, and the store is checked before the next worker continues on it. After every kill
the store must open, ``Ledger.verify()`` must pass, every confirmed write must be there,
and every case's records, projection and outbox rows must be exactly what re-running its
history through the engine gives (nothing partial). Then two processes race on every event
of ``--race-cases`` cases: one must win each, the other get ``ConcurrencyError``.

The target is a new SQLite file in ``--dir`` (a temporary folder by default) unless
``--target`` names a file or a database URL; on a server the run uses its own table prefix
and drops its tables at the end. The exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.crash_worker import (  # noqa: E402 - the harness lives beside the tests
    CrashCheckError,
    CrashSoak,
    drop_tables,
    race,
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/crash_soak.py",
        description="Kill a firing worker at random moments, over and over, checking the "
        "store after every kill; then race two writers on the same events.",
    )
    parser.add_argument("--rounds", type=int, default=500, help="kills (default 500)")
    parser.add_argument(
        "--target", help="a SQLite file or a database URL (default: a new SQLite file)"
    )
    parser.add_argument("--dir", type=Path, help="the folder of the new SQLite files")
    parser.add_argument(
        "--race-cases", type=int, default=50, help="cases raced on, 5 events each (default 50)"
    )
    parser.add_argument("--seed", type=int, help="the seed of the random delays")
    parser.add_argument(
        "--max-delay",
        type=float,
        default=0.12,
        help="the longest wait after the worker's first write before the kill, in s",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed
    if seed is None:
        seed = random.randrange(2**31)  # noqa: S311 - a seed, not a secret
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        on_server = args.target is not None and "://" in args.target
        prefix = f"s{uuid.uuid4().hex[:8]}_" if on_server else "rectify_"
        crash_target = args.target or str(Path(folder) / "crash.db")
        race_target = args.target or str(Path(folder) / "race.db")
        where = crash_target if on_server else "a SQLite file (WAL, synchronous=FULL)"
        print(f"crash soak on {where}, seed {seed}, kills up to {args.max_delay:g} s in")
        soak = CrashSoak(crash_target, prefix, seed=seed, max_delay=args.max_delay)
        try:
            for n in range(args.rounds):
                soak.round()
                if (n + 1) % 50 == 0:
                    print(f"  {soak.stats.summary()}", flush=True)
            started = time.perf_counter()
            raced = race(race_target, prefix, cases=args.race_cases, seed=seed)
            race_seconds = time.perf_counter() - started
        except CrashCheckError as exc:
            print(f"FAILED after {soak.stats.rounds} rounds (seed {seed}): {exc}")
            return 1
        finally:
            soak.close()
            if on_server:
                drop_tables(crash_target, prefix)
    stats = soak.stats
    delays = sorted(stats.delays) or [0.0]
    print(f"kills: {stats.summary()}")
    print(
        f"  confirmed writes per kill {stats.confirmed / max(1, stats.kills):.1f}; delay after "
        f"the first write: median {delays[len(delays) // 2] * 1000:.0f} ms, "
        f"max {delays[-1] * 1000:.0f} ms"
    )
    print(
        f"races: {raced.rounds} races, exactly one winner each, the loser refused with "
        f"ConcurrencyError at its write; wins {raced.wins}; {race_seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
