"""The service's documents as PDF (printed by Chromium) and as Word copies, or a clear 501."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from rectify import Ledger
from rectify.server import MemoryServiceStore, create_app
from rectify.server._printing import chromium
from rectify.stores import MemoryStore
from rectify.testing import FakeCalendar, FakeClock

TZ = ZoneInfo("Asia/Shanghai")
SLIP = "/api/v1/cases/H-1/documents/1/rectification_slip"


@pytest.fixture
def client() -> Iterator[tuple[TestClient, dict[str, str]]]:
    clock = FakeClock(dt.datetime(2024, 5, 6, 9, tzinfo=TZ))
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar(), clock=clock)
    services = MemoryServiceStore()
    token, _ = services.create_token("c-1", ["community"], "东区", now=clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ledger, services=services, console=False)) as client:
        data = {"community": "东区", "category": "FAC.HOSE", "severity": "general-short"}
        opened = client.post(
            "/api/v1/cases", json={"id": "H-1", "workflow": "hazard", "data": data}, headers=headers
        )
        assert opened.status_code == 201, opened.text
        order = {"responsible_party": "某物业", "measures": "补齐水带", "due": "2024-05-20"}
        fired = client.post(
            "/api/v1/cases/H-1/events",
            json={"event": "assign", "payload": order},
            headers=headers,
        )
        assert fired.status_code == 200, fired.text
        yield client, headers


def test_a_notice_is_printed_to_pdf_by_chromium(client: tuple[TestClient, dict[str, str]]) -> None:
    if chromium() is None:
        pytest.skip("PDF needs Chromium: apt-get install chromium fonts-noto-cjk")
    from pypdf import PdfReader  # noqa: PLC0415

    http, headers = client
    answer = http.get(f"{SLIP}?format=pdf", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)
    assert "整改通知单" in text
    assert "某物业" in text
    # The same document, again: the same number and date (it is numbered once).
    html = http.get(SLIP, headers=headers).text
    assert http.get(SLIP, headers=headers).text == html


def test_a_notice_has_a_word_copy(client: tuple[TestClient, dict[str, str]]) -> None:
    import docx  # noqa: PLC0415

    http, headers = client
    answer = http.get(f"{SLIP}?format=docx", headers=headers)
    assert answer.status_code == 200, answer.text
    document = docx.Document(io.BytesIO(answer.content))
    assert any("某物业" in p.text for p in document.paragraphs)


def test_without_chromium_pdf_is_a_501_problem_and_the_rest_is_served(
    client: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECTIFY_CHROMIUM", str(tmp_path / "no-such-browser"))
    http, headers = client
    answer = http.get(f"{SLIP}?format=pdf", headers=headers)
    assert answer.status_code == 501
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Chromium" in answer.json()["detail"]
    assert http.get(f"{SLIP}?format=text", headers=headers).status_code == 200


def test_an_unknown_format_is_refused(client: tuple[TestClient, dict[str, str]]) -> None:
    http, headers = client
    answer = http.get(f"{SLIP}?format=../../etc/passwd", headers=headers)
    assert answer.status_code == 422
    assert answer.json()["type"] == "urn:rectify:problem:invalid-request"
