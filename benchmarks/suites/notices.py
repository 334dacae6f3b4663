"""The notices suite: rendering the rectification slip, against raw Jinja2."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import jinja2

import rectify
from rectify.testing import FakeCalendar
from suites.base import WORKFLOWS, Measurement, Settings, time_call

_NOTICES = WORKFLOWS.parent / "notices"


def _slip_context() -> tuple[rectify.documents.Notices, dict[str, object]]:
    """Return a renderer and the context of a real rectification slip."""
    calendar = FakeCalendar()
    engine = rectify.Engine(rectify.load_workflow(WORKFLOWS / "hazard.yaml"), calendar=calendar)
    at = dt.datetime(2024, 3, 18, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    data = {
        "community": "正街社区",
        "community_name": "桂花园小区",
        "address": "虎峰镇正街12号",
        "building": "3栋",
        "floors": 6,
        "building_head": "李华",
        "phone": "17012345678",
        "category": "FAC.HOSE",
        "severity": "general_short",
        "description": "3栋2单元消火栓箱内水带、水枪缺失",
        "location": "2单元一楼",
    }
    case = engine.open("HZ-1", data, rectify.Actor("网格员", "grid_worker"), at).case
    order = {"responsible_party": "某物业", "measures": "补齐水带、水枪", "due": "2024-03-25"}
    outcome = engine.fire(case, "assign", rectify.Actor("社区", "community"), at, payload=order)
    slip = next(e for e in outcome.effects if isinstance(e, rectify.engine.NoticeDue))
    issuer = rectify.documents.Issuer("虎峰镇消防安全委员会办公室", code="虎峰镇消安")
    notices = rectify.documents.Notices(
        issuer, categories=rectify.load_categories(), calendar=calendar
    )
    return notices, notices.context(slip, outcome.case, engine.spec, issued_on=at.date())


def suite(settings: Settings) -> list[Measurement]:
    """Rendering the rectification slip through rectify, against raw Jinja2.

    Floor: the same templates loaded by a plain ``jinja2.Environment`` (a file-system loader,
    autoescape, the same filters), compiled once, rendered with the same context. Target:
    at least half of raw Jinja2's throughput (a ratio of at most 2).
    """
    notices, context = _slip_context()
    builtin = notices.renderer._builtin
    raw = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_NOTICES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    raw.filters.update(builtin.filters)
    raw.globals.update(builtin.globals)
    template = raw.get_template("rectification_slip.html.j2")
    floor = "jinja2 render [compiled]"
    return [
        time_call(
            floor,
            lambda: template.render(context),
            settings,
            description="the slip's compiled template rendered by a plain "
            "jinja2.Environment with the same context",
        ),
        time_call(
            "rectify render [slip]",
            lambda: notices.render("rectification_slip", context),
            settings,
            floor=floor,
            targets=((floor, 2.0),),
            description="Notices.render: template lookup, rendering as a module (the "
            "title), hashes of the template family and of the context",
        ),
    ]
