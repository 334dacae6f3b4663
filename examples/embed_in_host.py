"""A host system embedding rectify: a small WSGI app over a SQLite ledger, and its outbox.

The host owns the web layer, the login and the clock; rectify owns the cases. A grid worker
reports a hazard, the community assigns it, a refused request comes back as 403 with the
reason, and a worker hands the outbox effects to a handler that renders the notices. The
script drives the app in-process (no server, no network) and exits.

Run: python examples/embed_in_host.py
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults
from zoneinfo import ZoneInfo

import rectify
from rectify.exceptions import CaseNotFoundError, ConcurrencyError, RoleNotPermittedError
from rectify.stores import Delivery, SQLStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
ISSUER = rectify.documents.Issuer("虎峰镇消防安全委员会办公室", code="虎峰镇消安")
EVENT_PATH = re.compile(r"/hazards/([^/]+)/events/([^/]+)")
CASE_PATH = re.compile(r"/hazards/([^/]+)")
Response = tuple[str, dict[str, object]]


class BadRequestError(Exception):
    """The request's body is not what the route takes."""


class HostClock:
    """The host's clock; the script moves it so that the run reads the same every time."""

    def __init__(self, now: dt.datetime) -> None:
        self.current = now

    def now(self) -> dt.datetime:
        """Return the host's now."""
        return self.current


class HazardApp:
    """The host's routes over a ledger (plain WSGI: any server or framework can mount it).

    ``POST /hazards`` reports a hazard, ``POST /hazards/<id>/events/<event>`` fires an event,
    ``GET /hazards/<id>`` reads a case. Who is asking comes from the host's login; here the
    ``X-User`` and ``X-Role`` headers stand in for it.
    """

    def __init__(self, ledger: rectify.Ledger) -> None:
        self.ledger = ledger

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request with JSON."""
        actor = rectify.Actor(environ.get("HTTP_X_USER", ""), environ.get("HTTP_X_ROLE", ""))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        try:
            status, answer = self.route(
                environ["REQUEST_METHOD"], environ["PATH_INFO"], actor, body
            )
        except BadRequestError as exc:
            status, answer = "400 Bad Request", {"error": str(exc)}
        except CaseNotFoundError as exc:
            status, answer = "404 Not Found", {"error": str(exc)}
        except RoleNotPermittedError as exc:
            status, answer = "403 Forbidden", {"error": str(exc), "roles": list(exc.roles)}
        except ConcurrencyError as exc:  # the user saw an old version: reload and retry
            status, answer = "409 Conflict", {"error": str(exc)}
        except rectify.EventRefusedError as exc:  # wrong state, payload, evidence, guard...
            status, answer = "422 Unprocessable Entity", {"error": str(exc)}
        data = json.dumps(answer, ensure_ascii=False, default=str).encode()
        start_response(status, [("Content-Type", "application/json; charset=utf-8")])
        return [data]

    def route(
        self, method: str, path: str, actor: rectify.Actor, body: Mapping[str, object]
    ) -> Response:
        """Dispatch on method and path."""
        if method == "POST" and path == "/hazards":
            case_id, data = body.get("id"), body.get("data")
            if not isinstance(case_id, str) or not isinstance(data, dict):
                raise BadRequestError("send {id: text, data: {field: value}}")
            outcome = self.ledger.open(case_id, "hazard", data, actor)
            return "201 Created", _view(outcome.case)
        if method == "POST" and (match := EVENT_PATH.fullmatch(path)):
            payload, expected = body.get("payload", {}), body.get("expected_seq")
            if not isinstance(payload, dict) or not isinstance(expected, int | None):
                raise BadRequestError("send {payload: {field: value}, expected_seq: number}")
            outcome = self.ledger.fire(
                match[1], match[2], actor, payload=payload, expected_seq=expected
            )
            return "200 OK", _view(outcome.case)
        if method == "GET" and (match := CASE_PATH.fullmatch(path)):
            return "200 OK", _view(self.ledger.get(match[1]))
        return "404 Not Found", {"error": f"no route {method} {path}"}


def _view(case: rectify.Case) -> dict[str, object]:
    return {
        "id": case.id,
        "state": case.state,
        "seq": case.seq,
        "deadline": case.deadline,
        "responsible_party": case.data.get("responsible_party"),
    }


def notice_handler(
    ledger: rectify.Ledger, notices: rectify.documents.Notices
) -> Callable[[Delivery], None]:
    """Return the outbox handler: render each notice, note the other effects.

    A real host would file the documents, send them and show deadlines on its calendar; it
    dedupes on ``delivery.id``, since an effect whose handler fails comes again.
    """

    def handle(delivery: Delivery) -> None:
        effect = delivery.effect
        if isinstance(effect, rectify.engine.NoticeDue):
            # The case as the record that queued the notice left it: the notice says what
            # that record decided, however late it is rendered.
            case = ledger.case_at(delivery.case_id, effect.seq)
            spec = ledger.engine(case.workflow, case.version).spec
            issued_on = ledger.clock.now().date()
            context = notices.context(effect, case, spec, issued_on=issued_on)
            identity = rectify.documents.notice_identity(effect)  # one number, ever
            document = notices.render(effect.notice, context, fmt="html", identity=identity)
            print(f"  notice {document.title} {context['number']} for {case.id}")
        elif isinstance(effect, rectify.engine.DeadlineSet):
            print(f"  deadline {effect.due} for {effect.case_id} ({effect.state})")
        else:
            print(f"  {type(effect).__name__} for {delivery.case_id}")

    return handle


def call(
    app: HazardApp, method: str, path: str, user: tuple[str, str], body: object = None
) -> tuple[str, dict[str, object]]:
    """Send one request to ``app`` in-process and return its status and JSON answer."""
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    environ: WSGIEnvironment = {}
    setup_testing_defaults(environ)
    environ.update(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(data)),
            "CONTENT_TYPE": "application/json",
            "HTTP_X_USER": user[0],
            "HTTP_X_ROLE": user[1],
            "wsgi.input": io.BytesIO(data),
        }
    )
    seen: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None, /
    ) -> Callable[[bytes], object]:
        seen.append(status)
        return lambda _chunk: None

    answer = json.loads(b"".join(app(environ, start_response)))
    return seen[0], answer


def main() -> None:
    """Run a morning's requests through the app, then deliver the outbox."""
    grid = ("网格员-王", "grid_worker")
    community = ("社区-李", "community")
    clock = HostClock(dt.datetime(2024, 3, 18, 9, 30, tzinfo=SHANGHAI))
    with tempfile.TemporaryDirectory() as folder, SQLStore.open(Path(folder) / "host.db") as store:
        ledger = rectify.Ledger.with_workflows(
            store, campaign=rectify.calendar.load_campaign(), clock=clock
        )
        notices = rectify.documents.Notices(
            ISSUER,
            numbers=store,  # document numbers come from the store: never reused
            categories=rectify.load_categories(),
            calendar=ledger.engine("hazard").calendar,
        )
        app = HazardApp(ledger)
        hazard = {
            "community": "正街社区",
            "community_name": "桂花园小区",
            "address": "虎峰镇正街56号",
            "building": "3栋",
            "category": "FAC.HOSE",
            "severity": "general_short",
            "description": "3栋2单元消火栓箱内水带缺失",
        }
        status, answer = call(app, "POST", "/hazards", grid, {"id": "HZ-0001", "data": hazard})
        print("grid worker reports:", status, answer["state"], "deadline", answer["deadline"])

        clock.current += dt.timedelta(hours=2)
        order = {"responsible_party": "某物业", "measures": "补齐水带、水枪", "due": "2024-03-25"}
        path = "/hazards/HZ-0001/events/assign"
        status, answer = call(app, "POST", path, grid, {"payload": order})
        print("grid worker tries to assign:", status, answer["error"])
        status, answer = call(app, "POST", path, community, {"payload": order, "expected_seq": 0})
        print("community assigns:", status, answer["state"], "to", answer["responsible_party"])
        status, answer = call(app, "POST", path, community, {"payload": order, "expected_seq": 0})
        print("assigning again:", status, answer["error"])
        status, answer = call(app, "GET", "/hazards/HZ-0404", community)
        print("unknown case:", status, answer["error"])

        print("outbox:")
        delivered = ledger.deliver(notice_handler(ledger, notices))
        print(f"{delivered} effects delivered; {len(ledger.pending())} pending")


if __name__ == "__main__":
    main()
