"""Hole 5: one bad notice must not block the outbox.

Each delivery succeeds or fails on its own: a failure is recorded with its error text and
attempt count, retried on a later run, dead-lettered after a limit and listed by
``rectify notices --failed``. A fire whose notice would need a calendar year no source
covers is refused up front, and ``sweep`` and ``verify`` warn from 60 days before the
calendar's last covered day. Store tests run on every backend of ``tests/test_store.py``.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rectify import Actor, Ledger
from rectify.calendar import CalendarFallbackWarning, HolidayData, OfficialCalendar
from rectify.engine import DeadlineSet
from rectify.exceptions import CalendarError
from rectify.stores import Delivery, MemoryStore, SQLStore, Store
from rectify.stores._sql import SCHEMA_VERSION
from rectify.testing import FakeCalendar
from tests.test_cli import invoke
from tests.test_store import BACKENDS, TZ, Servers, make_case, make_store, notice

# The fixtures of the store suite: its servers, and SQL stores a test opens itself.
from tests.test_store import own_prefix as own_prefix  # noqa: PLC0414
from tests.test_store import servers as servers  # noqa: PLC0414
from tests.test_store import sql_target as sql_target  # noqa: PLC0414

COMMUNITY = Actor("社区-李", "community")
GOOD_DUE = dt.date(2024, 6, 28)
BAD_DUE = dt.date(2027, 1, 15)  # chinese-calendar knows no 2027: its re-check date fails


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, servers: Servers, tmp_path: Path) -> Iterator[Store]:
    yield from make_store(request.param, servers, tmp_path)


def two_notices(store: Store) -> tuple[str, str]:
    """Store a case with two notices due; return their delivery ids."""
    case = make_case("H-1")
    store.add(case, [notice(case), notice(case, "overdue_warning")])
    return f"H-1:{case.seq}:0", f"H-1:{case.seq}:1"


def open_and_assign(ledger: Ledger, case_id: str, due: dt.date, at: dt.datetime) -> None:
    data = {"community": "东区", "category": "FAC.HOSE", "severity": "general-short"}
    ledger.open(case_id, "hazard", data, COMMUNITY, at=at)
    ledger.fire(
        case_id,
        "assign",
        COMMUNITY,
        payload={"responsible_party": "某物业", "measures": "补齐水带", "due": due},
        at=at + dt.timedelta(hours=1),
    )


# -- the store: failures, retries, dead letters -----------------------------------------------


def test_a_failure_is_recorded_with_its_error_and_attempts_and_retried(store: Store) -> None:
    bad, good = two_notices(store)
    assert [(d.id, d.attempts) for d in store.pending()] == [(bad, 1), (good, 1)]
    failed = store.fail(bad, "没有 2027 年的节假日数据", dead_after=5)
    assert failed is not None
    assert (failed.id, failed.attempts, failed.last_error, failed.dead) == (
        bad,
        1,
        "没有 2027 年的节假日数据",
        False,
    )
    assert store.failed() == [failed]
    store.acknowledge([good])
    again = store.pending()  # a failure is retried: it stays pending, with its last error
    assert [(d.id, d.attempts, d.last_error) for d in again] == [
        (bad, 2, "没有 2027 年的节假日数据")
    ]


def test_a_delivery_is_dead_lettered_after_the_limit_and_no_longer_handed_out(
    store: Store,
) -> None:
    bad, good = two_notices(store)
    for attempt in (1, 2, 3):
        handed = {d.id: d for d in store.pending()}
        assert handed[bad].attempts == attempt
        failed = store.fail(bad, f"failure {attempt}", dead_after=3)
        assert failed is not None
        assert failed.dead is (attempt == 3)
    assert [d.id for d in store.pending()] == [good]  # the dead letter is not handed out
    [dead] = store.failed()
    assert (dead.id, dead.attempts, dead.last_error, dead.dead) == (bad, 3, "failure 3", True)
    assert dead.effect == notice(make_case("H-1"))
    store.acknowledge([bad])  # a host that has dealt with it by hand clears it
    assert store.failed() == []


def test_a_dead_letter_redriven_is_handed_out_again_as_new(store: Store) -> None:
    bad, good = two_notices(store)
    store.pending()
    store.fail(bad, "down", dead_after=1)
    assert [d.id for d in store.pending()] == [good]
    # Only dead letters are re-driven: the pending one, unknown and repeated ids do nothing.
    assert store.redrive([bad, bad, good, "H-9:0:0"]) == 1
    assert store.failed() == []
    again = {d.id: d for d in store.pending()}
    assert (again[bad].attempts, again[bad].last_error, again[bad].dead) == (1, None, False)
    assert again[good].attempts == 3
    assert store.redrive([bad]) == 0  # no longer dead


def test_pending_skips_the_ids_it_is_told_to_skip(store: Store) -> None:
    bad, good = two_notices(store)
    assert [d.id for d in store.pending(skip={bad})] == [good]
    assert [(d.id, d.attempts) for d in store.pending()] == [(bad, 1), (good, 2)]


def test_failing_an_unknown_or_acknowledged_delivery_is_ignored(store: Store) -> None:
    bad, _ = two_notices(store)
    store.acknowledge([bad])
    assert store.fail(bad, "gone", dead_after=5) is None
    assert store.fail("nope", "gone", dead_after=5) is None
    assert store.failed() == []


def test_any_error_text_is_stored_on_every_backend(store: Store) -> None:
    bad, _ = two_notices(store)
    store.pending()
    text = "坏\x00字节 \ud800 " + "长" * 10_000
    failed = store.fail(bad, text, dead_after=5)
    assert failed is not None
    assert failed.last_error is not None
    assert failed.last_error.startswith("坏\ufffd字节 ? 长")
    assert len(failed.last_error) == 2000
    assert store.failed()[0].last_error == failed.last_error


def test_failed_lists_at_most_limit_oldest_first(store: Store) -> None:
    cases = [make_case(f"H-{i}") for i in range(3)]
    for case in cases:
        store.add(case, [notice(case)])
    for delivery in store.pending():
        store.fail(delivery.id, "x", dead_after=5)
    assert [d.case_id for d in store.failed(limit=2)] == ["H-0", "H-1"]


# -- the SQL schema: version 2 adds the failure columns in place ----------------------------


def test_a_version_1_store_upgrades_in_place_keeping_its_pending_deliveries(
    sql_target: str, own_prefix: str
) -> None:
    case = make_case("H-1")
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        store.add(case, [notice(case), DeadlineSet("H-1", "planned", dt.date(2024, 5, 20))])
        store.pending()  # one attempt counted under version 1
        engine = store.engine
        prepare = engine.dialect.identifier_preparer
        outbox = prepare.quote(f"{own_prefix}outbox")
        with engine.begin() as conn:  # make it a version 1 store: no failure columns
            for column in ("last_error", "dead"):
                conn.execute(sa.text(f"ALTER TABLE {outbox} DROP COLUMN {column}"))
            conn.execute(store.metadata.tables[f"{own_prefix}schema"].update().values(version=1))
    with SQLStore.open(sql_target, prefix=own_prefix) as store:
        pending = store.pending()
        assert [(d.id, d.attempts, d.last_error, d.dead) for d in pending] == [
            ("H-1:1:0", 2, None, False),
            ("H-1:1:1", 2, None, False),
        ]
        assert [d.effect for d in pending] == [
            notice(case),
            DeadlineSet("H-1", "planned", dt.date(2024, 5, 20)),
        ]
        failed = store.fail("H-1:1:0", "坏", dead_after=2)
        assert failed is not None
        assert failed.dead
        schema = store.metadata.tables[f"{own_prefix}schema"]
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(schema.c.version)).scalar_one() == SCHEMA_VERSION


# -- the ledger: each delivery on its own ---------------------------------------------------


def test_deliver_acknowledges_the_good_ones_and_records_the_bad_one(store: Store) -> None:
    ledger = Ledger.with_workflows(store, calendar=FakeCalendar())
    bad, good = two_notices(store)
    seen: list[str] = []
    failures: list[Delivery] = []

    def handler(delivery: Delivery) -> None:
        seen.append(delivery.id)
        if delivery.id == bad:
            raise RuntimeError("打印机卡纸")

    assert ledger.deliver(handler, dead_after=2, on_failure=failures.append) == 1
    assert seen == [bad, good]
    assert [(d.id, d.attempts, d.last_error, d.dead) for d in failures] == [
        (bad, 1, "打印机卡纸", False)
    ]
    assert ledger.failed() == failures
    assert ledger.deliver(handler, dead_after=2) == 0  # retried on the next run
    assert seen == [bad, good, bad]
    assert [(d.attempts, d.dead) for d in ledger.failed()] == [(2, True)]
    assert ledger.deliver(handler, dead_after=2) == 0  # dead: no longer handed out
    assert seen == [bad, good, bad]
    assert ledger.pending() == []


def test_deliver_hands_each_delivery_out_once_per_run_across_pages(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rectify.ledger._DELIVER_PAGE", 1)
    ledger = Ledger.with_workflows(store, calendar=FakeCalendar())
    bad, good = two_notices(store)
    seen: list[str] = []

    def handler(delivery: Delivery) -> None:
        seen.append(delivery.id)
        if delivery.id == bad:
            raise RuntimeError("坏")

    assert ledger.deliver(handler, limit=None) == 1
    assert seen == [bad, good]
    assert [d.attempts for d in ledger.failed()] == [1]


def test_deliver_refuses_a_dead_after_below_one() -> None:
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    with pytest.raises(ValueError, match="dead_after 0"):
        ledger.deliver(lambda _: None, dead_after=0)


# -- fire time: a notice that could never render is refused up front -------------------------


def test_a_fire_whose_notice_needs_an_uncovered_year_is_refused_and_stores_nothing() -> None:
    store = MemoryStore()
    ledger = Ledger.with_workflows(store)  # the official calendar: up to 2026
    at = dt.datetime(2026, 12, 1, 9, tzinfo=TZ)
    with pytest.raises(CalendarError, match="2027") as caught:
        open_and_assign(ledger, "H-1", BAD_DUE, at)
    assert caught.value.year == 2027
    case = store.get("H-1")
    assert (case.state, case.seq) == ("discovered", 0)  # the assign was not stored
    assert all(d.effect.case_id == "H-1" and d.id.startswith("H-1:0:") for d in store.pending())


def test_a_fire_whose_deadline_falls_in_an_uncovered_year_is_refused() -> None:
    store = MemoryStore()
    ledger = Ledger.with_workflows(store)
    data = {"community": "东区", "category": "FAC.HOSE", "severity": "general-short"}
    ledger.open("H-1", "hazard", data, COMMUNITY, at=dt.datetime(2026, 12, 21, 9, tzinfo=TZ))
    payload = {"responsible_party": "某物业", "measures": "补齐水带", "due": GOOD_DUE}
    with pytest.raises(CalendarError, match="2027"):  # 5 working days after Dec 29 2026
        ledger.fire(
            "H-1", "assign", COMMUNITY, payload=payload, at=dt.datetime(2026, 12, 29, 9, tzinfo=TZ)
        )
    assert store.get("H-1").seq == 0


def test_the_weekends_fallback_lets_such_a_fire_through_with_its_warning() -> None:
    store = MemoryStore()
    ledger = Ledger.with_workflows(store, calendar=OfficialCalendar(weekends_fallback=True))
    with pytest.warns(CalendarFallbackWarning, match="2027"):
        open_and_assign(ledger, "H-1", BAD_DUE, dt.datetime(2026, 12, 1, 9, tzinfo=TZ))
    assert store.get("H-1").state == "assigned"


def test_host_holiday_data_for_the_year_lets_such_a_fire_through() -> None:
    store = MemoryStore()
    calendar = OfficialCalendar(HolidayData(years=frozenset({2027})))
    ledger = Ledger.with_workflows(store, calendar=calendar)
    open_and_assign(ledger, "H-1", BAD_DUE, dt.datetime(2026, 12, 1, 9, tzinfo=TZ))
    assert store.get("H-1").state == "assigned"


# -- the calendar's end ---------------------------------------------------------------------


def test_last_covered_day_is_the_package_end_extended_by_the_hosts_following_years() -> None:
    assert OfficialCalendar().last_covered_day() == dt.date(2026, 12, 31)
    host = HolidayData(years=frozenset({2027, 2028}))
    assert OfficialCalendar(host).last_covered_day() == dt.date(2028, 12, 31)
    gap = HolidayData(years=frozenset({2029}))  # 2027 is still missing
    assert OfficialCalendar(gap).last_covered_day() == dt.date(2026, 12, 31)


# -- the command line -----------------------------------------------------------------------


def seed_store(db: Path) -> None:
    """Queue two good notices and one that cannot render (its re-check date is in 2027).

    The bad one is queued through a ledger on a calendar that knows every year, as a store
    written before fire time checked notices would hold it.
    """
    with SQLStore.open(db) as store:
        ledger = Ledger.with_workflows(store, calendar=FakeCalendar())
        at = dt.datetime(2024, 5, 6, 9, tzinfo=TZ)
        open_and_assign(ledger, "H-1", GOOD_DUE, at)
        open_and_assign(ledger, "H-2", BAD_DUE, at)
        open_and_assign(ledger, "H-3", GOOD_DUE, at)


def test_notices_renders_the_good_ones_and_records_the_bad_one(tmp_path: Path) -> None:
    db, out = tmp_path / "rectify.db", tmp_path / "out"
    seed_store(db)
    notices = ("notices", "--db", db, "--out", out, "--as-of", "2024-05-07", "--dead-after", "3")
    first = invoke(*notices)
    assert first.exit_code == 0, first.output
    assert first.stdout == f"已生成通知 2 份，写入 {out}/\n"
    assert (
        first.stderr == "另有 1 份未能生成，下次运行时重试；原因用 rectify notices --failed 查看\n"
    )
    slips = sorted(p.name for p in out.rglob("*rectification_slip*.html"))
    assert len(slips) == 2
    assert not [name for name in slips if "H-2" in name]

    listed = invoke("notices", "--db", db, "--failed")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["编号", "案件", "通知", "尝试次数", "状态", "错误"]
    assert lines[1].split()[:5] == ["H-2:1:1", "H-2", "rectification_slip", "1", "待重试"]
    assert "2027" in lines[1]
    assert lines[-1] == "未能生成的通知 1 份，其中不再重试 0 份"

    assert invoke(*notices).stdout == f"已生成通知 0 份，写入 {out}/\n"  # retried
    third = invoke(*notices)
    assert third.stdout == f"已生成通知 0 份，写入 {out}/\n"
    assert third.stderr == (
        "另有 1 份未能生成，其中 1 份已达重试上限（3 次）、不再重试；"
        "原因用 rectify notices --failed 查看\n"
    )
    dead = invoke("notices", "--db", db, "--failed").stdout.splitlines()
    assert dead[1].split()[:5] == ["H-2:1:1", "H-2", "rectification_slip", "3", "不再重试"]
    last = invoke(*notices)  # a dead letter is no longer handed out
    assert (last.stdout, last.stderr) == (f"已生成通知 0 份，写入 {out}/\n", "")
    assert invoke("notices", "--db", db, "--failed").stdout.splitlines()[1].split()[3] == "3"
    # The failed attempts took no document number: the two slips issued are 1 and 2.
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT last FROM rectify_numbers").fetchall() == [(2,)]


def test_notices_failed_on_a_clean_outbox_says_so(tmp_path: Path) -> None:
    assert invoke("init", "--db", tmp_path / "rectify.db").exit_code == 0
    result = invoke("notices", "--db", tmp_path / "rectify.db", "--failed")
    assert (result.exit_code, result.stdout) == (0, "没有未能生成的通知\n")


WARNING = re.compile(r"节假日数据只到 2026-12-31.*RECTIFY_HOLIDAYS")


@pytest.mark.parametrize(
    ("args", "warned"),
    [
        (("sweep", "--now", "2026-10-31T23:59"), False),
        (("sweep", "--now", "2026-11-01T00:00"), True),  # 60 days before 2026-12-31
        (("sweep", "--now", "2027-02-01T09:00"), True),
        (("verify", "--as-of", "2026-10-31"), False),
        (("verify", "--as-of", "2026-11-01"), True),
        (("verify", "--as-of", "2024-05-06"), False),
    ],
)
def test_sweep_and_verify_warn_from_sixty_days_before_the_calendar_ends(
    tmp_path: Path, args: tuple[str, ...], *, warned: bool
) -> None:
    assert invoke("init", "--db", tmp_path / "rectify.db").exit_code == 0
    result = invoke(*args, "--db", tmp_path / "rectify.db")
    assert result.exit_code == 0, result.output
    assert bool(WARNING.search(result.stderr)) is warned, result.stderr
    assert not WARNING.search(result.stdout)


def test_host_holidays_for_the_next_year_silence_the_warning(tmp_path: Path) -> None:
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text("years:\n  2027:\n    holidays: [2027-01-01]\n", encoding="utf-8")
    env = {"RECTIFY_HOLIDAYS": str(holidays)}
    assert invoke("init", "--db", tmp_path / "r.db").exit_code == 0
    result = invoke("sweep", "--now", "2026-11-01T00:00", "--db", tmp_path / "r.db", env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    later = invoke("sweep", "--now", "2027-11-01T00:00", "--db", tmp_path / "r.db", env=env)
    assert "节假日数据只到 2027-12-31" in later.stderr
