"""Ledger.verify against tampering done straight in the SQL store's tables.

Each tamper is raw SQL on the tables (what someone with database access could do behind
rectify's back); ``verify`` must report exactly that finding and go on with the other cases.
PostgreSQL and MariaDB run when their URLs are set, as in ``test_store.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from rectify import Ledger, NoticeRenderer
from rectify.documents import Issuer, report_context
from rectify.engine import replay
from rectify.ledger import Finding, VerifyReport
from rectify.stores import MemoryStore, SQLStore
from rectify.stores._sql_rows import _projection
from tests.test_ledger import SWEEP_AT, close_planned, make_ledger, open_planned
from tests.test_store import SQL_BACKENDS, clear, drop, server_url

PREFIX = f"s{uuid.uuid4().hex[:8]}_"  # this module's tables on the servers
LATER = dt.datetime(2024, 5, 8, 9, tzinfo=SWEEP_AT.tzinfo)
ISSUER = Issuer("虎峰镇消防安全委员会办公室", code="虎峰镇消安")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SQLStore]]:
    stores: dict[str, SQLStore] = {}
    yield stores
    for store in stores.values():
        drop(store)
        store.close()


@pytest.fixture(params=SQL_BACKENDS)
def store(
    request: pytest.FixtureRequest, servers: dict[str, SQLStore], tmp_path: Path
) -> Iterator[SQLStore]:
    backend = request.param
    if backend == "sqlite":
        with SQLStore.open(tmp_path / "rectify.db") as own:
            yield own
        return
    if backend not in servers:
        servers[backend] = SQLStore.open(server_url(backend), prefix=PREFIX)
    clear(servers[backend])
    yield servers[backend]


@pytest.fixture
def ledger(store: SQLStore) -> Ledger:
    """Three cases: H-1 planned with a deadline, H-2 closed, H-3 escalated."""
    ledger = make_ledger(store)
    open_planned(ledger, "H-1")
    open_planned(ledger, "H-2")
    close_planned(ledger, "H-2", LATER)
    open_planned(ledger, "H-3")
    assert ledger.sweep(SWEEP_AT).escalated == ("H-1", "H-3")
    report = ledger.verify()
    assert (report.checked, report.findings) == (3, ())
    return ledger


def table(store: SQLStore, name: str) -> sa.Table:
    return store.metadata.tables[f"{store.prefix}{name}"]


def execute(store: SQLStore, statement: sa.Executable) -> None:
    with store.engine.begin() as conn:
        conn.execute(statement)


def set_case_column(store: SQLStore, case_id: str, **values: object) -> None:
    cases = table(store, "cases")
    execute(store, cases.update().where(cases.c.id == case_id).values(**values))


def stored_json(store: SQLStore, case_id: str) -> dict[str, object]:
    cases = table(store, "cases")
    with store.engine.connect() as conn:
        text = conn.execute(sa.select(cases.c.case_json).where(cases.c.id == case_id)).scalar_one()
    found: dict[str, object] = json.loads(text)
    return found


def edit_case_json(store: SQLStore, case_id: str, field: str, value: object) -> None:
    data = stored_json(store, case_id)
    data[field] = value
    set_case_column(store, case_id, case_json=json.dumps(data, ensure_ascii=False))


def kinds(report: VerifyReport) -> list[tuple[str, str]]:
    return [(f.case_id, f.kind) for f in report.findings]


def only(report: VerifyReport, case_id: str, kind: str) -> Finding:
    assert kinds(report) == [(case_id, kind)], report.findings
    return report.findings[0]


# -- the stored projection must be the fold of the history ----------------------------------

COLUMN_TAMPERS: dict[str, tuple[str, Callable[[SQLStore], object]]] = {
    "is_final": ("stored True, history gives False", lambda _: True),
    "deadline": ("stored 2099-01-01, history gives 2024-05-20", lambda _: dt.date(2099, 1, 1)),
    "state": ("stored 'closed', history gives 'planned'", lambda _: "closed"),
    "community": ("stored '西区', history gives '东区'", lambda _: "西区"),
    "escalation": ("stored 0, history gives 2", lambda _: 0),
    "data": ("community", lambda _: '{"community":"西区"}'),
}


@pytest.mark.parametrize("column", sorted(COLUMN_TAMPERS))
def test_verify_names_a_projection_column_that_differs_from_the_history(
    store: SQLStore, ledger: Ledger, column: str
) -> None:
    said, value = COLUMN_TAMPERS[column]
    set_case_column(store, "H-1", **{column: value(store)})
    report = ledger.verify()
    finding = only(report, "H-1", "projection-mismatch")
    assert finding.detail.startswith(f"column {column}: ")
    assert said in finding.detail
    assert report.checked == 3


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("deadline", {"$date": "2099-01-01"}, "stored 2099-01-01, history gives 2024-05-20"),
        ("escalation", 0, "stored 0, history gives 2"),
        ("final", True, "stored True, history gives False"),
        ("data", {"community": "西区"}, "'西区'"),
    ],
)
def test_verify_names_a_field_of_the_stored_case_that_differs_from_the_history(
    store: SQLStore, ledger: Ledger, field: str, value: object, said: str
) -> None:
    edit_case_json(store, "H-1", field, value)
    finding = only(ledger.verify(), "H-1", "projection-mismatch")
    assert finding.detail.startswith(f"case {field}: ")
    assert said in finding.detail


def test_an_altered_is_final_no_longer_hides_a_case_from_verify(
    store: SQLStore, ledger: Ledger
) -> None:
    set_case_column(store, "H-3", is_final=True)
    edit_case_json(store, "H-3", "final", True)
    assert [c.id for c in ledger.query(open=True)] == ["H-1"]  # the sweep no longer sees it
    report = ledger.verify()
    assert kinds(report) == [("H-3", "projection-mismatch")] * 2
    assert [f.detail.split(":")[0] for f in report.findings] == ["case final", "column is_final"]


# -- rows missing, rows added -----------------------------------------------------------------


def test_verify_reports_events_whose_case_row_was_deleted(store: SQLStore, ledger: Ledger) -> None:
    records = len(ledger.get("H-2").history)
    cases = table(store, "cases")
    execute(store, cases.delete().where(cases.c.id == "H-2"))
    report = ledger.verify()
    finding = only(report, "H-2", "orphan-events")
    assert finding.detail == f"{records} records but no case row"
    assert report.checked == 2


def test_verify_reports_a_record_appended_past_the_head(store: SQLStore, ledger: Ledger) -> None:
    events = table(store, "events")
    head = ledger.get("H-1").seq
    with store.engine.begin() as conn:
        row = dict(
            conn.execute(sa.select(events).where(events.c.case_id == "H-1", events.c.seq == head))
            .one()
            ._mapping
        )
        conn.execute(events.insert().values({**row, "seq": head + 1, "actor": "someone"}))
    finding = only(ledger.verify(), "H-1", "events-past-head")
    assert finding.seq == head + 1
    assert finding.detail == f"1 record after the head (record {head}): {head + 1}"


def rewind(store: SQLStore, ledger: Ledger, case_id: str, *, refold: bool) -> None:
    """Cut the last record off and point the head at the one before (all in raw SQL)."""
    case = ledger.get(case_id)
    shorter = case.history[:-1]
    events = table(store, "events")
    execute(store, events.delete().where(events.c.case_id == case_id, events.c.seq == case.seq))
    values: dict[str, object] = {"head_seq": shorter[-1].seq, "head_digest": shorter[-1].digest}
    if refold:  # the projection rewritten as the fold of the shorter history: consistent
        engines = [e for e in ledger.engines if e.spec.id == case.workflow]
        values = _projection(replay(engines, shorter))
        del values["id"]
    set_case_column(store, case_id, **values)


def test_verify_reports_a_truncated_history_whose_head_was_rewound(
    store: SQLStore, ledger: Ledger
) -> None:
    rewind(store, ledger, "H-2", refold=False)  # closed -> verified, the close cut off
    report = ledger.verify()
    assert set(kinds(report)) == {("H-2", "projection-mismatch")}
    details = [f.detail for f in report.findings]
    assert "case state: stored 'closed', history gives 'verified'" in details
    assert "column is_final: stored True, history gives False" in details


def test_the_heads_digest_changes_when_a_head_is_rewound_and_only_then(
    store: SQLStore, ledger: Ledger
) -> None:
    before = ledger.verify()
    assert ledger.verify().heads_digest == before.heads_digest == ledger.heads_digest()
    rewind(store, ledger, "H-2", refold=True)
    after = ledger.verify()
    assert after.findings == ()  # a consistent rewrite: only the digest kept outside tells
    assert after.heads_digest != before.heads_digest
    assert after.heads_digest == ledger.heads_digest()


def test_the_heads_digest_is_sha256_of_the_sorted_head_lines(
    store: SQLStore, ledger: Ledger
) -> None:
    cases = table(store, "cases")
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(cases.c.id, cases.c.head_seq, cases.c.head_digest).order_by(cases.c.id)
        ).all()
    lines = "".join(f"{row.id}\t{row.head_seq}\t{row.head_digest}\n" for row in rows)
    assert ledger.verify().heads_digest == hashlib.sha256(lines.encode()).hexdigest()


def test_the_heads_digest_as_of_a_day_stays_what_it_was_that_day() -> None:
    ledger = make_ledger(MemoryStore())
    open_planned(ledger, "H-1")
    open_planned(ledger, "H-2")
    day = LATER.date() - dt.timedelta(days=1)
    that_day = ledger.heads_digest()
    assert ledger.heads_digest(as_of=day) == that_day
    close_planned(ledger, "H-2", LATER)  # what happens later leaves the day's digest alone
    assert ledger.heads_digest() != that_day
    assert ledger.heads_digest(as_of=day) == that_day
    assert ledger.heads_digest(as_of=LATER.date()) == ledger.heads_digest()
    assert ledger.heads_digest(as_of=day - dt.timedelta(days=30)) == hashlib.sha256().hexdigest()


def test_the_heads_digest_of_an_empty_store_is_sha256_of_nothing() -> None:
    report = make_ledger(MemoryStore()).verify()
    assert report.heads_digest == hashlib.sha256(b"").hexdigest()


# -- corrupt rows: reported, and the other cases still checked --------------------------------


def set_event(store: SQLStore, case_id: str, seq: int, **values: object) -> None:
    events = table(store, "events")
    execute(
        store,
        events.update().where(events.c.case_id == case_id, events.c.seq == seq).values(**values),
    )


def test_a_case_row_that_is_not_json_is_reported_and_the_rest_checked(
    store: SQLStore, ledger: Ledger
) -> None:
    set_case_column(store, "H-1", case_json='{"id": "H-1", ')
    set_event(store, "H-3", 1, actor="someone-else")
    report = ledger.verify()
    assert kinds(report) == [("H-1", "corrupt-row"), ("H-3", "history")]
    assert report.findings[0].detail.startswith("case_json: ")
    assert report.findings[1].seq == 1
    assert report.checked == 3


def test_an_event_with_a_bad_date_is_reported_and_the_rest_checked(
    store: SQLStore, ledger: Ledger
) -> None:
    set_event(store, "H-2", 1, at="yesterday")
    set_event(store, "H-3", 0, payload='{"data": ')
    report = ledger.verify()
    assert kinds(report) == [("H-2", "corrupt-row"), ("H-3", "corrupt-row")]
    assert [f.seq for f in report.findings] == [1, 0]
    assert report.findings[0].detail.startswith("record 1: ")
    assert "yesterday" in report.findings[0].detail


def test_a_sequence_gap_is_reported_where_it_starts(store: SQLStore, ledger: Ledger) -> None:
    events = table(store, "events")
    execute(store, events.delete().where(events.c.case_id == "H-2", events.c.seq == 1))
    finding = only(ledger.verify(), "H-2", "history")
    assert finding.seq == 2
    assert "expected sequence number 1" in finding.detail


def test_sqlite_text_where_a_date_or_number_belongs_is_a_corrupt_row(tmp_path: Path) -> None:
    with SQLStore.open(tmp_path / "rectify.db") as store:
        ledger = make_ledger(store)
        open_planned(ledger, "H-1")
        open_planned(ledger, "H-2")
        open_planned(ledger, "H-3")
        with store.engine.begin() as conn:  # SQLite stores any text in any column
            conn.exec_driver_sql(
                "UPDATE rectify_cases SET deadline = '2024-13-45' WHERE id = 'H-1'"
            )
            conn.exec_driver_sql(
                "UPDATE rectify_events SET seq = 'x' WHERE case_id = 'H-2' AND seq = 1"
            )
            conn.exec_driver_sql(
                "UPDATE rectify_events SET payload = '{\"a\":\"' || char(0) || '\"}' "
                "WHERE case_id = 'H-3' AND seq = 0"
            )
        report = ledger.verify()
    assert kinds(report)[0] == ("H-1", "corrupt-row")
    assert "2024-13-45" in report.findings[0].detail
    assert set(kinds(report)[1:]) == {("H-2", "corrupt-row"), ("H-3", "corrupt-row")}
    assert report.checked == 3


# -- the memory store, the report's old face, the documents ----------------------------------


def test_a_memory_store_case_that_differs_from_its_history_is_found() -> None:
    store = MemoryStore()
    ledger = make_ledger(store)
    case = open_planned(ledger, "H-1")
    store._cases["H-1"] = attrs.evolve(case, deadline=dt.date(2099, 1, 1))
    finding = only(ledger.verify(), "H-1", "projection-mismatch")
    assert finding.detail == "case deadline: stored 2099-01-01, history gives 2024-05-20"


def test_problems_are_the_findings_for_callers_of_the_old_report(
    store: SQLStore, ledger: Ledger
) -> None:
    set_event(store, "H-2", 1, actor="someone-else")
    report = ledger.verify()
    assert not report.ok
    assert report.problems == report.findings
    (problem,) = report.problems
    assert (problem.case_id, problem.seq, problem.kind) == ("H-2", 1, "history")
    assert problem.reason == problem.detail == "content does not match its digest (edited)"


@pytest.mark.parametrize("name", ["circular", "ledger"])
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_circulars_and_ledgers_carry_the_first_16_hex_of_the_heads_digest(
    name: str, fmt: str
) -> None:
    digest = hashlib.sha256(b"heads").hexdigest()
    specs = [e.spec for e in make_ledger(MemoryStore()).engines]
    day = dt.date(2024, 6, 22)
    context = report_context(
        name, [], specs, as_of=day, issuer=ISSUER, sequence=1, heads_digest=digest
    )
    body = NoticeRenderer().render(name, context, fmt=fmt).body
    assert f"台账校验码：{digest[:16]}" in body
    assert digest[16:] not in body
    plain = report_context(name, [], specs, as_of=day, issuer=ISSUER, sequence=1)
    assert "台账校验码" not in NoticeRenderer().render(name, plain, fmt=fmt).body
