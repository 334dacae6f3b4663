"""Case ids never become file paths: the id grammar, where it is enforced, and safe file names.

A hostile id (``../../x``, an absolute path, a separator, control and format characters, a
leading dot or dash, too long) is refused by ``check_case_id`` and so by ``Engine.open``,
``Ledger.open`` and ``Ledger.import_cases``; at ledger import it is a problem of its row
only. Ids stored before the grammar existed are still read, verified and listed, and
``rectify notices`` writes their notices inside ``--out`` under slugged names.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from rectify import Actor, Ledger
from rectify.calendar._calendar import OfficialCalendar
from rectify.cli import cli
from rectify.cli._files import notice_path, safe_child, slug
from rectify.definitions._campaign import load_campaign
from rectify.engine import CASE_ID_MAX, Engine, Outcome, check_case_id
from rectify.engine._engine import OPEN
from rectify.engine._history import new_record
from rectify.engine._ids import case_id_problem
from rectify.exceptions import CaseIdError, RectifyError
from rectify.spreadsheets import LEDGER_HEADERS, read_ledger
from rectify.spreadsheets._inference import stable_id
from rectify.stores import MemoryStore, SQLStore, Store
from rectify.testing import FakeCalendar
from tests.conftest import EXAMPLES
from tests.test_store import server_url

TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2024, 3, 18, 9, tzinfo=TZ)
COMMUNITY = Actor("社区-李", "community")
SAMPLE_CSV = EXAMPLES / "data" / "ledger-2024.csv"
DATA = dict(read_ledger(SAMPLE_CSV).rows[0].data)
ASSIGN = {"responsible_party": "某物业", "measures": "更换过期灭火器", "due": dt.date(2024, 6, 30)}

#: Hostile ids and the ``code`` of their refusal.
HOSTILE = {
    "../../x": "character",
    "/etc/x": "character",
    "a/b": "character",
    "a\\b": "character",
    "..": "leading",
    "a..b": "dots",
    ".hidden": "leading",
    "-rf": "leading",
    "a\x00b": "character",
    "a\x1bb": "character",
    "a\x7fb": "character",
    "a\nb": "character",
    "a\tb": "character",
    "a b": "character",
    "x" * (CASE_ID_MAX + 1): "too-long",
    "": "empty",
    "\u202eexe.txt": "character",  # right-to-left override
    "a\u200bb": "character",  # zero-width space
    "a／b": "character",  # full-width solidus
    "a：b": "character",  # full-width colon
    "ＨＺ１": "character",  # full-width letters and digits: ids never differ by width alone
    "a\ud800b": "character",  # a lone surrogate
}
#: Ids rectify makes or tests use, which must stay valid.
VALID = [
    "HZ-1a2b3c4d5e",  # stable_id
    "HZ-1a2b3c4d5e-000",  # the demo's --scale copies
    "MJ-HZ-1a2b3c4d5e-007",  # the demo's major case
    "HZ-1a2b3c4d5e-R1",  # the demo's relapse
    "H-1",
    "EB-2024-001",
    "IM-001-X",
    "case-1",
    "race-7-003",
    "A.1",
    "a_b",
    "隐患-2024-〇〇1",
    "𠀀-1",  # an ideograph of extension B
    "x" * CASE_ID_MAX,
]
#: Hostile ids an old row of any backend can hold (PostgreSQL stores no NUL).
STORABLE = ["../../x", "/etc/x", "a\\b", "..", ".hidden", "-rf", "a b", "\u202eevil", "a／b"]


def planted(engine: Engine, case_id: str) -> Outcome:
    """Return a case opened as before the grammar: its ``@open`` record built by hand."""
    record = new_record(
        None,
        seq=0,
        event=OPEN,
        source=None,
        target=engine.spec.initial,
        actor=COMMUNITY,
        at=T0,
        payload={
            "case_id": case_id,
            "workflow": engine.spec.id,
            "version": engine.spec.version,
            "data": DATA,
        },
    )
    return engine.opened(record)


def tree(folder: Path, *, skip: tuple[Path, ...] = ()) -> set[Path]:
    """Return every path under ``folder``, outside the folders in ``skip``."""
    found: set[Path] = set()
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if Path(root, d) not in skip]
        found.update(Path(root, name) for name in (*dirs, *files))
    return found


@pytest.fixture(params=["memory", "sqlite", "postgresql", "mariadb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    url = str(tmp_path / "rectify.db") if request.param == "sqlite" else server_url(request.param)
    sql = SQLStore.open(url, prefix=f"i{uuid.uuid4().hex[:8]}_")
    yield sql
    sql.metadata.drop_all(sql.engine)
    sql.close()


# -- the grammar ----------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", VALID)
def test_the_ids_rectify_makes_and_tests_use_follow_the_grammar(case_id: str) -> None:
    assert check_case_id(case_id) == case_id


def test_a_stable_id_of_any_row_follows_the_grammar() -> None:
    for row in read_ledger(SAMPLE_CSV).rows:
        assert check_case_id(stable_id(row.data)) == stable_id(row.data)


@pytest.mark.parametrize(("case_id", "code"), HOSTILE.items(), ids=ascii)
def test_a_hostile_id_is_refused_with_its_reason(case_id: str, code: str) -> None:
    with pytest.raises(CaseIdError) as caught:
        check_case_id(case_id)
    assert (caught.value.case_id, caught.value.code) == (case_id, code)
    assert caught.value.reason in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).isprintable()  # the id is shown escaped: no terminal tricks


def test_an_id_that_is_not_text_is_refused() -> None:
    with pytest.raises(CaseIdError) as caught:
        check_case_id(17)
    assert (caught.value.case_id, caught.value.code) == ("17", "not-text")


# -- where new ids come in --------------------------------------------------------------------


@pytest.mark.parametrize("case_id", HOSTILE, ids=ascii)
def test_engine_open_refuses_a_hostile_id(case_id: str) -> None:
    engine = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar()).engine("hazard")
    with pytest.raises(CaseIdError) as caught:
        engine.open(case_id, DATA, COMMUNITY, T0)
    assert caught.value.case_id == case_id


@pytest.mark.parametrize("case_id", HOSTILE, ids=ascii)
def test_ledger_open_refuses_a_hostile_id_and_stores_nothing(case_id: str) -> None:
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    with pytest.raises(CaseIdError):
        ledger.open(case_id, "hazard", DATA, COMMUNITY, at=T0)
    assert list(ledger.cases()) == []
    assert ledger.pending() == []


def test_import_cases_refuses_a_hostile_id_and_never_stores_it() -> None:
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    items = [("../../x", "hazard", DATA), ("H-1", "hazard", DATA)]
    with pytest.raises(CaseIdError) as caught:
        ledger.import_cases(items, COMMUNITY, at=T0)
    assert caught.value.case_id == "../../x"
    assert list(ledger.cases()) == []


def test_engine_merge_and_recurrence_make_no_new_id() -> None:
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    ledger.open("H-1", "hazard", DATA, COMMUNITY, at=T0)
    ledger.open("H-2", "hazard", DATA, COMMUNITY, at=T0)
    ledger.merge("H-2", "H-1", COMMUNITY, reason="同一隐患", at=T0 + dt.timedelta(hours=1))
    assert sorted(c.id for c in ledger.cases()) == ["H-1", "H-2"]
    with pytest.raises(CaseIdError):  # a recurrence is a new case: its id is checked
        ledger.open("../H-2", "hazard", DATA, COMMUNITY, at=T0, recurrence_of="H-2")


# -- ledger import ----------------------------------------------------------------------------


def ledger_csv(ids: list[str]) -> bytes:
    """Return a CSV ledger with one row per id in its 案件编号 column."""
    lines = [[*LEDGER_HEADERS, "案件编号"]]
    for n, case_id in enumerate(ids):
        lines.append(
            ["虎峰镇虎峰社区", "龙门小区", f"龙门街{n + 1}号", "", "6层", "灭火器过期", "", case_id]
        )

    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    return "\r\n".join(",".join(cell(c) for c in line) for line in lines).encode("utf-8")


# A CSV holding NUL is refused whole (it is no text ledger: tests/test_security_sheets.py).
IMPORT_HOSTILE = [
    i for i in HOSTILE if i.strip() and i not in {"ＨＺ１", "a\ud800b"} and "\x00" not in i
]


def test_a_hostile_id_in_a_ledger_is_a_problem_of_its_row_and_the_others_import() -> None:
    ids = ["A-1", *IMPORT_HOSTILE, "A-2"]
    result = read_ledger(ledger_csv(ids))
    assert [r.case_id for r in result.rows] == ["A-1", "A-2"]
    assert [(p.row, p.column, p.code) for p in result.problems] == [
        (n + 3, "案件编号", "bad-case-id") for n in range(len(IMPORT_HOSTILE))
    ]
    for problem in result.problems:
        assert problem.reason.isprintable()
        assert "案件编号只能由半角字母、数字、汉字和 - _ . 组成" in problem.reason
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    assert ledger.import_cases(result.cases(), COMMUNITY, at=T0) == 2


def test_a_control_character_in_a_ledger_id_is_reported_not_dropped() -> None:
    (problem,) = read_ledger(ledger_csv(["A\x1b-1"])).problems
    assert (problem.code, problem.reason.split("；")[0]) == (
        "bad-case-id",
        "案件编号「AU+001B-1」含有不允许的字符 U+001B",
    )


def test_full_width_letters_and_digits_in_a_ledger_id_are_read_half_width() -> None:
    (row,) = read_ledger(ledger_csv(["ＨＺ-１"])).rows
    assert row.case_id == "HZ-1"


def test_an_empty_id_cell_gets_a_stable_id() -> None:
    (row,) = read_ledger(ledger_csv(["  "])).rows
    assert row.case_id == stable_id(row.data)


# -- ids stored before the grammar --------------------------------------------------------------


@pytest.mark.parametrize("case_id", STORABLE, ids=ascii)
def test_an_old_hostile_id_is_still_read_verified_and_listed(store: Store, case_id: str) -> None:
    ledger = Ledger.with_workflows(store, calendar=FakeCalendar())
    old = planted(ledger.engine("hazard"), case_id)
    store.add(old.case, old.effects)
    ledger.fire(case_id, "assign", COMMUNITY, payload=ASSIGN, at=T0 + dt.timedelta(hours=1))
    assert ledger.get(case_id).state == "assigned"
    assert [c.id for c in ledger.cases()] == [case_id]
    assert ledger.verify().ok


# -- file names -------------------------------------------------------------------------------


def notices_of_old_ids(tmp_path: Path, ids: list[str]) -> tuple[Path, set[Path]]:
    """Plant ``ids`` as old cases with a notice due, run ``rectify notices``; return what it wrote.

    The store lies in ``tmp_path/store``, ``--out`` is ``tmp_path/a/b/out``, and everything
    new under ``tmp_path`` (outside the store's folder) counts as written.
    """
    db_folder, out = tmp_path / "store", tmp_path / "a" / "b" / "out"
    for folder in (tmp_path / "abs", db_folder, out):
        folder.mkdir(parents=True)
    store = SQLStore.open(db_folder / "rectify.db")
    ledger = Ledger.with_workflows(store, campaign=load_campaign(), calendar=OfficialCalendar())
    for case_id in ids:
        old = planted(ledger.engine("hazard"), case_id)
        store.add(old.case, old.effects)
        ledger.fire(case_id, "assign", COMMUNITY, payload=ASSIGN, at=T0 + dt.timedelta(hours=1))
    store.close()
    before = tree(tmp_path, skip=(db_folder,))
    result = CliRunner().invoke(
        cli,
        ["notices", "--db", str(db_folder / "rectify.db"), "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return out, tree(tmp_path, skip=(db_folder,)) - before


@pytest.mark.parametrize("case_id", ["../../x", "{tmp}/abs/x"])
def test_notices_of_an_old_id_that_climbs_out_land_in_out(tmp_path: Path, case_id: str) -> None:
    # An absolute id points inside the test's own folder, not at /etc.
    out, written = notices_of_old_ids(tmp_path, [case_id.format(tmp=tmp_path)])
    assert len(written) == 2  # the HTML and the text
    assert {p.resolve().parent for p in written} == {out.resolve()}


def test_notices_writes_nothing_outside_out_for_old_hostile_ids(tmp_path: Path) -> None:
    ids = [
        "../../x",
        "../../../escaped",
        f"{tmp_path}/abs/x",  # an absolute path (inside the test's folder, not /etc)
        "a/b",
        "a\\b",
        "..",
        ".hidden",
        "-rf",
        "a\x00b",
        "a\nb",
        "\u202eevil",
        "a／b",
        "a:1:2",
        "x" * 190,
        "HZ-1a2b3c4d5e",
    ]
    out, written = notices_of_old_ids(tmp_path, ids)
    assert {p.parent for p in written} == {out}
    assert {p.resolve().parent for p in written} == {out.resolve()}
    assert not any(p.name.startswith((".", "-")) for p in written)
    assert len(written) == 2 * len(ids)  # every notice written, as HTML and text
    assert out / "HZ-1a2b3c4d5e-1-1-rectification_slip.html" in written  # valid ids: as before


def test_a_link_planted_in_the_folder_is_not_followed(tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside.html"
    out.mkdir()
    (out / "H-1.html").symlink_to(outside)
    with pytest.raises(RectifyError, match="does not resolve inside"):
        safe_child(out, "H-1", ".html")


def test_names_that_slug_alike_name_different_files() -> None:
    assert slug("a/b") != slug("a\\b")
    assert slug("a/b").startswith("a_b-")
    assert slug("H-1") == "H-1"


@given(
    st.one_of(
        st.text(st.characters(exclude_categories=())),
        st.text("aZ09隐-_.:/\\\x00 ／\u202e", max_size=CASE_ID_MAX + 4),
    )
)
def test_any_text_is_a_valid_id_whose_notices_land_in_out_or_is_refused(text: str) -> None:
    folder = Path("/srv/out")
    accepted = case_id_problem(text) is None
    if accepted:
        assert check_case_id(text) == text
        assert slug(text) == text  # a valid id names its files as it is
    else:
        with pytest.raises(CaseIdError) as caught:
            check_case_id(text)
        assert caught.value.case_id == text
    for suffix in (".html", ".txt"):
        path = notice_path(folder, f"{text}:3:0", "rectification_slip", suffix)
        assert path.parent == folder
        assert path.resolve().parent == folder.resolve()
        assert not path.name.startswith((".", "-"))
        assert len(path.name.encode("utf-8")) <= 255  # NAME_MAX
        if accepted:
            assert path.name == f"{text}-3-0-rectification_slip{suffix}"
