"""Crash safety: a worker that fires events until it is killed, and the harness around it.

Run as a script (``tests/test_crash.py`` and ``benchmarks/crash_soak.py`` start it with
``sys.executable``; it is not collected as a test)::

    python tests/crash_worker.py fire TARGET PREFIX ROUND SEED
    python tests/crash_worker.py race TARGET PREFIX NAME

``TARGET`` is a SQLite file path or a database URL, ``PREFIX`` the store's table prefix.

``fire`` opens a :class:`~rectify.Ledger` on the store, waits for a line ``go`` on stdin,
then runs cases through the hazard lifecycle (open, assign, plan, report_fixed, verify,
close, with valid payloads and evidence and explicit times), a few at a time in random
order, and continues the cases earlier workers left open. After each write returns it
prints ``<case_id> <seq>`` and flushes: a printed line is a write the store confirmed. It
never stops by itself before two minutes; the harness kills it with SIGKILL.

``race`` reads commands on stdin: ``fire CASE_ID`` fires the case's next event; the store
waits just before its write (after the ledger has read the case) until the harness sends
``go``, so two racers write at the same moment from the same read. It prints ``ready`` at
the gate, then ``won <seq>`` or ``lost <expected> <found> <where>``.

The harness side (:class:`CrashSoak`, :func:`race`, :func:`check_store`) drives workers
and checks the store after every kill: it opens, ``Ledger.verify()`` passes, every
confirmed write is there, and nothing is partial: each case's records, projection and
outbox rows are exactly what re-running its history through the engine gives.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from rectify import Actor, Case, Engine, Evidence, Ledger, Outcome
from rectify.engine import Effect
from rectify.exceptions import ConcurrencyError
from rectify.stores import CaseQuery, SQLStore
from rectify.stores._codec import effect_from_json
from rectify.stores._store import effect_ids
from rectify.testing import FakeCalendar

WORKER: Final = Path(__file__).resolve()
TZ: Final = ZoneInfo("Asia/Shanghai")
T0: Final = dt.datetime(2024, 5, 6, 9, tzinfo=TZ)
HOUR: Final = dt.timedelta(hours=1)
#: Cases a fire worker keeps going at once.
POOL: Final = 6
#: A fire worker stops by itself after this long (if its harness died without killing it).
LIFETIME: Final = 120.0
#: How long the harness waits for a worker's line before it gives up.
PATIENCE: Final = 60.0


class CrashCheckError(AssertionError):
    """The store after a kill (or a race) is not what the confirmed writes promise."""


def make_ledger(store: SQLStore) -> Ledger:
    return Ledger.with_workflows(store, calendar=FakeCalendar())


def hazard_data(case_id: str) -> dict[str, object]:
    return {
        "community": "东区",
        "category": "FAC.HOSE",
        "severity": "general-short",
        "address": f"幸福里{case_id}",
    }


def proof(kind: str, case_id: str) -> tuple[Evidence, ...]:
    return (Evidence.of(kind, f"{case_id}-{kind}.jpg", f"{case_id}:{kind}".encode()),)


def next_step(
    case: Case, name: str = "w"
) -> tuple[str, Actor, dict[str, object], tuple[Evidence, ...]]:
    """Return the next event of the hazard lifecycle for ``case``, as ``name`` fires it.

    Two racers pass different names, so whose write won shows in the stored record.
    """
    due = (case.updated_at + dt.timedelta(days=14)).date()
    community = Actor(f"c-{name}", "community")
    party = Actor(f"p-{name}", "responsible_party")
    steps: dict[str, tuple[str, Actor, dict[str, object], tuple[Evidence, ...]]] = {
        "discovered": (
            "assign",
            community,
            {"responsible_party": f"物业-{name}", "measures": f"补齐水带 {name}", "due": due},
            (),
        ),
        "assigned": (
            "plan",
            party,
            {"measures": f"采购水带和水枪 {name}", "due": due},
            proof("plan_document", case.id),
        ),
        "planned": (
            "report_fixed",
            party,
            {"summary": f"已补齐 {name}"},
            proof("photo_after", case.id),
        ),
        "fixed": (
            "verify",
            Actor(f"i-{name}", "community"),
            {},
            proof("inspection_record", case.id),
        ),
        "verified": ("close", community, {}, ()),
    }
    return steps[case.state]


# -- the worker ---------------------------------------------------------------------------------


def say(line: str) -> None:
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def fire_until_killed(target: str, prefix: str, round_no: int, seed: int) -> None:
    """Run cases through their lifecycle, printing each confirmed write, until killed."""
    rng = random.Random(seed)  # noqa: S311 - timing, not a secret
    store = SQLStore.open(target, prefix=prefix)
    ledger = make_ledger(store)
    if sys.stdin.readline().strip() != "go":
        return
    # The cases earlier workers left open (killed mid-lifecycle, maybe mid-write).
    pool = store.query(CaseQuery(open=True))
    rng.shuffle(pool)
    del pool[POOL:]
    opened = 0
    stop = time.monotonic() + LIFETIME
    while time.monotonic() < stop:
        if len(pool) < POOL:
            case_id = f"r{round_no:04d}-{opened:04d}"
            opened += 1
            at = T0 + dt.timedelta(minutes=round_no)
            case = ledger.open(
                case_id, "hazard", hazard_data(case_id), Actor("g-1", "community"), at=at
            ).case
            pool.append(case)
        else:
            index = rng.randrange(len(pool))
            current = pool[index]
            event, actor, payload, evidence = next_step(current)
            case = ledger.fire(
                current.id,
                event,
                actor,
                payload=payload,
                evidence=evidence,
                at=current.updated_at + HOUR,
                expected_seq=current.seq,
            ).case
            if case.final:
                pool.pop(index)
            else:
                pool[index] = case
        say(f"{case.id} {case.seq}")


class GatedStore(SQLStore):
    """A SQL store whose writes wait at a gate first (set ``gate``), to race on purpose.

    ``Ledger.fire`` writes through ``change``, one transaction that reads the case with its
    row locked and stores the event: the gate is before that transaction, so both racers
    have read the case (``ledger.get``) and are at their write when the harness lets them
    go. ``lost_in_append`` says that a racer lost in its write transaction, where the case
    it locked was no longer at the ``expected_seq`` it read.
    """

    gate: Callable[[], None] | None = None
    lost_in_append = False

    def change(self, case_id: str, step: Callable[[Case], Outcome]) -> Outcome:
        if self.gate is not None:
            self.gate()
        try:
            return super().change(case_id, step)
        except ConcurrencyError:
            self.lost_in_append = True
            raise


def race_on_command(target: str, prefix: str, name: str) -> None:
    """Fire on command, every write held at the gate until the harness says ``go``."""
    store = GatedStore.open(target, prefix=prefix)
    if not isinstance(store, GatedStore):  # pragma: no cover - open() builds cls
        raise TypeError(type(store))

    def wait_for_go() -> None:
        say("ready")
        if sys.stdin.readline().strip() != "go":
            raise SystemExit(0)

    store.gate = wait_for_go
    ledger = make_ledger(store)
    minute = dt.timedelta(minutes=1 + sum(map(ord, name)) % 7)  # the racers' times differ
    say("started")
    for line in sys.stdin:
        command = line.split()
        if command == ["quit"]:
            return
        case_id = command[1]
        case = ledger.get(case_id)
        event, actor, payload, evidence = next_step(case, name)
        store.lost_in_append = False
        try:
            outcome = ledger.fire(
                case_id,
                event,
                actor,
                payload=payload,
                evidence=evidence,
                at=case.updated_at + minute,
                expected_seq=case.seq,
            )
        except ConcurrencyError as exc:
            where = "append" if store.lost_in_append else "read"
            say(f"lost {exc.expected} {exc.found} {where}")
        else:
            say(f"won {outcome.case.seq}")


# -- the harness: driving workers ------------------------------------------------------------


class Worker:
    """A worker process, its stdout read line by line into a queue by a thread."""

    def __init__(self, *args: str) -> None:
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self._pipe(self.process.stdout)
        for line in stdout:
            self.lines.put(line)
        self.lines.put(None)

    @staticmethod
    def _pipe(pipe: IO[str] | None) -> IO[str]:
        if pipe is None:  # pragma: no cover - both pipes are asked for
            raise RuntimeError("the worker has no pipe")
        return pipe

    def send(self, line: str) -> None:
        stdin = self._pipe(self.process.stdin)
        stdin.write(f"{line}\n")
        stdin.flush()

    def line(self, timeout: float = PATIENCE) -> str:
        """Return the next whole line the worker printed (without its newline)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise CrashCheckError(
                f"no line from the worker in {timeout} s{self.errors()}"
            ) from None
        if line is None or not line.endswith("\n"):
            self.kill()
            raise CrashCheckError(f"the worker stopped early{self.errors()}")
        return line.rstrip("\n")

    def kill(self) -> bool:
        """SIGKILL the worker; return whether it was still running until then."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(PATIENCE)
        return self.process.returncode == -signal.SIGKILL

    def rest(self) -> list[str]:
        """Return the whole lines printed after those read, once the worker has ended."""
        self._reader.join(PATIENCE)
        out: list[str] = []
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                return out
            if line.endswith("\n"):  # a line cut by the kill was never confirmed
                out.append(line.rstrip("\n"))

    def errors(self) -> str:
        self.stderr.seek(0)
        text = self.stderr.read().decode("utf-8", "replace").strip()
        return f"; its stderr:\n{text}" if text else ""

    def finish(self) -> None:
        if self.process.poll() is None:
            self.kill()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self.stderr.close()


@dataclass
class CrashStats:
    """What a crash soak did: rounds, kills mid-run, and writes confirmed and found."""

    rounds: int = 0
    kills: int = 0
    confirmed: int = 0
    cases: int = 0
    events: int = 0
    seconds: float = 0.0
    check_seconds: float = 0.0
    delays: list[float] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.rounds} rounds, {self.kills} kills mid-run, {self.confirmed} confirmed "
            f"writes all found; the store holds {self.cases} cases with {self.events} records, "
            f"every history verified and re-run; {self.seconds:.1f} s "
            f"({self.check_seconds:.1f} s checking)"
        )


class CrashSoak:
    """Kill fire workers over and over on one store, checking it after every kill.

    The next worker is started (and has opened the store) while the store is checked, and
    starts firing once the check is done, so a round costs little more than its run.
    """

    def __init__(self, target: str, prefix: str, *, seed: int = 0, max_delay: float = 0.12):
        self.target = target
        self.prefix = prefix
        self.rng = random.Random(seed)  # noqa: S311 - timing, not a secret
        self.max_delay = max_delay
        self.confirmed: dict[str, int] = {}  # each case's highest confirmed seq
        self.stats = CrashStats()
        self._next: Worker | None = None
        self._reruns: Reruns = {}

    def _start(self) -> Worker:
        round_no = self.stats.rounds
        seed = self.rng.randrange(2**31)
        return Worker("fire", self.target, self.prefix, str(round_no), str(seed))

    def round(self) -> None:
        """Start a worker, let it fire, kill it at a random moment, check the store."""
        started = time.perf_counter()
        worker = self._next or self._start()
        self._next = None
        try:
            worker.send("go")
            lines = [worker.line()]
            delay = self.rng.uniform(0, self.max_delay)
            time.sleep(delay)
            if not worker.kill():
                raise CrashCheckError(
                    f"the worker ended by itself (status {worker.process.returncode})"
                    f"{worker.errors()}"
                )
            lines += worker.rest()
        finally:
            worker.finish()
        self.stats.rounds += 1
        self.stats.kills += 1
        self.stats.delays.append(delay)
        for line in lines:
            case_id, seq = line.split()
            self.confirmed[case_id] = max(self.confirmed.get(case_id, -1), int(seq))
        self.stats.confirmed += len(lines)
        self._next = self._start()  # opens the store while this round is checked
        checked = time.perf_counter()
        self.stats.cases, self.stats.events = check_store(
            self.target, self.prefix, self.confirmed, self._reruns
        )
        now = time.perf_counter()
        self.stats.check_seconds += now - checked
        self.stats.seconds += now - started

    def close(self) -> None:
        if self._next is not None:
            self._next.finish()
            self._next = None


# -- the harness: checking a store ---------------------------------------------------------


def rerun(engine: Engine, case: Case) -> tuple[Case, dict[str, Effect]]:
    """Run ``case``'s history through ``engine`` again: the case and every effect, by id."""
    first = case.history[0]
    data = first.payload["data"]
    if not isinstance(data, Mapping):
        raise CrashCheckError(f"{case.id}: the @open record has no data")
    outcome = engine.open(case.id, data, Actor(first.actor, first.role), first.at)
    effects = dict(zip(effect_ids(outcome.case, outcome.effects), outcome.effects, strict=True))
    current = outcome.case
    for record in case.history[1:]:
        outcome = engine.fire(
            current,
            record.event,
            Actor(record.actor, record.role),
            record.at,
            payload=record.payload,
            evidence=record.evidence,
            reason=record.reason,
        )
        current = outcome.case
        effects.update(zip(effect_ids(current, outcome.effects), outcome.effects, strict=True))
    return current, effects


#: Re-run histories by case id and last digest: a case no write touched since its last
#: check need not run through the engine again (it is still compared whole).
Reruns = dict[tuple[str, str], tuple[Case, dict[str, Effect]]]


def check_store(
    target: str, prefix: str, confirmed: dict[str, int], reruns: Reruns | None = None
) -> tuple[int, int]:
    """Check the store after a kill; return how many cases and records it holds.

    Raises:
        CrashCheckError: Something confirmed is missing, or something is partial.
    """
    with SQLStore.open(target, prefix=prefix) as store:
        ledger = make_ledger(store)
        report = ledger.verify()
        if not report.ok:
            raise CrashCheckError(f"Ledger.verify() failed: {report.problems}")
        cases = {case.id: case for case in ledger.cases()}
        for case_id, seq in confirmed.items():
            if case_id not in cases:
                raise CrashCheckError(f"confirmed case {case_id} (seq {seq}) is missing")
            if cases[case_id].seq < seq:
                raise CrashCheckError(
                    f"case {case_id} is at seq {cases[case_id].seq}, but seq {seq} was confirmed"
                )
        rows = _raw_rows(store, prefix)
        engine = ledger.engine("hazard")
    stored_events, heads, effects = rows
    if set(heads) != set(cases) or not set(stored_events) <= set(cases):
        raise CrashCheckError("events or projections of cases the store does not list")
    if not set(effects) <= set(cases):
        raise CrashCheckError("outbox rows of cases the store does not list")
    for case_id, case in cases.items():
        seq, state = heads[case_id]
        if stored_events.get(case_id) != (seq + 1, 0, seq) or state != case.state:
            raise CrashCheckError(
                f"case {case_id}: head {seq} in state {state!r} but records "
                f"{stored_events.get(case_id)} (count, first, last): a partial write"
            )
        key = (case_id, case.history[-1].digest)
        known = reruns.get(key) if reruns is not None else None
        if known is None:
            known = rerun(engine, case)
            if reruns is not None:
                reruns[key] = known
        again, expected = known
        if again != case:
            raise CrashCheckError(f"case {case_id}: its projection is not its history's")
        if effects.get(case_id, {}) != expected:
            raise CrashCheckError(
                f"case {case_id}: outbox {sorted(effects.get(case_id, {}))}, "
                f"expected {sorted(expected)}"
            )
    return len(cases), sum(n for n, _, _ in stored_events.values())


def _raw_rows(
    store: SQLStore, prefix: str
) -> tuple[
    dict[str, tuple[int, int, int]], dict[str, tuple[int, str]], dict[str, dict[str, Effect]]
]:
    """Return the rows as stored, read past the store's API (which hides partial writes).

    By case id: the (count, first, last) sequence numbers of its records, its projection's
    head and state, and its outbox rows' effects by id.
    """
    tables = store.metadata.tables
    events, projections, outbox = (tables[f"{prefix}{t}"] for t in ("events", "cases", "outbox"))
    with store.engine.connect() as conn:
        stored_events = {
            str(row.case_id): (int(row.n), int(row.low), int(row.high))
            for row in conn.execute(
                sa.select(
                    events.c.case_id,
                    sa.func.count().label("n"),
                    sa.func.min(events.c.seq).label("low"),
                    sa.func.max(events.c.seq).label("high"),
                ).group_by(events.c.case_id)
            )
        }
        heads = {
            str(row.id): (int(row.head_seq), str(row.state))
            for row in conn.execute(
                sa.select(projections.c.id, projections.c.head_seq, projections.c.state)
            )
        }
        effects: dict[str, dict[str, Effect]] = {}
        for row in conn.execute(sa.select(outbox.c.id, outbox.c.case_id, outbox.c.effect)):
            effects.setdefault(str(row.case_id), {})[str(row.id)] = effect_from_json(
                json.loads(row.effect)
            )
    return stored_events, heads, effects


def drop_tables(target: str, prefix: str) -> None:
    """Drop the tables whose names start with ``prefix`` (a run's own, on a shared server)."""
    url = target if "://" in target else f"sqlite:///{target}"
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine, only=lambda name, _: name.startswith(prefix))
        metadata.drop_all(engine)
    finally:
        engine.dispose()


# -- the harness: racing -----------------------------------------------------------------------


@dataclass
class RaceStats:
    """What a race did: rounds, and how often each racer won."""

    rounds: int = 0
    wins: dict[str, int] = field(default_factory=dict)


def race(target: str, prefix: str, *, cases: int, seed: int = 0) -> RaceStats:
    """Race two processes on every event of ``cases`` cases; check each round and the end.

    Raises:
        CrashCheckError: Not exactly one racer won a round, the loser did not get
            ``ConcurrencyError`` from its write, or the store is not what the winners wrote.
    """
    rng = random.Random(seed)  # noqa: S311 - timing, not a secret
    stats = RaceStats()
    racers = {name: Worker("race", target, prefix, name) for name in ("a", "b")}
    finals: dict[str, int] = {}
    try:
        for racer in racers.values():
            if racer.line() != "started":
                raise CrashCheckError(f"a racer did not start{racer.errors()}")
        with SQLStore.open(target, prefix=prefix) as store:
            ledger = make_ledger(store)
            for n in range(cases):
                case_id = f"race-{seed}-{n:03d}"
                case = ledger.open(
                    case_id, "hazard", hazard_data(case_id), Actor("g-1", "community"), at=T0
                ).case
                while not case.final:
                    case = _race_round(ledger, racers, case, rng, stats)
                finals[case_id] = case.seq
        for racer in racers.values():
            racer.send("quit")
    finally:
        for racer in racers.values():
            racer.finish()
    check_store(target, prefix, finals)
    return stats


def _race_round(
    ledger: Ledger, racers: dict[str, Worker], case: Case, rng: random.Random, stats: RaceStats
) -> Case:
    for racer in racers.values():
        racer.send(f"fire {case.id}")
    for racer in racers.values():
        if (line := racer.line()) != "ready":
            raise CrashCheckError(f"a racer said {line!r} instead of reaching the gate")
    order = list(racers)
    rng.shuffle(order)  # who is told first varies
    for name in order:
        racers[name].send("go")
    said = {name: racer.line().split() for name, racer in racers.items()}
    won = [name for name, words in said.items() if words[0] == "won"]
    lost = [name for name, words in said.items() if words[0] == "lost"]
    if len(won) != 1 or len(lost) != 1:
        raise CrashCheckError(f"round on {case.id} at seq {case.seq}: {said}")
    (winner,), (loser,) = won, lost
    if said[winner] != ["won", str(case.seq + 1)] or said[loser] != [
        "lost",
        str(case.seq),
        str(case.seq + 1),
        "append",
    ]:
        raise CrashCheckError(f"round on {case.id} at seq {case.seq}: {said}")
    stored = ledger.get(case.id)
    event, actor, payload, _ = next_step(case, winner)
    last = stored.history[-1]
    if (stored.seq, last.event, last.actor) != (case.seq + 1, event, actor.id) or dict(
        last.payload
    ) != payload:
        raise CrashCheckError(f"{case.id}: the stored record is not the winner's: {last}")
    stats.rounds += 1
    stats.wins[winner] = stats.wins.get(winner, 0) + 1
    return stored


def main(argv: Sequence[str]) -> None:
    mode, target, prefix, *rest = argv
    if mode == "fire":
        fire_until_killed(target, prefix, int(rest[0]), int(rest[1]))
    elif mode == "race":
        race_on_command(target, prefix, rest[0])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
