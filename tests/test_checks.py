"""Static checks on the shipped workflows, and on small, targeted edits of their text.

Each edit replaces one exact snippet of a shipped file; the expected diagnostics are located
by searching the edited text, so the tests survive comments and reordering elsewhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rectify

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
Found = set[tuple[str, int, int]]

HAZARD = (WORKFLOWS / "hazard.yaml").read_text(encoding="utf-8")
IMMEDIATE = (WORKFLOWS / "immediate.yaml").read_text(encoding="utf-8")
MAJOR = (WORKFLOWS / "major.yaml").read_text(encoding="utf-8")

#: Every notice the shipped workflows name.
NOTICES = frozenset(
    {
        "escalation_report",
        "interview_notice",
        "overdue_warning",
        "rectification_slip",
        "reminder",
        "supervision_order",
    }
)


def edit(text: str, old: str, new: str) -> str:
    """Replace the one occurrence of ``old`` in ``text``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def at(text: str, snippet: str, marker: str) -> tuple[int, int]:
    """Return the 1-based line and column of ``marker`` inside the one ``snippet`` of ``text``."""
    assert text.count(snippet) == 1, f"{snippet!r} occurs {text.count(snippet)} times"
    offset = text.index(snippet) + snippet.index(marker)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def found(text: str, catalog: rectify.definitions.Catalog | None = None) -> Found:
    return {
        (d.code, d.location.line, d.location.column)
        for d in rectify.validate_workflow(text, catalog=catalog)
    }


def shipped_catalog() -> rectify.definitions.Catalog:
    table = rectify.load_categories(WORKFLOWS / "categories.yaml")
    return rectify.definitions.Catalog(
        guards=frozenset({"panel_quorum"}),
        notices=NOTICES,
        categories=table.codes,
        severities=table.severity_names,
    )


# -- the shipped workflows are clean ----------------------------------------------------


def test_shipped_folder_validates_with_no_diagnostic_at_all() -> None:
    report = rectify.validate_paths([WORKFLOWS])
    assert [d.format() for d in report.diagnostics] == []
    assert report.clean
    assert {Path(f).name for f in report.files} >= {
        "categories.yaml",
        "hazard.yaml",
        "immediate.yaml",
        "major.yaml",
    }


@pytest.mark.parametrize("name", ["hazard.yaml", "immediate.yaml", "major.yaml"])
def test_each_shipped_workflow_is_clean_against_the_full_catalog(name: str) -> None:
    assert rectify.validate_workflow(WORKFLOWS / name, catalog=shipped_catalog()) == []


@pytest.mark.parametrize("name", ["hazard.yaml", "immediate.yaml", "major.yaml"])
def test_each_shipped_workflow_loads_to_a_spec_named_after_its_file(name: str) -> None:
    spec = rectify.load_workflow(WORKFLOWS / name, catalog=shipped_catalog())
    assert spec.id == Path(name).stem


def test_shipped_catalog_names_exactly_the_notices_the_workflows_use() -> None:
    used: set[str] = set()
    for name in ("hazard.yaml", "immediate.yaml", "major.yaml"):
        spec = rectify.load_workflow(WORKFLOWS / name)
        used.update(e.notice for e in spec.events if e.notice)
        used.update(n for s in spec.states for n in s.notices)
        for ladder in spec.escalation.ladders if spec.escalation else ():
            used.update(level.notice for level in ladder.levels if level.notice)
    assert used == NOTICES


# -- graph shape -------------------------------------------------------------------------

VERIFY = """  verify:
    title: 复查合格
    title_en: Verify
    from: fixed
    to: verified
    roles: [community, town_office, fire_station]
    evidence: [inspection_record]
    not_same_actor_as: [report_fixed]
"""
FAIL_VERIFICATION = """  fail_verification:
    title: 复查不合格
    title_en: Fail verification
    from: fixed
    to: planned
    roles: [community, town_office, fire_station]
    require: {findings: text}
    evidence: [inspection_record]
    not_same_actor_as: [report_fixed]
    notice: overdue_warning
"""
BUDGET_PATH = "  path: [discovered, assigned, planned, fixed, verified, closed]"


def test_without_verify_fixed_still_finishes_but_verified_and_closed_are_unreachable() -> None:
    # A failed verification goes back to 'planned', whence a case can be referred as major,
    # so 'fixed' is no trap; but nothing enters 'verified' (nor 'closed', only reached from
    # it), and the budget's path walks fixed → verified.
    text = edit(HAZARD, VERIFY, "")
    assert found(text) == {
        ("unreachable-state", *at(text, "\n  verified:\n", "verified")),
        ("unreachable-state", *at(text, "\n  closed:\n", "closed")),
        ("budget-path", *at(text, BUDGET_PATH, "verified")),
    }


def test_without_any_event_out_of_fixed_fixed_is_a_trap_state() -> None:
    text = edit(edit(HAZARD, VERIFY, ""), FAIL_VERIFICATION, "")
    # The ladder counted fail_verification, so that reference dangles too.
    ladder_event = "          - {event: fail_verification, count: 2}"
    assert found(text) == {
        ("trap-state", *at(text, "\n  fixed:\n", "fixed")),
        ("unreachable-state", *at(text, "\n  verified:\n", "verified")),
        ("unreachable-state", *at(text, "\n  closed:\n", "closed")),
        ("budget-path", *at(text, BUDGET_PATH, "verified")),
        ("undeclared-event", *at(text, ladder_event, "fail_verification")),
    }


def test_close_from_fixed_leaves_verified_a_trap_and_breaks_the_budget_path() -> None:
    text = edit(HAZARD, "    from: verified\n    to: closed\n", "    from: fixed\n    to: closed\n")
    assert found(text) == {
        ("trap-state", *at(text, "\n  verified:\n", "verified")),
        ("budget-path", *at(text, BUDGET_PATH, "closed")),
    }


def test_an_event_out_of_a_final_state_is_reported_at_that_state() -> None:
    text = edit(
        HAZARD,
        "    from: discovered\n    to: assigned\n",
        "    from: [discovered, duplicate]\n    to: assigned\n",
    )
    assert found(text) == {("final-has-events", *at(text, "\n  duplicate:\n", "duplicate"))}


def test_two_unguarded_branches_of_one_event_from_one_state_are_ambiguous() -> None:
    old = "      - {from: planned, to: planned}\n"
    text = edit(HAZARD, old, old + "      - {from: planned, to: waiting}\n")
    assert found(text) == {
        ("ambiguous-event", *at(text, "      - {from: planned, to: waiting}", "planned"))
    }


def test_a_guard_on_one_branch_separates_the_two_branches() -> None:
    old = "      - {from: planned, to: planned}\n"
    new = old + "      - {from: planned, to: waiting, guards: [blocked]}\n"
    assert found(edit(HAZARD, old, new)) == set()


def test_a_wrong_target_of_a_many_source_event_is_reported_once_and_not_echoed() -> None:
    # refer_major has three sources, hence three transitions to the same undeclared state;
    # 'referred_major', which nothing enters any more, is not reported as unreachable.
    text = edit(HAZARD, "    to: referred_major\n", "    to: referred\n")
    diagnostics = rectify.validate_workflow(text)
    assert [(d.code, d.location.line, d.location.column) for d in diagnostics] == [
        ("undeclared-state", *at(text, "    to: referred\n", "referred"))
    ]


# -- deadlines and budget ----------------------------------------------------------------


@pytest.mark.parametrize(("limit", "over"), [(12, True), (13, False)])
def test_budget_is_exceeded_only_below_the_sum_of_working_days_on_its_path(
    limit: int, over: bool
) -> None:
    # discovered 3 + assigned 5 + planned (a field date: 0) + fixed 3 + verified 2 = 13.
    text = edit(HAZARD, "  max_working_days: 20", f"  max_working_days: {limit}")
    expected = {("budget-exceeded", *at(text, f"max_working_days: {limit}", str(limit)))}
    assert found(text) == (expected if over else set())


def test_a_state_without_deadline_or_reason_is_reported_at_its_name() -> None:
    text = edit(HAZARD, "    pauses_clock: true\n", "")
    text = edit(text, "    no_deadline: 等待供水、供电等单位或资金到位，期间整改时限暂停计算\n", "")
    assert found(text) == {("missing-deadline", *at(text, "\n  waiting:\n", "waiting"))}


def test_a_final_state_with_a_deadline_is_a_conflict_at_the_deadline() -> None:
    old = "    final: true\n    outcome: rectified\n"
    text = edit(HAZARD, old, old + "    deadline: {working_days: 1}\n")
    assert found(text) == {
        ("deadline-conflict", *at(text, "rectified\n    deadline: {working_days: 1}", "{"))
    }


def test_a_deadline_field_no_entering_event_carries_is_only_a_warning() -> None:
    old = "    title_en: Being rectified\n    deadline: {field: due}\n"
    text = edit(HAZARD, old, old.replace("due", "planned_on"))
    diagnostics = rectify.validate_workflow(text)
    assert [(d.code, d.is_error) for d in diagnostics] == [("unknown-field", False)]
    assert diagnostics[0].location.path == "states.planned.deadline.field"
    assert rectify.load_workflow(text).state("planned").deadline == rectify.definitions.FieldDate(
        "planned_on"
    )


# -- roles and duties --------------------------------------------------------------------


def test_a_duty_rule_against_a_later_event_never_applies() -> None:
    old = "    not_same_actor_as: [report_fixed]\n  fail_verification:"
    text = edit(HAZARD, old, old.replace("report_fixed", "close"))
    assert found(text) == {("sod-never-before", *at(text, "not_same_actor_as: [close]", "close"))}


def test_an_undeclared_role_is_reported_once_not_also_as_no_role_may_fire() -> None:
    text = edit(HAZARD, "    roles: [town_office]\n", "    roles: [mayor]\n")
    assert found(text) == {("undeclared-role", *at(text, "roles: [mayor]", "mayor"))}


def test_an_event_with_an_empty_role_list_may_be_fired_by_no_one() -> None:
    text = edit(HAZARD, "    roles: [town_office]\n", "    roles: []\n")
    assert found(text) == {("no-role-may-fire", *at(text, "roles: []", "["))}


# -- escalation ----------------------------------------------------------------------------


def test_a_ladder_level_that_does_not_rise_is_reported_at_its_level() -> None:
    text = edit(MAJOR, "        - level: 4\n", "        - level: 2\n")
    snippet = "          notify: [town_office, responsible_party]\n        - level: 2\n"
    assert found(text) == {("ladder-order", *at(text, snippet, "2\n"))}


def test_a_renamed_event_in_a_ladder_is_reported_at_the_trigger_naming_it() -> None:
    text = edit(HAZARD, "{event: fail_verification, count: 2}", "{event: failed, count: 2}")
    assert found(text) == {("undeclared-event", *at(text, "{event: failed, count: 2}", "failed"))}


def test_a_missing_ladder_level_key_is_reported_once_not_also_as_a_wrong_type() -> None:
    text = edit(
        HAZARD, "        - level: 0\n          title: 到期提醒\n", "        - title: 到期提醒\n"
    )
    assert found(text) == {("missing-key", *at(text, "        - title: 到期提醒", "title"))}


def test_an_unknown_severity_is_reported_at_the_severity_not_at_its_ladder() -> None:
    text = edit(
        HAZARD, "  default: standard\n", "  default: standard\n  by_severity: {grave: standard}\n"
    )
    catalog = rectify.definitions.Catalog(severities=frozenset({"general"}))
    assert found(text, catalog) == {("unknown-severity", *at(text, "{grave: standard}", "grave"))}
    assert found(text) == set()


# -- catalogs --------------------------------------------------------------------------------


def test_major_needs_its_panel_quorum_guard_from_the_host() -> None:
    catalog = rectify.definitions.Catalog(guards=frozenset({"other"}))
    assert found(MAJOR, catalog) == {
        ("unknown-guard", *at(MAJOR, "    guards: [panel_quorum]", "panel_quorum"))
    }
    assert found(MAJOR, rectify.definitions.Catalog(guards=frozenset({"panel_quorum"}))) == set()


def test_every_use_of_a_missing_notice_is_reported() -> None:
    # hazard.yaml names overdue_warning twice: fail_verification's notice, ladder level 1's.
    catalog = rectify.definitions.Catalog(notices=NOTICES - {"overdue_warning"})
    event = "    notice: overdue_warning\n  close:"
    level = "          notice: overdue_warning\n          notify: [responsible_party, community]"
    assert found(HAZARD, catalog) == {
        ("unknown-notice", *at(HAZARD, event, "overdue_warning")),
        ("unknown-notice", *at(HAZARD, level, "overdue_warning")),
    }


def test_immediate_applies_only_to_categories_of_the_table() -> None:
    codes = rectify.load_categories(WORKFLOWS / "categories.yaml").codes
    catalog = rectify.definitions.Catalog(categories=codes - {"PAS.EVAC"})
    assert found(IMMEDIATE, catalog) == {
        ("unknown-category", *at(IMMEDIATE, "applies_to: [PAS.LANE, PAS.EVAC", "PAS.EVAC"))
    }


# -- folders ---------------------------------------------------------------------------------


def test_a_folder_without_major_leaves_the_table_pointing_at_a_missing_workflow(
    tmp_path: Path,
) -> None:
    for name in ("categories.yaml", "hazard.yaml", "immediate.yaml"):
        shutil.copy(WORKFLOWS / name, tmp_path / name)
    report = rectify.validate_paths([tmp_path])
    table = (tmp_path / "categories.yaml").read_text(encoding="utf-8")
    line, column = at(table, "    period: {working_days: 7}\n    workflow: major", "major")
    assert [
        (d.code, Path(d.location.file).name, d.location.line, d.location.column)
        for d in report.diagnostics
    ] == [("unknown-workflow", "categories.yaml", line, column)]


def test_a_folder_checks_applies_to_against_its_own_table(tmp_path: Path) -> None:
    for name in ("categories.yaml", "hazard.yaml", "major.yaml"):
        shutil.copy(WORKFLOWS / name, tmp_path / name)
    text = edit(IMMEDIATE, "PAS.EVAC", "PAS.EXIT")
    (tmp_path / "immediate.yaml").write_text(text, encoding="utf-8")
    report = rectify.validate_paths([tmp_path])
    assert [
        (d.code, Path(d.location.file).name, d.location.line, d.location.column)
        for d in report.diagnostics
    ] == [("unknown-category", "immediate.yaml", *at(text, "PAS.EXIT", "PAS.EXIT"))]


# -- host templates ----------------------------------------------------------------------

#: Host templates that cannot be used, each the only file of a host folder: its content,
#: and the diagnostic ``validate_paths`` gives for it (code, line, column, message start).
UNUSABLE_TEMPLATES: dict[str, tuple[str, str | bytes, tuple[str, int, int, str]]] = {
    "syntax error": (
        "reminder.txt.j2",
        "{{ issuer.office }}\n{{ hazard.description }\n",
        ("template-syntax", 2, 1, "syntax error: unexpected '}'"),
    ),
    "not UTF-8": (
        "supervision_order.txt.j2",
        "整改通知\n".encode("gbk"),
        ("encoding", 1, 1, "not UTF-8 text: invalid continuation byte at byte 0"),
    ),
    "extends a missing layout": (
        "overdue_warning.html.j2",
        '{#- a warning -#}\n{% extends "_nosuch.html.j2" %}\n',
        ("unknown-notice", 2, 1, "extends '_nosuch.html.j2', which is not a template"),
    ),
}


def write_template(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", list(UNUSABLE_TEMPLATES))
def test_an_unusable_host_template_is_a_diagnostic_at_its_file(tmp_path: Path, case: str) -> None:
    name, content, (code, line, column, message) = UNUSABLE_TEMPLATES[case]
    path = write_template(tmp_path, name, content)
    report = rectify.validate_paths([WORKFLOWS], notices=rectify.NoticeRenderer(tmp_path))
    [diagnostic] = report.diagnostics
    assert (diagnostic.code, diagnostic.location) == (
        code,
        rectify.definitions.Location(str(path), line, column),
    )
    assert diagnostic.is_error
    assert diagnostic.message.startswith(message)


def test_unusable_host_templates_are_reported_with_every_other_problem(tmp_path: Path) -> None:
    # Each broken template is one diagnostic; the notices they serve still exist (no
    # unknown-notice where the workflows name them), a sound template is still checked for
    # the variables it uses, and the workflows are still checked.
    host = tmp_path / "host"
    host.mkdir()
    for name, content, _ in UNUSABLE_TEMPLATES.values():
        write_template(host, name, content)
    write_template(host, "rectification_slip.txt.j2", "{{ secret }}\n")
    flows = tmp_path / "flows"
    shutil.copytree(WORKFLOWS, flows)
    text = edit(IMMEDIATE, "PAS.EVAC", "PAS.EXIT")
    (flows / "immediate.yaml").write_text(text, encoding="utf-8")
    report = rectify.validate_paths([flows], notices=rectify.NoticeRenderer(host))
    slip = at(HAZARD, "    notice: rectification_slip\n  mark_duplicate:", "rectification_slip")
    assert [
        (d.code, Path(d.location.file).name, d.location.line, d.location.column)
        for d in report.diagnostics
    ] == [
        ("notice-variable", "hazard.yaml", *slip),
        ("unknown-category", "immediate.yaml", *at(text, "PAS.EXIT", "PAS.EXIT")),
        ("unknown-notice", "overdue_warning.html.j2", 2, 1),
        ("template-syntax", "reminder.txt.j2", 2, 1),
        ("encoding", "supervision_order.txt.j2", 1, 1),
    ]
