"""Fuzzing the public entry points: bad input gives a RectifyError and nothing else.

Random text and mutated shipped files go to the definition loaders, random bytes to the
ledger reader, random arguments of random types to a ledger's methods, and random argument
lists (built from the real command and option names) to the command line. Whatever comes
back must be a result or a :class:`~rectify.exceptions.RectifyError`; the command line must
exit 0, 1 or 2 (never 70, its code for an internal error) without an exception escaping.
Each test is bounded so the module runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rectify import Actor, Evidence, Ledger
from rectify.calendar import load_campaign, load_holidays
from rectify.cli import cli
from rectify.definitions import load_categories, load_workflow, validate_workflow
from rectify.exceptions import RectifyError
from rectify.spreadsheets import read_ledger
from rectify.stores import MemoryStore
from rectify.testing import FakeCalendar, FakeClock
from tests.conftest import WORKFLOWS

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2024, 4, 1, 9, tzinfo=SHANGHAI)
SHIPPED = sorted(WORKFLOWS.glob("*.yaml"))


def refused_or_done(call: Callable[[], object]) -> None:
    """Run ``call``; a RectifyError is a fine answer to bad input, anything else is not."""
    with contextlib.suppress(RectifyError):
        call()


# -- definitions ---------------------------------------------------------------------------

YAML_BITS = st.sampled_from(
    [
        "id: x\n",
        "version: 1\n",
        "states:\n",
        "events:\n",
        "  a:\n",
        "    to: b\n",
        "initial: a\n",
        "- 1\n",
        "&a [*a]\n",
        "!!python/object:os.system\n",
        "{",
        "}",
        ": :\n",
        "'\n",
        '"\\u0000"\n',
        "\t",
        "? [1, 2]\n",
        "on: yes\n",
        "deadline: {x: 1}\n",
        "1e999\n",
        "-.inf\n",
        "2024-02-30\n",
        "~\n",
        "<<: *a\n",
        "\x00",
        "\ufeff",
        "\u2028",
    ]
)
YAML_TEXT = st.lists(YAML_BITS | st.text(max_size=12), max_size=30).map(
    lambda parts: "# fuzz\n" + "".join(parts)
)


@st.composite
def mutated_shipped(draw: st.DrawFn) -> str:
    """A shipped workflow or catalogue with one slice cut, doubled or replaced."""
    text = draw(st.sampled_from(SHIPPED)).read_text(encoding="utf-8")
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 200)))
    middle = draw(st.sampled_from(["", text[start:end] * 2]) | YAML_TEXT)
    return "# fuzz\n" + text[:start] + middle + text[end:]


@FUZZ
@given(st.one_of(YAML_TEXT, mutated_shipped()))
def test_load_and_validate_workflow_only_refuse_with_rectify_errors(text: str) -> None:
    refused_or_done(lambda: load_workflow(text))
    refused_or_done(lambda: validate_workflow(text))


@FUZZ
@given(st.one_of(YAML_TEXT, mutated_shipped()))
def test_load_categories_holidays_and_campaign_only_refuse_with_rectify_errors(
    text: str,
) -> None:
    refused_or_done(lambda: load_categories(text))
    refused_or_done(lambda: load_holidays(text))
    refused_or_done(lambda: load_campaign(text))


# -- ledger files --------------------------------------------------------------------------


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["镇街/社区", "小区名称", "地址", "隐患内容", "整改时限"])
    sheet.append(["虎峰社区", "龙门小区", "龙门街12号", "楼道堆放杂物", "2024-06-30"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


WORKBOOK = _workbook()
CSV_BITS = st.sampled_from(
    [
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b",",
        b"\t",
        b'"',
        b"\n",
        b"\r",
        b"\x00",
        "隐患内容".encode(),
        "小区名称".encode("gb18030"),
        b"\x81",
        b"=1+1",
        b"x" * 70_000,
    ]
)


@st.composite
def mutated_workbook(draw: st.DrawFn) -> bytes:
    """The workbook cut short, or with bytes overwritten, or with one part replaced."""
    how = draw(st.sampled_from(["cut", "flip", "part"]))
    if how == "cut":
        return WORKBOOK[: draw(st.integers(4, len(WORKBOOK)))]
    if how == "flip":
        at = draw(st.integers(4, len(WORKBOOK) - 1))
        return WORKBOOK[:at] + draw(st.binary(min_size=1, max_size=16)) + WORKBOOK[at + 16 :]
    archive = zipfile.ZipFile(io.BytesIO(WORKBOOK))
    names = archive.namelist()
    victim = draw(st.sampled_from(names))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as rebuilt:
        for name in names:
            if name != victim:
                rebuilt.writestr(name, archive.read(name))
            elif draw(st.booleans()):
                rebuilt.writestr(name, draw(st.binary(max_size=64)))
    return out.getvalue()


LEDGER_BYTES = st.one_of(
    st.binary(max_size=256),
    st.lists(CSV_BITS | st.binary(max_size=8), max_size=20).map(b"".join),
    mutated_workbook(),
)


@FUZZ
@given(LEDGER_BYTES, st.sampled_from(["ledger.csv", "ledger.xlsx"]))
def test_read_ledger_only_refuses_with_rectify_errors(
    tmp_path: Path, data: bytes, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    refused_or_done(lambda: read_ledger(path))
    refused_or_done(lambda: read_ledger(data))


# -- a ledger's methods --------------------------------------------------------------------

ZONES = st.sampled_from([SHANGHAI, ZoneInfo("America/New_York"), dt.UTC])
ANYTHING = st.one_of(
    st.text(max_size=10),
    st.integers(),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=ZONES),
    st.none(),
    st.floats(),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5) | st.integers(), max_size=3),
)
NAMES = st.sampled_from(["HZ-1", "HZ-2", "nope", "hazard", "assign", "plan", "close"])
TEXTISH = NAMES | st.text(max_size=10)
ACTORS = st.builds(
    Actor,
    TEXTISH,
    st.sampled_from(["community", "town_office", "property", "grid_worker", "boss"]),
)
EVIDENCE = st.lists(
    st.builds(Evidence, st.sampled_from(["plan_document", "photo_after", "x"]), TEXTISH, TEXTISH),
    max_size=2,
)
PAYLOADS = st.none() | st.dictionaries(
    st.sampled_from(["due", "measures", "responsible_party", "x"]), ANYTHING, max_size=3
)
WHEN = ANYTHING | st.datetimes(timezones=ZONES)


def _calls(ledger: Ledger) -> Iterator[st.SearchStrategy[Callable[[], object]]]:
    yield st.builds(
        lambda *a, **k: lambda: ledger.open(*a, **k),
        TEXTISH,
        st.sampled_from(["hazard", "immediate", "nope"]),
        st.dictionaries(st.text(max_size=8), ANYTHING, max_size=4),
        ACTORS,
        at=WHEN,
    )
    yield st.builds(
        lambda *a, **k: lambda: ledger.fire(*a, **k),
        TEXTISH,
        TEXTISH,
        ACTORS,
        payload=PAYLOADS,
        evidence=EVIDENCE,
        reason=st.none() | st.text(max_size=10),
        at=WHEN,
    )
    yield st.builds(lambda c: lambda: ledger.get(c), TEXTISH | st.integers() | st.none())
    yield st.builds(lambda n: lambda: ledger.sweep(n), WHEN)
    yield st.builds(
        lambda c, s: lambda: ledger.case_at(c, s),
        TEXTISH | st.sampled_from(["HZ-1", "HZ-2"]),
        st.integers() | st.none() | st.text(max_size=3) | st.booleans(),
    )
    yield st.builds(
        lambda m: lambda: list(ledger.cases_as_of(m)),
        WHEN | st.dates() | st.datetimes() | TEXTISH | st.integers() | st.none(),
    )
    yield st.builds(lambda c, a: lambda: ledger.allowed_events(c, a), TEXTISH, ACTORS)
    yield st.builds(
        lambda d, i, a, r, w: lambda: ledger.merge(d, i, a, reason=r, at=w),
        TEXTISH,
        TEXTISH,
        ACTORS,
        st.text(max_size=10),
        WHEN,
    )


@FUZZ
@given(st.data())
def test_ledger_methods_only_refuse_with_rectify_errors(data: st.DataObject) -> None:
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar(), clock=FakeClock(START))
    ledger.open("HZ-1", "hazard", {"community": "Xinhe", "floors": 6}, Actor("c", "community"))
    ledger.open("HZ-2", "hazard", {"community": "Xinhe"}, Actor("c", "community"))
    for call in data.draw(st.lists(st.one_of(*_calls(ledger)), min_size=1, max_size=6)):
        refused_or_done(call)


# -- the command line ----------------------------------------------------------------------

COMMANDS = sorted(name for name in cli.commands if name != "demo")  # demo writes a campaign


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    db = folder / "rectify.db"
    result = CliRunner().invoke(cli, ["init", "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


@st.composite
def command_lines(draw: st.DrawFn, db: Path) -> list[str]:
    command = draw(st.sampled_from(COMMANDS))
    options = [o for p in cli.commands[command].params for o in p.opts if o.startswith("-")]
    values = st.one_of(
        st.text(max_size=12),
        st.sampled_from(
            [
                "HZ-1",
                "hazard",
                "assign",
                "2024-04-01",
                "2024-04-01T09:00+08:00",
                "9999-12-31",
                "due=2024-06-30",
                "x=1",
                "=",
                "-1",
                "0",
                str(WORKFLOWS / "hazard.yaml"),
                str(db.parent),
                "monthly",
                "community",
                "a\nb",
            ]
        ),
    )
    args = [command]
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()) and options:
            args.append(draw(st.sampled_from(options)))
        args.append(draw(values))
    if "--db" in options and draw(st.booleans()):
        args += ["--db", str(db)]
    return args


@FUZZ
@given(st.data())
def test_the_command_line_exits_0_1_or_2_and_never_crashes(
    store: Path, data: st.DataObject
) -> None:
    args = data.draw(command_lines(store))
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        # Whatever a command writes (init HZ-1, report --out h) lands in a temporary folder.
        result = CliRunner().invoke(cli, args, catch_exceptions=True)
    escaped = result.exception
    if isinstance(escaped, SystemExit) or escaped is None or isinstance(escaped, RectifyError):
        assert result.exit_code in (0, 1, 2), (args, result.output)
        return
    raise AssertionError((args, repr(escaped))) from escaped


@pytest.mark.parametrize(
    "args",
    [
        ["diagram", "\x00"],
        ["validate", "\x00"],
        ["show", "HZ-1", "--db", "a\x00.db"],
        ["import", "\x00"],
    ],
    ids=["diagram", "validate", "show --db", "import"],
)
def test_a_nul_in_a_path_argument_is_a_usage_error(store: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--db", str(store)] if args[0] == "import" else args)
    assert (type(result.exception), result.exit_code) == (SystemExit, 2), repr(result.exception)
