"""The service suite: events fired over HTTP (uvicorn) against ``Ledger.fire`` called directly.

The same work both ways, on the same store, in the same run: C clients at once, each
firing ``extend`` (a town office's deadline extension: ``assigned -> assigned``, a ``due``
date and a reason) over and over on cases of its own, opened and assigned through the
ledger before the timing (fresh cases for every pass, so no history grows from pass to
pass).

- **HTTP**: the service (``create_app`` over a ``SQLStore``, ``benchmarks/_service_app.py``)
  runs under uvicorn in a subprocess with 1 or 4 worker processes; the clients are
  ``httpx.AsyncClient`` tasks in this process, each sending its next
  ``POST /api/v1/cases/{id}/events`` when the last one was answered (with a bearer token:
  each request also authenticates it against the token table).
- **direct** (the floor): C threads of this process calling ``Ledger.fire`` on one ledger
  over the same store, each its next event when the last one returned.

For each, per pass: the time per event (the pass's wall time over its events: the
reciprocal of the throughput, shown as ops/s) and every event's latency, of which the p50 and
p99 over all the timed passes are the figures. The ratios HTTP / direct are what HTTP
(parsing, validation, authentication, JSON, the event loop and the thread hop) adds. The
issue's target: HTTP adds at most 2x at p50 on PostgreSQL with 4 workers.

On SQLite the service runs 1 worker (one writer at a time anyway); on PostgreSQL 1 and 4.
The PostgreSQL figures use ``RECTIFY_BENCH_POSTGRES_URL`` (or ``RECTIFY_TEST_POSTGRES_URL``,
else ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and are skipped, with a message
on stderr, when that server does not answer; ``RECTIFY_BENCH_SERVICE_BACKENDS=sqlite`` (a
comma-separated list of ``sqlite`` and ``postgresql``) chooses the backends. Tables get a
prefix of their own (``bench_svc_<random>_``) and are dropped after; the SQLite file goes
to a temporary folder (``RECTIFY_BENCH_DIR`` chooses where).

The load generator runs in the same process as the direct floor, and uvicorn's workers,
this process and the database share the machine's cores: on a machine with fewer cores
than workers plus clients plus the server, the 4-worker figures show contention.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import math
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
from _service_app import API, Served, drop_prefixed, ledger_for, shift_weeks

import rectify
from rectify.exceptions import StoreError
from rectify.server import SQLServiceStore
from rectify.stores import SQLStore
from suites.base import Measurement, Settings
from suites.store import postgres_url

#: The backends run when ``BACKENDS_VARIABLE`` does not choose.
BACKENDS: Final = ("sqlite", "postgresql")
BACKENDS_VARIABLE: Final = "RECTIFY_BENCH_SERVICE_BACKENDS"
DEFAULT_POSTGRES: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: uvicorn worker processes per backend.
WORKERS: Final = {"sqlite": (1,), "postgresql": (1, 4)}
NAMES: Final = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
#: The issue's target: HTTP at most 2x direct at p50 on PostgreSQL with 4 workers.
P50_TARGET: Final = 2.0
TARGET_AT: Final = ("postgresql", 4)
ACTOR: Final = rectify.Actor("bench-town", "town_office")
DATA: Final = {"community": "东区", "category": "FAC.HOSE", "severity": "general-short"}


@dataclass(frozen=True)
class Sizes:
    """How much each pass does.

    Attributes:
        clients: Clients (tasks over HTTP, threads directly) firing at once.
        cases: Cases per client per pass.
        events: ``extend`` events per case per pass.
        repeats: Timed passes per figure (after one untimed warm-up pass).
    """

    clients: int
    cases: int
    events: int
    repeats: int

    @property
    def per_pass(self) -> int:
        """Return the events of one pass."""
        return self.clients * self.cases * self.events


FULL_SIZES: Final = Sizes(clients=8, cases=4, events=10, repeats=5)
QUICK_SIZES: Final = Sizes(clients=2, cases=1, events=4, repeats=1)


@dataclass(frozen=True)
class Pass:
    """One timed pass: its wall time and every event's latency, in seconds."""

    wall: float
    latencies: list[float]


def _payload(today: dt.date, step: int) -> dict[str, object]:
    due = today + dt.timedelta(days=30 + step)
    return {"due": due.isoformat()}


REASON: Final = "待物业采购器材"


class Rig:
    """One backend: its ledger, a token, fresh assigned cases per pass, and the servers."""

    def __init__(self, backend: str, db: str, prefix: str, sizes: Sizes, logs: Path) -> None:
        self.backend, self.db, self.prefix, self.sizes, self.logs = (
            backend,
            db,
            prefix,
            sizes,
            logs,
        )
        self.weeks = shift_weeks()
        self.ledger = ledger_for(db, prefix, self.weeks)
        store = self.ledger.store
        if not isinstance(store, SQLStore):
            raise TypeError("service: the ledger's store is not a SQLStore")
        self.store = store
        self.token, _ = SQLServiceStore(store.engine, store.prefix).create_token(
            ACTOR.id, [ACTOR.role], None, label="bench", now=self.ledger.clock.now()
        )
        self.today = self.ledger.clock.now().date()
        self.count = 0
        self.opened: list[str] = []

    def cases(self) -> list[list[str]]:
        """Open and assign fresh cases for one pass: ``cases`` per client."""
        out: list[list[str]] = []
        for _ in range(self.sizes.clients):
            mine = []
            for _ in range(self.sizes.cases):
                self.count += 1
                case_id = f"SV-{self.count:06d}"
                self.ledger.open(case_id, "hazard", DATA, ACTOR)
                self.ledger.fire(
                    case_id,
                    "assign",
                    ACTOR,
                    payload={
                        "responsible_party": "某物业",
                        "measures": "补齐灭火器",
                        **_payload(self.today, 0),
                    },
                )
                mine.append(case_id)
            out.append(mine)
        self.opened += [c for mine in out for c in mine]
        return out

    def direct(self, cases: list[list[str]]) -> Pass:
        """Fire every client's events from a thread of its own, all at once."""
        latencies: list[list[float]] = [[] for _ in cases]
        spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(cases)
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(cases))

        def client(index: int) -> None:
            try:
                mine = latencies[index]
                barrier.wait(60)
                start = time.perf_counter()
                for step in range(self.sizes.events):
                    payload = _payload(self.today, step + 1)
                    for case_id in cases[index]:
                        began = time.perf_counter()
                        self.ledger.fire(case_id, "extend", ACTOR, payload=payload, reason=REASON)
                        mine.append(time.perf_counter() - began)
                spans[index] = (start, time.perf_counter())
            except BaseException as exc:  # reported by the caller
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(cases))]
        gc.collect()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise RuntimeError(f"service: a direct fire failed: {errors[0]!r}") from errors[0]
        wall = max(s[1] for s in spans) - min(s[0] for s in spans)
        return Pass(wall, [x for mine in latencies for x in mine])

    def http(self, base_url: str, cases: list[list[str]]) -> Pass:
        """Fire every client's events over HTTP from a task of its own, all at once."""
        return asyncio.run(self._http(base_url, cases))

    async def _http(self, base_url: str, cases: list[list[str]]) -> Pass:
        latencies: list[list[float]] = [[] for _ in cases]
        limits = httpx.Limits(max_connections=len(cases), max_keepalive_connections=len(cases))
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(
            base_url=base_url, headers=headers, limits=limits, timeout=60
        ) as client:
            # One request per connection before the timing: the pool's connections are open.
            health = [client.get(f"{API}/health") for _ in cases]
            await asyncio.gather(*health)

            async def one(index: int) -> None:
                mine = latencies[index]
                for step in range(self.sizes.events):
                    body = {
                        "event": "extend",
                        "payload": _payload(self.today, step + 1),
                        "reason": REASON,
                    }
                    for case_id in cases[index]:
                        began = time.perf_counter()
                        response = await client.post(f"{API}/cases/{case_id}/events", json=body)
                        mine.append(time.perf_counter() - began)
                        if response.status_code != 200:
                            raise RuntimeError(
                                f"service: {case_id} extend answered {response.status_code}: "
                                f"{response.text[:500]}"
                            )

            gc.collect()
            start = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(len(cases))))
            wall = time.perf_counter() - start
        return Pass(wall, [x for mine in latencies for x in mine])

    def check(self) -> None:
        """Check the store after the passes: it verifies, every event is recorded once."""
        report = self.ledger.verify()
        if not report.ok:
            raise RuntimeError(f"service: {self.backend} store does not verify: {report.problems}")
        # Every case: its opening, its assignment and the extends of its one pass.
        expected = 2 + self.sizes.events
        for case_id in self.opened:
            records = len(self.ledger.get(case_id).history)
            if records != expected:
                raise RuntimeError(f"service: {case_id} has {records} records, not {expected}")

    def close(self) -> None:
        self.store.close()


def percentile(values: Sequence[float], share: float) -> float:
    """Return the ``share`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _workers(count: int) -> str:
    return f"{count} worker{'s' if count > 1 else ''}"


def _figures(
    name: str,
    passes: Sequence[Pass],
    sizes: Sizes,
    description: str,
    *,
    floors: Sequence[str] = (),
    extra: Sequence[str] = (),
    p50_target: bool = False,
) -> list[Measurement]:
    """Return the time per event, the p50 and the p99 of ``passes`` (floors by prefix)."""
    per_event = [p.wall / sizes.per_pass for p in passes]
    latencies = [x for p in passes for x in p.latencies]
    size = f"[{sizes.clients} clients x {sizes.cases * sizes.events} events]"
    kind, _, where = name.partition(", ")
    names = [f"{name} {size}", f"{kind} p50, {where} {size}", f"{kind} p99, {where} {size}"]
    units = ["s", "ms", "ms"]
    values = [
        min(per_event),
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.99) * 1000,
    ]
    whats = [
        "time per event (pass wall time / its events; ops/s is the throughput), best pass",
        f"the median latency of one event, over all {len(latencies):,} events of the passes",
        f"the 99th percentile latency of one event, over all {len(latencies):,} events",
    ]
    out = []
    for i, (shown, unit, value, what) in enumerate(zip(names, units, values, whats, strict=True)):
        floor = _like(floors[0], i, size) if floors else None
        extras = tuple(f"{e} {size}" for e in extra if i == 0)
        targets = ((floor, P50_TARGET),) if p50_target and i == 1 and floor else ()
        note = f"; target: at most {P50_TARGET:g}x direct at p50 (the issue's)" if targets else ""
        out.append(
            Measurement(
                name=shown,
                value=value,
                unit=unit,
                floor=floor,
                extra_floors=extras,
                targets=targets,
                description=f"{description}: {what}{note}",
                median=statistics.median(per_event) if i == 0 else None,
                repeats=len(passes),
                number=sizes.per_pass if i == 0 else len(latencies),
            )
        )
    return out


def _like(name: str, index: int, size: str) -> str:
    """Return the name of ``name``'s figure ``index`` (0: time per event, 1: p50, 2: p99)."""
    if index == 0:
        return f"{name} {size}"
    kind, _, where = name.partition(", ")
    return f"{kind} {('p50', 'p99')[index - 1]}, {where} {size}"


def backend_figures(
    backend: str, db: str, prefix: str, sizes: Sizes, folder: Path
) -> list[Measurement]:
    """Time direct fires and HTTP with each worker count on one backend, in turns."""
    rig = Rig(backend, db, prefix, sizes, folder)
    label = NAMES[backend]
    servers: dict[int, Served] = {}
    runs: dict[str, list[Pass]] = {}
    try:
        with contextlib.ExitStack() as stack:
            for workers in WORKERS[backend]:
                server = Served(
                    db, prefix, rig.weeks, workers=workers, log=folder / f"{backend}-{workers}.log"
                )
                servers[workers] = stack.enter_context(server)
            kinds: list[tuple[str, Callable[[list[list[str]]], Pass]]] = [("direct", rig.direct)]
            for workers, server in servers.items():
                kinds.append((f"http-{workers}", _bind(rig.http, server.base_url)))
            for round_ in range(1 + sizes.repeats):  # round 0: the warm-up, not kept
                for kind, run in kinds:
                    done = run(rig.cases())
                    if round_:
                        runs.setdefault(kind, []).append(done)
        rig.check()
    finally:
        rig.close()
    direct = f"direct, {label}"
    common = (
        f"{sizes.clients} clients at once, each firing extend {sizes.events} times on each of "
        f"its {sizes.cases} assigned cases, each event when its last one was answered, on "
        f"{label}"
    )
    out = _figures(
        direct,
        runs["direct"],
        sizes,
        f"{common}: Ledger.fire called by {sizes.clients} threads of one process on one ledger",
    )
    first: str | None = None
    for workers in servers:
        name = f"HTTP, {label}, {_workers(workers)}"
        out += _figures(
            name,
            runs[f"http-{workers}"],
            sizes,
            f"{common}: POST /api/v1/cases/{{id}}/events to uvicorn with "
            f"{_workers(workers)} (httpx.AsyncClient, one task per client)"
            + (f"; also against {first} (how the workers scale)" if first else ""),
            floors=(direct,),
            extra=(first,) if first else (),
            p50_target=(backend, workers) == TARGET_AT,
        )
        first = first or name
    return out


def _bind(
    http: Callable[[str, list[list[str]]], Pass], base_url: str
) -> Callable[[list[list[str]]], Pass]:
    return lambda cases: http(base_url, cases)


def backends() -> list[str]:
    """Return the backends to run (``RECTIFY_BENCH_SERVICE_BACKENDS``, else both)."""
    chosen = os.environ.get(BACKENDS_VARIABLE)
    if not chosen:
        return list(BACKENDS)
    names = [n.strip().lower() for n in chosen.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise ValueError(f"{BACKENDS_VARIABLE}: unknown backend {', '.join(unknown)}")
    return names


def suite(settings: Settings) -> list[Measurement]:
    """Events over HTTP against Ledger.fire directly, on SQLite and PostgreSQL."""
    sizes = QUICK_SIZES if settings.quick else FULL_SIZES
    prefix = f"bench_svc_{uuid.uuid4().hex[:8]}_"
    out: list[Measurement] = []
    with tempfile.TemporaryDirectory(
        prefix="rectify-bench-service-", dir=os.environ.get("RECTIFY_BENCH_DIR")
    ) as name:
        folder = Path(name)
        chosen = backends()
        if "sqlite" in chosen:
            out += backend_figures("sqlite", str(folder / "service.db"), prefix, sizes, folder)
        if "postgresql" in chosen:
            url = postgres_url() or DEFAULT_POSTGRES
            try:
                SQLStore.open(url, prefix=prefix, connect_timeout=3).close()
            except (StoreError, ImportError) as exc:
                print(
                    f"service: the PostgreSQL figures were skipped: {url} does not answer "
                    f"({exc}); set RECTIFY_BENCH_POSTGRES_URL to a database URL to run them",
                    file=sys.stderr,
                )
            else:
                try:
                    out += backend_figures("postgresql", url, prefix, sizes, folder)
                finally:
                    drop_prefixed(url, prefix)
    if not out:
        raise RuntimeError(f"service: no backend was run ({BACKENDS_VARIABLE})")
    return out
