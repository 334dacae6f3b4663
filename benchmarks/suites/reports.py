"""The reports suite: a circular of a past day, built from the cases as they stood then.

The data set is the demo's: ``rectify.cli._demo.run_demo`` simulates the town's 2024
campaign (the shipped sample ledger repeated ``scale`` times: 100 for a full run, about
10,000 cases; 1 with ``--quick``) into a SQLite file in a temporary folder, once per run
(``RECTIFY_BENCH_DIR`` chooses where, ``RECTIFY_BENCH_REPORTS_SCALE`` another scale). The
campaign ends on 2024-12-25: the cases as of that day are the cases as they are now.

- **the circular as of 2024-06-22** (``Ledger.cases_as_of`` + ``report_context`` +
  ``Notices.render`` to HTML, with that day's heads digest, as ``rectify report circular``
  builds it) against the **circular now** (``Ledger.cases()`` as of 2024-12-25, the rest the
  same). Target (the issue): at most 3x.
- the same circular against a **raw floor**: ``sqlite3`` reading every row of the events
  table and keeping, per case, the target of its last record at or before the day, which is
  what any report of a past day must at least read.
- ``Ledger.cases_as_of`` alone against ``Ledger.cases()`` alone: where the time goes.
- what the circular of a past day costs per stored case (to extrapolate to a bigger store),
  and the share of cases that had changed since the day and were replayed.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import rectify
from rectify._resources import sample_ledger
from rectify.calendar import load_campaign
from rectify.cli._demo import run_demo
from rectify.engine import last_seq_at
from rectify.ledger import digest_heads, heads_as_of
from rectify.spreadsheets import read_ledger
from suites.base import Measurement, Settings
from suites.store import Folder, Timed, in_turns, per_op

#: The day of the circular of the past (a monthly report day, mid-campaign).
PAST: Final = dt.date(2024, 6, 22)
#: The campaign's last day: the cases as of then are the cases as they are now.
NOW: Final = dt.date(2024, 12, 25)
SEED: Final = 2024
SCALE_VARIABLE: Final = "RECTIFY_BENCH_REPORTS_SCALE"
#: The raw floor reads every record's target and time, in each case's order.
EVENTS_QUERY: Final = (
    "SELECT case_id, seq, event, target, at FROM rectify_events ORDER BY case_id, seq"
)
#: What the raw floor's text comparison of dates relies on: every time in Asia/Shanghai.
OFFSET: Final = "+08:00"
#: The store size the per-case cost is extrapolated to.
EXTRAPOLATED: Final = 1_000_000


@dataclass(frozen=True)
class Sizes:
    """How much the suite does.

    Attributes:
        scale: The demo's scale: the sample ledger (100 hazards) repeated this many times.
        repeats: Timed passes per figure, taken in turns; each figure is its best pass.
    """

    scale: int
    repeats: int


FULL_SIZES: Final = Sizes(scale=100, repeats=5)
QUICK_SIZES: Final = Sizes(scale=1, repeats=3)


def build_campaign(out: Path, scale: int) -> tuple[Path, float]:
    """Simulate the demo's campaign into ``out``; return its database and how long it took."""
    source = sample_ledger().read_bytes()
    imported = read_ledger(source, categories=rectify.load_categories())
    if imported.problems:
        raise RuntimeError(f"the sample ledger has {len(imported.problems)} unreadable rows")
    started = time.perf_counter()
    result = run_demo(out, imported.cases(), seed=SEED, scale=scale)
    return result.database, time.perf_counter() - started


def raw_states_as_of(conn: sqlite3.Connection, day: dt.date) -> dict[str, str]:
    """The raw floor: every record read, per case the target of its last one by ``day``.

    Records are stored in each case's time order, and every time carries the offset of
    Asia/Shanghai (checked before the timing), so the local day is the time's first ten
    characters and a later record of the day simply overwrites.
    """
    edge = day.isoformat()
    states: dict[str, str] = {}
    for case_id, _seq, _event, target, at in conn.execute(EVENTS_QUERY):
        if at[:10] <= edge:
            states[case_id] = target
    return states


class Circulars:
    """Builds the circular of a day from the ledger, as ``rectify report circular`` does."""

    def __init__(self, ledger: rectify.Ledger) -> None:
        self.ledger = ledger
        self.specs = [e.spec for e in ledger.engines]
        self.categories = rectify.load_categories()
        self.notices = rectify.documents.Notices(campaign=load_campaign())

    def render(self, cases: Iterable[rectify.Case], day: dt.date) -> rectify.documents.Document:
        """Render the circular of ``day``'s month from ``cases`` (the cases of ``day``)."""
        read = list(cases)
        context = rectify.documents.report_context(
            "circular",
            read,
            self.specs,
            as_of=day,
            issuer=self.notices.issuer,
            sequence=1,
            categories=self.categories,
            period=(day.year, day.month),
            heads_digest=digest_heads(heads_as_of(read, day)),
        )
        return self.notices.render("circular", context, fmt="html")

    def as_of(self, day: dt.date) -> rectify.documents.Document:
        """The circular of a past day: the cases as they stood then."""
        return self.render(self.ledger.cases_as_of(day), day)

    def now(self, day: dt.date) -> rectify.documents.Document:
        """The circular of a day after the last record: the cases as they are."""
        return self.render(self.ledger.cases(), day)


def check(ledger: rectify.Ledger, conn: sqlite3.Connection, circulars: Circulars) -> None:
    """Check, before the timing, that the figures do what they say on this data set."""
    (misplaced,) = conn.execute(
        "SELECT COUNT(*) FROM rectify_events WHERE substr(at, -6) != ?", (OFFSET,)
    ).fetchone()
    if misplaced:
        raise RuntimeError(f"{misplaced} records are not dated in {OFFSET}: the floor is wrong")
    past = {c.id: c.state for c in ledger.cases_as_of(PAST)}
    if raw_states_as_of(conn, PAST) != past:
        raise RuntimeError("the raw floor and Ledger.cases_as_of disagree on the states")
    if list(ledger.cases_as_of(NOW)) != list(ledger.cases()):
        raise RuntimeError(f"the campaign goes on after {NOW}: 'now' is not now")
    if circulars.as_of(NOW).body != circulars.now(NOW).body:
        raise RuntimeError(f"the circulars of {NOW} differ as of the day and now")


def _share(stored: Sequence[rectify.Case]) -> tuple[int, int]:
    """Return how many stored cases are replayed as of ``PAST``, and how many opened later."""
    seqs = [last_seq_at(case, PAST) for case in stored]
    replayed = sum(0 <= seq < case.seq for seq, case in zip(seqs, stored, strict=True))
    return replayed, sum(seq < 0 for seq in seqs)


def suite(settings: Settings) -> list[Measurement]:
    """The circular of a past day against the circular now, a raw read and its parts."""
    sizes = QUICK_SIZES if settings.quick else FULL_SIZES
    scale = int(os.environ.get(SCALE_VARIABLE) or sizes.scale)
    folder = Folder()
    try:
        print(f"reports: simulating the demo campaign at scale {scale}...", file=sys.stderr)
        path, built = build_campaign(folder.path / "demo", scale)
        print(f"reports: simulated in {built:.0f} s", file=sys.stderr)
        return figures(path, scale, built, sizes.repeats)
    finally:
        folder.close()


def figures(path: Path, scale: int, built: float, repeats: int) -> list[Measurement]:
    """Time the figures on the demo's store at ``path``."""
    store = rectify.stores.SQLStore.open(path)
    ledger = rectify.Ledger.with_workflows(store, campaign=load_campaign())
    conn = sqlite3.connect(path)
    try:
        circulars = Circulars(ledger)
        check(ledger, conn, circulars)  # also the warm-up: the file into the page cache
        stored = list(ledger.cases())
        n = len(stored)
        (events,) = conn.execute("SELECT COUNT(*) FROM rectify_events").fetchone()
        replayed, later = _share(stored)
        data = (
            f"the demo's 2024 campaign at scale {scale} ({n:,} cases, {events:,} records on "
            f"SQLite, simulated in {built:.0f} s)"
        )
        past, now = f"circular as of {PAST} [{n:,}]", f"circular now [{n:,}]"
        raw = f"raw sqlite3 events as of {PAST} [{events:,}]"
        as_of, cases = f"Ledger.cases_as_of({PAST}) [{n:,}]", f"Ledger.cases() [{n:,}]"
        what = (
            "report_context('circular', ...) with the heads digest of the day (digest_heads of "
            "heads_as_of, as rectify report circular prints it), then "
            "Notices.render('circular', ..., fmt='html')"
        )
        timed = in_turns(
            [
                Timed(
                    raw,
                    per_op(lambda: raw_states_as_of(conn, PAST), 1),
                    1,
                    description=f"per pass, {data}: raw sqlite3 reads every row of the events "
                    "table (case_id, seq, event, target, at, ordered by case and seq) and keeps "
                    f"per case the target of its last record at or before {PAST}: the least any "
                    "report of a past day reads; its states equal those of cases_as_of",
                ),
                Timed(
                    cases,
                    per_op(lambda: list(ledger.cases()), 1),
                    1,
                    description=f"per pass, {data}: every stored case as it is now, read page "
                    "by page with its history and decoded into Case values",
                ),
                Timed(
                    as_of,
                    per_op(lambda: list(ledger.cases_as_of(PAST)), 1),
                    1,
                    floor=cases,
                    description=f"per pass, {data}: every stored case as it stood at the end "
                    f"of {PAST}: read as Ledger.cases() does, then each case with a record "
                    "after the day replayed through the engine up to its last record then",
                ),
                Timed(
                    now,
                    per_op(lambda: circulars.now(NOW), 1),
                    1,
                    description=f"per circular, {data}: Ledger.cases() (the campaign ended on "
                    f"{NOW}, the cases as of then are the cases now), {what}",
                ),
                Timed(
                    past,
                    per_op(lambda: circulars.as_of(PAST), 1),
                    1,
                    floor=now,
                    extra_floors=(raw,),
                    targets=((now, 3.0),),
                    description=f"per circular, {data}: Ledger.cases_as_of({PAST}), {what}; "
                    "target: at most 3x the circular now",
                ),
            ],
            repeats,
        )
        best = {m.name: m for m in timed}[past]
        per_case = best.value / n * 1e6
        return [
            *timed,
            Measurement(
                name=f"circular as of {PAST}, per case [{n:,}]",
                value=per_case,
                unit="µs/case",
                median=None if best.median is None else best.median / n * 1e6,
                repeats=best.repeats,
                number=n,
                description=f"the circular as of {PAST} divided by the {n:,} stored cases (all "
                "are read; the cost grows with the cases and their records): a store of "
                f"{EXTRAPOLATED:,} such cases would take about "
                f"{per_case * EXTRAPOLATED / 1e6:,.0f} s",
            ),
            Measurement(
                name=f"cases replayed as of {PAST}",
                value=100 * replayed / n,
                unit="%",
                repeats=1,
                number=n,
                description=f"{replayed:,} of the {n:,} stored cases had records after {PAST} "
                f"and were replayed; {later:,} opened after the day (left out); the other "
                f"{n - replayed - later:,} were yielded as stored",
            ),
        ]
    finally:
        conn.close()
        store.close()
