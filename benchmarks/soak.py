"""Service soak: minutes of mixed traffic against the served application, then the checks.

Usage::

    python benchmarks/soak.py [--minutes 10 | --seconds N] [--db PATH_OR_URL] [--workers 1]
                              [--clients 8] [--seed N] [--dir FOLDER] [--keep]

The service (``create_app`` over a ``SQLStore``, ``benchmarks/_service_app.py``) runs under
uvicorn in a subprocess (``--workers`` processes), on a new SQLite file by default or on the
database ``--db`` names (PostgreSQL: ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
in tables of a prefix of its own (``soak_<random>_``, dropped at the end unless ``--keep``).
``--clients`` clients (``httpx.AsyncClient`` tasks) then send, until the time is up:

- hazards opened (some in a community-scoped token's community, some by the town), each
  taken through its whole path: assign, plan (with a ``plan_document`` evidence reference),
  report_fixed (``photo_after``), verify (``inspection_record``, by another actor than
  report_fixed) and close, now and then with an ``extend`` on the way, with
  ``expected_seq`` or ``If-Match`` or neither;
- reads: a case (its state and ETag checked), its history (checked against every event
  acknowledged on it so far) and listings (filters checked);
- some opens and fires with an ``Idempotency-Key``, sent three times, one after the other or
  all at once: one must be done, the others answered with its kept answer (or, at once, a
  409 while it runs);
- deliberately bad requests, each of which must be refused with a 4xx and change nothing:
  malformed JSON, a stale ``expected_seq``, a stale ``If-Match``, a case opened twice, a
  verify by the actor who reported the fix, an unknown case, no token.

Every request the service acknowledged (2xx) is recorded with what it changed. At the end,
with the server stopped: ``Ledger.verify()`` must be ok; the stored cases must be exactly the
acknowledged openings, and each case's history exactly its opening and the events
acknowledged on it, in order (records per case == acknowledged events + 1); no answer may be
a 5xx or a dropped connection; no idempotent retry may have fired twice; uvicorn's output
must hold no traceback. The summary gives the requests, the answers by status and kind, the
latencies (p50, p99) and the findings; the exit status is 1 when there is a finding.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import hashlib
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from _service_app import API, Served, drop_prefixed, ledger_for, shift_weeks

from rectify.server import SQLServiceStore
from rectify.stores import SQLStore

#: The path a hazard takes: the event fired in each state, up to closed.
PATH: Final = {
    "discovered": "assign",
    "assigned": "plan",
    "planned": "report_fixed",
    "fixed": "verify",
    "verified": "close",
}
TARGETS: Final = {
    "assign": "assigned",
    "plan": "planned",
    "report_fixed": "fixed",
    "verify": "verified",
    "close": "closed",
}
EAST: Final = "东区"
WEST: Final = "西区"
#: Active cases a client keeps on the go.
ACTIVE: Final = 4


@dataclass
class Tracked:
    """A case the soak opened, as the service's acknowledgements say it must be."""

    id: str
    community: str
    state: str = "discovered"
    seq: int = 0
    acked: list[str] = field(default_factory=list)


@dataclass
class Tokens:
    """The bearer tokens the clients act with."""

    town: str  # town_office and community, the whole town
    east: str  # community, scoped to 东区
    party: str  # property, the whole town


class Findings:
    """What went wrong, kept in order (the summary prints the first ones)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)


class Soak:
    """The clients, what they were told, and the tallies."""

    def __init__(
        self, base_url: str, tokens: Tokens, today: dt.date, until: float, seed: int
    ) -> None:
        self.base_url, self.tokens, self.today, self.until, self.seed = (
            base_url,
            tokens,
            today,
            until,
            seed,
        )
        self.cases: dict[str, Tracked] = {}
        self.findings = Findings()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.kinds: collections.Counter[tuple[str, int]] = collections.Counter()
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.counts: collections.Counter[str] = collections.Counter()
        self.client: httpx.AsyncClient | None = None

    # -- requests ---------------------------------------------------------------------

    async def send(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        token: str | None,
        body: object = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """Send one request, timing and tallying it; ``None`` when no answer came."""
        if self.client is None:
            raise RuntimeError("the soak's client is not open")
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if content is not None:
            sent["Content-Type"] = "application/json"
        began = time.perf_counter()
        try:
            response = await self.client.request(
                method, path, json=body, content=content, headers=sent
            )
        except httpx.HTTPError as exc:
            self.findings.add(f"{kind} {method} {path}: no answer ({exc!r})")
            self.statuses[0] += 1
            return None
        self.latencies[kind].append(time.perf_counter() - began)
        self.statuses[response.status_code] += 1
        self.kinds[(kind, response.status_code)] += 1
        if response.status_code >= 500:
            self.findings.add(
                f"{kind} {method} {path}: {response.status_code} {response.text[:300]}"
            )
        return response

    # -- what the clients do ----------------------------------------------------------

    async def run(self, clients: int) -> None:
        limits = httpx.Limits(max_connections=clients * 3, max_keepalive_connections=clients * 3)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=60) as client:
            self.client = client
            await asyncio.gather(*(self.one_client(i) for i in range(clients)))
        self.client = None

    async def one_client(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)  # noqa: S311 - traffic, not a secret
        mine: list[Tracked] = []
        opened = 0
        while time.monotonic() < self.until:
            roll = rng.random()
            if len(mine) < ACTIVE and roll < 0.5:
                opened += 1
                case = await self.open(rng, f"SK-{index}-{opened}", idempotent=rng.random() < 0.1)
                if case is not None:
                    mine.append(case)
            elif mine and roll < 0.75:
                case = rng.choice(mine)
                await self.advance(rng, case)
                if case.state == "closed":
                    mine.remove(case)
            elif roll < 0.9:
                await self.read(rng, rng.choice(mine) if mine else None)
            else:
                await self.bad(rng, mine, index)

    def _opening(self, case_id: str, community: str) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "id": case_id,
            "workflow": "hazard",
            "data": {"community": community, "category": "FAC.HOSE", "severity": "general-short"},
        }
        if community == EAST:
            return self.tokens.east, body
        return self.tokens.town, {**body, "role": "community"}

    async def open(self, rng: random.Random, case_id: str, *, idempotent: bool) -> Tracked | None:
        community = rng.choice((EAST, WEST))
        token, body = self._opening(case_id, community)
        path = f"{API}/cases"
        if idempotent:
            response = await self.idempotent(rng, "open", path, token, body, status=201)
        else:
            response = await self.send("open", "POST", path, token=token, body=body)
        if response is None or response.status_code != 201:
            if response is not None:
                self.findings.add(f"open {case_id}: {response.status_code} {response.text[:300]}")
            return None
        answer = response.json()
        case = Tracked(case_id, community)
        self.cases[case_id] = case
        self.counts["opened"] += 1
        if answer.get("seq") != 0 or answer.get("state") != "discovered":
            self.findings.add(
                f"open {case_id}: answered {answer.get('state')} at {answer.get('seq')}"
            )
        return case

    def step(self, case: Tracked, event: str) -> tuple[str, dict[str, Any]]:
        """Return the token and body that fire ``event`` on ``case`` properly."""
        later = (self.today + dt.timedelta(days=30)).isoformat()

        def evidence(kind: str, name: str) -> list[dict[str, str]]:
            digest = hashlib.sha256(f"{case.id}/{event}/{name}".encode()).hexdigest()
            return [{"kind": kind, "name": name, "sha256": digest}]

        if event == "assign":
            payload = {"responsible_party": "某物业公司", "measures": "补齐灭火器", "due": later}
            if case.community == EAST:
                return self.tokens.east, {"event": event, "payload": payload}
            return self.tokens.town, {"event": event, "role": "town_office", "payload": payload}
        if event == "plan":
            return self.tokens.party, {
                "event": event,
                "payload": {"measures": "更换消防水带", "due": later},
                "evidence": evidence("plan_document", "整改方案.pdf"),
            }
        if event == "report_fixed":
            return self.tokens.party, {
                "event": event,
                "payload": {"summary": "已更换"},
                "evidence": evidence("photo_after", "整改后.jpg"),
            }
        if event == "verify":
            return self.tokens.town, {
                "event": event,
                "role": "town_office",
                "evidence": evidence("inspection_record", "复查记录.pdf"),
            }
        if event == "extend":
            due = (self.today + dt.timedelta(days=31 + len(case.acked))).isoformat()
            return self.tokens.town, {
                "event": event,
                "role": "town_office",
                "payload": {"due": due},
                "reason": "等待材料",
            }
        if event == "close":
            if case.community == EAST:
                return self.tokens.east, {"event": event}
            return self.tokens.town, {"event": event, "role": "community"}
        raise ValueError(f"no step {event}")

    async def advance(self, rng: random.Random, case: Tracked) -> None:
        """Fire the case's next event (now and then an extend first), and record the answer."""
        event = PATH[case.state]
        if case.state in ("assigned", "planned") and rng.random() < 0.15:
            event = "extend"
        token, body = self.step(case, event)
        headers: dict[str, str] = {}
        how = rng.random()
        if how < 0.4:
            body["expected_seq"] = case.seq
        elif how < 0.6:
            headers["If-Match"] = f'"{case.seq}"'
        path = f"{API}/cases/{case.id}/events"
        if rng.random() < 0.1:
            response = await self.idempotent(
                rng, "fire", path, token, body, status=200, headers=headers
            )
        else:
            response = await self.send(
                "fire", "POST", path, token=token, body=body, headers=headers
            )
        if response is None:
            return
        if response.status_code != 200:
            self.findings.add(
                f"fire {event} on {case.id} ({case.state}, {case.seq}): "
                f"{response.status_code} {response.text[:300]}"
            )
            return
        self.acknowledged(case, event, response.json()["case"])

    def acknowledged(self, case: Tracked, event: str, answer: dict[str, Any]) -> None:
        case.acked.append(event)
        case.seq += 1
        case.state = TARGETS.get(event, case.state)
        self.counts["events acknowledged"] += 1
        if case.state == "closed":
            self.counts["closed"] += 1
        if answer.get("seq") != case.seq or answer.get("state") != case.state:
            self.findings.add(
                f"{event} on {case.id}: answered {answer.get('state')} at {answer.get('seq')}, "
                f"acknowledged so far: {case.state} at {case.seq}"
            )

    async def idempotent(
        self,
        rng: random.Random,
        kind: str,
        path: str,
        token: str,
        body: dict[str, Any],
        *,
        status: int,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """Send one POST three times with one Idempotency-Key; return the one that did it."""
        key = f"soak-{uuid.uuid4().hex}"
        sent = {**(headers or {}), "Idempotency-Key": key}
        label = f"{kind}+key"
        if rng.random() < 0.3:  # all at once: a client that gave up waiting and retried
            self.counts["idempotent, sent at once"] += 1
            answers = await asyncio.gather(
                *(
                    self.send(label, "POST", path, token=token, body=body, headers=sent)
                    for _ in range(3)
                )
            )
        else:
            self.counts["idempotent, sent in turn"] += 1
            answers = [
                await self.send(label, "POST", path, token=token, body=body, headers=sent)
                for _ in range(3)
            ]
        if any(a is None for a in answers):
            return None
        done = [a for a in answers if a is not None and "idempotent-replayed" not in a.headers]
        replays = [a for a in answers if a is not None and "idempotent-replayed" in a.headers]
        self.counts["idempotent replays"] += len(replays)
        first = next((a for a in done if a.status_code < 400), done[0] if done else None)
        if first is None:
            self.findings.add(f"{kind} {path} key {key}: every answer was a replay")
            return None
        fresh = [a for a in done if a is not first]
        if any(a.status_code != 409 for a in fresh):
            self.findings.add(
                f"{kind} {path} key {key}: answered fresh {len(done)} times: "
                f"{[a.status_code for a in done]} (replays must say Idempotent-Replayed)"
            )
        if first.status_code == status:
            for replay in replays:
                if replay.status_code != status or replay.json() != first.json():
                    self.findings.add(
                        f"{kind} {path} key {key}: a replay differs: {replay.status_code} "
                        f"{replay.text[:200]}"
                    )
        return first

    async def read(self, rng: random.Random, case: Tracked | None) -> None:
        """Read a case's history, or the case, or a listing, and check what came back."""
        roll = rng.random()
        if case is not None and roll < 0.4:
            await self.history(case)
        elif case is not None and roll < 0.7:
            await self.get(case)
        else:
            await self.listing(rng)

    async def history(self, case: Tracked) -> None:
        response = await self.send(
            "history", "GET", f"{API}/cases/{case.id}/history", token=self.tokens.town
        )
        if response is not None and response.status_code == 200:
            events = [r["event"] for r in response.json()]
            if events != ["@open", *case.acked]:
                self.findings.add(
                    f"history of {case.id}: {events}, acknowledged {['@open', *case.acked]}"
                )
        elif response is not None:
            self.findings.add(f"history of {case.id}: {response.status_code}")

    async def get(self, case: Tracked) -> None:
        token = self.tokens.east if case.community == EAST else self.tokens.party
        response = await self.send("get", "GET", f"{API}/cases/{case.id}", token=token)
        if response is not None and response.status_code == 200:
            got = response.json()
            etag = response.headers.get("etag")
            if got["state"] != case.state or etag != f'"{case.seq}"':
                self.findings.add(
                    f"get {case.id}: {got['state']} ETag {etag}, acknowledged "
                    f"{case.state} at {case.seq}"
                )
        elif response is not None:
            self.findings.add(f"get {case.id}: {response.status_code}")

    async def listing(self, rng: random.Random) -> None:
        state = rng.choice((*PATH, "closed"))
        scoped = rng.random() < 0.5
        token = self.tokens.east if scoped else self.tokens.town
        query = f"state={state}&limit=50" + ("" if scoped else f"&community={WEST}")
        response = await self.send("list", "GET", f"{API}/cases?{query}", token=token)
        if response is not None and response.status_code == 200:
            community = EAST if scoped else WEST
            for item in response.json()["items"]:
                if item["state"] != state or item["data"].get("community") != community:
                    self.findings.add(
                        f"list {query}: {item['id']} is {item['state']} in "
                        f"{item['data'].get('community')}"
                    )
        elif response is not None:
            self.findings.add(f"list {query}: {response.status_code}")

    async def bad(self, rng: random.Random, mine: list[Tracked], index: int) -> None:
        """Send a request that must be refused (4xx) and change nothing."""
        moved = [c for c in mine if c.seq >= 1]
        choice = rng.randrange(7)
        response: httpx.Response | None
        if choice == 0 or not mine:
            what = "malformed JSON"
            target = rng.choice(mine).id if mine else "SK-none"
            response = await self.send(
                "bad",
                "POST",
                f"{API}/cases/{target}/events",
                token=self.tokens.town,
                content=b'{"event": "assign", "payload": {',
            )
        elif choice in (1, 2) and moved:
            case = rng.choice(moved)
            token, body = self.step(case, PATH[case.state])
            headers = {}
            if choice == 1:
                what = f"stale expected_seq {case.seq - 1} (at {case.seq})"
                body["expected_seq"] = case.seq - 1
            else:
                what = f"stale If-Match {case.seq - 1} (at {case.seq})"
                headers["If-Match"] = f'"{case.seq - 1}"'
            response = await self.send(
                "bad",
                "POST",
                f"{API}/cases/{case.id}/events",
                token=token,
                body=body,
                headers=headers,
            )
        elif choice == 3:
            case = rng.choice(mine)
            what = f"{case.id} opened again"
            token, body = self._opening(case.id, case.community)
            response = await self.send("bad", "POST", f"{API}/cases", token=token, body=body)
        elif choice == 4 and any(c.state == "fixed" for c in mine):
            case = next(c for c in mine if c.state == "fixed")
            what = f"verify of {case.id} by the property company, who reported it fixed"
            _, body = self.step(case, "verify")
            del body["role"]  # the property token acts in its only role
            response = await self.send(
                "bad", "POST", f"{API}/cases/{case.id}/events", token=self.tokens.party, body=body
            )
        elif choice == 5:
            what = "an unknown case"
            response = await self.send(
                "bad", "GET", f"{API}/cases/SK-{index}-missing", token=self.tokens.town
            )
        else:
            what = "no token"
            response = await self.send("bad", "GET", f"{API}/cases?limit=5", token=None)
        self.counts["bad requests"] += 1
        if response is not None and not 400 <= response.status_code < 500:
            self.findings.add(f"bad request ({what}) answered {response.status_code}")


# --- after the traffic ------------------------------------------------------------------------


def check_store(soak: Soak, db: str, prefix: str, weeks: int) -> dict[str, object]:
    """Check the stored cases against the acknowledgements; return what was checked."""
    ledger = ledger_for(db, prefix, weeks)
    try:
        report = ledger.verify()
        if not report.ok:
            for problem in report.problems[:20]:
                soak.findings.add(f"verify: {problem}")
        stored = {case.id: case for case in ledger.cases()}
        system = 0
        for case_id, tracked in soak.cases.items():
            case = stored.get(case_id)
            if case is None:
                soak.findings.add(f"{case_id}: acknowledged opened, not stored")
                continue
            events = [r.event for r in case.history]
            system += sum(1 for e in events[1:] if e.startswith("@"))
            if len(case.history) != len(tracked.acked) + 1 or events != ["@open", *tracked.acked]:
                soak.findings.add(
                    f"{case_id}: {len(case.history)} records {events}, acknowledged "
                    f"{len(tracked.acked)} events {tracked.acked}"
                )
        for case_id in sorted(stored.keys() - soak.cases.keys())[:20]:
            soak.findings.add(f"{case_id}: stored, but its opening was never acknowledged")
        return {
            "verify": f"ok, {report.checked:,} cases" if report.ok else "FAILED",
            "stored cases": len(stored),
            "system records": system,
        }
    finally:
        store = ledger.store
        if isinstance(store, SQLStore):
            store.close()


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1] if ordered else math.nan


def summary(
    soak: Soak, seconds: float, checked: dict[str, object], args: argparse.Namespace
) -> str:
    total = sum(soak.statuses.values())
    lines = [
        f"service soak: {seconds:.0f} s, {args.clients} clients, uvicorn {args.workers} "
        f"worker{'s' if args.workers > 1 else ''}, {args.label}, seed {args.seed}",
        f"requests: {total:,} ({total / seconds:,.0f}/s)",
        "by status: "
        + ", ".join(
            f"{'no answer' if s == 0 else s}: {n:,}" for s, n in sorted(soak.statuses.items())
        ),
    ]
    every = [x for xs in soak.latencies.values() for x in xs]
    lines.append(
        f"latency, all: p50 {percentile(every, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(every, 0.99) * 1000:.1f} ms"
    )
    for kind in sorted(soak.latencies):
        values = soak.latencies[kind]
        statuses = ", ".join(f"{s}: {n:,}" for (k, s), n in sorted(soak.kinds.items()) if k == kind)
        lines.append(
            f"  {kind:<9} {len(values):>7,}  p50 {percentile(values, 0.5) * 1000:7.1f} ms  "
            f"p99 {percentile(values, 0.99) * 1000:7.1f} ms  ({statuses})"
        )
    lines.append(
        "counts: " + ", ".join(f"{name}: {n:,}" for name, n in sorted(soak.counts.items()))
    )
    lines.append("checks: " + ", ".join(f"{name}: {value}" for name, value in checked.items()))
    if soak.findings.items:
        lines.append(f"FINDINGS ({len(soak.findings.items):,}):")
        lines.extend(f"  {f}" for f in soak.findings.items[:40])
        if len(soak.findings.items) > 40:
            lines.append(f"  ... and {len(soak.findings.items) - 40:,} more")
    else:
        lines.append(
            "no findings: every acknowledged open and event is stored once, in order; the "
            "store verifies; no 5xx"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/soak.py",
        description="Mixed traffic against the served service for minutes, then check that "
        "every acknowledged request is stored exactly once and the store verifies.",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, default=10, help="how long (default 10)")
    length.add_argument("--seconds", type=float, help="how long, in seconds")
    parser.add_argument("--db", help="a SQLite file or a database URL (default: a new SQLite file)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument("--clients", type=int, default=8, help="clients at once (default 8)")
    parser.add_argument("--seed", type=int, help="the seed of the clients' choices")
    parser.add_argument("--dir", type=Path, help="the folder of the new SQLite file and logs")
    parser.add_argument(
        "--keep", action="store_true", help="keep the tables (or the SQLite file) after"
    )
    args = parser.parse_args(argv)
    if args.workers < 1 or args.clients < 1:
        parser.error("--workers and --clients are at least 1")
    args.duration = args.seconds if args.seconds is not None else args.minutes * 60
    if args.duration <= 0:
        parser.error("the soak runs for a positive time")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1_000_000)
    return args


def soak_on(args: argparse.Namespace, db: str, prefix: str, folder: Path) -> Soak:
    """Set the store up, serve it, send the traffic, check the store; print the summary."""
    weeks = shift_weeks()
    ledger = ledger_for(db, prefix, weeks)  # the tables, made before the workers start
    store = ledger.store
    if not isinstance(store, SQLStore):
        raise TypeError("the soak's store is not a SQLStore")
    services = SQLServiceStore(store.engine, store.prefix)
    now = ledger.clock.now()
    tokens = Tokens(
        town=services.create_token("soak-town", ["town_office", "community"], None, now=now)[0],
        east=services.create_token("soak-east", ["community"], EAST, now=now)[0],
        party=services.create_token("soak-property", ["property"], None, now=now)[0],
    )
    store.close()
    log = folder / "uvicorn.log"
    with Served(db, prefix, weeks, workers=args.workers, log=log) as server:
        start = time.monotonic()
        soak = Soak(server.base_url, tokens, now.date(), start + args.duration, args.seed)
        asyncio.run(soak.run(args.clients))
        seconds = time.monotonic() - start
    output = log.read_text(errors="replace")
    if "Traceback" in output:
        soak.findings.add(f"uvicorn printed a traceback: {output[-1500:]}")
    checked = check_store(soak, db, prefix, weeks)
    print(summary(soak, seconds, checked, args))
    if args.keep:
        print(f"kept: {db} (tables {prefix}*), uvicorn's output in {log}")
    return soak


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    prefix = f"soak_{uuid.uuid4().hex[:8]}_"
    with contextlib.ExitStack() as stack:
        if args.dir is not None or args.keep:
            if args.dir is not None:
                args.dir.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="rectify-soak-", dir=args.dir))
        else:
            temporary = tempfile.TemporaryDirectory(
                prefix="rectify-soak-", dir=os.environ.get("RECTIFY_BENCH_DIR")
            )
            folder = Path(stack.enter_context(temporary))
        db = args.db or str(folder / "soak.db")
        server = "://" in db and not db.startswith("sqlite")
        args.label = db.split("://")[0] if server else "SQLite"
        try:
            soak = soak_on(args, db, prefix, folder)
        finally:
            if server and not args.keep:
                drop_prefixed(db, prefix)
    return 1 if soak.findings.items else 0


if __name__ == "__main__":
    sys.exit(main())
