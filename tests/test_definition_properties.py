"""Properties of the workflow definition language.

* Generated valid specs, and the shipped workflows, survive ``dump`` then ``load`` unchanged.
* Whatever a document holds, ``validate_workflow`` and ``load_workflow`` answer with
  located diagnostics or a :class:`rectify.RectifyError`; no other exception escapes and
  nothing hangs.
* ``on``, ``off``, ``yes`` and ``no`` are names, not booleans.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rectify
from tests import strategies as rs
from tests.conftest import WORKFLOWS

SHIPPED = sorted(
    p for p in WORKFLOWS.glob("*.yaml") if "workflow" in yaml.safe_load(p.read_bytes())
)
TEXTS = [p.read_text(encoding="utf-8") for p in SHIPPED]
DATA = [yaml.safe_load(text) for text in TEXTS]

#: No single example may take longer than this (hypothesis' own deadline is off).
EXAMPLE_SECONDS = 20.0


class ExampleTimeoutError(Exception):
    """An example ran past :data:`EXAMPLE_SECONDS`."""


@contextlib.contextmanager
def bounded(seconds: float = EXAMPLE_SECONDS) -> Iterator[None]:
    """Fail the example if the block runs longer than ``seconds``.

    The alarm interrupts Python code only, which is where rectify loops; a single call into
    libyaml runs to its end first.
    """
    if not hasattr(signal, "setitimer"):  # pragma: no cover - Windows has no interval timer
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise ExampleTimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_located(diagnostics: Sequence[rectify.Diagnostic]) -> None:
    for d in diagnostics:
        assert d.location.line >= 1, d
        assert d.location.column >= 1, d
        assert isinstance(d.code, str), d
        assert d.code, d
        assert isinstance(d.message, str), d
        assert d.message.strip(), d
        assert d.format()


def validate(source: str | Path) -> list[rectify.Diagnostic] | rectify.RectifyError:
    try:
        return rectify.validate_workflow(source)
    except rectify.RectifyError as exc:  # only RectifyError may escape
        return exc


def load(source: str | Path) -> rectify.WorkflowSpec | rectify.RectifyError:
    try:
        return rectify.load_workflow(source)
    except rectify.RectifyError as exc:  # only RectifyError may escape
        return exc


def survives(source: str | Path) -> None:
    """``source`` gives diagnostics or a RectifyError, consistently, and nothing else."""
    with bounded():
        diagnostics = validate(source)
        loaded = load(source)
    if isinstance(diagnostics, list):
        check_located(diagnostics)
        failed = any(d.is_error for d in diagnostics)
        assert isinstance(loaded, rectify.WorkflowDefinitionError) == failed
    else:  # the source could not be read at all, so it cannot load either
        assert isinstance(loaded, rectify.RectifyError)
        assert not isinstance(loaded, rectify.WorkflowDefinitionError)
    if isinstance(loaded, rectify.WorkflowDefinitionError):
        check_located(loaded.diagnostics)
        assert loaded.errors, "a refused document says why"
        assert str(loaded)
    elif isinstance(loaded, rectify.WorkflowSpec):
        # Whatever loads can be written back and loads to the same spec.
        assert rectify.load_workflow(rectify.definitions.dump_workflow(loaded)) == loaded


# --- round trip -------------------------------------------------------------------------


@given(rs.workflow_specs())
def test_generated_specs_are_valid_and_round_trip(spec: rectify.WorkflowSpec) -> None:
    text = rectify.definitions.dump_workflow(spec)
    errors = [d for d in rectify.validate_workflow(text) if d.is_error]
    assert errors == []
    loaded = rectify.load_workflow(text)
    assert loaded == spec
    assert rectify.definitions.dump_workflow(loaded) == text


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_workflows_round_trip(path: Path) -> None:
    spec = rectify.load_workflow(path)
    text = rectify.definitions.dump_workflow(spec)
    assert rectify.validate_workflow(text) == []
    assert rectify.load_workflow(text) == spec


def test_the_shipped_workflows_are_found() -> None:
    assert {p.stem for p in SHIPPED} >= {"hazard", "immediate", "major"}


# --- hostile input ----------------------------------------------------------------------


def _documents() -> st.SearchStrategy[int]:
    return st.integers(0, len(TEXTS) - 1)


@given(_documents().flatmap(lambda i: rs.mutated_data(DATA[i])))
def test_mutated_data_gives_diagnostics(text: str) -> None:
    survives(text)


@given(_documents().flatmap(lambda i: rs.mutated_texts(TEXTS[i])))
def test_mutated_text_gives_diagnostics(text: str) -> None:
    survives(text)


@given(rs.hostile_texts())
@example("[" * 10_000)
@example("{" * 10_000 + "}" * 10_000)
@example("- " * 10_000 + "x")
@example("a: !!python/object:os.system ls\n")
@example("!!python/object/apply:os.system ['true']\n")
@example("a: !!timestamp x\nb: !!bool maybe\nc: !!int ''\nd: !!float ''\n")
@example("version: 0x" + "f" * 4000 + "\n")
@example("workflow: \ud800\n")
@example("---\n")
@example("")
def test_hostile_documents_give_diagnostics(text: str) -> None:
    survives(text)


@settings(max_examples=10)
@given(rs.alias_bombs(), st.booleans())
def test_alias_bombs_are_cut_short(bomb: str, embedded: bool) -> None:
    # Expanding a bomb costs up to the node limit, so this runs fewer examples.
    survives(bomb + TEXTS[0] if embedded else bomb)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    _documents(),
    st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), max_size=4),
    st.booleans(),
)
def test_random_bytes_in_a_file_give_diagnostics(
    tmp_path: Path, index: int, splices: list[tuple[float, bytes]], bom: bool
) -> None:
    raw = TEXTS[index].encode("utf-8")
    for where, junk in splices:
        at = round(where * len(raw))
        raw = raw[:at] + junk + raw[at:]
    path = tmp_path / "mutated.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + raw if bom else raw)
    survives(path)


@given(st.text(st.characters(exclude_categories=(), exclude_characters="\n")))
@example("\x00")
@example("\ud800")
@example("x" * 5000)
@example("")
def test_one_line_names_ending_in_yaml_are_files(name: str) -> None:
    # A one-line string ending in .yaml is read as a file name; a bad one is a RectifyError.
    survives(name + ".yaml")


@settings(max_examples=4)
@given(_documents(), rs.blowups())
def test_huge_documents_give_diagnostics_in_bounded_time(index: int, blowup: rs.Blowup) -> None:
    # A few examples only: each builds, and maybe reads, a document of megabytes.
    survives(blowup.apply(TEXTS[index]))


# --- YAML 1.1 words ---------------------------------------------------------------------

SWITCH = """\
workflow: switch
version: 1
title: 开关
roles: [{go}, {stay}]
initial: {first}
states:
  {first}:
    title: 关
    no_deadline: waits for someone
  {last}:
    title: 开
    final: true
events:
  {go}:
    from: {first}
    to: {last}
    roles: [{go}]
  {stay}:
    from: {first}
    to: {first}
"""


def switch(first: str, last: str, go: str, stay: str) -> str:
    """A two-state workflow whose names are written plainly, without quotes."""
    return SWITCH.format(first=first, last=last, go=go, stay=stay)


def test_on_and_off_are_state_names() -> None:
    text = switch("off", "on", "yes", "no")
    assert rectify.validate_workflow(text) == []
    spec = rectify.load_workflow(text)
    assert [s.name for s in spec.states] == ["off", "on"]
    assert [e.name for e in spec.events] == ["yes", "no"]
    assert spec.initial == "off"
    assert spec.role_names == ("yes", "no")
    assert spec.event("yes").transitions == (rectify.definitions.Transition("off", "on"),)
    assert spec.event("yes").roles == ("yes",)
    assert rectify.load_workflow(rectify.definitions.dump_workflow(spec)) == spec


@given(st.permutations(rs.YAML11_BOOLEANS))
def test_yaml_words_stay_names(words: list[str]) -> None:
    first, last, go, stay = words[:4]
    spec = rectify.load_workflow(switch(first, last, go, stay))
    assert [s.name for s in spec.states] == [first, last]
    assert [e.name for e in spec.events] == [go, stay]
    assert spec.initial == first
    assert spec.role_names == (go, stay)
    assert rectify.load_workflow(rectify.definitions.dump_workflow(spec)) == spec
