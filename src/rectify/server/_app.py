"""The HTTP service: a FastAPI application over one :class:`~rectify.ledger.Ledger`.

``create_app(ledger)`` returns an ASGI application a Python host can mount in its own;
``rectify serve`` runs it under uvicorn. Every route authenticates the caller (a bearer
token: see ``_access``), checks the caller's scope on every case it reads or changes
(a case outside the scope answers 404, as a missing one does, so that its existence does
not leak; a listing is narrowed to the scope), and runs the ledger's work in the worker
threads of an :class:`~rectify.aio.AsyncLedger`, so the event loop never waits on the
store. Errors are problem+json (``_problems``). A POST that carries an
``Idempotency-Key`` is answered once: sent again, the kept answer comes back and nothing
is done twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from pathlib import Path as FsPath
from typing import Annotated, Any, Final

import attrs
import click
from fastapi import APIRouter, Depends, FastAPI, File, Header, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rectify._diagnostics import Diagnostic
from rectify._resources import default_workflows
from rectify.aio import DEFAULT_WORKERS, AsyncLedger
from rectify.cli._documents import REPORT_KINDS, _report_day, _report_month, report_document
from rectify.definitions._campaign import Campaign, load_campaign
from rectify.definitions._diagram import FORMATS, draw_workflow
from rectify.definitions._dump import dump_workflow
from rectify.definitions._load import load_categories, validate_paths, workflow_files
from rectify.documents._publishing import Notices
from rectify.engine._case import Case, Evidence, Outcome
from rectify.engine._engine import TIMEZONE, notices_of
from rectify.exceptions import (
    ArgumentError,
    CaseNotFoundError,
    RectifyError,
    WorkflowDefinitionError,
)
from rectify.ledger import Ledger
from rectify.server._access import (
    AccessError,
    JwtVerifier,
    Principal,
    ServiceStore,
    StoredResponse,
    TokenCache,
    service_store_for,
)
from rectify.server._models import (
    AcknowledgedOut,
    AcknowledgeIn,
    CaseList,
    CaseOut,
    DeliveryOut,
    DocumentOut,
    EffectOut,
    EventIn,
    EventOptionOut,
    FiredOut,
    ImportOut,
    ImportRow,
    OpenIn,
    Problem,
    RecordOut,
    RedrivenOut,
    SummaryOut,
    SweepOut,
    ValidationOut,
    VerifyOut,
    WorkflowIn,
    WorkflowOut,
    plain,
)
from rectify.server._printing import MEDIA_TYPES, as_docx, as_pdf
from rectify.server._problems import diagnostic_json, problem, problem_of
from rectify.server._webhooks import effect_json, effect_kind
from rectify.stores._store import MAX_IDS, CaseQuery
from rectify.templating._formatting import mask_values
from rectify.templating._renderer import Document

__all__ = ["API_PREFIX", "MAX_BODY", "MAX_IMPORT", "Service", "create_app"]

#: Where the API's routes live.
API_PREFIX: Final = "/api/v1"
#: The largest request body taken, in bytes (an import's: ``MAX_IMPORT``).
MAX_BODY: Final = 256 * 1024
#: The largest ledger file an import takes, in bytes.
MAX_IMPORT: Final = 16 * 1024 * 1024
#: How long a worker remembers a live token, in seconds (see ``TokenCache``).
TOKEN_SECONDS: Final = 2.0
#: The most cases one page of a listing holds.
MAX_PAGE: Final = 500

_PROBLEMS: Final[dict[int | str, dict[str, Any]]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 413, 422, 503)
}


@attrs.define
class Service:
    """What every route works with: the ledger, its async face, tokens and the campaign."""

    ledger: Ledger
    aio: AsyncLedger
    services: ServiceStore
    jwt: JwtVerifier | None
    campaign: Campaign
    notices: Notices
    tokens: TokenCache
    max_import: int = MAX_IMPORT

    def today(self) -> dt.date:
        """Return today's date in the town (the clock's)."""
        return self.ledger.clock.now().astimezone(TIMEZONE).date()


def _service(request: Request) -> Service:
    service: Service = request.app.state.rectify
    return service


_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token (rectify token create) or a JSON Web Token of the town's "
    "identity provider: Authorization: Bearer <token>",
)


async def authenticate(service: Service, text: str) -> Principal:
    """Return who a bearer token stands for; raise ``_Unauthorized`` if it stands for no one.

    The API's dependency and the console's session both sign in here.
    """
    found: Principal | None = None
    if text:
        found = service.tokens.remembered(text) or await service.aio.run(
            service.tokens.authenticate, text
        )
        if found is None and service.jwt is not None and not text.startswith("rct_"):
            found = service.jwt.principal(text)
    if found is None:
        raise _Unauthorized
    return found


async def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None,
) -> Principal:
    """Return who calls, from the bearer token; refuse with 401 without a valid one."""
    return await authenticate(
        _service(request), credentials.credentials if credentials is not None else ""
    )


class _Unauthorized(Exception):  # noqa: N818 - a signal, answered 401
    pass


Caller = Annotated[Principal, Depends(_principal)]


def _town(principal: Principal) -> None:
    if not principal.is_town:
        raise AccessError(f"only a town-wide token may do this; this one is for {principal.scope}")


def in_scope(principal: Principal, case_id: str) -> Callable[[Case], None]:
    """Return a fire's check that the case, as the fire reads it, is in the caller's scope.

    A case outside it is not found, as a missing one is (``Ledger.fire(check=...)``).
    """

    def check(case: Case) -> None:
        if not principal.sees(case.data):
            raise CaseNotFoundError(case_id)

    return check


async def _case(service: Service, principal: Principal, case_id: str) -> Case:
    """Return a case the caller may see; one outside its scope is not found."""
    case = await service.aio.get(case_id)
    if not principal.sees(case.data):
        raise CaseNotFoundError(case_id)
    return case


def _effects(outcome: Outcome, *, reveal: bool) -> list[EffectOut]:
    out = []
    for effect in outcome.effects:
        fields = plain(mask_values(attrs.asdict(effect, recurse=False), reveal=reveal))
        out.append(
            EffectOut(kind=effect_kind(effect), case_id=str(fields.pop("case_id")), fields=fields)
        )
    return out


#: How far ahead of the server's clock a request's ``at`` may be (clocks differ a little).
CLOCK_SKEW: Final = dt.timedelta(minutes=5)


def _not_later(service: Service, at: dt.datetime | None) -> dt.datetime | None:
    """Return ``at``, refusing a time later than now: a record is of what has happened."""
    if at is not None and at > service.ledger.clock.now() + CLOCK_SKEW:
        raise ArgumentError(
            f"at {at.isoformat()} is later than now; an event is recorded when it happened"
        )
    return at


#: The name a workflow sent to be checked goes by in its diagnostics.
UPLOADED_WORKFLOW: Final = "workflow.yaml"


def check_workflow_text(text: str) -> list[Diagnostic]:
    """Return every problem of a workflow's YAML text, as ``rectify validate`` finds them.

    Checked against the shipped category table, campaign and notices. The text is written
    to a file of a folder of its own (never read as a path it might name) and its
    diagnostics name it ``workflow.yaml``.
    """
    shipped = FsPath(str(default_workflows()))
    others = [p for p in workflow_files(shipped) if p.name.startswith(("categories", "campaign"))]
    with tempfile.TemporaryDirectory(prefix="rectify-validate-") as folder:
        path = FsPath(folder) / UPLOADED_WORKFLOW
        path.write_text(text, encoding="utf-8")
        report = validate_paths([path, *others])
        return [
            attrs.evolve(d, location=attrs.evolve(d.location, file=UPLOADED_WORKFLOW))
            for d in report.diagnostics
            if d.location.file == str(path)
        ]


def _etag(case: Case) -> dict[str, str]:
    return {"ETag": f'"{case.seq}"'}


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError:
        raise ArgumentError(f"If-Match {value!r} is not an ETag this service gave") from None


async def _once(
    request: Request,
    principal: Principal,
    key: str | None,
    work: Callable[[], Awaitable[tuple[int, BaseModel, dict[str, str]]]],
    *,
    content: bytes | None = None,
) -> Response:
    """Run a POST's ``work`` once per idempotency key; answer with what it returned.

    The request is known again by its method, path, query, ``If-Match`` and body (or
    ``content``: what a form's body carries, once the form has consumed it).
    """
    service = _service(request)
    if key is None:
        status, body, headers = await work()
        return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)
    parts = [request.method, request.url.path, request.url.query, request.headers.get("if-match")]
    fingerprint = hashlib.sha256(
        b"\n".join(
            [
                json.dumps(parts, ensure_ascii=False).encode(),
                await request.body() if content is None else content,
            ]
        )
    ).hexdigest()
    kept = await service.aio.run(service.services.begin, principal.token, key, fingerprint)
    if kept is not None:
        return Response(
            kept.body,
            status_code=kept.status,
            media_type="application/problem+json"
            if kept.status >= HTTPStatus.BAD_REQUEST
            else "application/json",
            headers={"Idempotent-Replayed": "true", **_kept_etag(kept)},
        )
    try:
        status, body, headers = await work()
    except RectifyError as exc:  # a refusal: kept, so that a retry is refused the same
        response = problem_of(exc, instance=str(request.url.path))
        if response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
            await service.aio.run(service.services.release, principal.token, key)
        else:
            kept = StoredResponse(response.status_code, bytes(response.body).decode())
            await service.aio.run(service.services.finish, principal.token, key, kept)
        return response
    except BaseException:
        await service.aio.run(service.services.release, principal.token, key)
        raise
    text = json.dumps(body.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
    await service.aio.run(
        service.services.finish, principal.token, key, StoredResponse(status, text)
    )
    return Response(text, status_code=status, media_type="application/json", headers=headers)


def _kept_etag(kept: StoredResponse) -> dict[str, str]:
    """Return the ``ETag`` a kept answer about a case went with (its ``seq`` then)."""
    if kept.status >= HTTPStatus.BAD_REQUEST:
        return {}
    body = json.loads(kept.body)
    case = body.get("case", body) if isinstance(body, dict) else None
    seq = case.get("seq") if isinstance(case, dict) else None
    return {"ETag": f'"{seq}"'} if isinstance(seq, int) else {}


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]

api = APIRouter(prefix=API_PREFIX, responses=_PROBLEMS)


@api.get("/workflows", tags=["workflows"])
async def list_workflows(request: Request, principal: Caller) -> list[WorkflowOut]:
    """List the workflows the service runs (the latest version of each)."""
    latest: dict[str, WorkflowOut] = {}
    for engine in _service(request).ledger.engines:
        spec = engine.spec
        latest[spec.id] = WorkflowOut(
            id=spec.id,
            version=spec.version,
            title=spec.title,
            kind=spec.kind,
            states=[s.name for s in spec.states],
            events=[e.name for e in spec.events],
            roles=[r.name for r in spec.roles],
        )
    return list(latest.values())


@api.post("/workflows/validate", response_model=ValidationOut, tags=["workflows"])
async def validate_workflow(request: Request, principal: Caller, body: WorkflowIn) -> Response:
    """Check a workflow's YAML as ``rectify validate`` does, against the shipped table.

    Every problem is a diagnostic with its line and column: errors answer 422
    (``workflow-definition``, the diagnostics in the problem), warnings alone 200.
    """
    service = _service(request)
    diagnostics = await service.aio.run(check_workflow_text, body.yaml)
    if any(d.is_error for d in diagnostics):
        raise WorkflowDefinitionError(UPLOADED_WORKFLOW, diagnostics)
    return JSONResponse(
        ValidationOut(diagnostics=[diagnostic_json(d) for d in diagnostics]).model_dump()
    )


@api.get(
    "/workflows/{workflow}",
    tags=["workflows"],
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/yaml": {}}}},
)
async def get_workflow(request: Request, principal: Caller, workflow: str) -> PlainTextResponse:
    """Return a workflow's definition as YAML (its latest version)."""
    spec = _service(request).ledger.engine(workflow).spec
    return PlainTextResponse(dump_workflow(spec), media_type="application/yaml")


@api.get("/workflows/{workflow}/diagram", tags=["workflows"], response_class=PlainTextResponse)
async def get_diagram(
    request: Request,
    *,
    principal: Caller,
    workflow: str,
    fmt: Annotated[str, Query(alias="format", pattern="^(" + "|".join(FORMATS) + ")$")] = "mermaid",
    english: bool = False,
) -> PlainTextResponse:
    """Return a workflow's state diagram as Mermaid or Graphviz DOT text."""
    spec = _service(request).ledger.engine(workflow).spec
    return PlainTextResponse(draw_workflow(spec, fmt, english=english))


@api.get("/cases", tags=["cases"])
async def list_cases(
    request: Request,
    *,
    principal: Caller,
    community: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    severity: Annotated[str | None, Query(max_length=200)] = None,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    open_only: Annotated[bool | None, Query(alias="open")] = None,
    overdue_on: dt.date | None = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> CaseList:
    """List cases by id, filtered as ``rectify cases`` filters them; a page at a time."""
    service = _service(request)
    if principal.scope is not None:
        if community not in (None, principal.scope):
            raise AccessError(f"this token sees the cases of {principal.scope} only")
        community = principal.scope
    query = CaseQuery(
        community=community,
        state=state,
        category=category,
        severity=severity,
        workflow=workflow,
        open=open_only,
        overdue_on=overdue_on,
        after=after,
        limit=limit + 1,
    )
    found = await service.aio.summaries(query)
    today = service.today()
    items = [SummaryOut.of(s, today, reveal=principal.may_see_phones) for s in found[:limit]]
    return CaseList(items=items, next_after=items[-1].id if len(found) > limit else None)


@api.post("/cases", response_model=CaseOut, tags=["cases"], status_code=201)
async def open_case(
    request: Request, principal: Caller, body: OpenIn, key: IdempotencyKey = None
) -> Response:
    """Open a case; the caller's community must be the case's (a town token opens any)."""
    service = _service(request)

    async def work() -> tuple[int, BaseModel, dict[str, str]]:
        if not principal.sees(body.data):
            raise AccessError(f"this token opens cases in {principal.scope} only")
        actor = principal.actor_as(body.role)
        outcome = await service.aio.open(
            body.id,
            body.workflow,
            body.data,
            actor,
            at=_not_later(service, body.at),
            recurrence_of=body.recurrence_of,
        )
        return (
            201,
            CaseOut.of_case(outcome.case, service.today(), reveal=principal.may_see_phones),
            _etag(outcome.case),
        )

    return await _once(request, principal, key, work)


@api.get("/cases/{case_id}", response_model=CaseOut, tags=["cases"])
async def get_case(request: Request, principal: Caller, case_id: str) -> Response:
    """Return a case; its ``ETag`` is its last record's number (send it as ``If-Match``)."""
    service = _service(request)
    case = await _case(service, principal, case_id)
    out = CaseOut.of_case(case, service.today(), reveal=principal.may_see_phones)
    return JSONResponse(out.model_dump(mode="json"), headers=_etag(case))


@api.get("/cases/{case_id}/history", tags=["cases"])
async def get_history(request: Request, principal: Caller, case_id: str) -> list[RecordOut]:
    """Return a case's history, oldest record first, with its hash chain."""
    case = await _case(_service(request), principal, case_id)
    return [RecordOut.of(r, reveal=principal.may_see_phones) for r in case.history]


@api.get("/cases/{case_id}/events", tags=["events"])
async def allowed_events(
    request: Request,
    *,
    principal: Caller,
    case_id: str,
    role: Annotated[str | None, Query(max_length=200)] = None,
) -> list[EventOptionOut]:
    """Return every event of the case's workflow as the caller (in ``role``) sees it now."""
    service = _service(request)
    case = await _case(service, principal, case_id)
    engine = service.ledger.engine(case.workflow, case.version)
    options = engine.allowed_events(case, principal.actor_as(role))  # of the case as read
    return [EventOptionOut.of(o) for o in options]


@api.post("/cases/{case_id}/events", response_model=FiredOut, tags=["events"])
async def fire_event(
    request: Request,
    *,
    principal: Caller,
    case_id: str,
    body: EventIn,
    key: IdempotencyKey = None,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    """Fire an event as the caller; a stale ``expected_seq``/``If-Match`` answers 409."""
    service = _service(request)

    async def work() -> tuple[int, BaseModel, dict[str, str]]:
        expected = _if_match(if_match)
        if expected is not None and body.expected_seq not in (None, expected):
            raise ArgumentError(
                f"If-Match {expected} and expected_seq {body.expected_seq} disagree"
            )
        actor = principal.actor_as(body.role)
        outcome = await service.aio.fire(
            case_id,
            body.event,
            actor,
            payload=body.payload,
            evidence=[Evidence(e.kind, e.name, e.sha256) for e in body.evidence],
            reason=body.reason,
            expected_seq=body.expected_seq if expected is None else expected,
            at=_not_later(service, body.at),
            check=in_scope(principal, case_id),
        )
        out = FiredOut(
            case=CaseOut.of_case(outcome.case, service.today(), reveal=principal.may_see_phones),
            effects=_effects(outcome, reveal=principal.may_see_phones),
        )
        return 200, out, _etag(outcome.case)

    return await _once(request, principal, key, work)


@api.get("/cases/{case_id}/documents", tags=["documents"])
async def list_documents(request: Request, principal: Caller, case_id: str) -> list[DocumentOut]:
    """List the notices the case's history queued, each with where to render it."""
    service = _service(request)
    case = await _case(service, principal, case_id)
    engine = service.ledger.engine(case.workflow, case.version)
    return [
        DocumentOut(
            seq=n.seq,
            notice=n.notice,
            event=n.event,
            to=list(n.to),
            level=n.level,
            href=f"{API_PREFIX}/cases/{case_id}/documents/{n.seq}/{n.notice}",
        )
        for n in notices_of(engine, case)
    ]


_DOC_FORMATS = "^(" + "|".join(MEDIA_TYPES) + ")$"
_DOC_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()}},
    501: {"model": Problem, "content": {"application/problem+json": {}}},
}


def _document_response(html: Document, text: Document | None, fmt: str) -> Response:
    """Return a rendered document in ``fmt``: as rendered, printed to PDF, or in Word."""
    if fmt == "text" and text is not None:
        body: str | bytes = text.body
    elif fmt == "pdf":
        body = as_pdf(html)
    elif fmt == "docx":
        body = as_docx(html)
    else:
        body = html.body
    return Response(body, media_type=MEDIA_TYPES[fmt])


#: The years a report may be of (as ``rectify`` takes them: outside them, a typo).
_REPORT_YEARS: Final = range(1900, 9000)


@api.get(
    "/cases/{case_id}/documents/{seq}/{notice}",
    tags=["documents"],
    response_class=Response,
    responses=_DOC_RESPONSES,
)
async def get_document(
    request: Request,
    *,
    principal: Caller,
    case_id: str,
    seq: int,
    notice: str,
    fmt: Annotated[str, Query(alias="format", pattern=_DOC_FORMATS)] = "html",
) -> Response:
    """Render a notice a record queued, numbered once and dated the day of that record."""
    service = _service(request)
    case = await _case(service, principal, case_id)
    engine = service.ledger.engine(case.workflow, case.version)
    due = next((n for n in notices_of(engine, case) if n.seq == seq and n.notice == notice), None)
    if due is None:
        return problem(
            404,
            "no-such-document",
            "No such document",
            f"record {seq} of case {case_id} queued no notice {notice!r}",
            instance=str(request.url.path),
        )

    def render() -> Response:
        then = service.ledger.case_at(case_id, seq)
        issued = then.history[-1].at.astimezone(TIMEZONE).date()
        html, text = service.notices.render_effect(
            due, then, engine.spec, issued_on=issued, reader_role=principal.reader
        )
        return _document_response(html, text, fmt)

    return await service.aio.run(render)


@api.get(
    "/reports/{kind}",
    tags=["documents"],
    response_class=Response,
    responses=_DOC_RESPONSES,
)
async def get_report(
    request: Request,
    *,
    principal: Caller,
    kind: Annotated[str, Path(pattern="^(" + "|".join(REPORT_KINDS) + ")$")],
    as_of: dt.date,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    community: Annotated[str | None, Query(max_length=200)] = None,
    fmt: Annotated[str, Query(alias="format", pattern=_DOC_FORMATS)] = "html",
) -> Response:
    """Render a report as of a day: monthly (of a community), circular, ledger, totals..."""
    service = _service(request)
    if principal.scope is not None and community != principal.scope:
        raise AccessError(f"this token renders the reports of {principal.scope} only")
    if kind == "monthly" and not community:
        raise ArgumentError("a monthly report is of one community: give community")
    years = f"a report is of the years {_REPORT_YEARS.start} to {_REPORT_YEARS.stop - 1}"
    if as_of.year not in _REPORT_YEARS:
        raise ArgumentError(f"as_of {as_of}: {years}")
    try:  # the month whose report period holds the day, as ``rectify report`` takes it
        first = (
            dt.date.fromisoformat(f"{month}-01")
            if month
            else _report_month(as_of, _report_day(service.campaign))
        )
    except ValueError:
        raise ArgumentError(f"month {month!r} is not a month: write it as 2024-06") from None
    if first.year not in _REPORT_YEARS:
        raise ArgumentError(f"month {month}: {years}")

    def render() -> Response:
        document = report_document(
            service.ledger,
            kind,
            day=as_of,
            month=first,
            community=community,
            fmt="text" if fmt == "text" else "html",
            campaign=service.campaign,
        )
        return _document_response(document, document, fmt)

    return await service.aio.run(render)


@api.post("/imports", response_model=ImportOut, tags=["ledger"])
async def import_ledger(
    request: Request,
    *,
    principal: Caller,
    file: Annotated[UploadFile, File(description="A ledger (台账), CSV or XLSX")],
    role: Annotated[str | None, Query(max_length=200)] = None,
    key: IdempotencyKey = None,
) -> Response:
    """Import a ledger spreadsheet; rows with problems are reported, the others opened."""
    from rectify.spreadsheets._reading import read_ledger  # noqa: PLC0415 - openpyxl

    service = _service(request)
    # Read first: the form consumed the body, so an Idempotency-Key knows the request by it.
    data = await file.read(service.max_import + 1)
    if len(data) > service.max_import:
        return problem(
            413,
            "body-too-large",
            "Body too large",
            f"a ledger file is at most {service.max_import} bytes",
            instance=str(request.url.path),
        )

    async def work() -> tuple[int, BaseModel, dict[str, str]]:
        _town(principal)
        actor = principal.actor_as(role)

        def run() -> ImportOut:
            imported = read_ledger(data, categories=load_categories())
            rows = imported.cases()
            added = service.ledger.import_cases(rows, actor)
            return ImportOut(
                rows=len(rows) + len(imported.bad_rows),
                added=added,
                existing=len(rows) - added,
                problems=[
                    ImportRow(row=p.row, column=p.column, reason=p.reason)
                    for p in imported.problems
                ],
                unsure=[
                    ImportRow(
                        row=g.row, column="隐患类别", reason=g.reason(g.category, g.rival or "")
                    )
                    for g in imported.unsure
                ],
                summary=imported.summary(),
            )

        return 200, await service.aio.run(run), {}

    return await _once(request, principal, key, work, content=data)


@api.post("/sweep", response_model=SweepOut, tags=["ledger"])
async def sweep(request: Request, principal: Caller, key: IdempotencyKey = None) -> Response:
    """Record the escalations due by now on every open case (town tokens only)."""
    service = _service(request)

    async def work() -> tuple[int, BaseModel, dict[str, str]]:
        _town(principal)
        return 200, SweepOut.of(await service.aio.sweep()), {}

    return await _once(request, principal, key, work)


@api.get("/verify", tags=["ledger"])
async def verify(request: Request, principal: Caller) -> VerifyOut:
    """Check every stored case against its history (town tokens only)."""
    _town(principal)
    return VerifyOut.of(await _service(request).aio.verify())


@api.get("/outbox", tags=["outbox"])
async def outbox(
    request: Request,
    *,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_IDS)] = 100,
    failed: bool = False,
) -> list[DeliveryOut]:
    """List the effects waiting for the host (``failed``: those whose delivery failed)."""
    _town(principal)
    aio = _service(request).aio
    items = await (aio.failed(limit) if failed else aio.pending(limit))
    return [
        DeliveryOut.model_validate({**effect_json(d), "last_error": d.last_error, "dead": d.dead})
        for d in items
    ]


@api.post("/outbox/acknowledge", response_model=AcknowledgedOut, tags=["outbox"])
async def acknowledge(
    request: Request, principal: Caller, body: AcknowledgeIn, key: IdempotencyKey = None
) -> Response:
    """Mark outbox items as dealt with (acknowledging one twice does nothing more)."""
    service = _service(request)

    async def work() -> tuple[int, BaseModel, dict[str, str]]:
        _town(principal)
        await service.aio.acknowledge(body.ids)
        return 200, AcknowledgedOut(acknowledged=len(set(body.ids))), {}

    return await _once(request, principal, key, work)


@api.post("/outbox/redrive", response_model=RedrivenOut, tags=["outbox"])
async def redrive(
    request: Request, principal: Caller, body: AcknowledgeIn, key: IdempotencyKey = None
) -> Response:
    """Put dead letters back in the queue, as new (the webhooks deliver them again)."""
    service = _service(request)

    async def work() -> tuple[int, BaseModel, dict[str, str]]:
        _town(principal)
        return 200, RedrivenOut(redriven=await service.aio.redrive(body.ids)), {}

    return await _once(request, principal, key, work)


class _Limit:
    """Refuses a request body over its limit with 413, before the route reads it all."""

    def __init__(self, app: ASGIApp, *, default: int, imports: int) -> None:
        self.app, self.default, self.imports = app, default, imports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        # An import's file, and the console's forms (a ledger file, evidence photos: hashed,
        # never kept) may be larger than an API request's JSON.
        large = path.endswith("/imports") or not path.startswith(API_PREFIX)
        limit = self.imports if large else self.default
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = problem(
            413, "body-too-large", "Body too large", f"a request body is at most {limit} bytes"
        )
        if length is not None and (not length.isdigit() or int(length) > limit):
            await too_big(scope, receive, send)
            return
        seen = 0
        started = over = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                over = True
                raise _TooBig
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if over:  # the app answered the signal (FastAPI: "error parsing the body"): 413
                if not started:
                    started = True
                    await too_big(scope, receive, send)
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except _TooBig:
            if not started:
                await too_big(scope, receive, send)


class _TooBig(Exception):  # noqa: N818 - a signal
    pass


def create_app(
    ledger: Ledger,
    *,
    services: ServiceStore | None = None,
    jwt: JwtVerifier | None = None,
    campaign: Campaign | None = None,
    workers: int = DEFAULT_WORKERS,
    max_body: int = MAX_BODY,
    max_import: int = MAX_IMPORT,
    console: bool = True,
    on_shutdown: Callable[[], None] | None = None,
    token_seconds: float = TOKEN_SECONDS,
) -> FastAPI:
    """Return the service's ASGI application over ``ledger``.

    Args:
        ledger: The ledger the service works on.
        services: Where tokens and idempotency keys live (by default beside the store).
        jwt: Accept JSON Web Tokens this verifier reads, besides the service's tokens.
        campaign: The campaign (issuers, numbers, report days); the shipped one by default.
        workers: How many ledger calls run at once (threads).
        max_body: The largest request body, in bytes.
        max_import: The largest ledger file an import takes, in bytes.
        console: Serve the web console under ``/`` as well.
        token_seconds: How long a token found live is remembered (a revoked token is
            refused within that time; 0: every request looks its token up).
        on_shutdown: Called when the server shuts the application down (after the worker
            threads stopped): close the store there, if the application owns it.
    """
    campaign = campaign or load_campaign()
    first_engine = ledger.engines[0] if ledger.engines else None
    services = services if services is not None else service_store_for(ledger.store)
    service = Service(
        ledger,
        AsyncLedger(ledger, workers=workers),
        services,
        jwt,
        campaign,
        Notices(
            campaign=campaign,
            numbers=ledger.store,
            categories=load_categories(),
            calendar=first_engine.calendar if first_engine else None,
        ),
        TokenCache(services, token_seconds),
        max_import=max_import,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if service.aio.closed:  # started again after a shutdown (a test client's second run)
            service.aio = AsyncLedger(ledger, workers=workers)
        yield
        service.aio.close()
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="rectify",
        summary="Fire-hazard rectification cases as YAML-defined state machines",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.rectify = service
    app.include_router(api)
    _handle_errors(app)
    if console:
        from rectify.server._console import console_router  # noqa: PLC0415

        app.include_router(console_router())
    app.add_middleware(_Limit, default=max_body, imports=max_import)

    @app.get(f"{API_PREFIX}/health", tags=["service"])
    async def health() -> dict[str, str]:
        """Answer that the service runs (no token needed)."""
        return {"status": "ok"}

    return app


def _handle_errors(app: FastAPI) -> None:
    async def rectify_error(request: Request, exc: Exception) -> Response:
        return problem_of(exc, instance=str(request.url.path))

    async def unauthorized(request: Request, exc: Exception) -> Response:
        return problem(
            401,
            "unauthorized",
            "Unauthorized",
            "send a valid token: Authorization: Bearer <token>",
            instance=str(request.url.path),
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it
        errors = [
            {"location": [str(p) for p in e.get("loc", ())], "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem(
            422,
            "invalid-request",
            "Invalid request",
            "; ".join(f"{'.'.join(e['location'])}: {e['message']}" for e in errors)[:2000],
            instance=str(request.url.path),
            members={"errors": errors},
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it
        return problem(
            exc.status_code,
            "http",
            str(exc.detail),
            str(exc.detail),
            instance=str(request.url.path),
            headers=dict(exc.headers or {}),
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        return problem(
            500,
            "internal",
            "Internal error",
            "the service failed to answer; the request may be retried",
            instance=str(request.url.path),
        )

    app.add_exception_handler(RectifyError, rectify_error)
    app.add_exception_handler(click.ClickException, rectify_error)
    app.add_exception_handler(_Unauthorized, unauthorized)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
