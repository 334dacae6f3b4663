"""One notice per cause per day: a notice a case's records already queued that day is not
queued again, whether the repeat comes from an event or from a sweep's escalation level.

The engine is the shipped hazard workflow on the official calendar with the 2024 campaign's
phases (as the ledger and the demo build it); the moves and helpers are those of
``test_escalation``. In the demo, a verification failed in the afternoon (its event notice is
an ``overdue_warning``) and the evening sweep's level 1 (also an ``overdue_warning``, to the
responsible party and the community) sent the party two warnings that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

import rectify
from rectify import Engine
from rectify.calendar import OfficialCalendar, load_campaign
from rectify.engine import Effect, Escalated, NoticeDue, Outcome, change_severity, replay
from rectify.engine._engine import notices_queued_on, unrepeated
from tests.conftest import WORKFLOWS
from tests.test_escalation import COMMUNITY, TOWN, at, escalations, hazard_moves

D = dt.date
HAZARD = Engine(
    rectify.load_workflow(WORKFLOWS / "hazard.yaml"),
    calendar=OfficialCalendar(),
    phases=load_campaign(WORKFLOWS / "campaign-2024.yaml").phase_ends,
)
LEVEL_1_TO = ("responsible_party", "community")


class Day:
    """A hazard case driven through the engine, keeping every effect with its day."""

    def __init__(
        self,
        due: dt.date,
        engine: Engine = HAZARD,
        data: dict[str, object] | None = None,
        case_id: str = "HZ-1",
    ) -> None:
        self.engine = engine
        self.due = due
        self.case = engine.open(case_id, data or {}, COMMUNITY, at(5, 6, 9)).case
        self.effects: list[tuple[dt.date, Effect]] = []
        self.move("assign", at(5, 6, 10))
        self.move("plan", at(5, 6, 11))

    def _keep(self, outcome: Outcome, day: dt.date) -> Outcome:
        self.case = outcome.case
        self.effects.extend((day, effect) for effect in outcome.effects)
        return outcome

    def move(self, event: str, when: dt.datetime) -> Outcome:
        name, actor, payload, evidence, reason = next(
            m for m in hazard_moves(self.case.state, self.due) if m[0] == event
        )
        if event == "fail_verification":
            actor = COMMUNITY  # not the party who reported the fix
        outcome = self.engine.fire(
            self.case, name, actor, when, payload=payload, evidence=evidence, reason=reason
        )
        return self._keep(outcome, when.date())

    def sweep(self, when: dt.datetime) -> tuple[Effect, ...]:
        result = rectify.engine.sweep(self.engine, [self.case], when)
        if result.cases:
            (self.case,) = result.cases
        self.effects.extend((when.date(), effect) for effect in result.effects)
        return result.effects

    def notices(self, name: str, day: dt.date | None = None) -> list[NoticeDue]:
        return [
            e
            for d, e in self.effects
            if isinstance(e, NoticeDue) and e.notice == name and day in (None, d)
        ]

    def replays(self) -> bool:
        return replay(self.engine, self.case.history) == self.case


def notices(effects: Sequence[Effect]) -> list[str]:
    return [e.notice for e in effects if isinstance(e, NoticeDue)]


# -- (a) failed in the afternoon, swept in the evening: one warning ---------------------------


def test_a_failed_verification_and_the_evening_sweep_send_one_overdue_warning() -> None:
    case = Day(due=D(2024, 5, 10))
    for day in (6, 7):  # daily sweeps: the reminder comes due on the 7th
        case.sweep(at(5, day, 18))
    case.move("report_fixed", at(5, 8, 10))
    case.sweep(at(5, 8, 18))  # in `fixed` the rectification deadline does not count
    failed = case.move("fail_verification", at(5, 13, 15))
    assert notices(failed.effects) == ["overdue_warning"]
    assert (case.case.state, case.case.deadline) == ("planned", D(2024, 5, 10))
    evening = case.sweep(at(5, 13, 18))
    # Level 1 is recorded (dated at the failure, the case's last record) with its Escalated
    # effect; only its repeated notice is dropped.
    assert escalations(case.case)[-1] == (1, at(5, 13, 15))
    assert evening == (Escalated("HZ-1", 1, case.case.seq),)
    assert case.case.escalation == 1
    assert case.notices("overdue_warning", D(2024, 5, 13)) == [failed.effects[-1]]
    assert case.replays()


def test_one_late_sweep_still_sends_the_reminder_but_not_the_repeated_warning() -> None:
    case = Day(due=D(2024, 5, 10))
    case.move("report_fixed", at(5, 6, 12))
    case.move("fail_verification", at(5, 13, 15))
    evening = case.sweep(at(5, 13, 18))
    assert escalations(case.case) == [(0, at(5, 13, 15)), (1, at(5, 13, 15))]
    assert [e.level for e in evening if isinstance(e, Escalated)] == [0, 1]
    assert notices(evening) == ["reminder"]
    assert len(case.notices("overdue_warning", D(2024, 5, 13))) == 1
    assert case.replays()


# -- (b) swept in the morning, failed in the afternoon: one warning ---------------------------


def test_a_morning_warning_is_not_repeated_by_an_afternoon_failed_verification() -> None:
    case = Day(due=D(2024, 5, 12))
    morning = case.sweep(at(5, 13, 8))  # level 1 came due at midnight
    assert escalations(case.case) == [(0, at(5, 9, 0)), (1, at(5, 13, 0))]
    assert notices(morning) == ["reminder", "overdue_warning"]
    case.move("report_fixed", at(5, 13, 10))
    failed = case.move("fail_verification", at(5, 13, 15))
    # The event is fired (its record is there, the case is back in `planned`); only its
    # repeated notice is dropped.
    assert failed.record.event == "fail_verification"
    assert failed.case.state == "planned"
    assert notices(failed.effects) == []
    assert case.sweep(at(5, 13, 18)) == ()  # level 1 is reached: nothing more that evening
    warnings = case.notices("overdue_warning", D(2024, 5, 13))
    assert warnings == [
        NoticeDue("HZ-1", "overdue_warning", 4, "@escalate", to=LEVEL_1_TO, level=1)
    ]
    assert case.replays()


# -- (c) on different days: two warnings ------------------------------------------------------


def test_a_failed_verification_and_a_warning_on_the_next_day_are_two_notices() -> None:
    case = Day(due=D(2024, 5, 13))
    case.move("report_fixed", at(5, 8, 10))
    failed = case.move("fail_verification", at(5, 13, 15))  # due today: not yet overdue
    assert notices(failed.effects) == ["overdue_warning"]
    assert notices(case.sweep(at(5, 13, 18))) == ["reminder"]
    evening = case.sweep(at(5, 14, 18))
    assert escalations(case.case) == [(0, at(5, 13, 15)), (1, at(5, 14, 0))]
    assert notices(evening) == ["overdue_warning"]
    assert len(case.notices("overdue_warning")) == 2
    assert [len(case.notices("overdue_warning", D(2024, 5, d))) for d in (13, 14)] == [1, 1]
    assert case.replays()


def test_a_warning_swept_on_one_day_does_not_silence_a_failure_on_another() -> None:
    case = Day(due=D(2024, 5, 10))
    assert notices(case.sweep(at(5, 11, 8))) == ["reminder", "overdue_warning"]
    case.move("report_fixed", at(5, 11, 10))
    failed = case.move("fail_verification", at(5, 13, 15))
    assert notices(failed.effects) == ["overdue_warning"]
    assert len(case.notices("overdue_warning")) == 2
    assert case.replays()


# -- (d) different notices the same day: both ------------------------------------------------


def test_a_reminder_and_a_warning_the_same_day_are_both_sent() -> None:
    case = Day(due=D(2024, 5, 15))
    morning = case.sweep(at(5, 12, 8))  # three days before the deadline
    assert escalations(case.case) == [(0, at(5, 12, 0))]
    assert notices(morning) == ["reminder"]
    case.move("report_fixed", at(5, 12, 10))
    failed = case.move("fail_verification", at(5, 12, 15))
    assert notices(failed.effects) == ["overdue_warning"]
    day = D(2024, 5, 12)
    assert [e.notice for d, e in case.effects if isinstance(e, NoticeDue) and d == day] == [
        "reminder",
        "overdue_warning",
    ]
    assert case.replays()


def test_a_catch_up_sweep_sends_each_level_s_own_notice_on_one_day() -> None:
    case = Day(due=D(2024, 4, 20))  # long past: every level is due at the last record
    result = case.sweep(at(6, 20, 18))
    assert [lv for lv, _ in escalations(case.case)] == [0, 1, 2, 3]
    assert notices(result) == [
        "reminder",
        "overdue_warning",
        "supervision_order",
        "escalation_report",
    ]
    assert case.sweep(at(6, 20, 19)) == ()  # and sweeping again sends nothing more
    assert case.replays()


def test_two_cases_the_same_day_each_get_their_notice() -> None:
    one, two = Day(due=D(2024, 5, 10)), Day(due=D(2024, 5, 10), case_id="HZ-2")
    one.move("report_fixed", at(5, 6, 12))
    one.move("fail_verification", at(5, 13, 15))
    result = rectify.engine.sweep(HAZARD, [one.case, two.case], at(5, 13, 18))
    warned = [e.case_id for e in result.effects if isinstance(e, NoticeDue)]
    assert warned.count("HZ-1") == 1  # its reminder; the warning went with the failure
    assert [
        e.notice for e in result.effects if isinstance(e, NoticeDue) and e.case_id == "HZ-2"
    ] == [
        "reminder",
        "overdue_warning",
    ]


# -- (e) replay: effects are not part of the case -----------------------------------------------


@pytest.mark.parametrize("swept_first", [False, True])
def test_the_stored_history_replays_to_the_same_case(swept_first: bool) -> None:
    case = Day(due=D(2024, 5, 12))
    if swept_first:
        case.sweep(at(5, 13, 8))
    case.move("report_fixed", at(5, 13, 10))
    case.move("fail_verification", at(5, 13, 15))
    case.sweep(at(5, 13, 18))
    assert len(case.notices("overdue_warning")) == 1
    assert case.replays()
    rectify.engine.verify_history(case.case)


# -- the rule itself -------------------------------------------------------------------------


def test_notices_queued_on_a_day_are_read_from_that_day_s_records() -> None:
    case = Day(due=D(2024, 5, 12))
    case.sweep(at(5, 13, 8))
    case.move("report_fixed", at(5, 13, 10))
    case.move("fail_verification", at(5, 13, 15))
    assert notices_queued_on(HAZARD, case.case, D(2024, 5, 13)) == [
        ("overdue_warning", frozenset(LEVEL_1_TO))  # the failure's repeat is not counted
    ]
    assert notices_queued_on(HAZARD, case.case, D(2024, 5, 6)) == []  # not the last day's
    assert notices_queued_on(HAZARD, case.case, D(2024, 5, 14)) == []


def due(notice: str, *to: str) -> NoticeDue:
    return NoticeDue("HZ-1", notice, 1, "e", to=to)


@pytest.mark.parametrize(
    ("earlier", "later", "sent"),
    [
        (due("overdue_warning"), due("overdue_warning", "community"), False),
        (due("overdue_warning", "community"), due("overdue_warning"), False),
        (due("overdue_warning", "a", "b"), due("overdue_warning", "b", "a"), False),
        (due("overdue_warning", "a", "b"), due("overdue_warning", "a"), True),
        (due("overdue_warning", "a"), due("reminder", "a"), True),
        (due("reminder"), due("overdue_warning"), True),
    ],
)
def test_a_notice_repeats_one_of_its_kind_to_the_same_or_default_recipients(
    earlier: NoticeDue, later: NoticeDue, sent: bool
) -> None:
    queued = [(earlier.notice, frozenset(earlier.to))]
    assert list(unrepeated(queued, [later])) == ([later] if sent else [])


def test_a_dropped_repeat_does_not_widen_what_counts_as_queued() -> None:
    # The warning to the default recipients repeated the one to the community, so it was not
    # queued; the later one to the town office repeats neither that nor anything queued.
    queued: list[tuple[str, frozenset[str]]] = []
    notes = [
        due("overdue_warning", "community"),
        due("overdue_warning"),
        due("overdue_warning", "town_office"),
    ]
    assert list(unrepeated(queued, notes)) == [notes[0], notes[2]]


# -- a ladder chosen by severity is the one of the severity then -----------------------------

LADDERS = """escalation:
  default: standard
  by_severity:
    serious: strict
  ladders:
    standard:
      states: [planned]
      levels:
        - level: 1
          title: 逾期督促
          when: {after_deadline: 1}
          notice: overdue_warning
          notify: [responsible_party, community]
    strict:
      states: [planned]
      levels:
        - level: 1
          title: 逾期督促
          when: {after_deadline: 1}
          notice: overdue_warning
          notify: [town_office]
        - level: 2
          title: 再次督促
          when: {after_deadline: 1}
          notice: overdue_warning
          notify: [responsible_party, community]

budget:"""


def test_an_escalation_s_notice_is_read_from_the_ladder_of_the_severity_it_was_recorded_at() -> (
    None
):
    text = (WORKFLOWS / "hazard.yaml").read_text(encoding="utf-8")
    head, _, rest = text.partition("escalation:\n")
    _, _, tail = rest.partition("budget:")
    engine = Engine(rectify.load_workflow(head + LADDERS + tail), calendar=OfficialCalendar())
    case = Day(due=D(2024, 5, 12), engine=engine, data={"severity": "general"})
    assert notices(case.sweep(at(5, 13, 8))) == ["overdue_warning"]  # standard level 1
    changed = change_severity(engine, case.case, "serious", TOWN, at(5, 13, 9), reason="升级")
    case.case = changed.case
    # The strict ladder's level 2 warns the party and the community again: already done.
    later = case.sweep(at(5, 13, 10))
    assert escalations(case.case)[-1] == (2, at(5, 13, 9))
    assert later == (Escalated("HZ-1", 2, case.case.seq),)
    assert notices_queued_on(engine, case.case, D(2024, 5, 13)) == [
        ("overdue_warning", frozenset(LEVEL_1_TO))
    ]
    assert case.replays()
