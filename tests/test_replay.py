"""Replay (a case is the fold of its history) and migration between workflow versions."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import attrs
import pytest

import rectify
from rectify import Case, Engine, NaiveDatetimeError, RectifyError
from rectify.engine import MigrationCheck, migrate, plan_migration, replay, verify_history
from rectify.exceptions import ReplayError
from tests.test_engine import (
    COMMUNITY,
    GRID,
    HAZARD_PATH,
    HOSE_DATA,
    MAJOR_PATH,
    ON_THE_SPOT_PATH,
    QINGMING,
    REFUSAL_PATH,
    TOWN,
    Step,
    at,
    closed_hazard,
    engine,
    fire,
    hazard_at,
    open_hazard,
    open_immediate,
    open_major,
    run_steps,
    workflow_text,
)

EXPERT_PATH: tuple[Step, ...] = (
    Step("convene_experts", MAJOR_PATH[0].actor, at(4, 3), reason="composite elements disputed"),
    attrs.evolve(
        MAJOR_PATH[0],
        at=at(4, 15),
        payload={"panel_size": 7, "votes_for": 5, "standard": "GB35181-2025"},
    ),
    attrs.evolve(MAJOR_PATH[1], at=at(4, 16)),
    *MAJOR_PATH[2:],
)


def hazard_v2(text: str | None = None) -> Engine:
    """Return an engine for a version 2 of hazard.yaml, made from its text."""
    source = (text or workflow_text("hazard")).replace("\nversion: 1\n", "\nversion: 2\n")
    return Engine(rectify.load_workflow(source), calendar=QINGMING)


def renamed_v2() -> Engine:
    """Version 2 of hazard.yaml with ``planned`` renamed ``rectifying``."""
    return hazard_v2(re.sub(r"\bplanned\b", "rectifying", workflow_text("hazard")))


def replay_error(engines: Engine | Sequence[Engine], case: Case) -> ReplayError:
    with pytest.raises(ReplayError) as caught:
        replay(engines, case.history)
    return caught.value


# --- replay rebuilds a case exactly -----------------------------------------------------


@pytest.mark.parametrize(
    ("workflow", "start", "steps"),
    [
        pytest.param("hazard", open_hazard, HAZARD_PATH, id="hazard"),
        pytest.param("immediate", open_immediate, ON_THE_SPOT_PATH, id="immediate-on-the-spot"),
        pytest.param("immediate", open_immediate, REFUSAL_PATH, id="immediate-refusal"),
        pytest.param("major", open_major, MAJOR_PATH, id="major"),
        pytest.param("major", open_major, EXPERT_PATH, id="major-expert-review"),
    ],
)
def test_replay_rebuilds_each_shipped_lifecycle_exactly_at_every_step(
    workflow: str, start: Callable[[], Case], steps: tuple[Step, ...]
) -> None:
    case = start()
    assert replay(engine(workflow), case.history) == case
    for step in steps:
        case = fire(engine(workflow), case, step).case
        assert replay(engine(workflow), case.history) == case
    assert engine(workflow).is_final(case)


def test_replay_accepts_a_list_of_one_engine() -> None:
    case = closed_hazard()
    assert replay([engine("hazard")], case.history) == case


def test_replay_rebuilds_escalation_deadline_and_data() -> None:
    case = run_steps(engine("immediate"), open_immediate(), REFUSAL_PATH[:3])
    rebuilt = replay(engine("immediate"), case.history)
    assert (rebuilt.escalation, rebuilt.deadline, rebuilt.data) == (
        1,
        case.deadline,
        case.data,
    )


def test_replay_rebuilds_a_recurrence_and_both_sides_of_a_merge() -> None:
    first = closed_hazard("H-1")
    again = engine("hazard").open("H-2", HOSE_DATA, GRID, at(6, 1), recurrence_of=first).case
    assert replay(engine("hazard"), again.history) == again

    duplicate = engine("hazard").open("H-9", {"address": "same"}, GRID, at(6, 1, 11)).case
    merged, joined = engine("hazard").merge(
        duplicate, again, COMMUNITY, at(6, 2), reason="reported twice"
    )
    assert replay(engine("hazard"), merged.case.history) == merged.case
    assert replay(engine("hazard"), joined.case.history) == joined.case
    later = fire(engine("hazard"), joined.case, attrs.evolve(HAZARD_PATH[0], at=at(6, 3))).case
    assert replay(engine("hazard"), later.history) == later


# --- replay against another workflow ----------------------------------------------------


def test_replay_against_a_version_without_the_verify_event_parts_at_verify() -> None:
    text = re.sub(r"\n  verify:\n(?:    .*\n)+", "\n", workflow_text("hazard"))
    text = text.replace("fixed, verified, closed]", "fixed]")
    without_verify = hazard_v2(text)
    assert not without_verify.spec.has_event("verify")
    err = replay_error(without_verify, closed_hazard())
    assert err.seq == 5  # @open, assign, plan, extend, report_fixed, *verify*
    assert "event 'verify' refused: no such event" in err.reason
    assert str(err).startswith("replay parts from the history at record 5: ")


def test_replay_against_a_version_where_verify_leads_elsewhere_parts_at_verify() -> None:
    text = workflow_text("hazard").replace(
        "    from: fixed\n    to: verified\n", "    from: fixed\n    to: closed\n"
    )
    text = text.replace("fixed, verified, closed]", "fixed, closed]")
    retargeted = hazard_v2(text)
    assert retargeted.spec.event("verify").transitions[0].target == "closed"
    err = replay_error(retargeted, closed_hazard())
    assert (err.seq, err.reason) == (
        5,
        "the workflow leads to 'closed', the history to 'verified'",
    )


def test_replay_against_an_equal_version_2_reaches_the_same_state_on_version_2() -> None:
    case = closed_hazard()
    rebuilt = replay(hazard_v2(), case.history)
    assert (rebuilt.version, rebuilt.state, rebuilt.data) == (2, case.state, case.data)
    assert rebuilt.history[0].payload["version"] == 2
    verify_history(rebuilt)


def test_replay_against_another_workflow_parts_at_the_first_record() -> None:
    err = replay_error(engine("immediate"), closed_hazard())
    assert (err.seq, err.reason) == (0, "the case follows workflow 'hazard', not 'immediate'")


def test_replay_of_nothing_is_refused() -> None:
    with pytest.raises(ReplayError) as caught:
        replay(engine("hazard"), ())
    assert (caught.value.seq, caught.value.reason) == (0, "the history is empty")
    with pytest.raises(ReplayError) as no_engine:
        replay([], closed_hazard().history)
    assert (no_engine.value.seq, no_engine.value.reason) == (0, "no workflow to replay against")


def test_replay_of_a_history_that_does_not_start_with_open_is_refused() -> None:
    history = closed_hazard().history[1:]
    with pytest.raises(ReplayError) as caught:
        replay(engine("hazard"), history)
    assert (caught.value.seq, caught.value.reason) == (1, "a history starts with an @open record")


def test_replay_reports_where_a_tampered_history_no_longer_follows_the_workflow() -> None:
    records = list(closed_hazard().history)
    records[4] = attrs.evolve(records[4], role="grid_worker")  # report_fixed by a grid worker
    with pytest.raises(ReplayError) as caught:
        replay(engine("hazard"), records)
    assert caught.value.seq == 4
    assert "role 'grid_worker' may not fire it" in caught.value.reason


# --- migration --------------------------------------------------------------------------

STATE_MAP = {"planned": "rectifying"}


def test_plan_migration_says_which_cases_can_move_and_why_not() -> None:
    v2 = renamed_v2()
    on_v2 = v2.open("H-5", HOSE_DATA, GRID, at(4, 2)).case
    cases = [
        closed_hazard("H-1"),
        hazard_at("report_fixed", "H-2"),  # planned
        hazard_at("plan", "H-3"),  # assigned
        on_v2,
        open_immediate("I-1"),
    ]
    assert plan_migration(v2, cases, STATE_MAP) == (
        MigrationCheck(
            "H-1", ok=False, reason="the case is closed; closed cases are never reopened"
        ),
        MigrationCheck("H-2", ok=True, target="rectifying"),
        MigrationCheck("H-3", ok=True, target="assigned"),
        MigrationCheck("H-5", ok=False, reason="already on version 2"),
        MigrationCheck("I-1", ok=False, reason="follows workflow 'immediate', not 'hazard'"),
    )


def test_a_closed_case_cannot_be_reopened_by_mapping_its_state_to_an_open_one() -> None:
    (check,) = plan_migration(renamed_v2(), [closed_hazard("H-1")], {"closed": "rectifying"})
    assert check.ok is False
    assert check.reason == "the case is closed; closed cases are never reopened"


def test_an_open_case_cannot_move_into_a_final_state() -> None:
    (check,) = plan_migration(renamed_v2(), [hazard_at("report_fixed")], {"planned": "closed"})
    assert check == MigrationCheck(
        "H-1",
        ok=False,
        reason="state 'closed' is final in version 2; an open case cannot move into it",
    )


def test_plan_migration_refuses_an_unmapped_state_that_the_new_version_lacks() -> None:
    (check,) = plan_migration(renamed_v2(), [hazard_at("report_fixed")], {})
    assert check == MigrationCheck(
        "H-1",
        ok=False,
        reason="state 'planned' has no counterpart in version 2; map it explicitly",
    )


def test_migrate_moves_the_case_to_the_mapped_state_with_a_migrate_record() -> None:
    v2 = renamed_v2()
    case = hazard_at("report_fixed")
    outcome = migrate(v2, case, STATE_MAP, TOWN, at(5, 1), reason="2024 revision of the flow")
    moved = outcome.case
    assert (moved.workflow, moved.version, moved.state) == ("hazard", 2, "rectifying")
    assert (moved.data, moved.deadline, moved.history[:-1]) == (
        case.data,
        case.deadline,
        case.history,
    )
    record = outcome.record
    assert (record.seq, record.event, record.source, record.target) == (
        case.seq + 1,
        "@migrate",
        "planned",
        "rectifying",
    )
    assert dict(record.payload) == {
        "from_version": 1,
        "to_version": 2,
        "from_state": "planned",
        "to_state": "rectifying",
    }
    assert (record.actor, record.role, record.at, record.reason) == (
        "t-1",
        "town_office",
        at(5, 1),
        "2024 revision of the flow",
    )
    assert outcome.effects == ()
    verify_history(moved)


def test_a_migrated_case_goes_on_in_the_new_version_and_replays_with_both_engines() -> None:
    v2 = renamed_v2()
    moved = migrate(v2, hazard_at("report_fixed"), STATE_MAP, TOWN, at(5, 1)).case
    with pytest.raises(RectifyError, match="follows hazard v2; this engine runs hazard v1"):
        fire(engine("hazard"), moved, HAZARD_PATH[3])
    closed = run_steps(v2, moved, HAZARD_PATH[3:])
    assert (closed.state, [r.source for r in closed.history[-3:]]) == (
        "closed",
        ["rectifying", "fixed", "verified"],
    )
    verify_history(closed)
    for case in (moved, closed):
        assert replay([engine("hazard"), v2], case.history) == case
        assert replay([v2, engine("hazard")], case.history) == case


def test_a_migrated_history_does_not_replay_without_both_versions() -> None:
    v2 = renamed_v2()
    moved = migrate(v2, hazard_at("report_fixed"), STATE_MAP, TOWN, at(5, 1)).case
    err = replay_error(engine("hazard"), moved)
    assert (err.seq, err.reason) == (4, "no engine for version 2; given: 1")
    # Version 2 alone has no 'planned': the histories part where the plan was made.
    err = replay_error(v2, moved)
    assert (err.seq, err.reason) == (
        2,
        "the workflow leads to 'rectifying', the history to 'planned'",
    )


def test_migrate_refuses_what_plan_migration_refuses() -> None:
    v2 = renamed_v2()
    with pytest.raises(RectifyError, match="case 'H-1' cannot migrate: the case is closed"):
        migrate(v2, closed_hazard(), STATE_MAP, TOWN, at(6, 1))
    with pytest.raises(RectifyError, match="has no counterpart in version 2"):
        migrate(v2, hazard_at("report_fixed"), {}, TOWN, at(6, 1))
    moved = migrate(v2, hazard_at("report_fixed"), STATE_MAP, TOWN, at(6, 1)).case
    with pytest.raises(RectifyError, match="already on version 2"):
        migrate(v2, moved, STATE_MAP, TOWN, at(6, 2))


def test_migrate_refuses_a_time_before_the_last_event_or_without_timezone() -> None:
    v2 = renamed_v2()
    case = hazard_at("report_fixed")  # last event 20 April
    with pytest.raises(RectifyError, match="migration dated before its last event"):
        migrate(v2, case, STATE_MAP, TOWN, at(4, 19))
    with pytest.raises(NaiveDatetimeError):
        migrate(v2, case, STATE_MAP, TOWN, at(5, 1).replace(tzinfo=None))
