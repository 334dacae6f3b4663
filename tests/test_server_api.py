"""The HTTP API through ``fastapi.testclient``: every resource, every refusal, every scope.

Each test gets an app over a fresh memory ledger (a fake calendar, a fake clock at
``T0``) with four API tokens: the town's (``town_office`` and ``community``), 东区's
community, 西区's community and a responsible party of 东区 (who reads phones masked).
The core flows run again over a SQLite file and, when ``RECTIFY_TEST_POSTGRES_URL`` is
set, a PostgreSQL server, with the service's tables beside the store's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import jwt as pyjwt
import pytest
import sqlalchemy as sa
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from rectify import Ledger
from rectify.server import (
    API_PREFIX,
    JwtVerifier,
    MemoryServiceStore,
    ServiceStore,
    SQLServiceStore,
    create_app,
)
from rectify.stores import MemoryStore, SQLStore, Store
from rectify.templating._formatting import mask_phone
from rectify.testing import FakeCalendar, FakeClock
from tests.conftest import EXAMPLES, ROOT
from tests.test_ledger import T0

API = API_PREFIX
PROBLEM = "application/problem+json"
PHONE = "13812345678"
DUE = "2024-05-20"
SHA = hashlib.sha256(b"proof").hexdigest()
JWT_KEY = "a-test-secret-of-at-least-32-bytes-for-hs256"
PG_URL = os.environ.get("RECTIFY_TEST_POSTGRES_URL")


def data(community: str = "东区", category: str = "FAC.HOSE") -> dict[str, object]:
    return {
        "community": community,
        "category": category,
        "severity": "general-short",
        "楼栋长电话": PHONE,
    }


ASSIGN: dict[str, Any] = {
    "event": "assign",
    "payload": {"responsible_party": f"某物业（{PHONE}）", "measures": "补齐水带", "due": DUE},
}
PLAN: dict[str, Any] = {
    "event": "plan",
    "payload": {"measures": "采购水带", "due": DUE},
    "evidence": [{"kind": "plan_document", "name": "plan.pdf", "sha256": SHA}],
}


def evidence(kind: str) -> list[dict[str, str]]:
    return [{"kind": kind, "name": f"{kind}.jpg", "sha256": SHA}]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@attrs.define
class Env:
    """An app over a ledger, its client, and one token per kind of caller."""

    ledger: Ledger
    clock: FakeClock
    services: ServiceStore
    app: FastAPI
    client: TestClient
    town: str
    east: str
    west: str
    party: str

    def get(self, path: str, token: str, **kwargs: Any) -> Response:
        headers = {**bearer(token), **kwargs.pop("headers", {})}
        return self.client.get(f"{API}{path}", headers=headers, **kwargs)

    def post(self, path: str, token: str, body: object = None, **kwargs: Any) -> Response:
        headers = {**bearer(token), **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        return self.client.post(f"{API}{path}", headers=headers, **kwargs)

    def open(self, case_id: str, community: str = "东区", **extra: object) -> Response:
        token = {"东区": self.east, "西区": self.west}.get(community, self.town)
        body = {"id": case_id, "workflow": "hazard", "data": data(community), **extra}
        if token == self.town:
            body["role"] = "community"
        response = self.post("/cases", token, body)
        assert response.status_code == 201, response.text
        return response

    def fire(self, case_id: str, body: Mapping[str, object], token: str | None = None) -> Response:
        return self.post(f"/cases/{case_id}/events", token or self.east, dict(body))

    def revoke(self, token: str) -> None:
        """Revoke ``token`` as ``rectify token revoke`` does, in this (the app's) process."""
        assert self.services.revoke(token.split("_")[1], now=self.clock.now())
        remembered = getattr(self.app.state.rectify, "tokens", None)
        if remembered is not None:  # the app's memory of live tokens: it revoked one
            remembered.forget()

    def snapshot(self) -> tuple[list[tuple[str, int, str]], list[str]]:
        """Return every case's id, seq and head digest, and the outbox's pending ids."""
        cases = sorted((c.id, c.seq, c.history[-1].digest) for c in self.ledger.cases())
        return cases, [d.id for d in self.ledger.pending(1000)]


def make_env(
    store: Store, services: ServiceStore, *, jwt: JwtVerifier | None = None, **options: Any
) -> Iterator[Env]:
    clock = FakeClock(T0)
    ledger = Ledger.with_workflows(store, calendar=FakeCalendar(), clock=clock)
    now = clock.now()
    town, _ = services.create_token("t-1", ["town_office", "community"], None, now=now)
    east, _ = services.create_token("c-1", ["community"], "东区", now=now)
    west, _ = services.create_token("c-9", ["community"], "西区", now=now)
    party, _ = services.create_token("p-1", ["responsible_party"], "东区", now=now)
    app = create_app(ledger, services=services, jwt=jwt, console=False, **options)
    with TestClient(app) as client:
        yield Env(ledger, clock, services, app, client, town, east, west, party)


@pytest.fixture
def env() -> Iterator[Env]:
    yield from make_env(MemoryStore(), MemoryServiceStore())


def assert_problem(response: Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:rectify:problem:")
    if kind is not None:
        assert body["type"] == f"urn:rectify:problem:{kind}", body
    return body


# -- workflows --------------------------------------------------------------------------------


def test_workflows_are_listed_with_their_states_events_and_roles(env: Env) -> None:
    response = env.get("/workflows", env.east)
    assert response.status_code == 200
    found = {w["id"]: w for w in response.json()}
    assert {"hazard", "major", "task"} <= set(found)
    hazard = found["hazard"]
    assert hazard["version"] == 1
    assert hazard["states"][0] == "discovered"
    assert {"assign", "verify", "close"} <= set(hazard["events"])
    assert "responsible_party" in hazard["roles"]


def test_a_workflow_definition_is_yaml(env: Env) -> None:
    response = env.get("/workflows/hazard", env.east)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    loaded = yaml.safe_load(response.text)
    assert loaded["workflow"] == "hazard"
    assert "assign" in loaded["events"]


@pytest.mark.parametrize(("fmt", "marker"), [("mermaid", "stateDiagram"), ("dot", "digraph")])
def test_a_workflow_diagram_is_drawn(env: Env, fmt: str, marker: str) -> None:
    response = env.get(f"/workflows/hazard/diagram?format={fmt}", env.east)
    assert response.status_code == 200
    assert marker in response.text
    english = env.get(f"/workflows/hazard/diagram?format={fmt}&english=true", env.east)
    assert "Discovered" in english.text


def test_a_diagram_in_an_unknown_format_is_refused(env: Env) -> None:
    body = assert_problem(env.get("/workflows/hazard/diagram?format=svg", env.east), 422)
    assert body["type"] == "urn:rectify:problem:invalid-request"
    assert body["errors"][0]["location"] == ["query", "format"]


@pytest.mark.parametrize("path", ["/workflows/nope", "/workflows/nope/diagram"])
def test_an_unknown_workflow_is_not_found(env: Env, path: str) -> None:
    body = assert_problem(env.get(path, env.east), 404, "unknown-workflow")
    assert "hazard" in body["detail"]


# -- cases ------------------------------------------------------------------------------------


def test_opening_a_case_answers_201_with_its_etag(env: Env) -> None:
    response = env.open("E-1")
    assert response.headers["etag"] == '"0"'
    case = response.json()
    assert case["id"] == "E-1"
    assert case["state"] == "discovered"
    assert case["seq"] == 0
    assert case["data"]["community"] == "东区"
    assert case["deadline"] == "2024-05-09"
    assert case["opened_at"] == T0.isoformat()
    assert env.ledger.get("E-1").state == "discovered"


def test_opening_a_case_twice_is_a_conflict(env: Env) -> None:
    env.open("E-1")
    body = assert_problem(
        env.post("/cases", env.east, {"id": "E-1", "workflow": "hazard", "data": data()}),
        409,
        "case-exists",
    )
    assert "E-1" in body["detail"]


def test_opening_a_case_in_another_community_is_forbidden(env: Env) -> None:
    response = env.post("/cases", env.west, {"id": "E-1", "workflow": "hazard", "data": data()})
    assert_problem(response, 403, "access")
    assert env.snapshot() == ([], [])


def test_opening_a_case_of_an_unknown_workflow_is_refused(env: Env) -> None:
    response = env.post("/cases", env.east, {"id": "E-1", "workflow": "nope", "data": data()})
    assert_problem(response, 404, "unknown-workflow")
    assert env.snapshot() == ([], [])


def test_a_case_is_read_with_its_etag(env: Env) -> None:
    env.open("E-1")
    env.fire("E-1", ASSIGN)
    response = env.get("/cases/E-1", env.east)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    case = response.json()
    assert case["state"] == "assigned"
    assert case["seq"] == 1


def test_an_unknown_case_is_not_found(env: Env) -> None:
    body = assert_problem(env.get("/cases/NOPE", env.east), 404, "case-not-found")
    assert body["case_id"] == "NOPE"


@pytest.fixture
def listed(env: Env) -> Env:
    """东区: E-1 discovered, E-2 assigned (FAC.EXT), E-3 dismissed; 西区: W-1 discovered."""
    env.open("E-1")
    body = {"id": "E-2", "workflow": "hazard", "data": data(category="FAC.EXT")}
    assert env.post("/cases", env.east, body).status_code == 201
    assert env.fire("E-2", ASSIGN).status_code == 200
    env.open("E-3")
    dismiss = {
        "event": "dismiss",
        "reason": "不构成隐患",
        "evidence": evidence("inspection_record"),
    }
    assert env.fire("E-3", dismiss).status_code == 200
    env.open("W-1", "西区")
    return env


def ids(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["E-1", "E-2", "E-3", "W-1"]),
        ("community=东区", ["E-1", "E-2", "E-3"]),
        ("community=西区", ["W-1"]),
        ("state=assigned", ["E-2"]),
        ("state=discovered", ["E-1", "W-1"]),
        ("category=FAC.EXT", ["E-2"]),
        ("severity=general-short", ["E-1", "E-2", "E-3", "W-1"]),
        ("workflow=hazard", ["E-1", "E-2", "E-3", "W-1"]),
        ("workflow=major", []),
        ("open=true", ["E-1", "E-2", "W-1"]),
        ("open=false", ["E-3"]),
        ("overdue_on=2024-05-07", []),
        ("overdue_on=2024-06-30", ["E-1", "E-2", "W-1"]),
        ("community=东区&state=assigned&open=true", ["E-2"]),
        ("after=E-2", ["E-3", "W-1"]),
    ],
)
def test_the_case_list_filters(listed: Env, query: str, expected: list[str]) -> None:
    assert ids(listed.get(f"/cases?{query}", listed.town)) == expected


def test_a_community_lists_its_own_cases_only(listed: Env) -> None:
    assert ids(listed.get("/cases", listed.east)) == ["E-1", "E-2", "E-3"]
    assert ids(listed.get("/cases?community=东区", listed.east)) == ["E-1", "E-2", "E-3"]
    assert ids(listed.get("/cases", listed.west)) == ["W-1"]
    assert_problem(listed.get("/cases?community=西区", listed.east), 403, "access")


def test_the_case_list_pages_by_id(listed: Env) -> None:
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        query = "limit=3" if after is None else f"limit=3&after={after}"
        response = listed.get(f"/cases?{query}", listed.town)
        page = response.json()
        seen += ids(response)
        pages += 1
        after = page["next_after"]
        if after is None:
            break
        assert after == seen[-1]
    assert pages == 2
    assert seen == ["E-1", "E-2", "E-3", "W-1"]
    assert listed.get("/cases?limit=4", listed.town).json()["next_after"] is None


def test_a_listing_shows_summaries_with_overdue(listed: Env) -> None:
    listed.clock.set(dt.datetime(2024, 6, 1, 9, tzinfo=T0.tzinfo))
    items = {i["id"]: i for i in listed.get("/cases", listed.town).json()["items"]}
    assert items["E-1"]["overdue"] is True
    assert items["E-3"]["overdue"] is False
    assert items["E-3"]["final"] is True
    assert "history" not in items["E-1"]


@pytest.mark.parametrize("limit", ["0", "-1", "501", "x"])
def test_a_page_size_out_of_bounds_is_refused(listed: Env, limit: str) -> None:
    body = assert_problem(listed.get(f"/cases?limit={limit}", listed.town), 422)
    assert body["errors"][0]["location"] == ["query", "limit"]


def test_the_largest_page_size_is_taken(listed: Env) -> None:
    assert len(ids(listed.get("/cases?limit=500", listed.town))) == 4


def test_the_history_carries_its_hash_chain(env: Env) -> None:
    env.open("E-1")
    env.fire("E-1", ASSIGN)
    response = env.get("/cases/E-1/history", env.east)
    assert response.status_code == 200
    records = response.json()
    assert [r["seq"] for r in records] == [0, 1]
    assert [r["event"] for r in records] == ["@open", "assign"]
    for record in records:
        assert len(record["digest"]) == 64
        int(record["digest"], 16)
    assert records[1]["prev"] == records[0]["digest"]
    assert records[1]["source"] == "discovered"
    assert records[1]["target"] == "assigned"
    assert records[1]["actor"] == "c-1"
    assert records[1]["role"] == "community"
    stored = env.ledger.get("E-1").history
    assert [r["digest"] for r in records] == [r.digest for r in stored]


def test_the_allowed_events_are_those_of_the_role(env: Env) -> None:
    env.open("E-1")
    response = env.get("/cases/E-1/events", env.east)
    assert response.status_code == 200
    allowed = [o["event"] for o in response.json() if o["allowed"]]
    assert allowed == ["assign", "mark_duplicate", "dismiss"]
    options = {o["event"]: o for o in response.json()}
    assert options["assign"]["require"] == ["responsible_party", "measures", "due"]
    assert options["dismiss"]["evidence"] == ["inspection_record"]
    assert options["close"]["allowed"] is False
    assert options["close"]["reason"]
    as_town = env.get("/cases/E-1/events?role=town_office", env.town)
    assert "refer_major" in [o["event"] for o in as_town.json() if o["allowed"]]


def test_allowed_events_in_a_role_the_token_lacks_are_forbidden(env: Env) -> None:
    env.open("E-1")
    body = assert_problem(env.get("/cases/E-1/events?role=town_office", env.east), 403, "access")
    assert "community" in body["detail"]
    # a token of several roles must name one
    assert_problem(env.get("/cases/E-1/events", env.town), 403, "access")


# -- events -----------------------------------------------------------------------------------


def test_firing_an_event_moves_the_case_and_returns_its_effects(env: Env) -> None:
    env.open("E-1")
    response = env.fire("E-1", ASSIGN)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    fired = response.json()
    assert fired["case"]["state"] == "assigned"
    assert fired["case"]["seq"] == 1
    kinds = [e["kind"] for e in fired["effects"]]
    assert "notice" in kinds  # as the webhooks and the outbox name it
    assert all(e["case_id"] == "E-1" for e in fired["effects"])
    assert env.ledger.get("E-1").state == "assigned"


def test_a_stale_expected_seq_is_a_conflict_and_writes_nothing(env: Env) -> None:
    env.open("E-1")
    assert env.fire("E-1", {**ASSIGN, "expected_seq": 0}).status_code == 200
    before = env.snapshot()
    plan = {**PLAN, "expected_seq": 0}
    body = assert_problem(env.fire("E-1", plan, env.party), 409, "concurrency")
    assert (body["expected"], body["found"]) == (0, 1)
    assert body["case_id"] == "E-1"
    assert env.snapshot() == before
    assert env.fire("E-1", {**PLAN, "expected_seq": 1}, env.party).status_code == 200


@pytest.mark.parametrize("etag", ['"0"', "0", 'W/"0"'])
def test_if_match_is_the_expected_seq(env: Env, etag: str) -> None:
    env.open("E-1")
    ok = env.post("/cases/E-1/events", env.east, ASSIGN, headers={"If-Match": etag})
    assert ok.status_code == 200, ok.text
    before = env.snapshot()
    stale = env.post("/cases/E-1/events", env.party, PLAN, headers={"If-Match": etag})
    body = assert_problem(stale, 409, "concurrency")
    assert (body["expected"], body["found"]) == (0, 1)
    assert env.snapshot() == before


def test_if_match_and_expected_seq_must_agree(env: Env) -> None:
    env.open("E-1")
    before = env.snapshot()
    response = env.post(
        "/cases/E-1/events", env.east, {**ASSIGN, "expected_seq": 1}, headers={"If-Match": '"0"'}
    )
    body = assert_problem(response, 422, "argument")
    assert "disagree" in body["detail"]
    assert env.snapshot() == before
    agreeing = env.post(
        "/cases/E-1/events", env.east, {**ASSIGN, "expected_seq": 0}, headers={"If-Match": '"0"'}
    )
    assert agreeing.status_code == 200


@pytest.mark.parametrize("etag", ['"abc"', "*", '""'])
def test_an_if_match_that_is_no_etag_is_refused(env: Env, etag: str) -> None:
    env.open("E-1")
    before = env.snapshot()
    response = env.post("/cases/E-1/events", env.east, ASSIGN, headers={"If-Match": etag})
    assert_problem(response, 422, "argument")
    assert env.snapshot() == before


@pytest.fixture
def opened(env: Env) -> Env:
    env.open("E-1")
    return env


def test_an_event_not_allowed_now_names_the_allowed_ones(opened: Env) -> None:
    before = opened.snapshot()
    body = assert_problem(opened.fire("E-1", {"event": "close"}), 409, "event-not-allowed")
    assert body["allowed"] == ["assign", "mark_duplicate", "dismiss", "refer_major"]
    assert (body["case_id"], body["state"], body["event"]) == ("E-1", "discovered", "close")
    assert opened.snapshot() == before


def test_a_role_that_may_not_fire_names_the_roles_that_may(opened: Env) -> None:
    before = opened.snapshot()
    response = opened.fire("E-1", {"event": "refer_major", "reason": "疑似重大"})
    body = assert_problem(response, 403, "role-not-permitted")
    assert body["role"] == "community"
    assert body["roles"] == ["town_office", "fire_station"]
    assert opened.snapshot() == before


def test_a_payload_error_names_the_field(opened: Env) -> None:
    before = opened.snapshot()
    payload = {k: v for k, v in ASSIGN["payload"].items() if k != "due"}
    body = assert_problem(opened.fire("E-1", {**ASSIGN, "payload": payload}), 422, "payload")
    assert body["field"] == "due"
    assert body["problem"]
    wrong = opened.fire("E-1", {**ASSIGN, "payload": {**ASSIGN["payload"], "due": "soon"}})
    assert assert_problem(wrong, 422, "payload")["field"] == "due"
    unknown = opened.fire("E-1", {**ASSIGN, "payload": {**ASSIGN["payload"], "community": "西区"}})
    assert assert_problem(unknown, 422, "payload")["field"] == "community"
    assert opened.snapshot() == before


def test_missing_evidence_is_named(opened: Env) -> None:
    before = opened.snapshot()
    response = opened.fire("E-1", {"event": "dismiss", "reason": "不构成隐患"})
    body = assert_problem(response, 422, "evidence-missing")
    assert body["missing"] == ["inspection_record"]
    assert opened.snapshot() == before


def test_separation_of_duties_names_the_actor_and_the_earlier_event(opened: Env) -> None:
    assert opened.fire("E-1", ASSIGN).status_code == 200
    assert opened.fire("E-1", PLAN, opened.party).status_code == 200
    fixed = {"event": "report_fixed", "payload": {"summary": "已补齐"}}
    assert opened.fire("E-1", {**fixed, "evidence": evidence("photo_after")}).status_code == 200
    before = opened.snapshot()
    verify = {"event": "verify", "evidence": evidence("inspection_record")}
    body = assert_problem(opened.fire("E-1", verify), 422, "separation-of-duties")
    assert body["actor"] == "c-1"
    assert body["other"] == "report_fixed"
    assert body["event"] == "verify"
    assert opened.snapshot() == before
    # another actor of the community may verify
    assert opened.fire("E-1", {**verify, "role": "community"}, opened.town).status_code == 200


def test_a_final_case_takes_no_event(opened: Env) -> None:
    dismiss = {
        "event": "dismiss",
        "reason": "不构成隐患",
        "evidence": evidence("inspection_record"),
    }
    assert opened.fire("E-1", dismiss).status_code == 200
    before = opened.snapshot()
    body = assert_problem(opened.fire("E-1", ASSIGN), 409, "case-final")
    assert body["state"] == "not_hazard"
    assert opened.snapshot() == before


def test_an_unknown_event_names_the_known_ones(opened: Env) -> None:
    body = assert_problem(opened.fire("E-1", {"event": "teleport"}), 422, "unknown-event")
    assert "assign" in body["known"]


def test_an_event_dated_before_the_last_record_is_out_of_order(opened: Env) -> None:
    before = opened.snapshot()
    earlier = (T0 - dt.timedelta(days=1)).isoformat()
    body = assert_problem(opened.fire("E-1", {**ASSIGN, "at": earlier}), 409, "out-of-order")
    assert body["at"]
    assert body["last"]
    assert opened.snapshot() == before


def test_an_event_with_an_aware_time_is_dated_then(opened: Env) -> None:
    opened.clock.advance(dt.timedelta(days=1))
    at = (T0 + dt.timedelta(hours=2)).astimezone(dt.UTC).isoformat()
    assert opened.fire("E-1", {**ASSIGN, "at": at}).status_code == 200
    assert opened.ledger.get("E-1").history[-1].at == T0 + dt.timedelta(hours=2)


def test_an_event_dated_later_than_now_is_refused(opened: Env) -> None:
    before = opened.snapshot()
    later = (T0 + dt.timedelta(days=1)).isoformat()
    assert_problem(opened.fire("E-1", {**ASSIGN, "at": later}), 422)
    assert opened.snapshot() == before


def test_firing_on_an_unknown_case_is_not_found(env: Env) -> None:
    body = assert_problem(env.fire("NOPE", ASSIGN), 404, "case-not-found")
    assert body["case_id"] == "NOPE"


# -- idempotency ------------------------------------------------------------------------------


def post_keyed(env: Env, path: str, token: str, body: object, key: str, **headers: str) -> Response:
    return env.post(path, token, body, headers={"Idempotency-Key": key, **headers})


def test_the_same_request_with_the_same_key_fires_once(opened: Env) -> None:
    first = post_keyed(opened, "/cases/E-1/events", opened.east, ASSIGN, "assign-1")
    assert first.status_code == 200
    assert "idempotent-replayed" not in first.headers
    history = len(opened.ledger.get("E-1").history)
    outbox = opened.snapshot()[1]
    again = post_keyed(opened, "/cases/E-1/events", opened.east, ASSIGN, "assign-1")
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"] == '"1"'
    assert len(opened.ledger.get("E-1").history) == history
    assert opened.snapshot()[1] == outbox


def test_opening_with_a_key_opens_once(env: Env) -> None:
    body = {"id": "E-1", "workflow": "hazard", "data": data()}
    first = post_keyed(env, "/cases", env.east, body, "open-1")
    again = post_keyed(env, "/cases", env.east, body, "open-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["etag"] == '"0"'
    without = env.post("/cases", env.east, body)
    assert_problem(without, 409, "case-exists")


def test_a_refusal_is_replayed_too(opened: Env) -> None:
    first = post_keyed(opened, "/cases/E-1/events", opened.east, {"event": "close"}, "close-1")
    body = assert_problem(first, 409, "event-not-allowed")
    again = post_keyed(opened, "/cases/E-1/events", opened.east, {"event": "close"}, "close-1")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith(PROBLEM)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == body
    assert "etag" not in again.headers


def test_a_stale_refusal_is_replayed_even_after_the_case_moved(opened: Env) -> None:
    stale = {**PLAN, "expected_seq": 5}
    first = post_keyed(opened, "/cases/E-1/events", opened.party, stale, "plan-1")
    assert_problem(first, 409, "concurrency")
    assert opened.fire("E-1", ASSIGN).status_code == 200
    again = post_keyed(opened, "/cases/E-1/events", opened.party, stale, "plan-1")
    assert again.json() == first.json()
    assert opened.ledger.get("E-1").state == "assigned"


def test_the_same_key_with_another_body_is_a_conflict(opened: Env) -> None:
    assert post_keyed(opened, "/cases/E-1/events", opened.east, ASSIGN, "k").status_code == 200
    before = opened.snapshot()
    other = {**ASSIGN, "payload": {**ASSIGN["payload"], "measures": "另一种措施"}}
    body = assert_problem(
        post_keyed(opened, "/cases/E-1/events", opened.east, other, "k"),
        409,
        "idempotency-conflict",
    )
    assert body["running"] is False
    assert opened.snapshot() == before


def test_the_same_key_with_another_if_match_is_a_conflict(opened: Env) -> None:
    path = "/cases/E-1/events"
    first = post_keyed(opened, path, opened.east, ASSIGN, "k", **{"If-Match": '"0"'})
    assert first.status_code == 200
    body = assert_problem(
        post_keyed(opened, path, opened.east, ASSIGN, "k", **{"If-Match": '"1"'}),
        409,
        "idempotency-conflict",
    )
    assert body["running"] is False


def test_the_same_key_on_another_path_is_a_conflict(env: Env) -> None:
    env.open("E-1")
    env.open("E-2")
    assert post_keyed(env, "/cases/E-1/events", env.east, ASSIGN, "k").status_code == 200
    other = post_keyed(env, "/cases/E-2/events", env.east, ASSIGN, "k")
    assert_problem(other, 409, "idempotency-conflict")
    assert env.ledger.get("E-2").state == "discovered"


def test_each_token_has_its_own_keys(env: Env) -> None:
    env.open("E-1")
    env.open("E-2")
    first = post_keyed(env, "/cases/E-1/events", env.east, ASSIGN, "shared")
    as_town = {**ASSIGN, "role": "community"}
    second = post_keyed(env, "/cases/E-2/events", env.town, as_town, "shared")
    assert (first.status_code, second.status_code) == (200, 200)
    assert "idempotent-replayed" not in second.headers
    assert env.ledger.get("E-2").state == "assigned"
    # another token's key does not replay this one's answer
    third = post_keyed(env, "/cases/E-1/events", env.party, PLAN, "shared")
    assert "idempotent-replayed" not in third.headers
    assert third.status_code == 200


@pytest.mark.parametrize(
    "key",
    [
        "k" * 201,
        "ключ".encode().decode("latin-1"),  # non-ASCII octets, as a client sends them
        "tab\there",
        "",
    ],
)
def test_a_bad_idempotency_key_is_refused(opened: Env, key: str) -> None:
    before = opened.snapshot()
    response = opened.client.post(
        f"{API}/cases/E-1/events",
        json=ASSIGN,
        headers=[
            (b"authorization", f"Bearer {opened.east}".encode()),
            (b"idempotency-key", key.encode("latin-1")),
        ],
    )
    body = assert_problem(response, 422, "argument")
    assert "Idempotency-Key" in body["detail"]
    assert opened.snapshot() == before
    assert opened.fire("E-1", ASSIGN).status_code == 200


def test_the_longest_key_is_taken(opened: Env) -> None:
    response = post_keyed(opened, "/cases/E-1/events", opened.east, ASSIGN, "k" * 200)
    assert response.status_code == 200


def test_a_failed_request_releases_its_key(opened: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(opened.ledger.store, "change", broken)
    client = TestClient(opened.app, raise_server_exceptions=False)
    headers = {**bearer(opened.east), "Idempotency-Key": "retry-me"}
    failed = client.post(f"{API}/cases/E-1/events", json=ASSIGN, headers=headers)
    body = assert_problem(failed, 500, "internal")
    assert "store fell over" not in failed.text
    assert "RuntimeError" not in str(body)
    monkeypatch.undo()
    retried = post_keyed(opened, "/cases/E-1/events", opened.east, ASSIGN, "retry-me")
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers


# -- documents and reports --------------------------------------------------------------------


@pytest.fixture
def assigned(opened: Env) -> Env:
    assert opened.fire("E-1", ASSIGN).status_code == 200
    return opened


def test_a_case_lists_its_notices(assigned: Env) -> None:
    response = assigned.get("/cases/E-1/documents", assigned.east)
    assert response.status_code == 200
    (document,) = response.json()
    assert document["seq"] == 1
    assert document["notice"] == "rectification_slip"
    assert document["event"] == "assign"
    assert document["href"] == f"{API}/cases/E-1/documents/1/rectification_slip"


@pytest.mark.parametrize(("fmt", "media"), [("html", "text/html"), ("text", "text/plain")])
def test_a_notice_renders_as_html_and_text(assigned: Env, fmt: str, media: str) -> None:
    path = f"/cases/E-1/documents/1/rectification_slip?format={fmt}"
    response = assigned.get(path, assigned.east)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert "E-1" in response.text
    assert "补齐水带" in response.text
    again = assigned.get(path, assigned.east)
    assert again.text == response.text  # numbered once


def test_a_notice_in_an_unknown_format_is_refused(assigned: Env) -> None:
    path = "/cases/E-1/documents/1/rectification_slip?format=exe"
    assert_problem(assigned.get(path, assigned.east), 422, "invalid-request")


@pytest.mark.parametrize(
    "path",
    [
        "/cases/E-1/documents/1/reminder",
        "/cases/E-1/documents/0/rectification_slip",
        "/cases/E-1/documents/2/rectification_slip",
        "/cases/E-1/documents/-1/rectification_slip",
        "/cases/E-1/documents/99999999999/rectification_slip",
    ],
)
def test_an_unknown_notice_is_not_found(assigned: Env, path: str) -> None:
    assert_problem(assigned.get(path, assigned.east), 404, "no-such-document")


@pytest.mark.parametrize(
    "notice",
    [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%2e%2e",
        "..%5c..%5cwindows%5cwin.ini",
        "rectification_slip%2F..%2F..%2F..%2Fpyproject.toml",
        "%252e%252e%252fetc%252fpasswd",
        "..%00",
        "rectification_slip.html",
        "/etc/passwd",
    ],
)
def test_a_notice_name_never_reaches_a_file(assigned: Env, notice: str) -> None:
    response = assigned.client.get(
        f"{API}/cases/E-1/documents/1/{notice}", headers=bearer(assigned.east)
    )
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "root:" not in response.text
    assert "[build-system]" not in response.text


def test_the_documents_of_an_unknown_case_are_not_found(env: Env) -> None:
    assert_problem(env.get("/cases/NOPE/documents", env.east), 404, "case-not-found")
    path = "/cases/NOPE/documents/1/rectification_slip"
    assert_problem(env.get(path, env.east), 404, "case-not-found")


@pytest.mark.parametrize(("fmt", "media"), [("html", "text/html"), ("text", "text/plain")])
def test_a_circular_renders_as_of_a_day(assigned: Env, fmt: str, media: str) -> None:
    response = assigned.get(f"/reports/circular?as_of=2024-05-20&format={fmt}", assigned.town)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media)
    assert "2024年5月" in response.text


def test_a_report_covers_the_month_whose_period_holds_its_day(assigned: Env) -> None:
    # After the report day (the 22nd), a day is in the next month's period, as `rectify
    # report` has it: the service and the command render the same numbered document.
    after = assigned.get("/reports/circular?as_of=2024-05-25&format=text", assigned.town)
    assert after.status_code == 200, after.text
    assert "2024年6月" in after.text
    given = assigned.get(
        "/reports/circular?as_of=2024-05-25&month=2024-05&format=text", assigned.town
    )
    assert "2024年5月" in given.text


def test_a_monthly_report_is_of_a_community(assigned: Env) -> None:
    path = "/reports/monthly?as_of=2024-05-20&format=text"
    assert_problem(assigned.get(path, assigned.town), 422, "argument")
    response = assigned.get(f"{path}&community=东区", assigned.town)
    assert response.status_code == 200, response.text
    assert "东区" in response.text
    own = assigned.get(f"{path}&community=东区", assigned.east)
    assert own.status_code == 200
    assert own.text == response.text  # the same report of the same day keeps its number


def test_a_community_renders_its_own_reports_only(assigned: Env) -> None:
    path = "/reports/monthly?as_of=2024-05-20"
    assert_problem(assigned.get(f"{path}&community=西区", assigned.east), 403, "access")
    assert_problem(assigned.get("/reports/circular?as_of=2024-05-20", assigned.east), 403)


def test_a_report_of_an_unknown_community_is_refused(assigned: Env) -> None:
    path = "/reports/monthly?as_of=2024-05-20&community=北区"
    body = assert_problem(assigned.get(path, assigned.town), 422)
    assert "北区" in body["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "as_of=2024-05-20&month=2024-13",
        "as_of=2024-05-20&month=0000-01",
        "as_of=2024-05-20&month=0001-01",
        "as_of=0001-01-01",
        "as_of=9999-12-31",
        "as_of=2024-02-30",
        "as_of=today",
        "as_of=2024-05-20&month=2024-5",
    ],
)
def test_a_report_of_no_real_day_or_month_is_refused(assigned: Env, query: str) -> None:
    assert_problem(assigned.get(f"/reports/circular?{query}", assigned.town), 422)


def test_an_unknown_report_kind_is_refused(assigned: Env) -> None:
    response = assigned.get("/reports/secrets?as_of=2024-05-20", assigned.town)
    assert_problem(response, 422, "invalid-request")


REPORT_KINDS = [
    "monthly",
    "circular",
    "ledger",
    "totals",
    "escalation",
    "coverage",
    "register",
    "tasks",
    "plan",
    "lookback",
]


@pytest.mark.parametrize("kind", REPORT_KINDS)
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_every_report_renders_or_refuses_cleanly(assigned: Env, kind: str, fmt: str) -> None:
    path = f"/reports/{kind}?as_of=2024-05-20&format={fmt}&community=东区"
    response = assigned.get(path, assigned.town)
    if response.status_code == 200:
        assert response.text.strip()
    else:
        assert_problem(response, response.status_code)
        assert response.status_code < 500


def test_the_shipped_report_kinds_are_all_tried() -> None:
    from rectify.cli import _documents  # noqa: PLC0415

    assert sorted(_documents.REPORT_KINDS) == sorted(REPORT_KINDS)


# -- imports ----------------------------------------------------------------------------------


def ledger_csv(rows: int = 3, *, bad: bool = True) -> bytes:
    """Return the Attachment-1 ledger's title, header and first rows, and one bad row."""
    lines = (EXAMPLES / "data" / "ledger-2024.csv").read_text("utf-8-sig").splitlines()
    text = "\n".join(lines[: 2 + rows]) + "\n"
    if bad:
        text += ",,,,,,2024年13月45日,,,某人,某措施\n"
    return text.encode()


def upload(
    env: Env, token: str, content: bytes, query: str = "?role=town_office", **kw: Any
) -> Response:
    files = {"file": ("ledger.csv", content, "text/csv")}
    return env.client.post(
        f"{API}/imports{query}", files=files, headers={**bearer(token), **kw.pop("headers", {})}
    )


def test_a_ledger_import_opens_the_good_rows_and_reports_the_bad(env: Env) -> None:
    response = upload(env, env.town, ledger_csv())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows"] == 4
    assert report["added"] == 3
    assert report["existing"] == 0
    assert {p["row"] for p in report["problems"]} == {6}
    assert "整改时限" in {p["column"] for p in report["problems"]}
    assert report["summary"]
    assert len(env.snapshot()[0]) == 3
    again = upload(env, env.town, ledger_csv())
    assert (again.json()["added"], again.json()["existing"]) == (0, 3)
    assert len(env.snapshot()[0]) == 3


def test_an_import_is_town_only(env: Env) -> None:
    assert_problem(upload(env, env.east, ledger_csv(), "?role=community"), 403, "access")
    assert_problem(upload(env, env.east, ledger_csv(), ""), 403, "access")
    assert env.snapshot() == ([], [])


def test_an_import_names_its_role_when_the_token_has_several(env: Env) -> None:
    assert_problem(upload(env, env.town, ledger_csv(), ""), 403, "access")
    assert_problem(upload(env, env.town, ledger_csv(), "?role=police"), 403, "access")
    assert env.snapshot() == ([], [])


def test_an_import_with_a_key_imports_once(env: Env) -> None:
    headers = {"Idempotency-Key": "import-1"}
    first = upload(env, env.town, ledger_csv(), headers=headers)
    again = upload(env, env.town, ledger_csv(), headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert first.json()["added"] == 3
    other = upload(env, env.town, ledger_csv(rows=1), headers=headers)
    assert_problem(other, 409, "idempotency-conflict")
    as_other_role = upload(env, env.town, ledger_csv(), "?role=community", headers=headers)
    assert_problem(as_other_role, 409, "idempotency-conflict")
    assert len(env.snapshot()[0]) == 3


def test_an_unreadable_workbook_is_refused(env: Env) -> None:
    files = {"file": ("ledger.xlsx", b"PK\x03\x04 not a zip", "application/octet-stream")}
    response = env.client.post(
        f"{API}/imports?role=town_office", files=files, headers=bearer(env.town)
    )
    assert_problem(response, 422)
    assert env.snapshot() == ([], [])


def test_an_import_without_a_file_is_refused(env: Env) -> None:
    response = env.client.post(
        f"{API}/imports?role=town_office", data={"x": "1"}, headers=bearer(env.town)
    )
    body = assert_problem(response, 422, "invalid-request")
    assert body["errors"][0]["location"] == ["body", "file"]


# -- sweep, verify, outbox --------------------------------------------------------------------


def test_a_sweep_records_the_escalations_due(assigned: Env) -> None:
    assert assigned.fire("E-1", PLAN, assigned.party).status_code == 200
    assigned.clock.set(dt.datetime(2024, 6, 1, 9, tzinfo=T0.tzinfo))
    response = assigned.post("/sweep", assigned.town)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["escalated"] == ["E-1"]
    assert report["conflicts"] == []
    assert report["effects"] > 0
    assert report["looked_at"] >= 1
    again = assigned.post("/sweep", assigned.town).json()
    assert again["escalated"] == []


def test_a_sweep_with_a_key_is_answered_once(assigned: Env) -> None:
    assert assigned.fire("E-1", PLAN, assigned.party).status_code == 200
    assigned.clock.set(dt.datetime(2024, 6, 1, 9, tzinfo=T0.tzinfo))
    first = post_keyed(assigned, "/sweep", assigned.town, None, "sweep-2024-06-01")
    assert first.json()["escalated"] == ["E-1"]
    after = assigned.snapshot()
    again = post_keyed(assigned, "/sweep", assigned.town, None, "sweep-2024-06-01")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert "etag" not in again.headers
    assert assigned.snapshot() == after


def test_a_sweep_is_town_only(assigned: Env) -> None:
    assigned.clock.set(dt.datetime(2024, 6, 1, 9, tzinfo=T0.tzinfo))
    before = assigned.snapshot()
    assert_problem(assigned.post("/sweep", assigned.east), 403, "access")
    assert assigned.snapshot() == before


def test_verify_checks_every_case(assigned: Env) -> None:
    response = assigned.get("/verify", assigned.town)
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is True
    assert report["checked"] == 1
    assert report["findings"] == []
    assert len(report["heads_digest"]) == 64
    assert report["heads_digest"] == assigned.ledger.heads_digest()
    assert_problem(assigned.get("/verify", assigned.east), 403, "access")


def test_the_outbox_lists_acknowledges_and_shows_failures(assigned: Env) -> None:
    pending = assigned.get("/outbox", assigned.town)
    assert pending.status_code == 200
    items = pending.json()
    assert items
    assert {i["case_id"] for i in items} == {"E-1"}
    assert {"deadline_set", "notice"} <= {i["kind"] for i in items}
    assert all(i["attempt"] >= 1 and i["dead"] is False for i in items)
    assert len(assigned.get("/outbox?limit=1", assigned.town).json()) == 1
    assert assigned.get("/outbox?failed=true", assigned.town).json() == []

    first = items[0]["id"]
    assigned.ledger.fail(first, "the host was down")
    failed = assigned.get("/outbox?failed=true", assigned.town).json()
    assert [(f["id"], f["last_error"]) for f in failed] == [(first, "the host was down")]

    ids_ = [i["id"] for i in items]
    body = {"ids": [*ids_, ids_[0], "unknown:0:0"]}
    done = assigned.post("/outbox/acknowledge", assigned.town, body)
    assert done.status_code == 200
    assert done.json() == {"acknowledged": len(ids_) + 1}
    assert assigned.get("/outbox", assigned.town).json() == []
    again = assigned.post("/outbox/acknowledge", assigned.town, {"ids": ids_})
    assert again.status_code == 200


@pytest.mark.parametrize("query", ["limit=0", "limit=-5", "limit=100000", "failed=maybe"])
def test_an_outbox_query_out_of_bounds_is_refused(assigned: Env, query: str) -> None:
    assert_problem(assigned.get(f"/outbox?{query}", assigned.town), 422, "invalid-request")


def test_the_outbox_is_town_only(assigned: Env) -> None:
    before = assigned.snapshot()
    assert_problem(assigned.get("/outbox", assigned.east), 403, "access")
    ids_ = before[1]
    assert_problem(assigned.post("/outbox/acknowledge", assigned.east, {"ids": ids_}), 403)
    assert assigned.snapshot() == before


def test_acknowledging_too_many_ids_is_refused(assigned: Env) -> None:
    body = {"ids": [f"x:{i}:0" for i in range(1001)]}
    assert_problem(assigned.post("/outbox/acknowledge", assigned.town, body), 422)


# -- authentication ---------------------------------------------------------------------------


def assert_unauthorized(response: Response) -> None:
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "rct_" not in body["detail"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer rct_000000000000_" + "A" * 43,
        "Bearer rct_garbage",
        "Bearer not-a-token",
        "Token rct_000000000000_" + "A" * 43,
    ],
)
def test_a_request_without_a_valid_token_is_unauthorized(
    opened: Env, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [("GET", "/cases"), ("GET", "/cases/E-1"), ("POST", "/sweep")]:
        assert_unauthorized(opened.client.request(method, f"{API}{path}", headers=headers))
    assert_unauthorized(opened.client.post(f"{API}/cases/E-1/events", json=ASSIGN, headers=headers))
    assert opened.ledger.get("E-1").seq == 0


def test_a_token_with_a_wrong_secret_is_unauthorized(opened: Env) -> None:
    forged = opened.east[:-4] + ("AAAA" if not opened.east.endswith("AAAA") else "BBBB")
    assert_unauthorized(opened.get("/cases/E-1", forged))


def test_a_revoked_token_is_unauthorized(opened: Env) -> None:
    assert opened.get("/cases/E-1", opened.east).status_code == 200
    opened.revoke(opened.east)
    assert_unauthorized(opened.get("/cases/E-1", opened.east))
    assert_unauthorized(opened.fire("E-1", ASSIGN))
    assert opened.ledger.get("E-1").seq == 0


def test_an_app_serves_again_after_its_lifespan_restarts(opened: Env) -> None:
    """A host (or a test client) may shut the app down and start it again."""
    with TestClient(opened.app) as again:
        response = again.get(f"{API}/cases/E-1", headers=bearer(opened.east))
        assert response.status_code == 200
    with TestClient(opened.app) as third:
        headers = {**bearer(opened.east), "Idempotency-Key": "after-restart"}
        fired = third.post(f"{API}/cases/E-1/events", json=ASSIGN, headers=headers)
        assert fired.status_code == 200, fired.text


def test_the_health_check_needs_no_token(env: Env) -> None:
    response = env.client.get(f"{API}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def jwt_env() -> Iterator[Env]:
    verifier = JwtVerifier(JWT_KEY, algorithms=("HS256",))
    for env in make_env(MemoryStore(), MemoryServiceStore(), jwt=verifier):
        env.open("E-1")
        env.open("W-1", "西区")
        yield env


def signed(claims: Mapping[str, object], key: str = JWT_KEY, algorithm: str = "HS256") -> str:
    now = int(T0.timestamp())
    full = {"sub": "u-1", "iat": now, "exp": int(dt.datetime.now(dt.UTC).timestamp()) + 600}
    return pyjwt.encode({**full, **claims}, key, algorithm=algorithm)


def test_a_signed_jwt_with_roles_and_a_community_acts_in_it(jwt_env: Env) -> None:
    token = signed({"roles": ["community"], "community": "东区"})
    assert jwt_env.get("/cases/E-1", token).status_code == 200
    assert_problem(jwt_env.get("/cases/W-1", token), 404, "case-not-found")
    assert ids(jwt_env.get("/cases", token)) == ["E-1"]
    fired = jwt_env.post("/cases/E-1/events", token, ASSIGN, headers={"Idempotency-Key": "j"})
    assert fired.status_code == 200
    record = jwt_env.ledger.get("E-1").history[-1]
    assert (record.actor, record.role) == ("u-1", "community")
    again = jwt_env.post("/cases/E-1/events", token, ASSIGN, headers={"Idempotency-Key": "j"})
    assert again.headers["idempotent-replayed"] == "true"


def test_a_town_jwt_says_so(jwt_env: Env) -> None:
    token = signed({"roles": ["town_office"], "scope": "town"})
    assert jwt_env.get("/verify", token).status_code == 200
    assert ids(jwt_env.get("/cases", token)) == ["E-1", "W-1"]


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": ["community"]},  # neither a community nor the town's scope
        {"roles": ["community"], "scope": "openid profile"},
        {"community": "东区"},  # no roles
        {"roles": [], "community": "东区"},
        {"roles": "community", "community": "东区"},
        {"roles": [1], "community": "东区"},
        {"roles": ["community"], "community": 7},
        {"roles": ["community"], "community": "东区", "exp": int(T0.timestamp())},  # expired
        {"roles": ["community"], "community": "东区", "nbf": 4_000_000_000},
    ],
)
def test_an_unfit_jwt_is_unauthorized(jwt_env: Env, claims: dict[str, object]) -> None:
    assert_unauthorized(jwt_env.get("/cases/E-1", signed(claims)))


def test_a_jwt_without_sub_or_exp_is_unauthorized(jwt_env: Env) -> None:
    claims = {"roles": ["community"], "community": "东区"}
    without_exp = pyjwt.encode({**claims, "sub": "u-1"}, JWT_KEY, algorithm="HS256")
    without_sub = pyjwt.encode({**claims, "exp": 4_000_000_000}, JWT_KEY, algorithm="HS256")
    assert_unauthorized(jwt_env.get("/cases/E-1", without_exp))
    assert_unauthorized(jwt_env.get("/cases/E-1", without_sub))


def test_a_jwt_signed_with_another_key_or_none_is_unauthorized(jwt_env: Env) -> None:
    claims = {"roles": ["community"], "community": "东区"}
    assert_unauthorized(jwt_env.get("/cases/E-1", signed(claims, key="x" * 40)))
    unsigned = pyjwt.encode({**claims, "sub": "u-1", "exp": 4_000_000_000}, "", algorithm="none")
    assert_unauthorized(jwt_env.get("/cases/E-1", unsigned))
    # an unsigned token whose header says HS256 but carries no signature
    header, payload, _ = signed(claims).split(".")
    assert_unauthorized(jwt_env.get("/cases/E-1", f"{header}.{payload}."))


def test_jwts_are_refused_without_a_verifier(opened: Env) -> None:
    token = signed({"roles": ["town_office"], "scope": "town"})
    assert_unauthorized(opened.get("/cases/E-1", token))


# -- bad input --------------------------------------------------------------------------------


def assert_still_serving(env: Env, before: object) -> None:
    assert env.snapshot() == before
    assert env.get("/cases/E-1", env.east).status_code == 200
    response = env.fire("E-1", {**ASSIGN, "expected_seq": env.ledger.get("E-1").seq})
    assert response.status_code == 200, response.text


def raw_post(env: Env, path: str, content: bytes | Iterator[bytes], **headers: str) -> Response:
    return env.client.post(
        f"{API}{path}",
        content=content,
        headers={**bearer(env.east), "content-type": "application/json", **headers},
    )


@pytest.mark.parametrize(
    ("content", "location"),
    [
        (b"{bad", "body"),
        (b"", "body"),
        (b"[]", "body"),
        (b'"assign"', "body"),
        (b'{"event": 5}', "body.event"),
        (b'{"event": "assign", "payload": []}', "body.payload"),
        (b'{"event": "assign", "expected_seq": "zero"}', "body.expected_seq"),
        (b'{"event": "assign", "expected_seq": 99999999999}', "body.expected_seq"),
        (b'{"event": "assign", "evidence": [{"kind": "x"}]}', "body.evidence.0.name"),
        (b'{"event": "assign", "actor": "someone-else"}', "body.actor"),
        (b'{"event": "assign", "at": "2024-05-06T10:00:00"}', "body.at"),
        (b'{"event": "assign", "at": "yesterday"}', "body.at"),
        (b'{"event": ""}', "body.event"),
        (b'{"event": "' + b"x" * 201 + b'"}', "body.event"),
    ],
)
def test_a_malformed_event_is_refused_and_changes_nothing(
    opened: Env, content: bytes, location: str
) -> None:
    before = opened.snapshot()
    body = assert_problem(raw_post(opened, "/cases/E-1/events", content), 422, "invalid-request")
    assert any(".".join(e["location"]).startswith(location) for e in body["errors"]), body
    assert_still_serving(opened, before)


@pytest.mark.parametrize(
    "body",
    [
        {"id": "E-9", "workflow": "hazard", "data": {}, "extra": 1},
        {"id": "E-9", "workflow": "hazard", "data": [], "role": "community"},
        {"id": "E-9", "data": {}},
        {"id": "", "workflow": "hazard"},
        {"id": "E-9", "workflow": "hazard", "at": "2024-05-06T10:00:00"},
        {"id": 9, "workflow": "hazard"},
    ],
)
def test_a_malformed_open_is_refused_and_changes_nothing(opened: Env, body: object) -> None:
    before = opened.snapshot()
    assert_problem(opened.post("/cases", opened.east, body), 422, "invalid-request")
    assert_still_serving(opened, before)


def test_a_case_id_off_the_grammar_is_refused(opened: Env) -> None:
    before = opened.snapshot()
    body = {"id": "../../x", "workflow": "hazard", "data": data()}
    assert_problem(opened.post("/cases", opened.east, body), 422)
    assert_still_serving(opened, before)


def test_an_oversized_body_is_refused(opened: Env) -> None:
    before = opened.snapshot()
    response = raw_post(opened, "/cases/E-1/events", b" " * 300_000)
    assert_problem(response, 413, "body-too-large")
    assert_still_serving(opened, before)


def test_an_oversized_chunked_body_is_refused(opened: Env) -> None:
    before = opened.snapshot()

    def chunks() -> Iterator[bytes]:
        yield b'{"event": "assign", "reason": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    response = raw_post(opened, "/cases/E-1/events", chunks())
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "body-too-large")
    assert_still_serving(opened, before)


def test_an_oversized_body_with_a_key_leaves_the_key_free(opened: Env) -> None:
    before = opened.snapshot()
    response = raw_post(opened, "/cases/E-1/events", b" " * 300_000, **{"Idempotency-Key": "big"})
    assert_problem(response, 413)
    again = post_keyed(opened, "/cases/E-1/events", opened.east, ASSIGN, "big")
    assert again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert opened.snapshot() != before


@pytest.mark.parametrize("length", ["abc", "-1", "1e9", "999999999999999999999"])
def test_a_bad_content_length_is_refused(opened: Env, length: str) -> None:
    before = opened.snapshot()
    scope_headers = [
        (b"authorization", f"Bearer {opened.east}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", length.encode()),
    ]
    response = opened.client.post(f"{API}/cases/E-1/events", content=b"{}", headers=scope_headers)
    assert_problem(response, 413, "body-too-large")
    assert_still_serving(opened, before)


@pytest.fixture
def small_import() -> Iterator[Env]:
    for env in make_env(MemoryStore(), MemoryServiceStore(), max_import=2_000):
        env.open("E-1")
        yield env


def test_an_import_over_its_limit_is_refused(small_import: Env) -> None:
    before = small_import.snapshot()
    big = ledger_csv(rows=60, bad=False)
    assert len(big) > 2_000
    assert_problem(upload(small_import, small_import.town, big), 413, "body-too-large")
    assert_still_serving(small_import, before)
    assert upload(small_import, small_import.town, ledger_csv(rows=1, bad=False)).status_code == 200


def test_a_chunked_import_over_its_limit_is_refused(small_import: Env) -> None:
    before = small_import.snapshot()
    boundary = "rectify-test-boundary"

    def chunks() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="ledger.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        yield ledger_csv(rows=60, bad=False)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = small_import.client.post(
        f"{API}/imports?role=town_office",
        content=chunks(),
        headers={
            **bearer(small_import.town),
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert_problem(response, 413, "body-too-large")
    assert_still_serving(small_import, before)


def test_an_import_limit_above_the_default_is_the_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    from rectify.server import _app  # noqa: PLC0415

    monkeypatch.setattr(_app, "MAX_IMPORT", 100)  # the default, were the route to use it
    for env in make_env(MemoryStore(), MemoryServiceStore(), max_import=50_000):
        response = upload(env, env.town, ledger_csv())
        assert response.status_code == 200, response.text
        assert response.json()["added"] == 3


def test_a_request_body_limit_is_the_apps() -> None:
    for small in make_env(MemoryStore(), MemoryServiceStore(), max_body=1_000):
        small.open("E-1")
        body = {**ASSIGN, "reason": "x" * 1_500}
        assert_problem(small.fire("E-1", body), 413, "body-too-large")
        assert small.fire("E-1", ASSIGN).status_code == 200


# -- phone masking ----------------------------------------------------------------------------


def test_phones_are_masked_for_a_role_that_may_not_read_them(assigned: Env) -> None:
    masked = mask_phone(PHONE)
    assert masked == "138****5678"
    party_case = assigned.get("/cases/E-1", assigned.party).json()
    assert party_case["data"]["楼栋长电话"] == masked
    assert party_case["data"]["responsible_party"] == f"某物业（{masked}）"
    (listed,) = assigned.get("/cases", assigned.party).json()["items"]
    assert listed["data"]["楼栋长电话"] == masked
    history = assigned.get("/cases/E-1/history", assigned.party).json()
    assert history[1]["payload"]["responsible_party"] == f"某物业（{masked}）"
    slip = "/cases/E-1/documents/1/rectification_slip?format=text"
    assert PHONE not in assigned.get(slip, assigned.party).text
    assert PHONE not in assigned.get("/cases/E-1", assigned.party).text
    assert PHONE not in assigned.get("/cases/E-1/history", assigned.party).text

    shown = assigned.get("/cases/E-1", assigned.east).json()
    assert shown["data"]["楼栋长电话"] == PHONE
    assert PHONE in assigned.get("/cases/E-1/history", assigned.east).text
    assert PHONE in assigned.get(slip, assigned.east).text


def test_the_effects_of_a_fire_are_masked_too(assigned: Env) -> None:
    fired = assigned.fire("E-1", PLAN, assigned.party)
    assert fired.status_code == 200
    assert PHONE not in fired.text
    assert mask_phone(PHONE) in fired.text


# -- the authorization matrix -----------------------------------------------------------------


def _operations() -> list[tuple[str, str]]:
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    app = create_app(ledger, services=MemoryServiceStore(), console=False)
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


OPERATIONS = _operations()
#: Routes that hold no case and are the same for every caller (nothing of a case in them).
PUBLIC = {
    ("GET", f"{API}/health"),
    ("GET", f"{API}/workflows"),
    ("GET", f"{API}/workflows/{{workflow}}"),
    ("GET", f"{API}/workflows/{{workflow}}/diagram"),
    ("POST", f"{API}/workflows/validate"),
}
#: Routes for the whole town only: any community token is refused.
TOWN_ONLY = {
    ("POST", f"{API}/imports"),
    ("POST", f"{API}/sweep"),
    ("GET", f"{API}/verify"),
    ("GET", f"{API}/outbox"),
    ("POST", f"{API}/outbox/acknowledge"),
    ("POST", f"{API}/outbox/redrive"),
}
PATH_VALUES = {
    "case_id": "E-1",
    "workflow": "hazard",
    "seq": "1",
    "notice": "rectification_slip",
    "kind": "circular",
}


def _example(schema: Mapping[str, Any], components: Mapping[str, Any], name: str) -> object:
    """Return a small value that fits ``schema``: what a request for ``E-1`` would send."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[1]], components, name)
    if "anyOf" in schema:
        first = next(s for s in schema["anyOf"] if s.get("type") != "null")
        return _example(first, components, name)
    kind = schema.get("type")
    if kind == "object":
        props: Mapping[str, Any] = schema.get("properties", {})
        return {k: _example(props[k], components, k) for k in schema.get("required", [])}
    if kind == "array":
        return [_example(schema.get("items", {}), components, name)]
    if kind == "integer":
        return 0
    if kind == "boolean":
        return False
    return {"id": "E-9", "event": "assign", "workflow": "hazard"}.get(name, "E-1")


def _request(
    env: Env, method: str, path: str, operation: Mapping[str, Any], components: Mapping[str, Any]
) -> Response:
    """Send the operation as the 西区 token, aimed at 东区's case E-1 wherever it can be."""
    url = path
    for name, value in PATH_VALUES.items():
        url = url.replace(f"{{{name}}}", value)
    assert "{" not in url, f"give test_server_api.PATH_VALUES a value for {path}"
    params: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter.get("required"):
            params[parameter["name"]] = "2024-05-20" if "date" in str(parameter) else "x"
    if "/reports/" in path:
        params["community"] = "东区"
    kwargs: dict[str, Any] = {"params": params, "headers": bearer(env.west)}
    content = operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        kwargs["files"] = {"file": ("ledger.csv", ledger_csv(), "text/csv")}
        params["role"] = "community"
    elif "application/json" in content:
        schema = content["application/json"]["schema"]
        body = _example(schema, components, "")
        if isinstance(body, dict) and "ids" in body:
            body["ids"] = env.snapshot()[1]
        if path.endswith("/cases"):
            body = {"id": "E-9", "workflow": "hazard", "data": data("东区")}
        if path.endswith("/events"):
            body = ASSIGN
        if path.endswith("/workflows/validate"):
            body = {"yaml": (ROOT / "workflows" / "hazard.yaml").read_text(encoding="utf-8")}
        kwargs["json"] = body
    return env.client.request(method, url, **kwargs)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_another_community_can_neither_see_nor_change_a_case(
    assigned: Env, method: str, path: str
) -> None:
    env = assigned
    env.open("W-1", "西区")
    document = env.app.openapi()
    components = document.get("components", {}).get("schemas", {})
    operation = document["paths"][path][method.lower()]
    before = env.snapshot()
    case_before = env.ledger.get("E-1")

    response = _request(env, method, path, operation, components)

    if (method, path) in PUBLIC:
        assert response.status_code == 200, response.text
        assert "E-1" not in response.text
    elif (method, path) == ("GET", f"{API}/cases"):
        assert ids(response) == ["W-1"]
        asked = env.get("/cases?community=东区", env.west)
        assert_problem(asked, 403, "access")
        assert "E-1" not in asked.text
    elif (method, path) in TOWN_ONLY or "{case_id}" not in path:
        assert_problem(response, 403)
    else:
        assert response.status_code in (403, 404), response.text
        assert response.headers["content-type"].startswith(PROBLEM)
    assert not 200 <= response.status_code < 300 or (method, path) in PUBLIC | {
        ("GET", f"{API}/cases")
    }
    assert env.snapshot() == before
    assert env.ledger.get("E-1") == case_before


def test_town_only_routes_refuse_the_cases_own_community(assigned: Env) -> None:
    """Even 东区's own token is refused the town's routes: they span every community."""
    document = assigned.app.openapi()
    components = document.get("components", {}).get("schemas", {})
    before = assigned.snapshot()
    for method, path in sorted(TOWN_ONLY & set(OPERATIONS)):
        operation = document["paths"][path][method.lower()]
        east = attrs.evolve(assigned, west=assigned.east)
        assert_problem(_request(east, method, path, operation, components), 403, "access")
    assert assigned.snapshot() == before


def test_the_matrix_knows_every_town_only_route() -> None:
    assert set(OPERATIONS) >= TOWN_ONLY | PUBLIC


# -- SQL backends -----------------------------------------------------------------------------


def drop_prefixed(engine: sa.Engine, prefix: str) -> None:
    metadata = sa.MetaData()
    metadata.reflect(engine, only=lambda name, _: name.startswith(prefix))
    metadata.drop_all(engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    if request.param == "sqlite":
        store = SQLStore.open(tmp_path / "x.db")
    else:
        if not PG_URL:
            pytest.skip(
                "postgresql tests need a server: set RECTIFY_TEST_POSTGRES_URL="
                "postgresql+psycopg://postgres@127.0.0.1:5432/test"
            )
        store = SQLStore.open(PG_URL, prefix=f"a{uuid.uuid4().hex[:8]}_")
    try:
        services = SQLServiceStore(store.engine, store.prefix)
        tables = set(sa.inspect(store.engine).get_table_names())
        assert {f"{store.prefix}api_tokens", f"{store.prefix}api_requests"} <= tables
        verifier = JwtVerifier(JWT_KEY, algorithms=("HS256",))
        yield from make_env(store, services, jwt=verifier)
    finally:
        if request.param == "postgresql":
            drop_prefixed(store.engine, store.prefix)
        store.close()


def test_the_core_flows_on_a_sql_store(sql_env: Env) -> None:
    env = sql_env
    opened = env.open("E-1")
    assert opened.headers["etag"] == '"0"'
    env.open("W-1", "西区")

    first = post_keyed(env, "/cases/E-1/events", env.east, ASSIGN, "k-1", **{"If-Match": '"0"'})
    assert first.status_code == 200, first.text
    again = post_keyed(env, "/cases/E-1/events", env.east, ASSIGN, "k-1", **{"If-Match": '"0"'})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert len(env.ledger.get("E-1").history) == 2
    other = {**ASSIGN, "payload": {**ASSIGN["payload"], "measures": "别的"}}
    conflict = post_keyed(env, "/cases/E-1/events", env.east, other, "k-1")
    assert_problem(conflict, 409, "idempotency-conflict")
    refused = post_keyed(env, "/cases/E-1/events", env.east, {"event": "close"}, "k-2")
    assert_problem(refused, 409, "event-not-allowed")
    replayed = post_keyed(env, "/cases/E-1/events", env.east, {"event": "close"}, "k-2")
    assert replayed.json() == refused.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    stale = env.fire("E-1", {**PLAN, "expected_seq": 0}, env.party)
    assert_problem(stale, 409, "concurrency")

    assert_problem(env.get("/cases/E-1", env.west), 404, "case-not-found")
    assert_problem(env.fire("E-1", PLAN, env.west), 404, "case-not-found")
    assert ids(env.get("/cases", env.west)) == ["W-1"]
    assert ids(env.get("/cases", env.east)) == ["E-1"]
    masked = env.get("/cases/E-1", env.party).json()["data"]["楼栋长电话"]
    assert masked == mask_phone(PHONE)
    assert env.get("/verify", env.town).json()["ok"] is True

    env.revoke(env.west)
    assert_unauthorized(env.get("/cases", env.west))


def test_a_jwt_with_a_long_subject_keeps_its_keys_on_a_sql_store(sql_env: Env) -> None:
    env = sql_env
    env.open("E-1")
    subject = "https://idp.example.org/users/" + "x" * 120
    token = signed({"sub": subject, "roles": ["community"], "community": "东区"})
    first = env.post("/cases/E-1/events", token, ASSIGN, headers={"Idempotency-Key": "j-1"})
    assert first.status_code == 200, first.text
    again = env.post("/cases/E-1/events", token, ASSIGN, headers={"Idempotency-Key": "j-1"})
    assert again.headers["idempotent-replayed"] == "true"
    other = signed({"sub": subject + "y", "roles": ["community"], "community": "东区"})
    theirs = env.post(
        "/cases/E-1/events", other, {"event": "close"}, headers={"Idempotency-Key": "j-1"}
    )
    assert_problem(theirs, 409, "event-not-allowed")
    assert "idempotent-replayed" not in theirs.headers


def test_the_tokens_live_in_the_stores_database(sql_env: Env) -> None:
    assert isinstance(sql_env.services, SQLServiceStore)
    listed = {t.actor: t for t in sql_env.services.tokens()}
    assert set(listed) == {"t-1", "c-1", "c-9", "p-1"}
    assert listed["c-1"].scope == "东区"
    assert listed["t-1"].scope is None
    assert listed["p-1"].roles == ("responsible_party",)
