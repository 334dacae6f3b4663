"""Property-test a host's own workflow in a few lines with rectify.testing.

Run: python examples/property_test_workflow.py

In a host's test suite the same three lines make a pytest test case:

    TestMyFlow = workflow_machine(engine, invariants=[...]).TestCase
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

import rectify
from rectify.testing import FakeCalendar, entered_only_from, separated, workflow_machine

# A community's own flow for blocked corridors: found, cleared by the building head,
# checked by the grid worker, closed. Two rules the host wants kept: nobody checks their own
# clearing, and nothing is closed without a check.
FLOW = """\
workflow: corridor
version: 1
title: 楼道堆物清理
roles: [building_head, grid_worker, community]
evidence: {photo: 现场照片}
initial: found
states:
  found:   {title: 发现堆物, deadline: {working_days: 1}}
  cleared: {title: 已清理, deadline: {working_days: 2}}
  checked: {title: 已复查, deadline: {working_days: 1}}
  closed:  {title: 已销号, final: true, outcome: rectified}
events:
  clear: {from: found, to: cleared, roles: [building_head, grid_worker], evidence: [photo]}
  check: {from: cleared, to: checked, roles: [grid_worker, community], not_same_actor_as: [clear]}
  reopen: {from: checked, to: found, roles: [community], reason: true}
  close: {from: checked, to: closed, roles: [community]}
"""
RULES = [separated("clear", "check"), entered_only_from("closed", "checked")]
QUICK = settings(
    max_examples=25,
    stateful_step_count=12,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# For the demonstration: search longer for the planted bug, but skip shrinking it.
SEARCH = settings(QUICK, max_examples=300, phases=[Phase.generate])


def main() -> None:
    """Prove the flow keeps its rules, then show the kit catching a planted bug."""
    engine = rectify.Engine(rectify.load_workflow(FLOW), calendar=FakeCalendar())
    run_state_machine_as_test(workflow_machine(engine, invariants=RULES), settings=QUICK)
    print("corridor flow: every generated history kept both rules")

    careless = FLOW.replace(", not_same_actor_as: [clear]", "")  # the check lost its duty
    buggy = rectify.Engine(rectify.load_workflow(careless), calendar=FakeCalendar())
    try:
        run_state_machine_as_test(workflow_machine(buggy, invariants=RULES), settings=SEARCH)
    except AssertionError as exc:
        print(f"planted bug found: {str(exc).splitlines()[0]}")
    else:
        print("planted bug NOT found")


if __name__ == "__main__":
    main()
