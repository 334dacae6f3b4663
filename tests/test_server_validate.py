"""POST /api/v1/workflows/validate: a host checks a workflow's YAML before it ships it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from rectify import Ledger
from rectify.server import MemoryServiceStore, create_app
from rectify.stores import MemoryStore
from tests.conftest import ROOT

HAZARD = (ROOT / "workflows" / "hazard.yaml").read_text(encoding="utf-8")
NOW = dt.datetime(2024, 5, 6, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def client() -> tuple[TestClient, dict[str, str]]:
    services = MemoryServiceStore()
    token, _ = services.create_token("c-1", ["community"], "东区", now=NOW)
    app = create_app(Ledger.with_workflows(MemoryStore()), services=services, console=False)
    return TestClient(app), {"Authorization": f"Bearer {token}"}


def test_a_clean_workflow_answers_200(client: tuple[TestClient, dict[str, str]]) -> None:
    http, headers = client
    answer = http.post("/api/v1/workflows/validate", json={"yaml": HAZARD}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"diagnostics": []}


def test_errors_answer_422_with_each_diagnostics_line_and_column(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, headers = client
    bad = HAZARD.replace("    to: assigned\n", "    to: asigned\n", 1)
    line = bad.splitlines().index("    to: asigned") + 1
    answer = http.post("/api/v1/workflows/validate", json={"yaml": bad}, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:rectify:problem:workflow-definition"
    found = {(d["code"], d["file"], d["line"], d["column"]) for d in problem["diagnostics"]}
    assert ("undeclared-state", "workflow.yaml", line, 9) in found


def test_text_that_looks_like_a_path_is_checked_as_yaml_never_read(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, headers = client
    for text in ("/etc/passwd.yaml", str(ROOT / "workflows" / "hazard.yaml")):
        answer = http.post("/api/v1/workflows/validate", json={"yaml": text}, headers=headers)
        assert answer.status_code == 422
        [diagnostic] = answer.json()["diagnostics"]
        assert diagnostic["code"] == "wrong-type"  # a YAML string, not a file's workflow


def test_it_needs_a_token(client: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = client
    assert http.post("/api/v1/workflows/validate", json={"yaml": HAZARD}).status_code == 401
