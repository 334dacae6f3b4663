"""Webhook delivery of the outbox: plain JSON, signatures, retries with backoff, dead letters.

A real HTTP receiver on 127.0.0.1 takes the requests; time is a fake clock the tests move
on, so no test waits for a backoff to pass.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import attrs
import pytest

from rectify import Ledger
from rectify.engine import DeadlineSet, NoticeDue
from rectify.exceptions import DefinitionError
from rectify.server._webhooks import (
    KINDS,
    Deliverer,
    DeliveryRound,
    Hook,
    WebhookConfig,
    effect_json,
    load_webhooks,
    sign,
    verify_signature,
)
from rectify.stores import Delivery, MemoryStore
from tests.test_ledger import COMMUNITY, T0, hazard_data, make_ledger, open_planned

SECRET = b"s3cret-for-tests"
NOW = 1_700_000_000  # the wall clock of every test, in unix seconds
EFFECTS = 4  # open_planned queues three deadlines and one notice


@attrs.define
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def delivery(self) -> str:
        return self.headers["Rectify-Delivery"]

    @property
    def json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.body)
        return data


class Receiver:
    """A host's endpoint: answers 500 to the first ``failures`` requests of each delivery."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = Request(self.path, dict(self.headers.items()), body)
                with receiver.lock:
                    receiver.requests.append(request)
                    seen = sum(r.delivery == request.delivery for r in receiver.requests)
                self.send_response(500 if seen <= receiver.failures else 204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def by_delivery(self) -> dict[str, list[Request]]:
        out: dict[str, list[Request]] = {}
        for request in self.requests:
            out.setdefault(request.delivery, []).append(request)
        return out


Serve = Callable[[int], "Receiver"]


@pytest.fixture
def serve() -> Iterator[Serve]:
    started: list[Receiver] = []

    def start(failures: int) -> Receiver:
        receiver = Receiver(failures)
        receiver.thread.start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.server.shutdown()
        receiver.server.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledger() -> Ledger:
    ledger = make_ledger(MemoryStore())
    open_planned(ledger, "H-1")
    return ledger


MakeDeliverer = Callable[[Ledger, WebhookConfig, FakeClock], Deliverer]


@pytest.fixture
def deliverer() -> Iterator[MakeDeliverer]:
    """Make deliverers on the fake clocks, signing at ``NOW``; close them after the test."""
    made: list[Deliverer] = []

    def make(ledger: Ledger, config: WebhookConfig, clock: FakeClock) -> Deliverer:
        made.append(Deliverer(ledger, config, clock=clock, wall=lambda: float(NOW)))
        return made[-1]

    yield make
    for worker in made:
        worker.close()


def config(*hooks: Hook, max_attempts: int = 5) -> WebhookConfig:
    return WebhookConfig(hooks, SECRET, max_attempts=max_attempts, backoff=2.0, backoff_max=60.0)


# -- the JSON -----------------------------------------------------------------------------------


def test_effect_json_is_plain_with_iso_dates_and_lists() -> None:
    notice = Delivery("H-1:1:1", "H-1", NoticeDue("H-1", "slip", 1, "assign", ("甲", "乙")), 2)
    deadline = Delivery("H-1:2:0", "H-1", DeadlineSet("H-1", "planned", dt.date(2024, 5, 20)), 1)
    assert effect_json(notice) == {
        "id": "H-1:1:1",
        "case_id": "H-1",
        "kind": "notice",
        "attempt": 2,
        "effect": {
            "case_id": "H-1",
            "notice": "slip",
            "seq": 1,
            "event": "assign",
            "to": ["甲", "乙"],
            "level": None,
        },
    }
    assert effect_json(deadline)["effect"] == {
        "case_id": "H-1",
        "state": "planned",
        "due": "2024-05-20",
    }
    assert effect_json(deadline)["kind"] == "deadline_set"
    assert json.loads(json.dumps(effect_json(notice))) == effect_json(notice)
    assert KINDS == ("notice", "deadline_set", "deadline_cleared", "escalated")


# -- signatures ---------------------------------------------------------------------------------


def test_a_signature_verifies_and_a_tampered_body_or_secret_does_not() -> None:
    body = b'{"id":"H-1:0:0","kind":"notice"}'
    header = sign(SECRET, body, NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert verify_signature(SECRET, body, header, now=NOW)
    assert not verify_signature(SECRET, body.replace(b"notice", b"escalated"), header, now=NOW)
    assert not verify_signature(b"another secret", body, header, now=NOW)


def test_a_stale_or_future_timestamp_fails_verification() -> None:
    body = b"{}"
    header = sign(SECRET, body, NOW)
    assert verify_signature(SECRET, body, header, now=NOW + 300)
    assert not verify_signature(SECRET, body, header, now=NOW + 301)
    assert not verify_signature(SECRET, body, header, now=NOW - 301)
    assert verify_signature(SECRET, body, header, now=NOW + 1000, tolerance=1000)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", f"t={NOW}", "v1=00", f"t=x{NOW},v1=00", f"t={NOW},t={NOW},v1=00", "t=,v1=ä"],
)
def test_a_malformed_signature_header_fails_verification(header: str) -> None:
    assert not verify_signature(SECRET, b"{}", header, now=NOW)


def test_a_replaced_timestamp_fails_verification() -> None:
    header = sign(SECRET, b"{}", NOW).replace(f"t={NOW}", f"t={NOW + 10}")
    assert not verify_signature(SECRET, b"{}", header, now=NOW)


# -- delivering ---------------------------------------------------------------------------------


def test_every_effect_arrives_signed_after_two_failures_respecting_the_backoff(
    ledger: Ledger, serve: Serve, deliverer: MakeDeliverer
) -> None:
    receiver = serve(2)
    clock = FakeClock()
    worker = deliverer(ledger, config(Hook(receiver.url + "/hook")), clock)
    assert worker.run_once() == DeliveryRound(delivered=0, failed=EFFECTS, dead=0, waiting=0)
    # The first retry waits at least backoff * 0.5 = 1 s: nothing is sent before then.
    assert worker.run_once() == DeliveryRound(0, 0, 0, waiting=EFFECTS)
    clock.now += 0.99
    assert worker.run_once() == DeliveryRound(0, 0, 0, waiting=EFFECTS)
    assert len(receiver.requests) == EFFECTS
    clock.now += 1.01  # past backoff * 1 = 2 s, the longest first wait
    assert worker.run_once() == DeliveryRound(0, EFFECTS, 0, 0)
    assert worker.run_once().waiting == EFFECTS
    clock.now += 4.0  # past backoff * 2
    assert worker.run_once() == DeliveryRound(EFFECTS, 0, 0, 0)

    arrived = receiver.by_delivery()
    assert sorted(arrived) == sorted(f"H-1:{seq}" for seq in ("0:0", "1:0", "1:1", "2:0"))
    for delivery_id, requests in arrived.items():
        assert [r.headers["Rectify-Attempt"] for r in requests] == ["1", "2", "3"]
        assert [r.json["attempt"] for r in requests] == [1, 2, 3]
        assert {r.json["id"] for r in requests} == {delivery_id}
        for request in requests:
            assert request.path == "/hook"
            assert request.headers["Content-Type"] == "application/json"
            signature = request.headers["Rectify-Signature"]
            assert verify_signature(SECRET, request.body, signature, now=NOW)
    kinds = sorted(str(r[0].json["kind"]) for r in arrived.values())
    assert kinds == ["deadline_set", "deadline_set", "deadline_set", "notice"]
    assert ledger.pending() == []
    assert ledger.failed() == []
    assert worker.run_once() == DeliveryRound(0, 0, 0, 0)


def test_an_effect_is_dead_lettered_after_max_attempts(
    ledger: Ledger, serve: Serve, deliverer: MakeDeliverer
) -> None:
    receiver = serve(10**6)
    clock = FakeClock()
    worker = deliverer(ledger, config(Hook(receiver.url), max_attempts=3), clock)
    rounds = []
    for _ in range(5):
        rounds.append(worker.run_once())
        clock.now += 60.0  # backoff_max
    assert [(r.failed, r.dead) for r in rounds] == [
        (EFFECTS, 0),
        (EFFECTS, 0),
        (0, EFFECTS),
        (0, 0),
        (0, 0),
    ]
    assert len(receiver.requests) == 3 * EFFECTS
    dead = ledger.failed()
    assert len(dead) == EFFECTS
    assert all(d.dead and d.attempts == 3 for d in dead)
    assert {d.last_error for d in dead} == {f"{receiver.url}: HTTP 500"}
    assert ledger.pending() == []


def test_a_transport_error_is_recorded_by_its_class_without_the_secret(
    ledger: Ledger, deliverer: MakeDeliverer
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker = deliverer(ledger, config(Hook(f"http://user:pw@127.0.0.1:{port}/h?t=x")), FakeClock())
    assert worker.run_once().failed == EFFECTS
    errors = {d.last_error for d in ledger.failed()}
    assert errors == {f"http://127.0.0.1:{port}/h: ConnectError"}
    assert SECRET.decode() not in repr(worker.config)


def test_a_failing_hook_retries_the_effect_for_every_hook(
    ledger: Ledger, serve: Serve, deliverer: MakeDeliverer
) -> None:
    good, bad = serve(0), serve(1)
    clock = FakeClock()
    worker = deliverer(ledger, config(Hook(good.url), Hook(bad.url)), clock)
    assert worker.run_once().failed == EFFECTS
    clock.now += 2.0
    assert worker.run_once().delivered == EFFECTS
    assert [len(r) for r in good.by_delivery().values()] == [2] * EFFECTS  # at least once
    assert [len(r) for r in bad.by_delivery().values()] == [2] * EFFECTS


def test_hooks_get_only_the_kinds_they_ask_for(
    ledger: Ledger, serve: Serve, deliverer: MakeDeliverer
) -> None:
    receiver = serve(0)
    hooks = (Hook(receiver.url + "/all"), Hook(receiver.url + "/notices", frozenset({"notice"})))
    assert deliverer(ledger, config(*hooks), FakeClock()).run_once().delivered == EFFECTS
    paths = sorted((r.path, r.json["kind"]) for r in receiver.requests)
    assert paths == [
        ("/all", "deadline_set"),
        ("/all", "deadline_set"),
        ("/all", "deadline_set"),
        ("/all", "notice"),
        ("/notices", "notice"),
    ]


def test_a_hook_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(DefinitionError, match="unknown kinds notices; known: notice, "):
        Hook("https://town.example/h", frozenset({"notices", "notice"}))


def test_an_effect_no_hook_wants_is_acknowledged(
    ledger: Ledger, serve: Serve, deliverer: MakeDeliverer
) -> None:
    receiver = serve(0)
    hook = Hook(receiver.url, frozenset({"escalated"}))
    assert deliverer(ledger, config(hook), FakeClock()).run_once().delivered == EFFECTS
    assert receiver.requests == []
    assert ledger.pending() == []


def test_a_non_ascii_delivery_id_is_percent_encoded_in_its_header(
    serve: Serve, deliverer: MakeDeliverer
) -> None:
    ledger = make_ledger(MemoryStore())
    ledger.open("正街-1", "hazard", hazard_data(), COMMUNITY, at=T0)
    receiver = serve(0)
    assert deliverer(ledger, config(Hook(receiver.url)), FakeClock()).run_once().delivered == 1
    [request] = receiver.requests
    assert request.json["id"] == "正街-1:0:0"
    assert request.delivery == quote("正街-1:0:0", safe=":")


def test_run_forever_delivers_until_stopped(
    ledger: Ledger, serve: Serve, deliverer: MakeDeliverer
) -> None:
    receiver = serve(0)
    worker = deliverer(ledger, config(Hook(receiver.url)), FakeClock())
    stop = threading.Event()
    thread = threading.Thread(target=lambda: worker.run_forever(interval=0.01, stop=stop))
    thread.start()
    try:
        for _ in range(500):
            if not ledger.pending():
                break
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert len(receiver.requests) == EFFECTS


# -- the configuration file ---------------------------------------------------------------------

GOOD = """\
secret_env: RECTIFY_WEBHOOK_SECRET
max_attempts: 8
backoff_seconds: 2
hooks:
  - url: https://town.example/hooks/rectify
    kinds: [notice, escalated]
  - url: http://127.0.0.1:8080/all
"""
ENV = {"RECTIFY_WEBHOOK_SECRET": "from-the-env"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "webhooks.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_config_file_loads_with_its_secret_from_the_environment(tmp_path: Path) -> None:
    loaded = load_webhooks(write(tmp_path, GOOD), environ=ENV)
    assert loaded == WebhookConfig(
        (
            Hook("https://town.example/hooks/rectify", frozenset({"notice", "escalated"})),
            Hook("http://127.0.0.1:8080/all"),
        ),
        b"from-the-env",
        max_attempts=8,
        backoff=2,
    )
    assert "from-the-env" not in repr(loaded)
    given = "given"
    assert load_webhooks(write(tmp_path, GOOD), secret=given, environ={}).secret == b"given"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("https://town", "ftp://town"), "hooks.0.url: must be an http(s) URL"),
        (GOOD.replace("https://town.example", "https://"), "hooks.0.url: must be an http(s) URL"),
        (GOOD.replace("8080", "99999"), "hooks.1.url: must be an http(s) URL"),
        (GOOD.replace("/all", "/a ll"), "hooks.1.url: must be an http(s) URL"),
        (GOOD + "retries: 3\n", "retries: unknown key; known: secret_env, max_attempts"),
        (GOOD + "    secret: x\n", "hooks.1.secret: unknown key; known: url, kinds"),
        (
            GOOD.replace("escalated]", "escalation]"),
            "hooks.0.kinds: unknown kind 'escalation'; known: notice, deadline_set",
        ),
        (GOOD.replace("[notice, escalated]", "[]"), "hooks.0.kinds: name at least one kind"),
        (GOOD.replace("[notice, escalated]", "notice"), "hooks.0.kinds: must be a list"),
        (GOOD.replace("max_attempts: 8", "max_attempts: 0"), "max_attempts: must be a whole"),
        (GOOD.replace("max_attempts: 8", "max_attempts: true"), "max_attempts: must be a whole"),
        (GOOD.replace("backoff_seconds: 2", "backoff_seconds: soon"), "backoff_seconds: must"),
        (GOOD + "backoff_max_seconds: 1\n", "backoff_max_seconds: must be at least"),
        (GOOD.replace("RECTIFY_WEBHOOK_SECRET", "UNSET_VAR"), "secret_env: the environment"),
        (GOOD.replace("secret_env: RECTIFY_WEBHOOK_SECRET\n", ""), "secret_env: must name"),
        (GOOD.partition("hooks:")[0] + "hooks: []\n", "hooks: must be a list of at least one"),
        ("- just a list\n", "must be a mapping"),
        ("hooks: [\n", "yaml-syntax"),
    ],
)
def test_a_bad_config_file_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DefinitionError) as caught:
        load_webhooks(path, environ=ENV)
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)
    assert "from-the-env" not in str(caught.value)


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="cannot read"):
        load_webhooks(tmp_path / "nope.yaml", environ=ENV)
