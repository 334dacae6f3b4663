"""The JSON codec: cases, records and effects come back equal, dates as dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import rectify
from rectify.stores._codec import (
    case_from_json,
    case_to_json,
    decode,
    effect_from_json,
    effect_to_json,
    encode,
    record_from_json,
    record_to_json,
)
from rectify.testing import FakeCalendar

AT = dt.datetime(2024, 3, 18, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def _assigned() -> rectify.Outcome:
    engine = rectify.Engine(rectify.load_workflow("workflows/hazard.yaml"), calendar=FakeCalendar())
    case = engine.open(
        "H-1", {"community": "正街", "floors": 6}, rectify.Actor("g", "grid_worker"), AT
    ).case
    order = {"responsible_party": "物业", "measures": "补齐", "due": dt.date(2024, 4, 1)}
    return engine.fire(case, "assign", rectify.Actor("c", "community"), AT, payload=order)


def test_a_case_and_its_records_round_trip_through_json_text() -> None:
    case = _assigned().case
    records = tuple(record_from_json(decode(encode(record_to_json(r)))) for r in case.history)  # type: ignore[arg-type]
    again = case_from_json(decode(encode(case_to_json(case))), records)  # type: ignore[arg-type]
    assert again == case
    rectify.engine.verify_history(again)


def test_every_effect_round_trips_with_its_kind() -> None:
    for effect in _assigned().effects:
        assert effect_from_json(decode(encode(effect_to_json(effect)))) == effect  # type: ignore[arg-type]


def test_a_date_and_the_text_of_a_date_stay_apart() -> None:
    value = {"date": dt.date(2024, 6, 30), "text": "2024-06-30", "when": AT}
    assert decode(encode(value)) == value
