"""rectify.testing on the shipped workflows, and proof that it catches planted bugs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

import rectify
from rectify.testing import (
    FakeCalendar,
    FakeClock,
    entered_only_from,
    event_sequences,
    separated,
    workflow_machine,
)
from tests.conftest import WORKFLOWS

CALENDAR = FakeCalendar()
HAZARD_TEXT = (WORKFLOWS / "hazard.yaml").read_text(encoding="utf-8")


def engine_of(text_or_name: str) -> rectify.Engine:
    source = WORKFLOWS / f"{text_or_name}.yaml" if "\n" not in text_or_name else text_or_name
    return rectify.Engine(rectify.load_workflow(source), calendar=CALENDAR)


HAZARD_RULES = (separated("report_fixed", "verify"), entered_only_from("closed", "verified"))

# The kit on every shipped workflow, with the seed's rules a host would add.
TestHazardKit = workflow_machine(engine_of("hazard"), invariants=HAZARD_RULES).TestCase
TestImmediateKit = workflow_machine(
    engine_of("immediate"), invariants=(separated("comply", "verify"),)
).TestCase
TestMajorKit = workflow_machine(
    engine_of("major"), invariants=(separated("report_fixed", "reinspect"),)
).TestCase
for _kit in (TestHazardKit, TestImmediateKit, TestMajorKit):
    _kit.settings = settings(_kit.settings, stateful_step_count=25)
del _kit


@given(st.data())
def test_event_sequences_replay_on_the_case_they_open(data: st.DataObject) -> None:
    engine = engine_of("hazard")
    opened, steps = data.draw(event_sequences(engine))
    case = opened
    for step in steps:
        case = engine.fire(
            case,
            step.event,
            step.actor,
            step.at,
            payload=step.payload,
            evidence=step.evidence,
            reason=step.reason,
        ).case
    assert [r.event for r in case.history[1:]] == [s.event for s in steps]
    rectify.engine.verify_history(case)


def test_fake_clock_moves_forward_only() -> None:
    clock = FakeClock(dt.datetime(2024, 3, 1, 9))
    assert clock.now().utcoffset() == dt.timedelta(hours=8)
    assert clock.advance(dt.timedelta(days=1)).day == 2
    with pytest.raises(ValueError, match="backwards"):
        clock.set(dt.datetime(2024, 2, 1))


# --- planted bugs: the kit must find them, and shrink them to a few steps -----------------


def falsify(engine: rectify.Engine, rule: rectify.testing.Invariant) -> list[str]:
    """Run the kit until it fails; return the steps of the shrunk counterexample."""
    machine = workflow_machine(engine, invariants=(rule,), max_cases=1, refusals=False)
    with pytest.raises(AssertionError) as failure:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=300,
                stateful_step_count=20,
                derandomize=True,  # the same search every run: no flaky CI
                database=None,
                deadline=None,
                phases=[Phase.generate, Phase.shrink],
                report_multiple_bugs=False,
                suppress_health_check=list(HealthCheck),
            ),
        )
    # Hypothesis attaches the falsifying example to the error as notes, one step a line.
    notes = "\n".join(getattr(failure.value, "__notes__", []))
    return [
        line
        for line in notes.splitlines()
        if re.match(r"\s*(\w+ = )?state\.(open_case|fire_valid|fire_anything|sweep)\(", line)
    ]


def test_the_kit_finds_a_close_that_skips_verification() -> None:
    planted = HAZARD_TEXT.replace(
        "    from: verified\n    to: closed", "    from: [verified, fixed]\n    to: closed"
    )
    assert planted != HAZARD_TEXT
    steps = falsify(engine_of(planted), entered_only_from("closed", "verified"))
    # The shortest failing history has 5 steps; the shrinker, pressed for time on a busy
    # machine, may stop a step or two short of it (11 seen once in a full run).
    assert 5 <= len(steps) <= 12, steps


def test_the_kit_finds_a_fixer_who_verifies_their_own_fix() -> None:
    planted = HAZARD_TEXT.replace(
        "    evidence: [inspection_record]\n    not_same_actor_as: [report_fixed]\n  fail",
        "    evidence: [inspection_record]\n  fail",
    )
    assert planted != HAZARD_TEXT
    steps = falsify(engine_of(planted), separated("report_fixed", "verify"))
    # The shortest failing history has 5 steps; the shrinker, pressed for time on a busy
    # machine, may stop a step or two short of it (11 seen once in a full run).
    assert 5 <= len(steps) <= 12, steps


# --- scenario files ---------------------------------------------------------------------

SCENARIO = """\
scenario: a wrong expectation
workflow: hazard
start: 2024-05-06T09:00
case: {data: {community: 正街社区}}
steps:
  - fire: assign
    by: {actor: 社区-李, role: community}
    payload: {responsible_party: 物业, measures: 补齐, due: 2024-05-20}
  - expect: {state: closed}
"""


def test_a_scenario_that_holds_returns_the_case_it_left() -> None:
    result = rectify.testing.run_scenario(SCENARIO.replace("state: closed", "state: assigned"))
    assert (result.name, result.steps, result.case.state) == ("a wrong expectation", 2, "assigned")


def test_a_broken_expectation_names_the_step_and_what_was_found() -> None:
    with pytest.raises(rectify.testing.ScenarioFailedError, match="step 2: state is 'assigned'"):
        rectify.testing.run_scenario(SCENARIO)


def test_a_malformed_step_is_a_scenario_error() -> None:
    broken = SCENARIO.replace("  - expect: {state: closed}", "  - teleport: home")
    with pytest.raises(rectify.testing.ScenarioError, match="a step is one of"):
        rectify.testing.run_scenario(broken)


def test_the_plugin_collects_scenario_files(pytester: pytest.Pytester) -> None:
    pytester.makefile(".scenario.yaml", ok=SCENARIO.replace("state: closed", "state: assigned"))
    result = pytester.runpytest("-p", "rectify.testing.pytest_plugin", "-q")
    result.assert_outcomes(passed=1)
