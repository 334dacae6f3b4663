"""A host's own workflow with its own guard: building a central e-bike charging shed.

Hazards of category EBIKE.INFRA (no central e-bike parking and charging) are fixed by a small
construction project, which the town runs with its own states. Acceptance is guarded by a
rule of the town's own (enough charging ports for the e-bikes registered in the estate), a
plain function registered by name and bound with ``rectify.Engine(spec, guards=...)``.

Run: python examples/custom_workflow.py
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import rectify

SHANGHAI = ZoneInfo("Asia/Shanghai")

WORKFLOW = """\
workflow: ebike_charging
version: 1
title: 电动自行车集中充电设施建设
title_en: Central e-bike parking and charging
applies_to: EBIKE.INFRA
roles: {community: 社区, property: 物业服务企业, town_office: 镇消安办, fire_station: 消防救援站}
evidence: {site_plan: 选址方案, photo_after: 建成照片, acceptance_record: 验收记录}
initial: proposed
states:
  proposed:    {title: 已立项, deadline: {working_days: 10}}
  approved:    {title: 选址已批准, deadline: {calendar_days: 30}}
  building:    {title: 建设中, deadline: {field: finish_by}}
  inspecting:  {title: 待验收, deadline: {working_days: 5}}
  in_service:  {title: 已投入使用, final: true, outcome: rectified}
  withdrawn:   {title: 已撤销, final: true, outcome: dismissed}
events:
  approve_site:
    title: 批准选址
    from: proposed
    to: approved
    roles: [town_office]
    require: {site: str}
    evidence: [site_plan]
  start:
    title: 开工
    from: approved
    to: building
    roles: [property, community]
    require: {finish_by: date}
  complete:
    title: 报告建成
    from: building
    to: inspecting
    roles: [property]
    require: {ports: int}
    evidence: [photo_after]
  accept:
    title: 验收合格
    from: inspecting
    to: in_service
    roles: [fire_station, town_office]
    guards: [enough_ports]
    evidence: [acceptance_record]
    not_same_actor_as: [complete]
  send_back:
    title: 验收不合格
    from: inspecting
    to: building
    roles: [fire_station, town_office]
    require: {findings: text}
    not_same_actor_as: [complete]
  withdraw:
    title: 撤销
    from: [proposed, approved]
    to: withdrawn
    roles: [town_office]
    reason: true
"""

#: The town's rule (its own number, not a national one): a port for every five e-bikes.
EBIKES_PER_PORT = 5


def enough_ports(ctx: rectify.engine.GuardContext) -> str | None:
    """Let acceptance through only if the shed has a port for every five e-bikes."""
    ebikes, ports = ctx.case.data.get("ebikes"), ctx.case.data.get("ports")
    if not isinstance(ebikes, int) or not isinstance(ports, int):
        return "the case must record the e-bikes registered and the ports built"
    needed = math.ceil(ebikes / EBIKES_PER_PORT)
    if ports < needed:
        return f"{ebikes} e-bikes need at least {needed} charging ports; {ports} were built"
    return None


def evidence(kind: str, name: str) -> rectify.Evidence:
    """Return a reference to a document the host keeps (only its hash goes into history)."""
    return rectify.Evidence.of(kind, name, name.encode())


def main() -> None:
    """Check the workflow, then run one project through it, refused once by the guard."""
    catalog = rectify.definitions.Catalog(guards=frozenset({"enough_ports"}))
    problems = rectify.validate_workflow(WORKFLOW, catalog=catalog)
    print(f"validate: {len(problems)} problems")
    spec = rectify.load_workflow(WORKFLOW, catalog=catalog)
    engine = rectify.Engine(
        spec, guards={"enough_ports": enough_ports}, calendar=rectify.OfficialCalendar()
    )
    community = rectify.Actor("巴岳社区-周", "community")
    office = rectify.Actor("镇消安办-陈", "town_office")
    builder = rectify.Actor("安居物业-刘", "property")
    station = rectify.Actor("铜梁消防救援站-何", "fire_station")
    day = dt.datetime(2024, 4, 8, 9, 0, tzinfo=SHANGHAI)
    data = {"community": "巴岳社区", "community_name": "巴岳小区", "ebikes": 112}
    case = engine.open("EB-2024-001", data, community, day).case
    steps: list[tuple[str, rectify.Actor, dict[str, object], list[rectify.Evidence], int]] = [
        ("approve_site", office, {"site": "小区北门空地"}, [evidence("site_plan", "选址.pdf")], 3),
        ("start", builder, {"finish_by": dt.date(2024, 6, 20)}, [], 10),
        ("complete", builder, {"ports": 18}, [evidence("photo_after", "车棚.jpg")], 50),
    ]
    for event, actor, payload, given, days in steps:
        case = engine.fire(
            case, event, actor, day + dt.timedelta(days=days), payload=payload, evidence=given
        ).case
        print(f"{event}: {case.state}, deadline {case.deadline}")
    at = day + dt.timedelta(days=53)
    try:
        engine.fire(
            case, "accept", station, at, evidence=[evidence("acceptance_record", "验收.pdf")]
        )
    except rectify.exceptions.GuardRefusedError as exc:
        print(f"accept refused by {exc.guard}: {exc.reason}")
    case = engine.fire(
        case, "send_back", station, at, payload={"findings": "充电端口数量不足，需增设"}
    ).case
    case = engine.fire(
        case,
        "complete",
        builder,
        at + dt.timedelta(days=6),
        payload={"ports": 24},
        evidence=[evidence("photo_after", "车棚-增设.jpg")],
    ).case
    case = engine.fire(
        case,
        "accept",
        station,
        at + dt.timedelta(days=8),
        evidence=[evidence("acceptance_record", "复验.pdf")],
    ).case
    print(f"accept: {case.state} (final: {case.final}), {case.data['ports']} ports")
    for record in case.history:
        when = f"{record.at:%Y-%m-%d}"
        print(f"  #{record.seq} {when} {record.event} → {record.target} by {record.actor}")
    rectify.engine.verify_history(case)
    print("history verifies")


if __name__ == "__main__":
    main()
