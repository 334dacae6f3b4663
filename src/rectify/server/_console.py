"""The web console: server-rendered pages over the service, for clerks with a browser.

``console_router()`` returns the pages ``create_app`` serves under ``/`` beside the API:
the case list (filters, paging, overdue marks), a case (its data, deadline, level, history,
documents, and one form per event the signed-in actor may fire now), opening a case, the
campaign's dashboard and a ledger import. Pages are Jinja2 templates in ``console/``
(autoescaped), Chinese first; ``?lang=en`` switches the console's own words, and the
workflows' ``title_en``, to English (remembered in the ``rectify_lang`` cookie).

The console does no rectify work of its own: it checks scopes, masks phone numbers, fires
events, renders notices and imports ledgers with the API's own functions (``_app``), so a
page and the API always agree.

Sessions and forms:

- **Signing in** is pasting an API token (``rectify token create``) or a JSON Web Token the
  service accepts. The token is kept in the ``rectify_session`` cookie (HttpOnly,
  SameSite=Strict, Path=/, Secure on https) and checked on every request as the API
  checks a bearer token, so a revoked token signs the browser out as soon as the API
  refuses it. Signing out deletes the cookie; the token itself stays valid until revoked.
- **Every form POST** carries a CSRF value: the HMAC-SHA256, keyed by a random nonce kept
  in the ``rectify_csrf`` cookie (HttpOnly, SameSite=Strict, renewed at each sign-in), of
  the session token (of nothing on the sign-in form). A cross-site page can neither read
  the nonce nor compute the value, and nothing is kept on the server, so every worker
  process of ``rectify serve --workers N`` checks it alike. A POST whose ``Origin`` is
  another host (or whose ``Sec-Fetch-Site`` says cross-site) is refused before that.
- Pages are sent with ``Content-Security-Policy: default-src 'self'; style-src 'self'
  'unsafe-inline'``, ``X-Frame-Options: DENY`` and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from importlib import resources
from typing import Final
from urllib.parse import quote, urlencode, urlsplit

import attrs
import click
import jinja2
import pydantic
from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as FormFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from rectify.cli._dashboard import _phases
from rectify.cli._wording import FIELD_LABELS, Names, _refusal_detail, describe, event_label
from rectify.definitions._load import load_categories
from rectify.definitions._spec import EventSpec, PayloadField, WorkflowSpec
from rectify.documents._reports import Totals, count, hazard_facts, town_of
from rectify.engine._case import Case, Evidence
from rectify.engine._engine import TIMEZONE, Engine, EventOption, notices_of
from rectify.exceptions import CaseNotFoundError, EscalationLevelError, RectifyError
from rectify.ledger import Ledger
from rectify.server._access import Principal
from rectify.server._app import (
    Service,
    _case,
    _service,
    _Unauthorized,
    authenticate,
    get_document,
    import_ledger,
    in_scope,
    list_cases,
    open_case,
)
from rectify.server._models import CaseOut, ImportOut, OpenIn, RecordOut, SummaryOut
from rectify.server._problems import problem_of
from rectify.stores._store import CaseQuery

__all__ = ["CSRF_COOKIE", "LANG_COOKIE", "MAX_EVIDENCE", "SESSION_COOKIE", "console_router"]

#: The cookie holding the signed-in token.
SESSION_COOKIE: Final = "rectify_session"
#: The cookie holding the nonce the forms' CSRF values are keyed by.
CSRF_COOKIE: Final = "rectify_csrf"
#: The cookie remembering the console's language (``zh`` or ``en``).
LANG_COOKIE: Final = "rectify_lang"
#: The largest evidence file hashed, in bytes (the service's body limit may be lower).
MAX_EVIDENCE: Final = 20 * 1024 * 1024
#: The longest token a session cookie may hold.
MAX_TOKEN: Final = 4096
#: Cases on one page of the list.
PAGE_SIZE: Final = 50
_MAX_TEXT: Final = 2000
_MAX_NAME: Final = 200
_MAX_FIELDS: Final = 200
_MAX_FILES: Final = 20

_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# -- words ------------------------------------------------------------------------------------

#: The console's own words: each key in Chinese and in English.
_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "app": ("消防隐患整改台账", "Fire-hazard rectification"),
    "nav_cases": ("案件", "Cases"),
    "nav_dashboard": ("看板", "Dashboard"),
    "nav_import": ("导入", "Import"),
    "nav_logout": ("退出", "Sign out"),
    "login_title": ("登录", "Sign in"),
    "login_help": (
        "粘贴管理员发给您的访问令牌（rct_ 开头）登录。",
        "Paste the access token (starting rct_) your administrator gave you.",
    ),
    "token": ("访问令牌", "Access token"),
    "login": ("登录", "Sign in"),
    "bad_token": ("令牌无效或已吊销，请核对后重试。", "That token is not valid or was revoked."),
    "back_to_cases": ("返回案件列表", "Back to the cases"),
    "cases_title": ("隐患案件", "Cases"),
    "community": ("社区", "Community"),
    "workflow": ("流程", "Workflow"),
    "any": ("全部", "Any"),
    "state": ("状态", "State"),
    "overdue_only": ("只看逾期", "Overdue only"),
    "filter": ("筛选", "Filter"),
    "open_case": ("登记隐患", "Open a case"),
    "case": ("案件", "Case"),
    "estate": ("小区", "Estate"),
    "category": ("隐患类别", "Category"),
    "severity": ("严重程度", "Severity"),
    "deadline": ("期限", "Deadline"),
    "level": ("督办级别", "Escalation"),
    "final": ("已办结", "Finished"),
    "overdue": ("逾期", "Overdue"),
    "on_time": ("未逾期", "on time"),
    "paused": ("（计时暂停）", "(clock paused)"),
    "no_cases": ("没有符合条件的案件。", "No cases match."),
    "first_page": ("« 第一页", "« First page"),
    "next_page": ("下一页 »", "Next page »"),
    "case_id": ("案件编号", "Case id"),
    "role": ("角色", "Role"),
    "open": ("登记", "Open"),
    "opened": ("已登记案件。", "The case was opened."),
    "case_facts": ("案件概况", "The case"),
    "case_data": ("隐患信息", "Hazard"),
    "opened_at": ("登记时间", "Opened"),
    "updated_at": ("最后办理", "Last changed"),
    "records": ("记录条数", "Records"),
    "actions": ("办理", "Actions"),
    "no_actions": ("您现在没有可执行的操作。", "Nothing you may do on this case now."),
    "not_now": ("现在不能执行的操作", "Not possible now"),
    "reason": ("理由", "Reason"),
    "evidence_note": (
        "只记录文件名和 SHA-256 摘要，不保存文件本身。",
        "Only the file's name and SHA-256 are recorded, never the file.",
    ),
    "documents": ("通知文书", "Documents"),
    "document": ("文书", "Document"),
    "event": ("事项", "Event"),
    "record": ("记录", "Record"),
    "to": ("送达", "To"),
    "no_documents": ("尚无文书。", "No documents yet."),
    "history": ("办理记录", "History"),
    "time": ("时间", "Time"),
    "actor": ("办理人", "Actor"),
    "state_change": ("状态变化", "State change"),
    "details": ("内容", "Details"),
    "fired": ("已办理：{event}。", "Done: {event}."),
    "as_of": ("截至", "as of"),
    "phases": ("工作阶段", "Phases"),
    "phase": ("阶段", "Phase"),
    "span": ("起止", "Dates"),
    "status": ("状态", "Status"),
    "phase_done": ("已结束", "Finished"),
    "phase_now": ("进行中", "Under way"),
    "phase_later": ("未开始", "Not started"),
    "progress": ("各社区整改进度", "Progress by community"),
    "found": ("发现", "Found"),
    "closed": ("已销号", "Closed"),
    "open_count": ("在办", "Open"),
    "open_on_time": ("在办未逾期", "Open, on time"),
    "excluded": ("不计入", "Not counted"),
    "escalated": ("镇级督办及以上", "Town supervision or higher"),
    "rate": ("整改率", "Rate"),
    "total": ("合计", "Total"),
    "no_hazards": ("尚无隐患。", "No hazards yet."),
    "bar_note": (
        "已销号 {closed} · 在办 {open}（逾期 {overdue}）",
        "{closed} closed · {open} open ({overdue} overdue)",
    ),
    "import_title": ("导入台账", "Import a ledger"),
    "import_help": (
        "上传附件1格式的台账（CSV 或 XLSX）：有问题的行逐行列出，其余登记为案件；"
        "已登记的不重复登记。",
        "Upload a ledger in the Attachment 1 layout (CSV or XLSX): rows with problems are "
        "listed, the others opened as cases; cases already opened are not opened twice.",
    ),
    "ledger_file": ("台账文件", "Ledger file"),
    "import": ("导入", "Import"),
    "import_report": ("导入结果", "Import report"),
    "rows_read": ("读取行数", "Rows read"),
    "added": ("新登记", "Opened"),
    "existing": ("已有", "Already there"),
    "problems": ("有问题的行", "Rows with problems"),
    "unsure": ("类别待确认", "Categories to confirm"),
    "row": ("行", "Row"),
    "column": ("列", "Column"),
    "why": ("原因", "Why"),
    "choose_file": ("请选择台账文件。", "Choose a ledger file."),
    "whole_town": ("全镇", "whole town"),
    "forbidden": ("不允许的操作", "Forbidden"),
    "csrf_refused": (
        "表单已失效或来源不明，请刷新页面后重试。",
        "The form is stale or did not come from this console; reload the page and try again.",
    ),
    "cross_origin": ("拒绝来自其他网站的提交。", "A form posted from another site is refused."),
    "town_only": ("只有全镇范围的令牌可以导入台账。", "Only a town-wide token may import."),
    "not_found": ("未找到", "Not found"),
    "no_such_case": ("没有这个案件，或您无权查看。", "No such case, or not yours to see."),
    "no_such_document": ("没有这份文书。", "No such document."),
    "refused": ("未能办理", "Refused"),
    "bad_request": ("请求无效", "Bad request"),
    "too_large": (
        "文件过大：每个证据文件不超过 {limit} MB。",
        "A file is too large: evidence files are at most {limit} MB.",
    ),
    "too_long": ("理由不超过 2000 字。", "A reason is at most 2000 characters."),
    "bad_form": ("表单无法读取。", "The form could not be read."),
}


@attrs.frozen
class _Words:
    """The console's words in one language: ``t("key", name=value)``."""

    en: bool

    def __call__(self, key: str, **values: object) -> str:
        text = _WORDS[key][1 if self.en else 0]
        return text.format(**values) if values else text


# -- titles -----------------------------------------------------------------------------------

_INTERNAL_EN: Final = {
    "@open": "Opened",
    "@escalate": "Escalated",
    "@merge": "Merged",
    "@migrate": "Workflow version migrated",
    "@severity": "Severity changed",
    "@category": "Category changed",
}
#: The case notices' titles (a rendered notice's own title is known only once rendered).
_NOTICES: Final = {
    "rectification_slip": ("消防安全隐患整改通知单", "Notice to rectify"),
    "reminder": ("消防安全隐患整改到期提醒", "Reminder"),
    "overdue_warning": ("消防安全隐患逾期整改警示函", "Overdue warning"),
    "supervision_order": ("消防安全隐患整改督办单", "Supervision order"),
    "interview_notice": ("消防安全隐患整改约谈通知", "Interview notice"),
    "escalation_report": ("隐患逾期未整改情况的报告", "Escalation report"),
}
#: Labels of the shipped workflows' event fields that the command line's table lacks.
_MORE_LABELS: Final = {
    "agency": "移交单位",
    "document_number": "文书编号",
    "duplicate_of": "重复于（案件编号）",
    "inspectors": "检查人员",
    "interview_on": "约谈日期",
    "interview_time": "约谈时间",
    "officials": "约谈人员",
    "order_kind": "文书种类",
    "organ": "执法机关",
    "panel_size": "专家组人数",
    "place": "约谈地点",
    "refusal": "拒不整改情况",
    "standard": "判定标准",
    "supervisor": "督办负责人",
    "votes_for": "赞成票数",
    "waiting_for": "等待事项",
    "witness": "见证人",
}
#: The case data the open form asks for besides community, category and severity.
_OPEN_FIELDS: Final = (
    ("community_name", "text"),
    ("address", "text"),
    ("building", "text"),
    ("description", "textarea"),
    ("building_head", "text"),
    ("phone", "tel"),
)


@attrs.frozen
class _Titles:
    """The titles of workflows, states, events, roles... in the console's language."""

    names: Names
    roles: Mapping[str, str]
    en: bool

    def workflow(self, workflow: str) -> str:
        spec = self.names.spec(workflow)
        if spec is None:
            return workflow
        return (spec.title_en or spec.title) if self.en else spec.title

    def state(self, workflow: str, version: int, state: str) -> str:
        spec = self.names.spec(workflow, version)
        if spec is None or not spec.has_state(state):
            return state
        found = spec.state(state)
        return (found.title_en or found.title) if self.en else found.title

    def event(self, spec: WorkflowSpec | None, event: str) -> str:
        if spec is not None and spec.has_event(event):
            found = spec.event(event)
            return (found.title_en or found.title or event) if self.en else found.title or event
        return _INTERNAL_EN.get(event, event) if self.en else event_label(spec, event)

    def role(self, spec: WorkflowSpec | None, role: str) -> str:
        if self.en:
            return role.replace("_", " ")
        return self.names.role(spec, role) if spec else self.roles.get(role, role)

    def category(self, code: str) -> str:
        table = self.names.categories
        if code not in table.codes:
            return code
        found = table.category(code)
        return (found.title_en or found.title) if self.en else found.title

    def severity(self, name: str) -> str:
        table = self.names.categories
        if name not in table.severity_names:
            return name
        found = table.severity(name)
        return (found.title_en or found.title) if self.en else found.title

    def field(self, name: str) -> str:
        if self.en:
            return name.replace("_", " ").capitalize()
        return FIELD_LABELS.get(name) or _MORE_LABELS.get(name, name)

    def choice(self, value: str) -> str:
        """Return a choice as a clerk knows it (a role's title for a role's name)."""
        return value if self.en else self.roles.get(value, value)

    def evidence(self, spec: WorkflowSpec, kind: str) -> str:
        return kind.replace("_", " ") if self.en else dict(spec.evidence).get(kind, kind)

    def notice(self, name: str) -> str:
        titles = _NOTICES.get(name)
        return titles[1 if self.en else 0] if titles else name

    def level(self, spec: WorkflowSpec | None, severity: object, level: int | None) -> str:
        if level is None:
            return "—"
        if spec is not None and spec.escalation is not None:
            ladder = spec.escalation.ladder_for(severity if isinstance(severity, str) else None)
            for step in ladder.levels:
                if step.level == level:
                    return (step.title_en or step.title) if self.en else step.title
        return f"level {level}" if self.en else f"{level}级"


@attrs.frozen
class _Kit:
    """What the console builds once per application: the titles of every workflow."""

    names: Names
    roles: Mapping[str, str]

    @classmethod
    def of(cls, ledger: Ledger) -> _Kit:
        specs = [engine.spec for engine in ledger.engines]
        roles: dict[str, str] = {}
        for spec in specs:
            for role in spec.roles:
                roles.setdefault(role.name, role.title or role.name)
        return cls(Names(specs, load_categories()), roles)


def _kit(request: Request) -> _Kit:
    kit = getattr(request.app.state, "rectify_console", None)
    if not isinstance(kit, _Kit):
        kit = _Kit.of(_service(request).ledger)
        request.app.state.rectify_console = kit
    return kit


def _english(request: Request) -> bool:
    asked = request.query_params.get("lang")
    if asked in ("zh", "en"):
        return asked == "en"
    return request.cookies.get(LANG_COOKIE) == "en"


def _titles(request: Request) -> _Titles:
    kit = _kit(request)
    return _Titles(kit.names, kit.roles, _english(request))


# -- templates --------------------------------------------------------------------------------

_ENV: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("rectify.server", "console"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["q"] = lambda value: quote(str(value), safe="")


# -- sessions and CSRF ------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _nonce(request: Request) -> tuple[str, bool]:
    """Return the CSRF nonce of the browser, and whether it is new (to be set)."""
    kept = request.cookies.get(CSRF_COOKIE, "")
    if re.fullmatch(r"[A-Za-z0-9_-]{43}", kept):
        return kept, False
    return secrets.token_urlsafe(32), True


def _csrf_value(nonce: str, session: str) -> str:
    """Return the CSRF value of a form: the HMAC of the session token keyed by the nonce."""
    return hmac.new(nonce.encode(), session.encode(), hashlib.sha256).hexdigest()


def _csrf_ok(request: Request, form: FormData, session: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get("csrf")
    if not nonce or not isinstance(sent, str) or not sent.isascii():
        return False
    return hmac.compare_digest(sent.encode(), _csrf_value(nonce, session).encode())


def _cross_origin(request: Request) -> bool:
    """Return whether a POST comes from another site (its ``Origin`` is not this host)."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site") in ("cross-site", "same-site")
    parts = urlsplit(origin)
    host = request.headers.get("host", "").lower()
    return parts.scheme not in ("http", "https") or parts.netloc.lower() != host


async def _session(request: Request) -> Principal | None:
    """Return who is signed in (the session cookie's token, checked again), if anyone."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > MAX_TOKEN or not token.isascii() or not token.isprintable():
        return None
    try:
        return await authenticate(_service(request), token)
    except _Unauthorized:
        return None


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        path="/",
        secure=_secure(request),
        max_age=365 * 24 * 3600 if name == LANG_COOKIE else None,
    )


# -- responses --------------------------------------------------------------------------------


class _Stop(Exception):  # noqa: N818 - a signal carrying the answer
    """Ends a route early with ``response`` (a refusal page, a redirect to sign in)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _headers(response: Response) -> Response:
    response.headers.update(_HEADERS)
    return response


def _redirect(url: str) -> Response:
    return _headers(RedirectResponse(url, status_code=HTTPStatus.SEE_OTHER))


def _lang_url(request: Request, english: bool, url: str | None) -> str:
    """Return the page in the other language: this one, or ``url`` (a POST's page)."""
    if url is None and request.method == "GET":
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return f"{request.url.path}?{urlencode([*params, ('lang', 'zh' if english else 'en')])}"
    return f"{url or '/cases'}?lang={'zh' if english else 'en'}"


def _me(principal: Principal, titles: _Titles, words: _Words) -> dict[str, object]:
    return {
        "actor": principal.actor,
        "scope": principal.scope or words("whole_town"),
        "roles": (", " if titles.en else "、").join(titles.role(None, r) for r in principal.roles),
        "is_town": principal.is_town,
    }


def _page(
    request: Request,
    template: str,
    *,
    principal: Principal | None,
    title: str,
    status: int = HTTPStatus.OK,
    here: str = "",
    flash: str | None = None,
    error: str | None = None,
    url: str | None = None,
    **values: object,
) -> Response:
    """Render a console page, with its header, CSRF value and security headers.

    ``url`` is the page's own address, for a page that answers a POST.
    """
    titles = _titles(request)
    words = _Words(titles.en)
    nonce, fresh = _nonce(request)
    session = request.cookies.get(SESSION_COOKIE, "") if principal else ""
    body = _ENV.get_template(template).render(
        t=words,
        lang="en" if titles.en else "zh",
        me=_me(principal, titles, words) if principal else None,
        csrf=_csrf_value(nonce, session),
        lang_url=_lang_url(request, titles.en, url),
        title=title,
        here=here,
        flash=flash,
        error=error,
        **values,
    )
    response = _headers(HTMLResponse(body, status_code=status))
    if fresh:
        _set_cookie(request, response, CSRF_COOKIE, nonce)
    if request.query_params.get("lang") in ("zh", "en"):
        _set_cookie(request, response, LANG_COOKIE, "en" if titles.en else "zh")
    return response


def _error(
    request: Request, principal: Principal | None, status: int, heading: str, message: str
) -> Response:
    return _page(
        request,
        "error.html.j2",
        principal=principal,
        title=heading,
        status=status,
        heading=heading,
        message=message,
    )


def _words(request: Request) -> _Words:
    return _Words(_english(request))


async def _signed_in(request: Request) -> Principal:
    """Return who is signed in; stop with a redirect to the sign-in page if nobody is."""
    principal = await _session(request)
    if principal is None:
        raise _Stop(_redirect("/login"))
    return principal


async def _posted(request: Request, *, sign_in: bool = False) -> tuple[Principal | None, FormData]:
    """Return who posts a form and the form, refusing a cross-site or forged one (403)."""
    words = _words(request)
    if _cross_origin(request):
        raise _Stop(_error(request, None, 403, words("forbidden"), words("cross_origin")))
    principal = None if sign_in else await _signed_in(request)
    try:
        form = await request.form(max_files=_MAX_FILES, max_fields=_MAX_FIELDS)
    except StarletteHTTPException as exc:
        raise _Stop(
            _error(request, principal, exc.status_code, words("bad_request"), words("bad_form"))
        ) from None
    # The sign-in form was given the value of no session, whatever cookie the browser has.
    session = "" if sign_in else request.cookies.get(SESSION_COOKIE, "")
    if not _csrf_ok(request, form, session):
        await form.close()
        raise _Stop(_error(request, principal, 403, words("forbidden"), words("csrf_refused")))
    return principal, form


def _text(form: FormData, name: str, limit: int = _MAX_NAME) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _status_of(exc: Exception) -> int:
    """Return the HTTP status the API answers ``exc`` with (one mapping for both)."""
    return problem_of(exc).status_code


def _message(exc: Exception, spec: WorkflowSpec | None, *, en: bool) -> str:
    """Return a refusal worded for the clerk (in Chinese where the library's wording has it)."""
    if _status_of(exc) >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return (
            "The service failed to answer; try again." if en else "服务暂时无法办理，请稍后重试。"
        )
    if en:
        return exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
    worded = describe(exc, spec) if isinstance(exc, RectifyError) else None
    if worded is None:
        return exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
    for cli, console in _CLI_HINTS:
        worded = worded.replace(cli, console)
    return worded


#: The command line's hints in the library's wording, and what a page says instead.
_CLI_HINTS: Final = (
    ("；用 --evidence 种类=文件 提供", "；请上传文件"),
    ("（--reason）", ""),
    ("请重新查看（rectify show）后再试", "请刷新页面后再试"),
)


# -- the case page ----------------------------------------------------------------------------


def _when(at: dt.datetime) -> str:
    return at.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")


def _shown(name: str, value: object, titles: _Titles) -> str:
    if name == "category" and isinstance(value, str):
        if titles.category(value) == value:
            return value
        return (
            f"{titles.category(value)} ({value})"
            if titles.en
            else f"{titles.category(value)}（{value}）"
        )
    if name == "severity" and isinstance(value, str):
        return titles.severity(value)
    if isinstance(value, bool):
        return ("yes" if value else "no") if titles.en else ("是" if value else "否")
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def _data_rows(data: Mapping[str, object], titles: _Titles) -> list[tuple[str, str]]:
    order = {name: i for i, name in enumerate(FIELD_LABELS)}
    names = sorted(data, key=lambda n: (order.get(n, len(order)), n))
    return [(titles.field(n), _shown(n, data[n], titles)) for n in names]


_INPUTS: Final = {
    "str": "text",
    "text": "textarea",
    "phone": "tel",
    "date": "date",
    "datetime": "datetime-local",
    "int": "number",
    "float": "number",
    "bool": "checkbox",
    "choice": "select",
}


@attrs.frozen
class _Kept:
    """What a refused form held, to show it again: the event and its typed values."""

    event: str
    values: Mapping[str, str]
    reason: str = ""


def _field(
    field: PayloadField, *, required: bool, titles: _Titles, kept: Mapping[str, str]
) -> dict[str, object]:
    return {
        "name": field.name,
        "label": titles.field(field.name),
        "kind": _INPUTS.get(field.type, "text"),
        "required": required and field.type != "bool",
        "choices": [(c, titles.choice(c)) for c in field.choices],
        "step": "1" if field.type == "int" else "any",
        "value": kept.get(field.name, ""),
    }


def _event_form(
    spec: WorkflowSpec,
    event: EventSpec,
    roles: Sequence[str],
    titles: _Titles,
    kept: _Kept | None,
) -> dict[str, object]:
    values = kept.values if kept and kept.event == event.name else {}
    return {
        "name": event.name,
        "title": titles.event(spec, event.name),
        "roles": [(r, titles.role(spec, r)) for r in roles],
        "fields": [
            *(_field(f, required=True, titles=titles, kept=values) for f in event.require),
            *(_field(f, required=False, titles=titles, kept=values) for f in event.optional),
        ],
        "evidence": [{"kind": k, "label": titles.evidence(spec, k)} for k in event.evidence],
        "reason": event.reason,
        "reason_value": kept.reason if kept and kept.event == event.name else "",
    }


def _why_not(option: EventOption, case: Case, spec: WorkflowSpec, titles: _Titles) -> str:
    """Return why an event cannot be fired now, in the console's language."""
    reason = option.reason or ""
    refusal = option.refusal
    if titles.en or refusal is None:
        return reason
    if isinstance(refusal, EscalationLevelError):
        needed = refusal.required
        name = titles.level(spec, case.data.get("severity"), needed)
        level = f"第{needed}级" if name == f"{needed}级" else f"「{name}」（第{needed}级）"
        now = "未升级" if refusal.level is None else f"为第{refusal.level}级"
        return f"案件须已升级至{level}，目前{now}"
    return _refusal_detail(refusal, spec) or reason


def _options(engine: Engine, case: Case, principal: Principal) -> dict[str, list[EventOption]]:
    """Return every event as each of the principal's roles sees ``case`` now."""
    return {
        role: list(engine.allowed_events(case, principal.actor_as(role)))
        for role in principal.roles
    }


def _actions(
    case: Case,
    spec: WorkflowSpec,
    options: Mapping[str, Sequence[EventOption]],
    titles: _Titles,
    kept: _Kept | None,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Return the forms of the events the principal may fire, and the others with why not."""
    by_role = {role: {o.event: o for o in found} for role, found in options.items()}
    forms: list[dict[str, object]] = []
    refused: list[dict[str, object]] = []
    for event in spec.events:
        seen = [(role, events[event.name]) for role, events in by_role.items()]
        allowed = [role for role, option in seen if option.allowed]
        if allowed:
            forms.append(_event_form(spec, event, allowed, titles, kept))
            continue
        permitted = event.roles if event.roles is not None else spec.role_names
        # The reason of a role the event names says more than "this role may not".
        option = next((o for r, o in seen if r in permitted), seen[0][1]) if seen else None
        if option is not None:
            refused.append(
                {
                    "name": event.name,
                    "title": titles.event(spec, event.name),
                    "reason": _why_not(option, case, spec, titles),
                }
            )
    return forms, refused


def _history(case: Case, spec: WorkflowSpec, titles: _Titles, *, reveal: bool) -> list[object]:
    rows: list[object] = []
    for record in case.history:
        out = RecordOut.of(record, reveal=reveal)
        rows.append(
            {
                "seq": record.seq,
                "at": _when(record.at),
                "event": titles.event(spec, record.event),
                "actor": record.actor,
                "role": titles.role(spec, record.role),
                "source": titles.state(case.workflow, case.version, record.source)
                if record.source
                else "",
                "target": titles.state(case.workflow, case.version, record.target),
                # An opening record holds the case's data, shown above it.
                "payload": []
                if record.event == "@open"
                else [(titles.field(k), _shown(k, v, titles)) for k, v in out.payload.items()],
                "evidence": [
                    f"{titles.evidence(spec, e['kind'])}：{e['name']}"
                    f"（SHA-256 {e['sha256'][:12]}…）"
                    for e in out.evidence
                ],
                "reason": out.reason or "",
            }
        )
    return rows


async def _case_page(
    request: Request,
    principal: Principal,
    case_id: str,
    *,
    status: int = HTTPStatus.OK,
    flash: str | None = None,
    error: str | None = None,
    kept: _Kept | None = None,
) -> Response:
    """Render a case the principal may see (404 for one it may not, as for a missing one)."""
    service = _service(request)
    titles = _titles(request)
    words = _Words(titles.en)
    try:
        case = await _case(service, principal, case_id)
    except CaseNotFoundError:
        return _error(request, principal, 404, words("not_found"), words("no_such_case"))
    engine = service.ledger.engine(case.workflow, case.version)
    options = _options(engine, case, principal)  # of the case as read, not read again
    spec = engine.spec
    reveal = principal.may_see_phones
    out = CaseOut.of_case(case, service.today(), reveal=reveal)
    forms, refused = _actions(case, spec, options, titles, kept)
    if flash is None and (done := request.query_params.get("done")):
        flash = words("fired", event=titles.event(spec, done)) if spec.has_event(done) else None
    if flash is None and request.query_params.get("opened"):
        flash = words("opened")
    number = str(out.data.get("case_number") or "")
    view = {
        "id": case.id,
        "number": number,
        "workflow": titles.workflow(case.workflow),
        "state": titles.state(case.workflow, case.version, case.state),
        "final": case.final,
        "deadline": out.deadline,
        "overdue": out.overdue,
        "paused": out.paused,
        "escalated": out.escalation is not None,
        "level": titles.level(spec, case.data.get("severity"), out.escalation),
        "opened_at": _when(case.opened_at),
        "updated_at": _when(case.updated_at),
        "seq": case.seq,
    }
    documents = [
        {
            "seq": n.seq,
            "notice": n.notice,
            "title": titles.notice(n.notice),
            "event": titles.event(spec, n.event),
            "to": "、".join(titles.role(spec, r) for r in n.to),
        }
        for n in notices_of(engine, case)
    ]
    return _page(
        request,
        "case.html.j2",
        principal=principal,
        title=number or case.id,
        status=status,
        url=f"/cases/{quote(case_id, safe='')}",
        here="cases",
        flash=flash,
        error=error,
        case=view,
        data=_data_rows(out.data, titles),
        forms=forms,
        refused=refused,
        documents=documents,
        history=_history(case, spec, titles, reveal=reveal),
    )


# -- firing an event --------------------------------------------------------------------------


def _typed(field: PayloadField, raw: str) -> object:
    """Return a form's text as the value a field of ``field.type`` takes (the engine checks)."""
    try:
        if field.type == "int":
            return int(raw)
        if field.type == "float":
            return float(raw)
        if field.type == "datetime":
            when = dt.datetime.fromisoformat(raw)
            return when if when.tzinfo else when.replace(tzinfo=TIMEZONE)
    except ValueError:
        return raw
    return raw


def _payload(event: EventSpec, form: FormData) -> tuple[dict[str, object], dict[str, str]]:
    """Return the payload a form fills in, and the form's texts (to show them again)."""
    payload: dict[str, object] = {}
    texts: dict[str, str] = {}
    for field in (*event.require, *event.optional):
        raw = form.get(field.name)
        if field.type == "bool":
            payload[field.name] = raw == "true"
            texts[field.name] = "true" if raw == "true" else ""
            continue
        if not isinstance(raw, str) or not raw.strip():
            continue
        texts[field.name] = raw[:_MAX_TEXT]
        payload[field.name] = _typed(field, raw[:_MAX_TEXT])
    return payload, texts


class _TooLargeError(Exception):
    pass


def _file_name(name: str, kind: str) -> str:
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:_MAX_NAME] or kind


async def _evidence(event: EventSpec, form: FormData) -> list[Evidence]:
    """Return the evidence a form uploads: each file hashed, its bytes never kept."""
    out = []
    for kind in event.evidence:
        for item in form.getlist(f"evidence:{kind}"):
            if not isinstance(item, FormFile) or not item.filename:
                continue
            content = await item.read(MAX_EVIDENCE + 1)
            if len(content) > MAX_EVIDENCE:
                raise _TooLargeError
            out.append(Evidence.of(kind, _file_name(item.filename, kind), content))
    return out


def _seq(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# -- the list ---------------------------------------------------------------------------------


def _row(summary: SummaryOut, titles: _Titles) -> dict[str, object]:
    spec = titles.names.spec(summary.workflow, summary.version)
    return {
        "id": summary.id,
        "number": str(summary.data.get("case_number") or ""),
        "community": str(summary.data.get("community") or ""),
        "estate": str(summary.data.get("community_name") or ""),
        "category": titles.category(str(summary.data.get("category") or "")),
        "workflow": titles.workflow(summary.workflow),
        "state": titles.state(summary.workflow, summary.version, summary.state),
        "deadline": summary.deadline,
        "overdue": summary.overdue,
        "final": summary.final,
        "level": titles.level(spec, summary.data.get("severity"), summary.escalation),
    }


def _latest(ledger: Ledger) -> list[WorkflowSpec]:
    latest: dict[str, WorkflowSpec] = {}
    for engine in ledger.engines:
        kept = latest.get(engine.spec.id)
        if kept is None or kept.version < engine.spec.version:
            latest[engine.spec.id] = engine.spec
    return list(latest.values())


def _state_choices(specs: Iterable[WorkflowSpec], titles: _Titles) -> list[tuple[str, str]]:
    labels: dict[str, dict[str, None]] = {}
    for spec in specs:
        for state in spec.states:
            title = titles.state(spec.id, spec.version, state.name)
            labels.setdefault(state.name, {})[title] = None
    return [(name, " / ".join(found)) for name, found in labels.items()]


# -- the dashboard ----------------------------------------------------------------------------


def _progress(
    ledger: Ledger, scope: str | None, today: dt.date
) -> tuple[list[tuple[str, Totals]], Totals]:
    """Return each community's hazard totals and the sum (counted as every report counts)."""
    cases = ledger.query(CaseQuery(community=scope))
    rows = hazard_facts(cases, [engine.spec for engine in ledger.engines], today)
    groups = defaultdict(list)
    for facts in rows:
        groups[facts.community].append(facts)
    return [(name, count(group)) for name, group in sorted(groups.items())], count(rows)


_BAR_AREA: Final = 460
_LABEL_WIDTH: Final = 130
_NOTE_WIDTH: Final = 330
_BAR_STEP: Final = 32
_FILLS: Final = (("closed", "#2e8b47"), ("open_on_time", "#3b74c4"), ("overdue", "#c6392f"))


def _chart(rows: Sequence[tuple[str, Totals]], words: _Words) -> dict[str, object]:
    """Return the geometry of the progress chart: one stacked bar a community."""
    most = max((totals.found for _, totals in rows), default=0) or 1
    bars = []
    for i, (name, totals) in enumerate(rows):
        counts = (
            ("closed", totals.closed),
            ("open_on_time", totals.open - totals.overdue),
            ("overdue", totals.overdue),
            ("excluded", totals.found - totals.closed - totals.open),
        )
        x = float(_LABEL_WIDTH)
        segments = []
        for key, number in counts:
            if number <= 0:
                continue
            width = round(_BAR_AREA * number / most, 1)
            fill = dict(_FILLS).get(key, "#b5b5b5")
            segments.append(
                {
                    "x": x,
                    "width": width,
                    "fill": fill,
                    "count": number,
                    "title": f"{words(key)} {number}",
                }
            )
            x += width
        note = words("bar_note", closed=totals.closed, open=totals.open, overdue=totals.overdue)
        bars.append(
            {"label": name, "y": 8 + i * _BAR_STEP, "segments": segments, "end": x, "note": note}
        )
    return {
        "bars": bars,
        "label_width": _LABEL_WIDTH,
        "width": _LABEL_WIDTH + _BAR_AREA + _NOTE_WIDTH,
        "height": 16 + len(rows) * _BAR_STEP,
    }


def _phase_rows(service: Service, today: dt.date, words: _Words) -> list[dict[str, object]]:
    """Return the campaign's phases as the demo's dashboard shows them, in either language."""
    ordered = sorted(service.campaign.phases, key=lambda p: (p.starts, p.ends))
    status = {"done": words("phase_done"), "now": words("phase_now"), "": words("phase_later")}
    rows = []
    for phase, row in zip(ordered, _phases(service.campaign, today), strict=True):
        rows.append(
            {
                **row,
                "title": (phase.title_en or phase.title) if words.en else phase.title,
                "status": status.get(str(row["css"]), row["status"]),
            }
        )
    return rows


# -- the routes -------------------------------------------------------------------------------


@functools.cache
def _stylesheet_text() -> str:
    return resources.files("rectify.server").joinpath("console/console.css").read_text("utf-8")


async def _stylesheet() -> Response:
    return Response(
        _stylesheet_text(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


async def _home(request: Request) -> Response:
    return _redirect("/cases" if await _session(request) else "/login")


async def _login_page(request: Request) -> Response:
    return _page(request, "login.html.j2", principal=None, title=_words(request)("login_title"))


async def _login(request: Request) -> Response:
    words = _words(request)
    try:
        _, form = await _posted(request, sign_in=True)
    except _Stop as stop:
        return stop.response
    token = _text(form, "token", MAX_TOKEN)
    await form.close()
    principal = None
    if token and token.isascii() and token.isprintable():
        try:
            principal = await authenticate(_service(request), token)
        except _Unauthorized:
            principal = None
    if principal is None:
        return _page(
            request,
            "login.html.j2",
            principal=None,
            title=words("login_title"),
            status=HTTPStatus.UNAUTHORIZED,
            url="/login",
            error=words("bad_token"),
        )
    response = _redirect("/cases")
    _set_cookie(request, response, SESSION_COOKIE, token)
    _set_cookie(request, response, CSRF_COOKIE, secrets.token_urlsafe(32))  # a new nonce
    return response


async def _logout(request: Request) -> Response:
    try:
        _, form = await _posted(request)
    except _Stop as stop:
        return stop.response
    await form.close()
    response = _redirect("/login")
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", secure=_secure(request), httponly=True, samesite="strict"
        )
    return response


async def _cases(request: Request) -> Response:
    try:
        principal = await _signed_in(request)
    except _Stop as stop:
        return stop.response
    service = _service(request)
    titles = _titles(request)
    query = request.query_params
    community = query.get("community", "")[:_MAX_NAME] if principal.is_town else ""
    state = query.get("state", "")[:_MAX_NAME]
    workflow = query.get("workflow", "")[:_MAX_NAME]
    overdue = query.get("overdue") == "1"
    after = query.get("after", "")[:_MAX_NAME] or None
    found = await list_cases(  # narrows a community's token to its community
        request,
        principal=principal,
        community=community or None,
        state=state or None,
        workflow=workflow or None,
        overdue_on=service.today() if overdue else None,
        after=after,
        limit=PAGE_SIZE,
    )
    kept = [
        (name, value)
        for name, value in (
            ("community", community),
            ("workflow", workflow),
            ("state", state),
            ("overdue", "1" if overdue else ""),
        )
        if value
    ]
    specs = _latest(service.ledger)
    return _page(
        request,
        "cases.html.j2",
        principal=principal,
        title=_Words(titles.en)("cases_title"),
        here="cases",
        filters={"community": community, "state": state, "workflow": workflow, "overdue": overdue},
        workflows=[(s.id, titles.workflow(s.id)) for s in specs],
        states=_state_choices(specs, titles),
        rows=[_row(s, titles) for s in found.items],
        next_page=f"/cases?{urlencode([*kept, ('after', found.next_after)])}"
        if found.next_after
        else None,
        first_page=f"/cases?{urlencode(kept)}" if after else None,
    )


_OPEN_NAMES: Final = ("id", "workflow", "community", "category", "severity", "role")


def _open_form(
    request: Request,
    principal: Principal,
    values: Mapping[str, str],
    *,
    status: int = HTTPStatus.OK,
    error: str | None = None,
) -> Response:
    titles = _titles(request)
    table = titles.names.categories
    return _page(
        request,
        "new.html.j2",
        principal=principal,
        title=_Words(titles.en)("open_case"),
        status=status,
        url="/cases/new",
        here="cases",
        error=error,
        values={name: values.get(name, "") for name in _OPEN_NAMES},
        fixed_community=principal.scope or "",
        workflows=[(s.id, titles.workflow(s.id)) for s in _latest(_service(request).ledger)],
        categories=[(c.code, f"{titles.category(c.code)}（{c.code}）") for c in table.categories],
        severities=[(s.name, titles.severity(s.name)) for s in table.severities],
        fields=[
            {"name": name, "label": titles.field(name), "kind": kind, "value": values.get(name, "")}
            for name, kind in _OPEN_FIELDS
        ],
        roles=[(r, titles.role(None, r)) for r in principal.roles],
    )


async def _new_case(request: Request) -> Response:
    try:
        principal = await _signed_in(request)
    except _Stop as stop:
        return stop.response
    return _open_form(request, principal, {"workflow": "hazard"})


async def _open(request: Request) -> Response:
    try:
        principal, form = await _posted(request)
    except _Stop as stop:
        return stop.response
    assert principal is not None  # noqa: S101 - _posted signs in unless told not to
    values = {name: _text(form, name) for name in _OPEN_NAMES}
    values.update({name: _text(form, name, _MAX_TEXT) for name, _ in _OPEN_FIELDS})
    await form.close()
    data = {
        name: values[name]
        for name in ("community", "category", "severity", *(n for n, _ in _OPEN_FIELDS))
        if values[name]
    }
    try:
        body = OpenIn(
            id=values["id"], workflow=values["workflow"], data=data, role=values["role"] or None
        )
        await open_case(request, principal, body, None)  # refuses another community's case
    except (RectifyError, click.ClickException) as exc:
        error = _message(exc, None, en=_english(request))
        return _open_form(request, principal, values, status=_status_of(exc), error=error)
    except pydantic.ValidationError as exc:
        error = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _open_form(request, principal, values, status=422, error=error)
    return _redirect(f"/cases/{quote(body.id, safe='')}?opened=1")


async def _case_route(request: Request, case_id: str) -> Response:
    try:
        principal = await _signed_in(request)
    except _Stop as stop:
        return stop.response
    return await _case_page(request, principal, case_id)


async def _fire(request: Request, case_id: str, event: str) -> Response:
    try:
        principal, form = await _posted(request)
    except _Stop as stop:
        return stop.response
    assert principal is not None  # noqa: S101 - _posted signs in unless told not to
    service = _service(request)
    words = _words(request)
    kept: _Kept | None = None
    spec: WorkflowSpec | None = None
    try:
        case = await _case(service, principal, case_id)
        spec = service.ledger.engine(case.workflow, case.version).spec
        declared = spec.event(event) if spec.has_event(event) else None
        payload, texts = _payload(declared, form) if declared else ({}, {})
        reason = _text(form, "reason", _MAX_TEXT + 1)
        kept = _Kept(event, texts, reason[:_MAX_TEXT])
        if len(reason) > _MAX_TEXT:
            error = words("too_long")
            return await _case_page(request, principal, case_id, status=422, error=error, kept=kept)
        evidence = await _evidence(declared, form) if declared else []
        await service.aio.fire(
            case_id,
            event,
            principal.actor_as(_text(form, "role") or None),
            payload=payload,
            evidence=evidence,
            reason=reason or None,
            expected_seq=_seq(_text(form, "expected_seq")),
            check=in_scope(principal, case_id),
        )
    except CaseNotFoundError:
        return _error(request, principal, 404, words("not_found"), words("no_such_case"))
    except _TooLargeError:
        error = words("too_large", limit=MAX_EVIDENCE // (1024 * 1024))
        return await _case_page(request, principal, case_id, status=413, error=error, kept=kept)
    except (RectifyError, click.ClickException) as exc:
        error = _message(exc, spec, en=words.en)
        status = _status_of(exc)
        return await _case_page(request, principal, case_id, status=status, error=error, kept=kept)
    finally:
        await form.close()
    return _redirect(f"/cases/{quote(case_id, safe='')}?done={quote(event, safe='')}")


async def _document(request: Request, case_id: str, seq: str, notice: str) -> Response:
    try:
        principal = await _signed_in(request)
    except _Stop as stop:
        return stop.response
    words = _words(request)
    number = _seq(seq)
    if number is None:
        return _error(request, principal, 404, words("not_found"), words("no_such_document"))
    try:
        response = await get_document(  # the API's rendering, scope check and numbering
            request, principal=principal, case_id=case_id, seq=number, notice=notice, fmt="html"
        )
    except CaseNotFoundError:
        return _error(request, principal, 404, words("not_found"), words("no_such_case"))
    except (RectifyError, click.ClickException) as exc:
        message = _message(exc, None, en=words.en)
        return _error(request, principal, _status_of(exc), words("refused"), message)
    if response.status_code == HTTPStatus.NOT_FOUND:
        return _error(request, principal, 404, words("not_found"), words("no_such_document"))
    return _headers(response)


async def _dashboard(request: Request) -> Response:
    try:
        principal = await _signed_in(request)
    except _Stop as stop:
        return stop.response
    service = _service(request)
    words = _words(request)
    today = service.today()
    rows, total = await service.aio.run(_progress, service.ledger, principal.scope, today)
    campaign = service.campaign
    if words.en:
        heading = f"{campaign.title_en or campaign.title} ({campaign.starts.year})"
    else:
        heading = f"{town_of(campaign.organ)}{campaign.title}（{campaign.starts.year}年）"
    return _page(
        request,
        "dashboard.html.j2",
        principal=principal,
        title=words("nav_dashboard"),
        here="dashboard",
        heading=heading,
        organ=campaign.organ,
        span=f"{campaign.starts} – {campaign.ends}",
        today=today,
        phases=_phase_rows(service, today, words),
        rows=[{"community": name, "totals": totals} for name, totals in rows],
        total=total,
        chart=_chart(rows, words),
    )


def _import_page(
    request: Request,
    principal: Principal,
    *,
    status: int = HTTPStatus.OK,
    error: str | None = None,
    report: ImportOut | None = None,
) -> Response:
    titles = _titles(request)
    return _page(
        request,
        "import.html.j2",
        principal=principal,
        title=_Words(titles.en)("import_title"),
        status=status,
        url="/import",
        here="import",
        error=error,
        report=report,
        roles=[(r, titles.role(None, r)) for r in principal.roles],
    )


async def _import_form(request: Request) -> Response:
    try:
        principal = await _signed_in(request)
    except _Stop as stop:
        return stop.response
    if not principal.is_town:
        words = _words(request)
        return _error(request, principal, 403, words("forbidden"), words("town_only"))
    return _import_page(request, principal)


async def _import(request: Request) -> Response:
    try:
        principal, form = await _posted(request)
    except _Stop as stop:
        return stop.response
    assert principal is not None  # noqa: S101 - _posted signs in unless told not to
    words = _words(request)
    try:
        if not principal.is_town:
            return _error(request, principal, 403, words("forbidden"), words("town_only"))
        item = form.get("file")
        if not isinstance(item, FormFile) or not item.filename:
            return _import_page(request, principal, status=422, error=words("choose_file"))
        response = await import_ledger(  # the API's import: read, open, report every row
            request,
            principal=principal,
            file=UploadFile(item.file, size=item.size, filename=item.filename),
            role=_text(form, "role") or None,
            key=None,
        )
        if response.status_code != HTTPStatus.OK:  # a file over the service's limit
            detail = json.loads(bytes(response.body)).get("detail", "")
            return _import_page(request, principal, status=response.status_code, error=detail)
        report = ImportOut.model_validate_json(bytes(response.body))
        # The API reads the upload's bytes and names them so; the clerk knows the file's name.
        name = _file_name(item.filename, "ledger")
        report = report.model_copy(update={"summary": report.summary.replace("<bytes>", name)})
    except (RectifyError, click.ClickException) as exc:
        message = _message(exc, None, en=words.en)
        return _import_page(request, principal, status=_status_of(exc), error=message)
    finally:
        await form.close()
    return _import_page(request, principal, report=report)


#: The console's pages: method, path and the function that answers. ``/cases/new`` comes
#: before ``/cases/{case_id}``, which would take ``new`` for a case id.
_ROUTES: Final[tuple[tuple[str, str, Callable[..., Awaitable[Response]]], ...]] = (
    ("GET", "/console/console.css", _stylesheet),
    ("GET", "/", _home),
    ("GET", "/login", _login_page),
    ("POST", "/login", _login),
    ("POST", "/logout", _logout),
    ("GET", "/cases", _cases),
    ("POST", "/cases", _open),
    ("GET", "/cases/new", _new_case),
    ("GET", "/cases/{case_id}", _case_route),
    ("POST", "/cases/{case_id}/events/{event}", _fire),
    ("GET", "/cases/{case_id}/documents/{seq}/{notice}", _document),
    ("GET", "/dashboard", _dashboard),
    ("GET", "/import", _import_form),
    ("POST", "/import", _import),
)


def console_router() -> APIRouter:
    """Return the web console's routes (HTML pages, left out of the OpenAPI document)."""
    router = APIRouter(include_in_schema=False)
    for method, path, endpoint in _ROUTES:
        router.add_api_route(path, endpoint, methods=[method], response_class=HTMLResponse)
    return router
