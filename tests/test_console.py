"""The web console: sessions, CSRF, scopes, the pages, and a whole case in Chromium.

The first part drives the console with starlette's test client over a memory ledger; the
last test serves it with uvicorn over a SQLite file and works a case from opening to
closing in headless Chromium (skipped where Chromium or its driver is missing), taking the
console's screenshots for the docs (``RECTIFY_SCREENSHOTS=1`` writes them in place).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rectify import Ledger
from rectify.engine._case import Actor, Evidence
from rectify.server import MemoryServiceStore, SQLServiceStore, create_app
from rectify.stores import MemoryStore, SQLStore
from rectify.testing import FakeCalendar, FakeClock

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2024, 5, 6, 9, tzinfo=TZ)
PHONE = "13812345678"
EAST = {"community": "东区", "category": "FAC.HOSE", "severity": "general_short"}
WEST = {"community": "西区", "category": "FAC.HOSE", "severity": "general_short"}
ASSIGN = {"responsible_party": "某物业", "measures": "补齐水带", "due": "2024-05-20"}
LEDGER_CSV = """铜梁区虎峰镇老旧小区台账
镇街/社区,小区名称,地址,消防安全管理人（楼栋长）及联系方式,建筑高度（层数）,隐患内容,整改时限,楼栋,隐患类别,整改责任人,整改措施
虎峰镇/东区,龙门小区,龙门街12号,马艳强（170-7091-0024）,18米（6层）,2单元消火栓箱内水带缺失,2024年5月20日,1栋,,龙门物业,补齐水带
虎峰镇/东区,龙门小区,龙门街12号,马艳强（170-7091-0024）,18米（6层）,,2024年5月20日,2栋,,龙门物业,补齐水带
虎峰镇/西区,桂园小区,桂园路3号,周梅/171-6487-6337,7,楼道堆放杂物,2024.5.25,3栋,,周梅,清理杂物
虎峰镇/西区,桂园小区,桂园路3号,周梅/171-6487-6337,7,东西很多有点乱,2024.5.25,4栋,,周梅,清理
""".encode()


@attrs.frozen
class Town:
    """A console over a memory ledger, with a token for each kind of user."""

    app: FastAPI
    ledger: Ledger
    town: str  # town office and community, whole town
    east: str  # a community worker of 东区
    west: str  # a community worker of 西区
    party: str  # a responsible party of 东区: no right to phone numbers


@pytest.fixture
def town() -> Iterator[Town]:
    clock = FakeClock(NOW)
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar(), clock=clock)
    services = MemoryServiceStore()

    def token(actor: str, roles: list[str], scope: str | None) -> str:
        return services.create_token(actor, roles, scope, now=clock.now())[0]

    app = create_app(ledger, services=services)
    yield Town(
        app,
        ledger,
        token("t-1", ["town_office", "community"], None),
        token("c-1", ["community"], "东区"),
        token("w-1", ["community"], "西区"),
        token("p-1", ["responsible_party"], "东区"),
    )
    app.state.rectify.aio.close()


def csrf_in(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found, page[:2000]
    return found[1]


def sign_in(town: Town, token: str, **options: object) -> TestClient:
    client = TestClient(town.app, follow_redirects=False, **options)  # type: ignore[arg-type]
    page = client.get("/login")
    assert page.status_code == 200
    answer = client.post("/login", data={"token": token, "csrf": csrf_in(page.text)})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/cases"
    return client


def csrf(client: TestClient) -> str:
    return csrf_in(client.get("/cases").text)


def text(page: str) -> str:
    """Return a page's text: no tags, entities read, blanks folded."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def alert(page: str) -> str:
    found = re.search(r'role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found[1]) if found else ""


def open_case(town: Town, case_id: str, data: Mapping[str, object], **more: object) -> None:
    town.ledger.open(case_id, "hazard", {**data, **more}, Actor("t-1", "community"))


# -- sessions ---------------------------------------------------------------------------------


def test_signed_out_pages_lead_to_the_sign_in_page(town: Town) -> None:
    client = TestClient(town.app, follow_redirects=False)
    for path in ("/", "/cases", "/cases/H-1", "/dashboard", "/import", "/cases/new"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/login"
    page = client.get("/login")
    assert "访问令牌" in page.text
    assert page.headers["content-security-policy"] == (
        "default-src 'self'; style-src 'self' 'unsafe-inline'"
    )
    assert page.headers["x-frame-options"] == "DENY"


def test_signing_in_keeps_the_token_in_a_strict_http_only_cookie(town: Town) -> None:
    client = TestClient(town.app, follow_redirects=False)
    form = csrf_in(client.get("/login").text)
    answer = client.post("/login", data={"token": town.east, "csrf": form})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/cases"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "rectify_session=" in c)
    assert town.east in cookie
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert client.get("/", follow_redirects=False).headers["location"] == "/cases"
    page = client.get("/cases")
    assert page.status_code == 200
    assert "c-1" in page.text
    assert "东区" in page.text


def test_over_https_the_session_cookie_is_secure(town: Town) -> None:
    client = TestClient(town.app, base_url="https://testserver", follow_redirects=False)
    form = csrf_in(client.get("/login").text)
    answer = client.post("/login", data={"token": town.east, "csrf": form})
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "rectify_session=" in c)
    assert "Secure" in cookie


def test_a_wrong_token_shows_the_sign_in_page_again(town: Town) -> None:
    client = TestClient(town.app, follow_redirects=False)
    form = csrf_in(client.get("/login").text)
    answer = client.post("/login", data={"token": "rct_000000000000_" + "x" * 43, "csrf": form})
    assert answer.status_code == 401
    assert "令牌无效或已吊销" in alert(answer.text)
    assert "rectify_session" not in answer.headers.get("set-cookie", "")
    assert client.get("/cases").status_code == 303


def test_signing_out_clears_the_session(town: Town) -> None:
    client = sign_in(town, town.east)
    answer = client.post("/logout", data={"csrf": csrf(client)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    cleared = [c for c in answer.headers.get_list("set-cookie") if "rectify_session=" in c]
    assert cleared
    assert "Max-Age=0" in cleared[0] or "expires=" in cleared[0].lower()
    assert client.get("/cases").status_code == 303


def test_a_revoked_token_is_signed_out(town: Town) -> None:
    services = town.app.state.rectify.services
    token, info = services.create_token("c-9", ["community"], "东区", now=NOW)
    client = sign_in(town, token)
    assert client.get("/cases").status_code == 200
    services.revoke(info.id, now=NOW)
    cache = getattr(town.app.state.rectify, "tokens", None)  # tokens a worker remembers
    if cache is not None:
        cache.forget()  # as a revocation in this process does
    assert client.get("/cases").headers["location"] == "/login"
    # Signing in again works with the stale cookie still there.
    form = csrf_in(client.get("/login").text)
    answer = client.post("/login", data={"token": town.east, "csrf": form})
    assert answer.status_code == 303
    assert "c-1" in client.get("/cases").text


# -- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/cases/H-1/events/assign", {"expected_seq": "0", **ASSIGN}),
        ("/cases", {"id": "H-2", "workflow": "hazard", "community": "东区"}),
        ("/logout", {}),
    ],
)
def test_a_form_without_its_csrf_value_is_refused(
    town: Town, path: str, fields: dict[str, str]
) -> None:
    open_case(town, "H-1", EAST)
    client = sign_in(town, town.east)
    good = csrf(client)
    missing = client.post(path, data=fields)
    wrong = client.post(path, data={**fields, "csrf": "0" * 64})
    other = client.post(
        path, data={**fields, "csrf": good}, headers={"Origin": "https://evil.test"}
    )
    for answer in (missing, wrong, other):
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert "x-frame-options" in answer.headers
    assert "来源不明" in text(missing.text)
    assert "其他网站" in text(other.text)
    assert town.ledger.get("H-1").seq == 0
    assert town.ledger.count() == 1
    same = client.post(path, data={**fields, "csrf": good}, headers={"Origin": "http://testserver"})
    assert same.status_code == 303


def test_the_sign_in_form_needs_its_csrf_value_too(town: Town) -> None:
    client = TestClient(town.app, follow_redirects=False)
    client.get("/login")
    assert client.post("/login", data={"token": town.east}).status_code == 403
    assert client.post("/login", data={"token": town.east, "csrf": "0" * 64}).status_code == 403
    form = csrf_in(client.get("/login").text)
    refused = client.post(
        "/login", data={"token": town.east, "csrf": form}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert refused.status_code == 403


def test_the_csrf_value_belongs_to_the_session(town: Town) -> None:
    open_case(town, "H-1", EAST)
    east, other = sign_in(town, town.east), sign_in(town, town.east)
    stolen = csrf(other)  # another browser's value, with its own nonce
    answer = east.post(
        "/cases/H-1/events/assign", data={"csrf": stolen, "expected_seq": "0", **ASSIGN}
    )
    assert answer.status_code == 403


# -- scopes -----------------------------------------------------------------------------------


def test_a_community_sees_and_changes_only_its_own_cases(town: Town) -> None:
    open_case(town, "H-1", EAST)
    open_case(town, "W-1", WEST)
    client = sign_in(town, town.east)
    listed = text(client.get("/cases").text)
    assert "H-1" in listed
    assert "W-1" not in listed
    assert "W-1" not in text(client.get("/cases?community=西区").text)
    page = client.get("/cases/W-1")
    assert page.status_code == 404
    assert "没有这个案件" in text(page.text)
    assert client.get("/cases/NOPE").status_code == 404
    form = csrf(client)
    fired = client.post(
        "/cases/W-1/events/assign", data={"csrf": form, "expected_seq": "0", **ASSIGN}
    )
    assert fired.status_code == 404
    assert town.ledger.get("W-1").seq == 0
    assert client.get("/cases/W-1/documents/0/rectification_slip").status_code == 404
    opened = client.post(
        "/cases", data={"csrf": form, "id": "W-2", "workflow": "hazard", "community": "西区"}
    )
    assert opened.status_code == 403
    assert "东区" in alert(opened.text)
    assert town.ledger.count() == 2
    assert client.get("/import").status_code == 403
    town_client = sign_in(town, town.town)
    listed = text(town_client.get("/cases").text)
    assert "H-1" in listed
    assert "W-1" in listed
    only_west = text(town_client.get("/cases?community=西区").text)
    assert "W-1" in only_west
    assert "H-1" not in only_west


# -- the case page ----------------------------------------------------------------------------


def test_a_case_page_shows_the_case_and_the_events_one_may_fire(town: Town) -> None:
    open_case(town, "H-1", EAST, phone=PHONE, community_name="龙门小区")
    client = sign_in(town, town.east)
    page = client.get("/cases/H-1")
    assert page.status_code == 200
    body = text(page.text)
    assert "已发现" in body
    assert "龙门小区" in body
    assert "消火栓箱内水带、水枪缺失" in body
    assert 'action="/cases/H-1/events/assign"' in page.text
    assert 'name="responsible_party"' in page.text
    assert 'type="date"' in page.text  # due
    assert 'name="expected_seq" value="0"' in page.text
    assert 'action="/cases/H-1/events/close"' not in page.text
    # The events one may not fire are listed with why, in Chinese.
    assert "移交重大隐患判定 ：角色「社区（community）」无权执行" in body
    assert "销号 ：当前状态下不能执行" in body


def test_an_interview_before_town_supervision_says_which_level_it_needs(town: Town) -> None:
    open_case(town, "H-1", EAST)
    office = Actor("t-1", "town_office")
    town.ledger.fire("H-1", "assign", office, payload=ASSIGN)
    town.ledger.fire("H-1", "plan", Actor("c-1", "community"),
                     payload={"measures": "补齐", "due": dt.date(2024, 5, 20)},
                     evidence=[Evidence.of("plan_document", "p.pdf", b"p")])  # fmt: skip
    body = text(sign_in(town, town.town).get("/cases/H-1").text)
    # The refusal's own fields (the level needed, the level now), worded in Chinese.
    assert "约谈 ：案件须已升级至" in body
    assert "（第2级），目前未升级" in body


def test_what_a_case_holds_is_escaped(town: Town) -> None:
    open_case(town, "H-1", EAST, community_name="<script>alert(1)</script>")
    client = sign_in(town, town.east)
    for page in (client.get("/cases/H-1").text, client.get("/cases").text):
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_firing_an_event_redirects_to_the_case_with_a_message(town: Town) -> None:
    open_case(town, "H-1", EAST)
    client = sign_in(town, town.east)
    answer = client.post(
        "/cases/H-1/events/assign", data={"csrf": csrf(client), "expected_seq": "0", **ASSIGN}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/cases/H-1?done=assign"
    case = town.ledger.get("H-1")
    assert case.state == "assigned"
    assert case.history[-1].actor == "c-1"
    page = client.get(answer.headers["location"])
    assert "已办理：交办。" in page.text
    body = text(page.text)
    assert "已发现 → 已交办" in body
    assert "某物业" in body
    # The slip the assignment queued is listed and renders.
    assert 'href="/cases/H-1/documents/1/rectification_slip"' in page.text
    slip = client.get("/cases/H-1/documents/1/rectification_slip")
    assert slip.status_code == 200
    assert "消防安全隐患整改通知单" in slip.text
    assert slip.headers["x-frame-options"] == "DENY"
    assert client.get("/cases/H-1/documents/1/reminder").status_code == 404
    assert client.get("/cases/H-1/documents/x/rectification_slip").status_code == 404


def test_a_refused_event_shows_its_reason_on_the_case_page(town: Town) -> None:
    open_case(town, "H-1", EAST)
    client = sign_in(town, town.east)
    form = csrf(client)
    answer = client.post("/cases/H-1/events/close", data={"csrf": form, "expected_seq": "0"})
    assert answer.status_code == 409
    assert "不能执行「销号（close）」：当前状态下不能执行" in alert(answer.text)
    assert "Traceback" not in answer.text
    assert 'href="/cases/H-1?lang=en"' in answer.text  # the case page, not the POST's address
    missing = client.post(
        "/cases/H-1/events/assign",
        data={"csrf": form, "expected_seq": "0", "responsible_party": "某物业"},
    )
    assert missing.status_code == 422
    assert "字段 'measures' 必须填写" in alert(missing.text)
    assert 'value="某物业"' in missing.text  # what was typed is shown again
    client.post("/cases/H-1/events/assign", data={"csrf": form, "expected_seq": "0", **ASSIGN})
    stale = client.post(
        "/cases/H-1/events/plan",
        data={"csrf": form, "expected_seq": "0", "measures": "补齐", "due": "2024-05-20"},
    )
    assert stale.status_code == 409
    assert "请刷新页面后再试" in alert(stale.text)
    no_file = client.post(
        "/cases/H-1/events/plan",
        data={"csrf": form, "expected_seq": "1", "measures": "补齐", "due": "2024-05-20"},
    )
    assert no_file.status_code == 422
    assert "缺少证据：整改方案（plan_document）；请上传文件" in alert(no_file.text)
    assert town.ledger.get("H-1").state == "assigned"


def test_evidence_is_hashed_and_only_its_digest_kept(town: Town) -> None:
    open_case(town, "H-1", EAST)
    town.ledger.fire("H-1", "assign", Actor("c-1", "community"), payload=ASSIGN)
    client = sign_in(town, town.east)
    content = b"%PDF-1.4 a plan" + bytes(600_000)  # a scan is larger than an API body
    answer = client.post(
        "/cases/H-1/events/plan",
        data={"csrf": csrf(client), "expected_seq": "1", "measures": "补齐", "due": "2024-05-20"},
        files={"evidence:plan_document": ("C:\\scans\\方案.pdf", content, "application/pdf")},
    )
    assert answer.status_code == 303, alert(answer.text)
    record = town.ledger.get("H-1").history[-1]
    assert record.evidence == (Evidence.of("plan_document", "方案.pdf", content),)
    page = text(client.get("/cases/H-1").text)
    assert f"整改方案：方案.pdf（SHA-256 {hashlib.sha256(content).hexdigest()[:12]}…）" in page


def test_verifying_ones_own_report_is_refused_with_why(town: Town) -> None:
    worker = Actor("c-1", "community")
    open_case(town, "H-1", EAST)
    town.ledger.fire("H-1", "assign", worker, payload=ASSIGN)
    plan = Evidence.of("plan_document", "plan.pdf", b"plan")
    town.ledger.fire(
        "H-1", "plan", worker, payload={"measures": "补齐", "due": "2024-05-20"}, evidence=[plan]
    )
    photo = Evidence.of("photo_after", "after.jpg", b"jpg")
    town.ledger.fire("H-1", "report_fixed", worker, payload={"summary": "已补齐"}, evidence=[photo])
    client = sign_in(town, town.east)
    page = text(client.get("/cases/H-1").text)
    assert (
        "复查合格 ：'c-1' 已在此案执行过报告整改完成（report_fixed），不能由同一人再执行此事件"
        in page
    )
    answer = client.post(
        "/cases/H-1/events/verify",
        data={"csrf": csrf(client), "expected_seq": "3"},
        files={"evidence:inspection_record": ("record.pdf", b"record", "application/pdf")},
    )
    assert answer.status_code == 422
    assert "不能由同一人再执行此事件" in alert(answer.text)


def test_a_token_with_several_roles_chooses_one(town: Town) -> None:
    open_case(town, "H-1", EAST)
    client = sign_in(town, town.town)
    page = client.get("/cases/H-1").text
    assert 'id="assign-role" name="role"' in page  # both of its roles may assign
    answer = client.post(
        "/cases/H-1/events/assign",
        data={"csrf": csrf(client), "expected_seq": "0", "role": "town_office", **ASSIGN},
    )
    assert answer.status_code == 303
    assert town.ledger.get("H-1").history[-1].role == "town_office"


def test_phone_numbers_are_masked_for_a_role_without_phone_rights(town: Town) -> None:
    open_case(town, "H-1", EAST, phone=PHONE, building_head=f"马艳强（{PHONE}）")
    party = sign_in(town, town.party)
    page = party.get("/cases/H-1").text
    assert PHONE not in page
    assert "138****5678" in page
    assert PHONE not in party.get("/cases").text
    worker = sign_in(town, town.east)
    assert PHONE in worker.get("/cases/H-1").text


# -- the list, opening a case -----------------------------------------------------------------


def test_the_list_filters_pages_and_marks_overdue_cases(town: Town) -> None:
    for i in range(55):
        open_case(town, f"H-{i:02}", EAST)
    late_at = NOW - dt.timedelta(days=30)
    town.ledger.open("L-1", "hazard", EAST, Actor("c-1", "community"), at=late_at)
    client = sign_in(town, town.east)
    first = client.get("/cases")
    rows = re.findall(r'<tr class="(overdue)?">\s*<td><a href="/cases/([^"]+)"', first.text)
    assert len(rows) == 50
    assert "下一页" in first.text
    following = re.search(r'href="(/cases\?after=[^"]+)" rel="next"', first.text)
    assert following
    second = client.get(html.unescape(following[1]))
    assert "L-1" in second.text
    assert '<span class="badge overdue">逾期</span>' in second.text
    overdue = client.get("/cases?overdue=1")
    assert re.findall(r'href="/cases/([^"]+)"', overdue.text) == ["new", "L-1"]
    assert "H-00" not in client.get("/cases?state=assigned").text


def test_opening_a_case_from_the_form(town: Town) -> None:
    client = sign_in(town, town.east)
    form = client.get("/cases/new")
    assert 'name="community" value="东区" readonly' in form.text
    answer = client.post(
        "/cases",
        data={
            "csrf": csrf_in(form.text),
            "id": "H-7",
            "workflow": "hazard",
            "community": "东区",
            "category": "FAC.HOSE",
            "severity": "general_short",
            "community_name": "龙门小区",
            "description": "水带缺失",
            "phone": PHONE,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/cases/H-7?opened=1"
    case = town.ledger.get("H-7")
    assert case.data["community_name"] == "龙门小区"
    assert case.data["phone"] == PHONE
    assert "已登记案件。" in client.get(answer.headers["location"]).text
    again = client.post(
        "/cases",
        data={"csrf": csrf_in(form.text), "id": "H-7", "workflow": "hazard", "community": "东区"},
    )
    assert again.status_code == 409
    assert "H-7" in alert(again.text)


# -- English ----------------------------------------------------------------------------------


def test_english_is_a_switch_away_and_remembered(town: Town) -> None:
    open_case(town, "H-1", EAST)
    client = sign_in(town, town.east)
    assert "English" in client.get("/cases").text
    english = client.get("/cases?lang=en")
    assert "rectify_lang=en" in english.headers["set-cookie"]
    body = text(english.text)
    assert "Cases" in body
    assert "Sign out" in body
    assert "Discovered" in body  # the state's title_en
    assert "中文" in body
    page = client.get("/cases/H-1")  # the cookie keeps English
    body = text(page.text)
    assert "History" in body
    assert "Hazard rectification" in body
    assert "Assign" in body
    refused = client.post(
        "/cases/H-1/events/close", data={"csrf": csrf(client), "expected_seq": "0"}
    )
    assert "not allowed in this state" in alert(refused.text)
    assert "Progress by community" in text(client.get("/dashboard").text)
    assert "隐患案件" in client.get("/cases?lang=zh").text


# -- the dashboard ----------------------------------------------------------------------------


def _work(ledger: Ledger, case_id: str, data: Mapping[str, object], *, upto: str) -> None:
    """Take a case opened a month ago as far as ``upto`` (its deadline long past)."""
    worker, office = Actor("c-1", "community"), Actor("t-1", "town_office")
    at = NOW - dt.timedelta(days=30)
    ledger.open(case_id, "hazard", data, worker, at=at)
    steps = [
        ("assign", worker, {**ASSIGN, "due": "2024-04-20"}, ()),
        ("plan", worker, {"measures": "补齐", "due": "2024-04-20"}, ("plan_document",)),
        ("report_fixed", worker, {"summary": "已补齐"}, ("photo_after",)),
        ("verify", office, {}, ("inspection_record",)),
        ("close", office, {}, ()),
    ]
    for i, (event, actor, payload, kinds) in enumerate(steps, start=1):
        evidence = [Evidence.of(k, f"{k}.pdf", k.encode()) for k in kinds]
        ledger.fire(
            case_id, event, actor, payload=payload, evidence=evidence, at=at + dt.timedelta(hours=i)
        )
        if event == upto:
            return


def test_the_dashboard_counts_each_community(town: Town) -> None:
    _work(town.ledger, "E-1", EAST, upto="close")
    _work(town.ledger, "E-2", EAST, upto="plan")  # overdue since 2024-04-20
    open_case(town, "E-3", EAST)
    _work(town.ledger, "W-1", WEST, upto="plan")
    page = sign_in(town, town.town).get("/dashboard")
    assert page.status_code == 200
    rows = re.findall(
        r"<tr><td>(?:<a [^>]*>)?(.*?)(?:</a>)?</td>" + r'<td class="n">(.*?)</td>' * 6, page.text
    )
    assert rows == [
        ("东区", "3", "1", "2", "1", "0", "33.3%"),
        ("西区", "1", "0", "1", "1", "0", "0.0%"),
    ]
    assert re.search(r"<tfoot><tr><th>合计</th><td class=\"n\">4</td>", page.text)
    body = text(page.text)
    assert "集中整治" in body
    assert "进行中" in body  # the concentrated phase, on 2024-05-06
    assert "<svg" in page.text
    assert page.text.count("<rect ") == 4  # 东区: closed, on time, overdue; 西区: overdue
    east = sign_in(town, town.east).get("/dashboard").text
    assert "东区" in east
    assert "西区" not in east
    assert 'href="/import"' not in east


# -- imports ----------------------------------------------------------------------------------


def test_the_import_page_reports_every_row(town: Town) -> None:
    client = sign_in(town, town.town)
    form = client.get("/import")
    assert form.status_code == 200
    assert 'name="role"' in form.text  # the town token has two roles
    answer = client.post(
        "/import",
        data={"csrf": csrf_in(form.text), "role": "community"},
        files={"file": ("ledger.csv", LEDGER_CSV, "text/csv")},
    )
    assert answer.status_code == 200, alert(answer.text)
    assert '<dd class="rows">4</dd>' in answer.text
    assert '<dd class="added">2</dd>' in answer.text
    assert '<dd class="existing">0</dd>' in answer.text
    assert '<dd class="problems">2</dd>' in answer.text
    body = text(answer.text)
    assert "4 隐患内容 不能为空" in body
    assert "没有可识别的关键词" in body
    assert town.ledger.count() == 2
    again = client.post(
        "/import",
        data={"csrf": csrf_in(form.text), "role": "community"},
        files={"file": ("ledger.csv", LEDGER_CSV, "text/csv")},
    )
    assert '<dd class="added">0</dd>' in again.text
    assert '<dd class="existing">2</dd>' in again.text
    bad = client.post(
        "/import",
        data={"csrf": csrf_in(form.text), "role": "community"},
        files={"file": ("ledger.csv", b"\x00\x01", "text/csv")},
    )
    assert bad.status_code == 422
    assert alert(bad.text)
    no_file = client.post("/import", data={"csrf": csrf_in(form.text)})
    assert no_file.status_code == 422


def test_a_community_may_not_import(town: Town) -> None:
    client = sign_in(town, town.east)
    answer = client.post(
        "/import",
        data={"csrf": csrf(client)},
        files={"file": ("ledger.csv", LEDGER_CSV, "text/csv")},
    )
    assert answer.status_code == 403
    assert town.ledger.count() == 0


# -- the browser ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.slow
def test_a_whole_case_in_chromium(tmp_path: Path) -> None:  # noqa: PLR0915 - one long story
    if not (CHROMIUM.is_file() and CHROMEDRIVER.exists()):
        pytest.skip(
            f"no Chromium at {CHROMIUM} or no driver at {CHROMEDRIVER}; to run this test "
            "install them: apt-get install chromium chromium-driver fonts-noto-cjk"
        )
    import uvicorn  # noqa: PLC0415 - the server extra
    from selenium import webdriver  # noqa: PLC0415
    from selenium.common.exceptions import WebDriverException  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.remote.webdriver import WebDriver  # noqa: PLC0415
    from selenium.webdriver.remote.webelement import WebElement  # noqa: PLC0415
    from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: PLC0415
    from selenium.webdriver.support.select import Select  # noqa: PLC0415
    from selenium.webdriver.support.wait import WebDriverWait  # noqa: PLC0415

    store = SQLStore.open(tmp_path / "rectify.db")
    ledger = Ledger.with_workflows(store, clock=FakeClock(NOW))  # the official calendar
    services = SQLServiceStore(store.engine, store.prefix)
    worker = services.create_token("网格员张三", ["community"], "东区", now=NOW)[0]
    office = services.create_token("镇消安办李四", ["town_office"], None, now=NOW)[0]
    _work(ledger, "E-1", EAST, upto="close")
    _work(ledger, "E-2", EAST, upto="plan")
    _work(ledger, "W-1", WEST, upto="report_fixed")
    _work(ledger, "W-2", WEST, upto="plan")
    _work(ledger, "S-1", {**EAST, "community": "南区"}, upto="assign")
    app = create_app(ledger, services=services)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    shots = SCREENSHOTS if os.environ.get("RECTIFY_SCREENSHOTS") == "1" else tmp_path
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=zh-CN",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver: WebDriver | None = None
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        driver.set_window_size(1280, 900)
        chrome = 900 - int(driver.execute_script("return window.innerHeight"))
        driver.set_window_size(1280, 900 + chrome)  # a page area of 1280 x 900
        browser = driver

        def body() -> str:
            return browser.find_element(By.TAG_NAME, "body").text

        def click(target: WebElement) -> None:
            """Click what loads another page, and wait until it has."""
            page = browser.find_element(By.TAG_NAME, "html")
            try:
                target.click()
            except WebDriverException as exc:
                # ChromeDriver may report the clicked button gone when the page it submitted
                # was replaced at once; the wait below checks that the page did change.
                if "does not belong to the document" not in str(exc.msg):
                    raise
            wait = WebDriverWait(browser, 20)
            wait.until(staleness_of(page))
            wait.until(lambda b: b.execute_script("return document.readyState") == "complete")

        def sign_in_as(token: str) -> None:
            browser.get(f"{base}/")
            assert "/login" in browser.current_url
            browser.find_element(By.ID, "token").send_keys(token)
            click(browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button"))
            assert browser.current_url.endswith("/cases"), body()

        def fill(event: str, fields: dict[str, str], files: dict[str, str] | None = None) -> None:
            form = browser.find_element(By.ID, f"form-{event}")
            for name, value in fields.items():
                field = form.find_element(By.NAME, name)
                if field.get_attribute("type") == "date":
                    browser.execute_script("arguments[0].value = arguments[1]", field, value)
                else:
                    field.send_keys(value)
            for kind, path in (files or {}).items():
                form.find_element(By.NAME, f"evidence:{kind}").send_keys(path)
            click(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

        upload = tmp_path / "整改方案.pdf"
        upload.write_bytes(b"%PDF-1.4 plan")
        photo = tmp_path / "after.jpg"
        photo.write_bytes(b"\xff\xd8\xff photo")
        record = tmp_path / "复查记录.pdf"
        record.write_bytes(b"%PDF-1.4 record")

        sign_in_as(worker)
        assert "网格员张三" in body()
        click(driver.find_element(By.LINK_TEXT, "登记隐患"))
        driver.find_element(By.ID, "id").send_keys("H-9")
        Select(driver.find_element(By.ID, "category")).select_by_value("FAC.HOSE")
        Select(driver.find_element(By.ID, "severity")).select_by_value("general_short")
        driver.find_element(By.ID, "community_name").send_keys("龙门小区")
        driver.find_element(By.ID, "address").send_keys("虎峰镇龙门街12号")
        driver.find_element(By.ID, "building").send_keys("1栋")
        driver.find_element(By.ID, "description").send_keys("2单元消火栓箱内水带缺失")
        driver.find_element(By.ID, "building_head").send_keys("马艳强")
        driver.find_element(By.ID, "phone").send_keys("17070910024")
        click(driver.find_element(By.CSS_SELECTOR, "form[action='/cases'] button"))
        assert "已登记案件。" in body()
        assert "H-9 · 已发现" in body()

        fill(
            "assign",
            {"responsible_party": "龙门物业", "measures": "补齐水带、水枪", "due": "2024-05-20"},
        )
        assert "已办理：交办。" in body()
        assert "H-9 · 已交办" in body()
        fill(
            "plan",
            {"measures": "购置并配齐水带、水枪", "due": "2024-05-20"},
            {"plan_document": str(upload)},
        )
        assert "H-9 · 整改中" in body()
        assert "整改方案.pdf" in body()
        fill("report_fixed", {"summary": "已配齐水带、水枪"}, {"photo_after": str(photo)})
        assert "H-9 · 待复查" in body()
        assert "不能由同一人再执行此事件" in driver.page_source
        click(driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button"))
        assert "/login" in driver.current_url

        sign_in_as(office)
        driver.get(f"{base}/cases/H-9")
        assert "复查合格" in body()
        driver.save_screenshot(str(shots / "console-case.png"))
        fill("verify", {}, {"inspection_record": str(record)})
        assert "H-9 · 已复查" in body()
        fill("close", {})
        assert "H-9 · 已销号" in body()
        history = driver.find_element(By.CSS_SELECTOR, "table.history").text
        for step in ("登记", "交办", "制定整改方案", "报告整改完成", "复查合格", "销号"):
            assert step in history
        assert "镇消安办李四" in history
        assert "网格员张三" in history
        click(driver.find_element(By.LINK_TEXT, "消防安全隐患整改通知单"))
        assert "/documents/1/rectification_slip" in driver.current_url
        assert "龙门物业" in body()
        assert "消防安全隐患整改通知单" in driver.title

        driver.get(f"{base}/dashboard")
        dashboard = body()
        assert "各社区整改进度" in dashboard
        for community in ("东区", "西区", "南区"):
            assert community in dashboard
        driver.save_screenshot(str(shots / "console-dashboard.png"))
    finally:
        if driver is not None:
            driver.quit()
        server.should_exit = True
        thread.join(timeout=10)
        app.state.rectify.aio.close()
        store.close()
    for name in ("console-case.png", "console-dashboard.png"):
        data = (shots / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert len(data) > 10_000, name
