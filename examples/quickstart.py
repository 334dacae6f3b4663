"""The shortest embedding: a ledger on an in-memory store, one hazard assigned and swept.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import rectify
from rectify.stores import MemoryStore

SHANGHAI = ZoneInfo("Asia/Shanghai")


def main() -> None:
    """Open a hazard, assign it, show the outbox, sweep a month later, verify."""
    ledger = rectify.Ledger.with_workflows(MemoryStore(), campaign=rectify.calendar.load_campaign())
    at = dt.datetime(2024, 3, 18, 9, 30, tzinfo=SHANGHAI)
    grid = rectify.Actor("网格员-王", "grid_worker")
    office = rectify.Actor("社区-李", "community")
    hazard = {
        "community": "正街社区",
        "community_name": "桂花园小区",
        "category": "FAC.HOSE",
        "description": "3栋2单元消火栓箱内水带缺失",
        "severity": "general_short",
    }
    ledger.open("HZ-0001", "hazard", hazard, grid, at=at)
    order = {"responsible_party": "某物业", "measures": "补齐水带、水枪", "due": "2024-03-25"}
    outcome = ledger.fire("HZ-0001", "assign", office, at=at, payload=order)
    print("state:", outcome.case.state, "deadline:", outcome.case.deadline)
    for delivery in ledger.pending():  # the outbox: notices to send, deadlines to show
        print("effect", delivery.id, type(delivery.effect).__name__)
    later = dt.datetime(2024, 4, 30, tzinfo=SHANGHAI)
    plan = {"measures": "采购并安装水带", "due": "2024-04-20"}
    ledger.fire(
        "HZ-0001",
        "plan",
        rectify.Actor("物业-张", "property"),
        at=at,
        payload=plan,
        evidence=[rectify.Evidence.of("plan_document", "方案.pdf", b"...")],
    )
    report = ledger.sweep(later)  # ten days past the planned date: reminder, overdue, town
    print("escalated:", report.escalated, "level:", ledger.get("HZ-0001").escalation)
    print("history verifies:", ledger.verify().ok)


if __name__ == "__main__":
    main()
