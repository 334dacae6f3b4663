"""The command line on hostile input: no hangs, no wrong answers, no raw terminal control.

Each test runs ``rectify.cli.main`` (errors become one line and an exit code; 70 is an
internal error and must never come from what a user typed) except where the old behaviour
was a hang: those run ``python -m rectify`` in a real process with a generous bound, so a
regression fails the test instead of stalling the suite.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rectify import Actor, Evidence, Ledger
from rectify.cli import main
from rectify.engine._engine import TIMEZONE
from rectify.stores import SQLStore
from tests.conftest import ROOT, WORKFLOWS

HAZARD = "HZ-1"
BOUND = 120  # seconds a subprocess may take before the test calls it a hang
#: Terminal escapes, carriage return, BEL, a C1 control and a right-to-left override.
CONTROLS = "\x1b[2J\r\x07\x9b\u202e"


def run_main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run ``rectify.cli.main`` as the console script does: exit code, stdout, stderr."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    out, err = capsys.readouterr()
    assert isinstance(code, int)
    return code, out, err


def run_process(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rectify`` in a real process, bounded so that a hang fails the test."""
    return subprocess.run(
        [sys.executable, "-m", "rectify", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Return a SQLite store holding one hazard whose stored text is full of controls."""
    db = tmp_path / "town.db"
    with SQLStore.open(db) as sql:
        Ledger.with_workflows(sql).open(
            HAZARD,
            "hazard",
            {"category": "FAC.EXT", "description": f"灭火器{CONTROLS}过期", "note": "a\tb"},
            Actor(f"社区-李{CONTROLS}", "community"),
            at=dt.datetime(2024, 3, 18, 9, tzinfo=TIMEZONE),
        )
    return db


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """Return a named pipe no one writes to (opening it for reading blocks)."""
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


# -- hangs --------------------------------------------------------------------------------


def test_fire_refuses_a_named_pipe_as_evidence(fifo: Path, tmp_path: Path) -> None:
    result = run_process(
        "fire", HAZARD, "plan", "--db", tmp_path / "none.db", "--actor", "a", "--role", "b",
        "--evidence", f"photo={fifo}",
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (2, "")
    assert "不是普通文件" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_fire_refuses_a_device_as_evidence(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(
        capsys, "fire", HAZARD, "plan", "--actor", "a", "--role", "b",
        "--evidence", "photo=/dev/zero",
    )  # fmt: skip
    assert code == 2
    assert "/dev/zero" in err
    assert "不是普通文件" in err


def test_fire_refuses_evidence_over_the_size_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECTIFY_EVIDENCE_LIMIT", "10")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x" * 11)
    code, _, err = run_main(
        capsys, "fire", HAZARD, "plan", "--db", tmp_path / "none.db", "--actor", "a",
        "--role", "b", "--evidence", f"photo={photo}",
    )  # fmt: skip
    assert code == 2
    assert "photo.jpg" in err
    assert "10" in err
    assert not (tmp_path / "none.db").exists()


def test_the_evidence_limit_must_be_a_positive_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECTIFY_EVIDENCE_LIMIT", "lots")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x")
    code, _, err = run_main(
        capsys, "fire", HAZARD, "plan", "--actor", "a", "--role", "b",
        "--evidence", f"photo={photo}",
    )  # fmt: skip
    assert code == 2
    assert "RECTIFY_EVIDENCE_LIMIT" in err


def test_evidence_hashed_in_chunks_equals_evidence_hashed_whole() -> None:
    content = bytes(range(256)) * 1000
    chunks = [content[i : i + 4096] for i in range(0, len(content), 4096)]
    assert Evidence.of_chunks("photo", "p.jpg", chunks) == Evidence.of("photo", "p.jpg", content)
    assert (
        Evidence.of_chunks("photo", "p.jpg", chunks).sha256 == hashlib.sha256(content).hexdigest()
    )


def test_validate_skips_a_named_pipe_in_a_folder(fifo: Path) -> None:
    (fifo.parent / "hazard.yaml").write_bytes((WORKFLOWS / "hazard.yaml").read_bytes())
    result = run_process("validate", fifo.parent)
    assert (result.returncode, result.stdout) == (0, "")
    assert "1 files checked: 0 errors" in result.stderr


def test_validate_refuses_a_named_pipe_argument(fifo: Path) -> None:
    result = run_process("validate", fifo)
    assert result.returncode == 2
    assert f"{fifo}" in result.stderr
    assert "not a regular file" in result.stderr


def test_import_refuses_a_named_pipe_as_its_ledger(fifo: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.unlink(missing_ok=True)
    fifo.rename(ledger)
    result = run_process("import", ledger, "--db", tmp_path / "town.db")
    assert result.returncode == 1, result.stderr
    assert "ledger.csv: not a regular file" in result.stderr


def test_a_silent_database_server_ends_in_a_store_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        result = run_process(
            "verify",
            "--db",
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/test",
            env={"RECTIFY_DB_TIMEOUT": "1"},
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan"])
def test_a_bad_connect_timeout_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], store: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RECTIFY_DB_TIMEOUT", value)
    code, _, err = run_main(capsys, "verify", "--db", store)
    assert code == 2
    assert f"RECTIFY_DB_TIMEOUT {value!r}" in err


# -- wrong answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"), [("- a\n- b\n", "list"), ("hello\n", "str"), ("42\n", "int")]
)
def test_validate_reports_a_document_that_is_not_a_mapping(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, found: str
) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, _ = run_main(capsys, "validate", path)
    assert code == 1
    assert out.startswith(f"{path}:1:1: error wrong-type ")
    assert found in out


def test_a_command_on_a_missing_store_refuses_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "typo" / "dir" / "town.db"
    for command in (["verify"], ["cases"], ["show", HAZARD], ["sweep"]):
        code, out, err = run_main(capsys, *command, "--db", db)
        assert (code, out) == (1, ""), command
        assert "rectify init" in err, command
    assert not (tmp_path / "typo").exists()


def test_init_creates_the_store_a_command_then_uses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "new" / "town.db"
    assert run_main(capsys, "init", "--db", db)[0] == 0
    assert run_main(capsys, "verify", "--db", db)[0] == 0


def test_init_refuses_a_database_with_foreign_tables_unless_shared(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3  # noqa: PLC0415 - only this test makes a foreign table

    db = tmp_path / "app.db"
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    connection.close()
    code, _, err = run_main(capsys, "init", "--db", db)
    assert code == 1
    assert "accounts" in err
    monkeypatch.setenv("RECTIFY_DB_SHARED", "1")
    assert run_main(capsys, "init", "--db", db)[0] == 0


@pytest.mark.parametrize(
    "url", ["postgresql://:::", "postgresql://clerk:secret@[::1", "nosuchdriver://x"]
)
def test_a_malformed_database_url_is_a_store_error(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, out, err = run_main(capsys, "verify", "--db", url)
    assert (code, out) == (1, "")
    assert "internal error" not in err
    assert "secret" not in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("where", ["file/x.html", "/proc/rectify-x/r.html"])
def test_report_out_that_cannot_be_written_is_one_clean_line(
    capsys: pytest.CaptureFixture[str], store: Path, tmp_path: Path, where: str
) -> None:
    (tmp_path / "file").write_text("in the way", encoding="utf-8")
    out = where if where.startswith("/") else str(tmp_path / where)
    code, _, err = run_main(capsys, "report", "totals", "--db", store, "--out", out)
    assert code == 1
    assert "internal error" not in err
    assert len(err.splitlines()) == 1
    assert out in err


@pytest.mark.parametrize(
    "args",
    [
        ["show", os.fsdecode(b"\xff")],
        ["cases", "--db", os.fsdecode(b"town\xff.db")],
        ["fire", HAZARD, "plan", "--actor", os.fsdecode(b"\xff"), "--role", "property"],
    ],
    ids=["case-id", "db-path", "actor"],
)
def test_a_non_utf8_argument_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], store: Path, args: list[str]
) -> None:
    if "--db" not in args:
        args = [*args, "--db", str(store)]
    code, _, err = run_main(capsys, *args)
    assert code == 2
    assert "UTF-8" in err
    assert "\\xff" in err


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00+14:00"])
def test_fire_at_the_edge_of_time_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], store: Path, at: str
) -> None:
    code, _, err = run_main(
        capsys, "fire", HAZARD, "assign", "--db", store, "--actor", "社区-王",
        "--role", "community", "--at", at,
    )  # fmt: skip
    assert code == 2
    assert at in err


def test_cases_with_a_huge_limit_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], store: Path
) -> None:
    code, out, _ = run_main(capsys, "cases", "--db", store, "--limit", "9" * 23)
    assert (code, out) == (2, "")


# -- terminal control ---------------------------------------------------------------------


def test_printable_escapes_controls_and_keeps_chinese_text() -> None:
    from rectify.cli._terminal import printable  # noqa: PLC0415 - the unit under test

    assert printable(f"灭火器{CONTROLS}过期\t") == "灭火器\\x1b[2J\\r\\x07\\x9b\\u202e过期\\t"
    assert printable("虎峰社区 3栋 (FAC.EXT)") == "虎峰社区 3栋 (FAC.EXT)"


def test_show_escapes_control_characters_in_stored_text(
    capsys: pytest.CaptureFixture[str], store: Path
) -> None:
    code, out, _ = run_main(capsys, "show", HAZARD, "--db", store)
    assert code == 0
    assert "灭火器\\x1b[2J\\r\\x07\\x9b\\u202e过期" in out
    assert "社区-李\\x1b[2J" in out
    assert not any(c in out for c in "\x1b\r\x07\x9b\u202e\t")


def test_cases_escapes_control_characters_in_stored_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "more.db"
    with SQLStore.open(db) as sql:
        Ledger.with_workflows(sql).open(
            HAZARD,
            "hazard",
            {"category": "FAC.EXT", "community": f"虎峰{CONTROLS}社区"},
            Actor("社区-李", "community"),
            at=dt.datetime(2024, 3, 18, 9, tzinfo=TIMEZONE),
        )
    code, out, _ = run_main(capsys, "cases", "--db", db)
    assert code == 0
    assert "虎峰\\x1b[2J\\r\\x07\\x9b\\u202e社区" in out
    assert not any(c in out for c in "\x1b\r\x07\x9b\u202e")
