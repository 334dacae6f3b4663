"""Documents true for their moment: built from the history up to it, the same forever.

A town signs and files what rectify prints. A report of a past day holds the facts of that
day (``Ledger.cases_as_of``), a notice the case as the record that queued it left it
(``Ledger.case_at``), and a document rendered again keeps its number and comes out byte
for byte as it first did.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rectify import Actor, Evidence, Ledger
from rectify.calendar import load_campaign
from rectify.cli._demo import standard_report
from rectify.definitions._load import load_categories
from rectify.documents import (
    MemoryNumberBook,
    Notices,
    count,
    notice_identity,
    report_context,
    report_period,
)
from rectify.documents._contexts import case_number
from rectify.documents._reports import hazard_facts
from rectify.engine import Case, NoticeDue, case_as_of, case_at, last_seq_at
from rectify.spreadsheets import ledger_totals
from rectify.stores import MemoryStore, SQLStore
from rectify.testing import FakeClock, event_sequences
from tests.conftest import demo_copy
from tests.test_cli import invoke, run

CAMPAIGN = load_campaign()

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


# -- the demo: what it rendered on a day, rendered again from the finished store ----------------


@pytest.fixture(scope="module")
def campaign(demo_run: tuple[Result, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's demo folder (``tests/conftest.py``)."""
    return demo_copy(demo_run, tmp_path_factory)


def _numbers(database: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT code, year, last FROM rectify_numbers").fetchall()


@pytest.mark.parametrize(("fmt", "suffix"), [("text", ".txt"), ("html", ".html")])
def test_a_past_circular_says_what_the_circular_of_that_day_said(
    campaign: Path, fmt: str, suffix: str
) -> None:
    database = campaign / "rectify.db"
    numbers = _numbers(database)
    filed = (campaign / "reports" / "2024-06" / f"circular{suffix}").read_text(encoding="utf-8")
    for _ in range(3):  # rendered again and again: the same bytes, the same number
        again = run(
            "report", "circular", "--db", database, "--month", "2024-06", "--as-of", "2024-06-22",
            "--format", fmt,
        )  # fmt: skip
        assert again == filed
    # --month alone means the month's report day.
    assert (
        run("report", "circular", "--db", database, "--month", "2024-06", "--format", fmt) == filed
    )
    assert _numbers(database) == numbers
    if fmt == "text":
        assert "已销号79处，整改率79.0%" in filed


def test_past_ledger_totals_say_what_they_said_on_their_day(campaign: Path) -> None:
    database = campaign / "rectify.db"
    filed = (campaign / "reports" / "2024-04" / "ledger-totals.txt").read_text(encoding="utf-8")
    again = run("report", "totals", "--db", database, "--as-of", "2024-04-05", "--format", "text")
    assert again == filed
    total = next(line for line in filed.splitlines() if "合计" in line)
    # Counted from the register (an estate with no hazard too) as it stood on 4/5.
    assert total.startswith("合计：小区19个，楼栋51栋，排查87处")
    assert "已销号25处" in total
    assert "28.7%" in total


def test_overdue_on_a_past_day_lists_the_cases_overdue_then(campaign: Path) -> None:
    database = campaign / "rectify.db"
    listed = run("cases", "--db", database, "--overdue", "2024-07-01")
    ledger = Ledger.with_workflows(SQLStore.open(database), campaign=load_campaign())
    try:
        then = [
            c.id
            for c in ledger.cases_as_of(dt.date(2024, 7, 1))
            if not c.final and c.deadline and c.deadline < dt.date(2024, 7, 1)
        ]
    finally:
        ledger.store.close()
    assert then, "the demo has cases overdue on 2024-07-01"
    assert [line.split()[0] for line in listed.splitlines()[1:-1]] == sorted(then)
    assert listed.splitlines()[-1] == f"共 {len(then)} 件"


def _demo_ledger(database: Path) -> tuple[Ledger, Notices]:
    categories = load_categories()
    store = SQLStore.open(database)
    ledger = Ledger.with_workflows(store, campaign=load_campaign(), categories=categories)
    notices = Notices(
        campaign=CAMPAIGN,
        numbers=store,
        categories=categories,
        calendar=ledger.engine("hazard").calendar,
    )
    return ledger, notices


def _again(ledger: Ledger, notices: Notices, entry: dict[str, object]) -> tuple[str, str]:
    """Render a document the demo filed again, from the store, as of its moment."""
    if entry["kind"] == "notice":
        spec = dict(entry["effect"])  # type: ignore[call-overload]
        effect = NoticeDue(**{**spec, "to": tuple(spec["to"])})
        case = ledger.case_at(effect.case_id, effect.seq)
        html, text = notices.render_effect(
            effect,
            case,
            ledger.engine(case.workflow, case.version).spec,
            issued_on=dt.date.fromisoformat(str(entry["issued_on"])),
            reader_role=str(entry["reader_role"]),
        )
        return html.body, text.body
    name, day = str(entry["kind"]), dt.date.fromisoformat(str(entry["as_of"]))
    period = entry.get("period")
    identity, context = standard_report(
        notices,
        name,
        day,
        list(ledger.cases_as_of(day)),
        [e.spec for e in ledger.engines],
        community=entry.get("community"),  # type: ignore[arg-type]
        period=tuple(period) if period else None,  # type: ignore[arg-type]
        categories=notices.categories,
        due_on=dt.date(2024, 4, 5),
        campaign=load_campaign(),
    )
    assert identity == entry["identity"]
    return tuple(  # type: ignore[return-value]
        notices.render(name, context, fmt=fmt, identity=identity).body for fmt in ("html", "text")
    )


def test_every_document_the_demo_filed_renders_again_byte_for_byte(campaign: Path) -> None:
    database = campaign / "rectify.db"
    numbers = _numbers(database)
    manifest = json.loads((campaign / "documents.json").read_text(encoding="utf-8"))
    ledger, notices = _demo_ledger(database)
    kinds: set[str] = set()
    try:
        for entry in manifest:
            if entry["kind"] == "lookback_report":
                continue  # built from a random sample the town records, not from the store
            page = campaign / entry["page"]
            html, text = _again(ledger, notices, entry)
            assert html == page.read_text(encoding="utf-8"), entry["page"]
            assert text == page.with_suffix(".txt").read_text(encoding="utf-8"), entry["page"]
            kinds.add(str(entry["kind"]))
    finally:
        ledger.store.close()
    assert _numbers(database) == numbers, "rendering again took a number"
    assert {"notice", "circular", "monthly_report", "ledger", "ledger_totals"} <= kinds
    documents = sum(1 for _ in (campaign / "notices").rglob("*.html"))
    documents += sum(1 for _ in (campaign / "reports").rglob("*.html"))
    assert len(manifest) == documents  # every document the demo wrote is in the manifest


def test_the_months_reports_add_up(campaign: Path) -> None:
    """Each day is in one month's report: the months' closures add up to the total."""
    ledger, _ = _demo_ledger(campaign / "rectify.db")
    try:
        specs = [e.spec for e in ledger.engines]
        months = [(2024, m) for m in range(3, 13)]
        closed_in = 0
        for year, month in months:
            start, end = report_period(year, month)
            rows = hazard_facts(ledger.cases_as_of(end), specs, end)
            closed_in += sum(
                f.rectified and f.closed_on is not None and start <= f.closed_on <= end
                for f in rows
            )
        last = report_period(*months[-1])[1]
        first = report_period(*months[0])[0]
        assert first <= load_campaign().starts
        rows = hazard_facts(ledger.cases_as_of(last), specs, last)
        assert closed_in == count(rows).closed
    finally:
        ledger.store.close()


def test_a_report_period_runs_from_the_23rd_to_the_22nd() -> None:
    assert report_period(2024, 6) == (dt.date(2024, 5, 23), dt.date(2024, 6, 22))
    assert report_period(2024, 1) == (dt.date(2023, 12, 23), dt.date(2024, 1, 22))
    assert report_period(2024, 3, 20) == (dt.date(2024, 2, 21), dt.date(2024, 3, 20))


def test_the_major_hazard_is_one_hazard_and_transfers_have_their_own_line(campaign: Path) -> None:
    ledger, _ = _demo_ledger(campaign / "rectify.db")
    try:
        cases = list(ledger.cases())
        rows = hazard_facts(cases, [e.spec for e in ledger.engines], dt.date(2024, 12, 25))
    finally:
        ledger.store.close()
    continued = [f for f in rows if f.successor is not None]
    assert len(continued) == 1
    assert continued[0].case.state == "referred_major"
    assert continued[0].successor is not None
    assert continued[0].successor.state == "delisted"
    assert continued[0].status == "closed"
    hazards = [c for c in cases if ledger.engine(c.workflow).spec.kind == "hazard"]
    assert len(rows) == len(hazards) - 1  # the major case is not found a second time
    totals = count(rows)
    assert totals.found == totals.counted + totals.transferred + totals.dismissed + totals.duplicate
    ledger_text = (campaign / "reports" / "2024-12" / "ledger.txt").read_text(encoding="utf-8")
    assert f"（转 {case_number(continued[0].successor)}）" in ledger_text
    assert "（复发，原案 " in ledger_text


# -- any campaign: rendered late equals rendered on the day ---------------------------------------

_DATA = {
    "community": "金龙社区",
    "community_name": "金龙小区",
    "address": "金龙路1号",
    "building": "1栋",
    "description": "楼道堆放杂物",
    "category": "PAS.EVAC",
    "severity": "general",
}
_REPORTS = ("circular", "ledger", "ledger_totals", "escalation_levels", "monthly_report")


def _documents(
    ledger: Ledger, notices: Notices, cases: list[Case], day: dt.date, pending: list[NoticeDue]
) -> Iterator[tuple[str, str]]:
    """Yield ``(what, body)`` of every report and export of ``day`` and the ``pending`` notices."""
    specs = [e.spec for e in ledger.engines]
    for name in _REPORTS:
        identity, context = standard_report(
            notices, name, day, cases, specs, community="金龙社区", categories=notices.categories
        )
        for fmt in ("html", "text"):
            yield f"{name}.{fmt}", notices.render(name, context, fmt=fmt, identity=identity).body
    yield "ledger_totals.xlsx", repr(ledger_totals(cases, specs, as_of=day))
    for effect in pending:
        case = ledger.case_at(effect.case_id, effect.seq)
        spec = ledger.engine(case.workflow, case.version).spec
        html, text = notices.render_effect(effect, case, spec, issued_on=day, reader_role=None)
        yield notice_identity(effect), html.body + text.body


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data(), cases=st.integers(1, 4), cut=st.integers(0, 40))
def test_any_document_rendered_late_equals_the_one_rendered_on_its_day(
    data: st.DataObject, cases: int, cut: int
) -> None:
    start = dt.datetime(2024, 3, 4, 9, tzinfo=SHANGHAI)
    ledger = Ledger.with_workflows(MemoryStore(), campaign=load_campaign(), clock=FakeClock(start))
    engine = ledger.engine("hazard")
    plans = []
    for n in range(cases):
        opened, steps = data.draw(event_sequences(engine, start=start, data=_DATA, max_steps=8))
        plans.append((f"HZ-{n}", opened, steps))
    day = start.date() + dt.timedelta(days=cut)
    end_of_day = dt.datetime.combine(day, dt.time(23, 59, 59), SHANGHAI)
    for case_id, opened, _ in plans:
        ledger.open(case_id, "hazard", dict(opened.data), opened_by(opened), at=opened.opened_at)

    def play(*, on_the_day: bool) -> None:
        for case_id, _, steps in plans:
            for step in steps:
                if (step.at <= end_of_day) != on_the_day:
                    continue
                ledger.fire(
                    case_id,
                    step.event,
                    step.actor,
                    at=step.at,
                    payload=step.payload,
                    evidence=step.evidence,
                    reason=step.reason,
                )

    notices = Notices(
        campaign=CAMPAIGN,
        numbers=MemoryNumberBook(),
        categories=load_categories(),
        calendar=engine.calendar,
    )
    play(on_the_day=True)
    ledger.sweep(end_of_day)
    pending = [d.effect for d in ledger.pending(10_000) if isinstance(d.effect, NoticeDue)]
    on_the_day = dict(_documents(ledger, notices, list(ledger.cases()), day, pending))
    play(on_the_day=False)  # the campaign moves on
    ledger.sweep(end_of_day + dt.timedelta(days=60))
    late = dict(_documents(ledger, notices, list(ledger.cases_as_of(day)), day, pending))
    assert late == on_the_day


def opened_by(case: Case) -> Actor:
    """Return who opened ``case``."""
    first = case.history[0]
    return Actor(first.actor, first.role)


# -- the engine's view of the past ----------------------------------------------------------------


def test_a_case_as_of_a_moment_is_the_fold_of_its_history_up_to_it() -> None:
    ledger = Ledger.with_workflows(MemoryStore(), campaign=load_campaign())
    at = dt.datetime(2024, 3, 11, 9, tzinfo=SHANGHAI)
    town = Actor("镇消安办", "town_office")
    ledger.open("HZ-1", "hazard", _DATA, Actor("网格员", "grid_worker"), at=at)
    ledger.fire(
        "HZ-1",
        "assign",
        town,
        at=at + dt.timedelta(days=1),
        payload={"responsible_party": "物业", "measures": "更换水带", "due": dt.date(2024, 3, 29)},
    )
    assigned = ledger.get("HZ-1")
    ledger.fire(
        "HZ-1",
        "plan",
        Actor("物业", "property"),
        at=at + dt.timedelta(days=3),
        payload={"measures": "更换水带并加装箱锁", "due": dt.date(2024, 4, 15)},
        evidence=(Evidence.of("plan_document", "plan.pdf", b"plan"),),
    )
    now = ledger.get("HZ-1")
    assert ledger.case_at("HZ-1", assigned.seq) == assigned
    assert ledger.case_at("HZ-1", now.seq) == now
    engines = [e for e in ledger.engines if e.spec.id == "hazard"]
    assert case_at(engines, now, assigned.seq) == assigned
    assert last_seq_at(now, dt.date(2024, 3, 10)) == -1
    assert last_seq_at(now, dt.date(2024, 3, 12)) == assigned.seq
    assert last_seq_at(now, at + dt.timedelta(days=1)) == assigned.seq  # an instant counts
    assert case_as_of(engines, now, dt.date(2024, 3, 10)) is None
    assert case_as_of(engines, now, dt.date(2024, 3, 13)) == assigned
    assert list(ledger.cases_as_of(dt.date(2024, 3, 12))) == [assigned]
    assert list(ledger.cases_as_of(dt.date(2024, 3, 10))) == []
    with pytest.raises(ValueError, match="no record -1"):
        ledger.case_at("HZ-1", -1)
    # The slip the assignment queued, rendered after the plan, says what the assignment said.
    slip = next(
        d.effect
        for d in ledger.pending()
        if isinstance(d.effect, NoticeDue) and d.effect.notice == "rectification_slip"
    )
    notices = Notices(campaign=CAMPAIGN, categories=load_categories(), calendar=engines[0].calendar)
    case = ledger.case_at(slip.case_id, slip.seq)
    _html, text = notices.render_effect(slip, case, engines[0].spec, issued_on=dt.date(2024, 3, 20))
    assert "2024年3月29日" in text.body
    assert "更换水带并加装箱锁" not in text.body
    assert "2024年4月15日" not in text.body


def test_every_output_of_one_moment_gives_the_same_totals(campaign: Path) -> None:
    """The circular, its chart, the HTML ledger totals and the xlsx totals of 6/22 agree."""
    day = dt.date(2024, 6, 22)
    ledger, notices = _demo_ledger(campaign / "rectify.db")
    try:
        cases, specs = list(ledger.cases_as_of(day)), [e.spec for e in ledger.engines]
    finally:
        ledger.store.close()
    town = count(hazard_facts(cases, specs, day))
    circular, totals = (
        report_context(
            name, cases, specs, as_of=day, issuer=notices.issuer, sequence=1,
            categories=notices.categories,
        )
        for name in ("circular", "ledger_totals")
    )  # fmt: skip
    for view in (circular["totals"], totals["totals"]):
        assert isinstance(view, dict)
        assert {k: view[k] for k in town.view()} == town.view()
    ranking = circular["ranking"]
    assert isinstance(ranking, list)
    assert sum(int(r["found"]) for r in ranking) == town.found
    assert sum(int(r["closed"]) for r in ranking) == town.closed
    # The chart draws the circular's progress: closed of counted, community by community.
    assert circular["progress"] == [(r["community"], r["closed"], r["counted"]) for r in ranking]
    sheet = ledger_totals(cases, specs, as_of=day)
    assert sum(t.found for t in sheet) == town.found
    assert sum(t.closed for t in sheet) == town.closed
    assert sum(t.open for t in sheet) == town.open
    assert sum(t.overdue for t in sheet) == town.overdue
    assert sum(t.counted for t in sheet) == town.counted
    by_community = {str(r["community"]): r for r in ranking}
    for line in sheet:
        assert (line.found, line.closed, line.counted) == (
            by_community[line.community]["found"],
            by_community[line.community]["closed"],
            by_community[line.community]["counted"],
        )


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE rectify_documents SET number = 999 WHERE identity = 'circular/2024-06/2024-06-22'",
        "UPDATE rectify_renderings SET context_sha256 = '" + "0" * 64 + "'"
        " WHERE identity = 'circular/2024-06/2024-06-22'",
    ],
)
def test_an_altered_register_is_found_when_the_document_is_rendered_again(
    campaign: Path, tmp_path: Path, tamper: str
) -> None:
    database = tmp_path / "rectify.db"
    shutil.copy(campaign / "rectify.db", database)
    with sqlite3.connect(database) as conn:
        assert conn.execute(tamper).rowcount >= 1
    result = invoke(
        "report", "circular", "--db", database, "--month", "2024-06", "--format", "text"
    )
    assert result.exit_code == 1
    assert result.stdout == ""  # nothing printed that a clerk could file
    assert "circular/2024-06/2024-06-22" in result.stderr
    assert "已编号出具过" in result.stderr
