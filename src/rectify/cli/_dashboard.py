"""The demo's index page: the campaign's dashboard and every document it filed.

The page shows, in Chinese, the campaign's phases, the survey coverage, the task list and
the hazards by community, then every document: the reports by month, and each case's
notices under its community, estate and case number, so any document can be found by what
a clerk knows of it. It is one self-contained HTML file (no script, no download).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Final

import attrs
import jinja2

from rectify.definitions._campaign import Campaign
from rectify.documents._reports import town_of

__all__ = ["Filed", "Table", "dashboard"]


@attrs.frozen
class Filed:
    """A document the demo wrote: where, what, on which day, and what it is about.

    ``path`` is relative to the demo's folder. A case notice names its case's community,
    estate (``estate``, the 小区名称) and readable case number; a report may name its
    community.
    """

    path: str
    title: str
    day: dt.date
    kind: str
    community: str = ""
    estate: str = ""
    number: str = ""
    case_id: str = ""

    @property
    def about_a_case(self) -> bool:
        """Return whether this is a notice about one case (it has a case id)."""
        return bool(self.case_id)


@attrs.frozen
class Table:
    """A table of the dashboard: a heading, the column heads and the rows of cells."""

    heading: str
    head: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    note: str = ""


_PAGE: Final = """\
<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Source Han Sans SC",sans-serif;max-width:72em;
margin:2em auto;padding:0 1em;line-height:1.5;color:#222}
h2{margin-top:1.6em;border-bottom:2px solid #c00;padding-bottom:.2em}
h3{margin:1.2em 0 .4em}h4{margin:.8em 0 .2em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #bbb;padding:.2em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3;white-space:nowrap}td.n{text-align:right}td.s{white-space:nowrap}
.done{color:#070}.late{color:#c00;font-weight:bold}.now{color:#06c;font-weight:bold}
pre{background:#f4f4f4;padding:1em;overflow:auto}
nav a{margin-right:1em}ul.docs{margin:.2em 0 .6em}
ul.docs li{list-style:none}small{color:#666}
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ campaign.organ }} · {{ campaign.starts }} 至 {{ campaign.ends }} · 截至 {{ day }}</p>
<nav><a href="#phases">工作阶段</a>{% for t in tables %}<a href="#t{{ loop.index }}">{{ t.heading
}}</a>{% endfor %}<a href="#hazards">隐患</a><a href="#reports">报表</a><a
href="#notices">通知文书</a></nav>
<h2 id="phases">工作阶段</h2>
<table><tr><th>阶段</th><th>起止</th><th>状态</th></tr>
{% for p in phases %}<tr><td>{{ p.title }}</td><td>{{ p.starts }} 至 {{ p.ends }}</td>
<td class="{{ p.css }}">{{ p.status }}</td></tr>
{% endfor %}</table>
{% for t in tables %}
<h2 id="t{{ loop.index }}">{{ t.heading }}</h2>
{% if t.note %}<p>{{ t.note }}</p>{% endif %}
<table><tr>{% for h in t.head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for cell in row %}<td{% if cell is number %} class="n"{% elif
(cell|string)|length <= 12 %} class="s"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}
<h2 id="hazards">隐患</h2>
{% if hazards %}<table><tr>{% for h in hazards.head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in hazards.rows %}<tr>{% for cell in row %}<td{% if cell is number %} class="n"{%
endif %}>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}
<pre>{{ summary }}</pre>
<h2 id="reports">报表</h2>
{% for month, docs in reports %}<h3>{{ month }}</h3><ul class="docs">
{% for d in docs %}<li><a href="{{ d.path }}">{{ d.title }}</a> <small>{{ d.day }}{%
if d.community %} · {{ d.community }}{% endif %}</small></li>
{% endfor %}</ul>
{% endfor %}
<h2 id="notices">通知文书（按社区、小区、隐患编号）</h2>
{% for community, estates in notices %}<h3>{{ community }}</h3>
{% for estate, cases in estates %}<h4>{{ estate }}</h4><ul class="docs">
{% for number, docs in cases %}<li><b>{{ number }}</b>：{% for d in docs %}<a href="{{ d.path
}}">{{ d.title }}</a> <small>{{ d.day }}</small>{% if not loop.last %}；{% endif %}{%
endfor %}</li>
{% endfor %}</ul>
{% endfor %}{% endfor %}
</body></html>
"""

_ENV: Final = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def _phases(campaign: Campaign, day: dt.date) -> list[dict[str, object]]:
    out = []
    for phase in sorted(campaign.phases, key=lambda p: (p.starts, p.ends)):
        if day > phase.ends:
            status, css = "已结束", "done"
        elif day >= phase.starts:
            status, css = "进行中", "now"
        else:
            status, css = "未开始", ""
        out.append(
            {
                "title": phase.title,
                "starts": phase.starts,
                "ends": phase.ends,
                "status": status,
                "css": css,
            }
        )
    return out


def dashboard(
    campaign: Campaign,
    day: dt.date,
    *,
    summary: Sequence[str],
    tables: Sequence[Table],
    documents: Sequence[Filed],
    hazards: Table | None = None,
) -> str:
    """Return the index page of a campaign's folder of documents as of ``day``.

    ``tables`` come after the phases (the survey coverage, the task list); ``hazards``
    (the hazards by community and state) heads the hazard section, ``summary`` the lines
    under it.
    """
    reports: dict[str, list[Filed]] = defaultdict(list)
    notices: dict[str, dict[str, dict[str, list[Filed]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for doc in documents:
        if doc.about_a_case:
            estate = doc.estate or "（未注明小区）"
            notices[doc.community or "（未注明社区）"][estate][doc.number or doc.case_id].append(
                doc
            )
        else:
            reports[f"{doc.day:%Y年%m月}"].append(doc)

    def ordered(group: Mapping[str, list[Filed]]) -> list[tuple[str, list[Filed]]]:
        return [(key, sorted(group[key], key=lambda d: (d.day, d.path))) for key in sorted(group)]

    return _ENV.from_string(_PAGE).render(
        title=f"{town_of(campaign.organ)}{campaign.title}（{campaign.starts.year}年）",
        hazards=hazards,
        campaign=campaign,
        day=day,
        phases=_phases(campaign, day),
        tables=tables,
        summary="\n".join(summary),
        reports=ordered(reports),
        notices=[
            (community, [(estate, ordered(cases)) for estate, cases in sorted(estates.items())])
            for community, estates in sorted(notices.items())
        ],
    )
