"""A host system's own workflow: load it, see every problem at once, then draw it.

Run: python examples/check_host_workflow.py
"""

from __future__ import annotations

import rectify

# A town's variant of the standard path: a grid worker reports, the community assigns,
# the property company fixes, and the community re-inspects. The first draft has mistakes.
DRAFT = """\
workflow: patrol_finding
version: 1
title: 巡查发现问题
roles: {grid_worker: 网格员, community: 社区, property: 物业服务企业}
initial: reported
evidence: {photo_after: 整改后照片}
states:
  reported: {title: 已上报, deadline: {working_days: 2}}
  assigned: {title: 已交办, deadline: {calendar_days: 7}}
  fixed:    {title: 待复查, deadline: {working_days: 3}}
  closed:   {title: 已销号, final: true, outcome: rectified}
events:
  assign: {from: reported, to: assigned, roles: [community], require: {due: date}}
  report_fixed: {from: assigned, to: fixd, roles: [property], evidence: [photo_after]}
  verify: {from: fixed, to: closed, roles: [comunity], not_same_actor_as: [report_fixed]}
"""


def main() -> None:
    """Show the draft's diagnostics, fix them, and print the diagram of the fixed workflow."""
    print("Draft:")
    for diagnostic in rectify.validate_workflow(DRAFT):
        print("  " + diagnostic.format())
    fixed = DRAFT.replace("to: fixd", "to: fixed").replace("[comunity]", "[community]")
    spec = rectify.load_workflow(fixed)
    print(
        f"Fixed: {spec.id} v{spec.version}, {len(spec.states)} states, "
        f"{len(spec.events)} events, final: {', '.join(spec.final_states)}"
    )
    print(rectify.definitions.draw_workflow(spec, "mermaid"))


if __name__ == "__main__":
    main()
