"""Look-back (回头看): sample the closed cases, look again, and reopen what relapsed.

Every fire-lane, exit and e-bike case and every case a grid worker closed alone is looked at
again, plus at least a fifth of the rest in each community, drawn with a seed so the sample
can be reproduced. A relapse is never a reopened case: it is a new case linked to the old
one (``recurrence_of``), and the recurrence count grows with each relapse.

Run: python examples/lookback.py
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import rectify
from rectify.engine import ALWAYS_SAMPLED, sample_lookback
from rectify.stores import MemoryStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
ISSUER = rectify.documents.Issuer("虎峰镇消防安全委员会办公室", code="虎峰镇消安")
GRID = rectify.Actor("网格员-王", "grid_worker")
COMMUNITY = rectify.Actor("社区-李", "community")
PROPERTY = rectify.Actor("物业-张", "property")

# (case id, community, estate, category, severity, description)
HAZARDS = [
    ("HZ-001", "正街社区", "桂花园小区", "FAC.EXT", "general_short", "2单元灭火器过期"),
    ("HZ-002", "正街社区", "桂花园小区", "FAC.HOSE", "general_short", "3栋消火栓箱水带缺失"),
    ("HZ-003", "正街社区", "桂花园小区", "FAC.LIGHT", "general", "1栋应急照明损坏"),
    ("HZ-004", "正街社区", "供销社宿舍", "ELEC.WIRE", "general_short", "楼道私拉乱接电线"),
    ("HZ-005", "正街社区", "供销社宿舍", "FAC.EXT", "general_short", "4单元灭火器缺失"),
    ("HZ-006", "巴岳社区", "巴岳小区", "FAC.HOSE", "general_short", "5栋消火栓箱水枪缺失"),
    ("HZ-007", "巴岳社区", "巴岳小区", "FAC.LIGHT", "general", "疏散指示标志损坏"),
    ("HZ-008", "巴岳社区", "巴岳小区", "ELEC.WIRE", "general_short", "地下室电线老化"),
    ("IM-001", "正街社区", "桂花园小区", "EBIKE.CHARGE", "immediate", "2栋飞线充电"),
    ("IM-002", "巴岳社区", "巴岳小区", "PAS.LANE", "immediate", "消防车通道停放车辆"),
]


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """Return ``day`` at ``hour`` in Shanghai."""
    return dt.datetime.combine(day, dt.time(hour), SHANGHAI)


def photo(kind: str, case_id: str) -> rectify.Evidence:
    """Return a reference to a photo or record the host keeps."""
    return rectify.Evidence.of(kind, f"{case_id}-{kind}.jpg", f"{case_id}/{kind}".encode())


def correct_on_the_spot(ledger: rectify.Ledger, case_id: str, day: dt.date) -> None:
    """Correct an on-the-spot case with photos and close it, the grid worker alone."""
    given = [photo("photo_before", case_id), photo("photo_after", case_id)]
    ledger.fire(case_id, "correct_on_spot", GRID, at=at(day), evidence=given)
    ledger.fire(case_id, "close", GRID, at=at(day + dt.timedelta(days=1)))


def rectify_and_close(ledger: rectify.Ledger, case_id: str, day: dt.date) -> None:
    """Walk a hazard case the standard way: assign, plan, fix, verify, close."""
    due = {"due": day + dt.timedelta(days=20)}
    order = {"responsible_party": "物业服务企业", "measures": "限期整改", **due}
    ledger.fire(case_id, "assign", COMMUNITY, at=at(day), payload=order)
    plan = [photo("plan_document", case_id)]
    payload = {"measures": "整改", **due}
    ledger.fire(case_id, "plan", PROPERTY, at=at(day, 15), payload=payload, evidence=plan)
    ledger.fire(
        case_id,
        "report_fixed",
        PROPERTY,
        at=at(day + dt.timedelta(days=10)),
        payload={"summary": "已整改"},
        evidence=[photo("photo_after", case_id)],
    )
    record = [photo("inspection_record", case_id)]
    ledger.fire(case_id, "verify", COMMUNITY, at=at(day + dt.timedelta(days=12)), evidence=record)
    ledger.fire(case_id, "close", COMMUNITY, at=at(day + dt.timedelta(days=13)))


def main() -> None:
    """Close the cases, sample them, find a relapse twice, and print the look-back report."""
    ledger = rectify.Ledger.with_workflows(MemoryStore(), campaign=rectify.calendar.load_campaign())
    survey = dt.date(2024, 4, 8)
    for case_id, community, estate, category, severity, description in HAZARDS:
        data = {
            "community": community,
            "community_name": estate,
            "category": category,
            "severity": severity,
            "description": description,
        }
        workflow = "immediate" if case_id.startswith("IM") else "hazard"
        ledger.open(case_id, workflow, data, GRID, at=at(survey, 9))
        if workflow == "immediate":
            correct_on_the_spot(ledger, case_id, survey)
        else:
            rectify_and_close(ledger, case_id, survey + dt.timedelta(days=1))

    sample = sample_lookback(ledger.cases(), seed=2024, rectified_states=("closed",))
    print(f"look-back sample: {len(sample)} of {sum(1 for _ in ledger.cases())} closed cases")
    for case in sample:
        category = str(case.data["category"])
        why = "always (category)" if category.startswith(ALWAYS_SAMPLED) else "drawn"
        print(f"  {case.id} {case.data['community']} {category}: {why}")

    # On Nov 15 the grid worker finds the flying-wire charging again: a new, linked case.
    lookback_day = dt.date(2024, 11, 15)
    relapsed = next(c for c in sample if c.data["category"] == "EBIKE.CHARGE")
    again = ledger.open(
        f"{relapsed.id}-R1",
        relapsed.workflow,
        dict(relapsed.data),
        GRID,
        at=at(lookback_day, 9),
        recurrence_of=relapsed.id,
    ).case
    print(f"{again.id}: recurrence of {again.recurrence_of}, count {again.recurrence_count}")
    try:  # only a closed case can recur; an open one is still being worked
        ledger.open("IM-001-X", "immediate", {}, GRID, at=at(lookback_day), recurrence_of=again.id)
    except rectify.RectifyError as exc:
        print("refused:", exc)
    correct_on_the_spot(ledger, again.id, lookback_day)
    third = ledger.open(
        f"{relapsed.id}-R2",
        relapsed.workflow,
        dict(relapsed.data),
        GRID,
        at=at(dt.date(2024, 12, 10), 9),
        recurrence_of=again.id,
    ).case
    print(f"{third.id}: recurrence of {third.recurrence_of}, count {third.recurrence_count}")

    results = [
        rectify.documents.LookbackResult(
            case, passed=False, note="再次发现飞线充电", new_case=again.id
        )
        if case.id == relapsed.id
        else rectify.documents.LookbackResult(case, passed=True, note="整改效果保持良好")
        for case in sample
    ]
    context = rectify.documents.lookback_context(
        results,
        as_of=lookback_day,
        issuer=ISSUER,
        sequence=1,
        categories=rectify.load_categories(),
    )
    report = rectify.documents.Notices(ISSUER).render("lookback_report", context, fmt="text")
    print()
    print(report.body.strip())


if __name__ == "__main__":
    main()
