"""The hash-chained history: real histories verify; every kind of tampering is caught."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from rectify import Case, Evidence, Record
from rectify.engine import verify_history
from rectify.engine._history import seal
from rectify.exceptions import HistoryError
from tests.test_engine import (
    COMMUNITY,
    HAZARD_PATH,
    MAJOR_PATH,
    ON_THE_SPOT_PATH,
    REFUSAL_PATH,
    at,
    closed_hazard,
    engine,
    open_hazard,
    open_immediate,
    open_major,
    run_steps,
)


def history_error(case: Case) -> HistoryError:
    with pytest.raises(HistoryError) as caught:
        verify_history(case)
    assert caught.value.case_id == case.id
    return caught.value


def with_history(case: Case, records: list[Record]) -> Case:
    return attrs.evolve(case, history=tuple(records))


@pytest.fixture
def closed() -> Case:
    """A closed hazard case: seven records, @open to close."""
    case = closed_hazard()
    assert [r.seq for r in case.history] == list(range(7))
    return case


# --- real histories ---------------------------------------------------------------------


def test_every_shipped_lifecycle_verifies_at_every_step() -> None:
    lifecycles = [
        ("hazard", open_hazard(), HAZARD_PATH),
        ("immediate", open_immediate(), ON_THE_SPOT_PATH),
        ("immediate", open_immediate("I-2"), REFUSAL_PATH),
        ("major", open_major(), MAJOR_PATH),
    ]
    for workflow, case, steps in lifecycles:
        verify_history(case)
        for n in range(len(steps)):
            verify_history(run_steps(engine(workflow), case, steps[: n + 1]))


def test_merged_cases_verify() -> None:
    into = open_hazard("H-1")
    duplicate = engine("hazard").open("H-9", {}, COMMUNITY, at(4, 2, 12)).case
    merged, joined = engine("hazard").merge(duplicate, into, COMMUNITY, at(4, 3), reason="same")
    verify_history(merged.case)
    verify_history(joined.case)


def test_each_record_links_to_the_digest_of_the_one_before(closed: Case) -> None:
    records = closed.history
    assert records[0].prev == ""
    assert [r.prev for r in records[1:]] == [r.digest for r in records[:-1]]
    assert len({r.digest for r in records}) == len(records)


def test_a_digest_covers_every_field_of_a_record(closed: Case) -> None:
    record = closed.history[2]  # plan: payload with a date, evidence
    changes: dict[str, Any] = {
        "event": "extend",
        "source": "discovered",
        "target": "fixed",
        "actor": "someone-else",
        "role": "town_office",
        "at": at(4, 8, 11),
        "payload": {**record.payload, "measures": "nothing"},
        "evidence": (Evidence("plan_document", "plan.pdf", "0" * 64),),
        "reason": "because",
    }
    for field, value in changes.items():
        edited = attrs.evolve(record, **{field: value})
        assert seal(edited, closed.history[1]).digest != record.digest, field


def test_a_date_and_the_text_of_that_date_hash_differently(closed: Case) -> None:
    record = closed.history[2]
    as_text = attrs.evolve(record, payload={**record.payload, "due": "2024-04-26"})
    assert seal(as_text, closed.history[1]).digest != record.digest


# --- tampering --------------------------------------------------------------------------


def test_an_edited_payload_is_caught_where_it_was_edited(closed: Case) -> None:
    records = list(closed.history)
    records[1] = attrs.evolve(records[1], payload={**records[1].payload, "due": "2024-12-31"})
    err = history_error(with_history(closed, records))
    assert (err.seq, err.reason) == (1, "content does not match its digest (edited)")
    assert str(err) == (
        "case 'H-1': history does not verify at record 1: content does not match its digest "
        "(edited)"
    )


@pytest.mark.parametrize(
    ("seq", "field", "value"),
    [
        (4, "actor", "c-2"),  # report_fixed, now by the verifier
        (4, "at", at(5, 7)),
        (4, "evidence", ()),
        (3, "reason", None),  # extend, no longer saying why
        (6, "target", "verified"),
    ],
)
def test_an_edited_field_is_caught_where_it_was_edited(
    closed: Case, seq: int, field: str, value: Any
) -> None:
    records = list(closed.history)
    records[seq] = attrs.evolve(records[seq], **{field: value})
    err = history_error(attrs.evolve(closed, history=tuple(records), state=records[-1].target))
    assert (err.seq, err.reason) == (seq, "content does not match its digest (edited)")


def test_a_record_edited_and_resealed_breaks_the_link_of_the_next(closed: Case) -> None:
    records = list(closed.history)
    forged = attrs.evolve(records[3], payload={"due": "2024-12-31"})
    records[3] = seal(forged, records[2])  # a forger who can hash, but not rewrite the rest
    err = history_error(with_history(closed, records))
    assert (err.seq, err.reason) == (4, "does not link to the record before it")


def test_a_deleted_record_is_caught_at_the_gap(closed: Case) -> None:
    records = list(closed.history)
    del records[4]  # report_fixed
    err = history_error(with_history(closed, records))
    assert (err.seq, err.reason) == (
        5,
        "expected sequence number 4 (deleted, inserted or reordered records)",
    )


def test_a_deleted_first_record_is_caught(closed: Case) -> None:
    err = history_error(with_history(closed, list(closed.history[1:])))
    assert err.seq == 1
    assert err.reason.startswith("expected sequence number 0")


def test_an_inserted_record_is_caught(closed: Case) -> None:
    records = list(closed.history)
    extra = Record(3, "extend", "planned", "planned", "t-1", "town_office", at(4, 21))
    records.insert(3, seal(extra, records[2]))  # well formed and linked to the one before
    err = history_error(with_history(closed, records))
    assert (err.seq, err.reason) == (
        3,
        "expected sequence number 4 (deleted, inserted or reordered records)",
    )


def test_a_copied_record_inserted_again_is_caught(closed: Case) -> None:
    records = list(closed.history)
    records.insert(3, records[2])
    err = history_error(with_history(closed, records))
    assert err.seq == 2
    assert err.reason.startswith("expected sequence number 3")


def test_two_swapped_records_are_caught(closed: Case) -> None:
    records = list(closed.history)
    records[2], records[3] = records[3], records[2]
    err = history_error(with_history(closed, records))
    assert (err.seq, err.reason) == (
        3,
        "expected sequence number 2 (deleted, inserted or reordered records)",
    )


def test_swapped_records_renumbered_are_caught_by_the_links(closed: Case) -> None:
    records = list(closed.history)
    records[2], records[3] = (
        attrs.evolve(records[3], seq=2),
        attrs.evolve(records[2], seq=3),
    )
    err = history_error(with_history(closed, records))
    assert (err.seq, err.reason) == (2, "does not link to the record before it")


def test_a_case_whose_state_is_not_where_its_history_ends_is_caught(closed: Case) -> None:
    err = history_error(attrs.evolve(closed, state="planned"))
    assert (err.seq, err.reason) == (
        6,
        "the case is in state 'planned' but its history ends in 'closed'",
    )


def test_a_history_cut_back_to_an_earlier_state_is_caught_by_the_state(closed: Case) -> None:
    err = history_error(with_history(closed, list(closed.history[:4])))
    assert err.seq == 3
    assert err.reason == "the case is in state 'closed' but its history ends in 'planned'"
