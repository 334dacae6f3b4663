"""What the clerk reads and types: titles for codes, codes for titles, errors in Chinese.

The daily commands speak Chinese. Tables show a state's, workflow's or category's title, not
its code; options that take a state, category, workflow or community take its title as well
as its code, and an unknown one is a usage error that lists the known ones, closest first.
Errors the library raises in English are worded here for the clerk, from their attributes
where they have them; a message not known here is shown as the library wrote it.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Final, ParamSpec, TypeVar

import click

from rectify.definitions._categories import CategoryTable
from rectify.definitions._spec import WorkflowSpec
from rectify.engine._case import Case
from rectify.exceptions import (
    CalendarError,
    CaseFinalError,
    CaseNotFoundError,
    ConcurrencyError,
    EventNotAllowedError,
    EventRefusedError,
    EvidenceMissingError,
    GuardRefusedError,
    HistoryError,
    OutOfOrderError,
    PayloadError,
    RectifyError,
    RoleNotPermittedError,
    SeparationOfDutiesError,
    StoreError,
    UnknownEventError,
)
from rectify.stores._store import CaseSummary

__all__ = [
    "FIELD_LABELS",
    "ClerkError",
    "Names",
    "clerk",
    "describe",
    "event_label",
    "role_label",
    "unknown",
]

P = ParamSpec("P")
T = TypeVar("T")

#: The engine's own events, which no workflow declares.
_INTERNAL_EVENTS: Final = {
    "@open": "登记",
    "@escalate": "升级督办",
    "@merge": "合并",
    "@migrate": "迁移流程版本",
    "@severity": "调整严重程度",
    "@category": "调整隐患类别",
}

#: Labels of the case data a ledger import and the shipped workflows write.
FIELD_LABELS: Final = {
    "town": "镇街",
    "community": "社区",
    "community_name": "小区名称",
    "address": "地址",
    "building": "楼栋",
    "building_head": "楼栋长",
    "head_name": "楼栋长",
    "phone": "联系电话",
    "floors": "层数",
    "height_m": "建筑高度（米）",
    "category": "隐患类别",
    "severity": "严重程度",
    "description": "隐患内容",
    "location": "隐患部位",
    "responsible_party": "整改责任人",
    "measures": "整改措施",
    "due": "整改时限",
    "note": "备注",
    "case_number": "隐患编号",
    "category_inferred": "类别推断依据",
    "category_confidence": "类别推断把握",
    # The old-estate register (one case a building) and its survey.
    "height": "建筑高度（米）",
    "households": "户数",
    "in_programme": "纳入老旧小区改造",
    "facilities_manager": "消防设施管理单位",
    "facilities_manager_kind": "管理单位类型",
    "grid_worker": "网格员",
    "grid_worker_phone": "网格员电话",
    "building_head_phone": "楼栋长电话",
    "special_groups": "特殊群体",
    "hazards": "发现隐患数",
    # The task list and earlier years.
    "task": "任务",
    "phase": "阶段",
    "title": "工作任务",
    "content": "具体内容",
    "units": "责任单位",
    "progress": "进展",
    "summary": "完成情况",
    "year": "年度",
    "rectified_on": "销号日期",
    "findings": "复查发现",
    "new_case": "重新立案",
}

_TYPES: Final = {
    "bool": "是或否",
    "choice": "选项",
    "date": "日期",
    "datetime": "日期时间",
    "float": "数字",
    "int": "整数",
    "phone": "电话号码",
    "str": "文字",
    "text": "文字",
}


class ClerkError(click.ClickException):
    """An error worded for the clerk: one line ``rectify: 错误：...``, exit code 1."""

    def show(self, file: IO[str] | None = None) -> None:
        """Print the message on standard error (or ``file``)."""
        lines = self.format_message().splitlines() or ["未知错误"]
        click.echo(f"rectify: 错误：{lines[0]}", err=file is None, file=file)
        for line in lines[1:]:
            click.echo(line, err=file is None, file=file)


def clerk(command: Callable[P, T]) -> Callable[P, T]:
    """Word the library's errors in ``command`` for the clerk (those this module knows)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except RectifyError as exc:
            message = describe(exc)
            if message is None:
                raise
            raise ClerkError(message) from exc

    return run


def unknown(kind: str, text: str, known: Sequence[tuple[str, Sequence[str]]]) -> click.UsageError:
    """Return the usage error for an unknown ``kind`` (社区, 状态...), closest known first.

    Closest by ``difflib``, then the known names holding what was typed, then the rest.

    Args:
        kind: What was asked for, in Chinese.
        text: What the clerk typed.
        known: Each known value as it is listed, with the names that select it.
    """
    index = {name: i for i, (_, names) in enumerate(known) for name in names}
    close = difflib.get_close_matches(text, list(index), n=max(len(index), 1))
    # A clerk's short word (水带) is too short for difflib against a long title: a title
    # holding the word comes next, before the rest in their own order.
    holding = [name for name in index if text and text in name]
    order = dict.fromkeys([index[n] for n in (*close, *holding)] + list(range(len(known))))
    listed = "、".join(known[i][0] for i in order) or "（无）"
    return click.UsageError(f"未知{kind} {text!r}；已知{kind}：{listed}")


def _titled(title: str, code: str) -> str:
    return f"{title}（{code}）" if title and title != code else code


def event_label(spec: WorkflowSpec | None, event: str) -> str:
    """Return an event as ``交办（assign）``: its title and the name the clerk types."""
    if event in _INTERNAL_EVENTS:
        return _INTERNAL_EVENTS[event]
    title = spec.event(event).title if spec and spec.has_event(event) else ""
    return _titled(title, event)


def role_label(spec: WorkflowSpec | None, role: str) -> str:
    """Return a role as ``社区（community）``: its title and the name the clerk types."""
    titles = {r.name: r.title for r in spec.roles} if spec else {}
    return _titled(titles.get(role, ""), role)


class Names:
    """The titles of workflows, states, roles, events, levels and categories, both ways.

    Args:
        specs: Every workflow version the ledger runs.
        categories: The category table.
    """

    def __init__(self, specs: Iterable[WorkflowSpec], categories: CategoryTable) -> None:
        self._specs = {(s.id, s.version): s for s in specs}
        self._latest: dict[str, WorkflowSpec] = {}
        for spec in sorted(self._specs.values(), key=lambda s: s.version):
            self._latest[spec.id] = spec
        self.categories = categories

    def spec(self, workflow: str, version: int | None = None) -> WorkflowSpec | None:
        """Return the spec of ``workflow`` (at ``version``, or its latest), if it is known."""
        if version is not None and (workflow, version) in self._specs:
            return self._specs[(workflow, version)]
        return self._latest.get(workflow)

    # -- codes to titles -----------------------------------------------------------------

    def workflow(self, workflow: str) -> str:
        """Return the title of a workflow (its id when unknown)."""
        spec = self.spec(workflow)
        return spec.title if spec else workflow

    def state(self, case: Case | CaseSummary, state: str | None = None) -> str:
        """Return the title of ``state`` (the case's own by default) in the case's workflow."""
        name = case.state if state is None else state
        spec = self.spec(case.workflow, case.version)
        return spec.state(name).title if spec and spec.has_state(name) else name

    def category(self, code: str) -> str:
        """Return the title of a category (its code when unknown)."""
        return self.categories.category(code).title if code in self.categories.codes else code

    def severity(self, name: str) -> str:
        """Return the title of a severity (its name when unknown)."""
        known = name in self.categories.severity_names
        return self.categories.severity(name).title if known else name

    def level(self, case: Case | CaseSummary) -> str:
        """Return the title of the case's escalation level (``-`` when it has none)."""
        if case.escalation is None:
            return "-"
        spec = self.spec(case.workflow, case.version)
        if spec and spec.escalation:
            ladder = spec.escalation.ladder_for(str(case.data.get("severity") or "") or None)
            for level in ladder.levels:
                if level.level == case.escalation:
                    return level.title
        return f"{case.escalation}级"

    def role(self, spec: WorkflowSpec | None, role: str) -> str:
        """Return the title of a role alone (its name when unknown)."""
        titles = {r.name: r.title for r in spec.roles} if spec else {}
        return titles.get(role) or role

    # -- what the clerk typed to codes ---------------------------------------------------

    def workflow_of(self, text: str) -> str:
        """Return the workflow a ``--workflow`` names, by id or title.

        Raises:
            click.UsageError: No workflow has that id or title.
        """
        for spec in self._latest.values():
            if text in (spec.id, spec.title):
                return spec.id
        known = [(_titled(s.title, s.id), (s.title, s.id)) for s in self._sorted()]
        raise unknown("流程", text, known)

    def states_of(self, text: str, workflow: str | None = None) -> list[tuple[str, str]]:
        """Return the ``(workflow, state)`` pairs a ``--state`` names, by name or title.

        A title may name several states (待复查 is a state of each workflow).

        Raises:
            click.UsageError: No state of the workflows (of ``workflow``) has that name or title.
        """
        specs = [s for s in self._specs.values() if workflow in (None, s.id)]
        pairs = {
            (spec.id, state.name): None
            for spec in sorted(specs, key=lambda s: (s.id, s.version))
            for state in spec.states
            if text in (state.name, state.title)
        }
        if pairs:
            return list(pairs)
        codes: dict[str, dict[str, None]] = {}
        for spec in self._sorted(workflow):
            for state in spec.states:
                codes.setdefault(state.title, {})[state.name] = None
        known = [
            (f"{title}（{'/'.join(names)}）", (title, *names)) for title, names in codes.items()
        ]
        raise unknown("状态", text, known)

    def category_of(self, text: str) -> str:
        """Return the category code a ``--category`` names, by code or title.

        Raises:
            click.UsageError: No category has that code or title.
        """
        for category in self.categories.categories:
            if text in (category.code, category.title):
                return category.code
        known = [(_titled(c.title, c.code), (c.title, c.code)) for c in self.categories.categories]
        raise unknown("隐患类别", text, known)

    def _sorted(self, workflow: str | None = None) -> list[WorkflowSpec]:
        return [s for _, s in sorted(self._latest.items()) if workflow in (None, s.id)]


# -- the library's errors, worded for the clerk -------------------------------------------


def describe(exc: RectifyError, spec: WorkflowSpec | None = None) -> str | None:
    """Return ``exc`` worded in Chinese, or ``None`` when this module does not know it.

    Args:
        exc: The error.
        spec: The workflow of the case a refused event was fired on, for its titles.
    """
    if isinstance(exc, EventRefusedError):
        return _refusal(exc, spec)
    if isinstance(exc, ConcurrencyError):
        return (
            f"案件 {exc.case_id!r} 读取时在第 {exc.expected} 条记录，现在已到第 {exc.found} 条；"
            "请重新查看（rectify show）后再试"
        )
    if isinstance(exc, CaseNotFoundError):
        return f"没有案件 {exc.case_id!r}"
    if isinstance(exc, CalendarError) and exc.year is not None:
        return (
            f"没有 {exc.year} 年的节假日数据，算不出工作日：请用环境变量 RECTIFY_HOLIDAYS 指定"
            "节假日文件（格式见 docs/workflow-format.md），或设 RECTIFY_WEEKENDS_FALLBACK=1 按"
            "周一至周五计算"
        )
    if isinstance(exc, HistoryError):
        return f"案件 {exc.case_id!r}：历史记录第 {exc.seq} 条校验不通过：{_history(exc.reason)}"
    for kind, pattern, wording in _MESSAGES:
        if isinstance(exc, kind) and (found := re.fullmatch(pattern, str(exc), re.S)):
            return found.expand(wording)
    return None


_MESSAGES: Final[tuple[tuple[type[RectifyError], str, str], ...]] = (
    (
        StoreError,
        r"no store at (.*?)(?: \(no table \w+\))?; create one first \(rectify init\)",
        r"没有存储 \1：请先用 rectify init 创建",
    ),
    (
        StoreError,
        r"the database at (.*?) holds tables not of rectify \((.*?)\);.*",
        r"\1 的数据库已有别的表（\2）：rectify 只在自己的数据库里建表；确要共用，"
        r"请设环境变量 RECTIFY_DB_SHARED=1",
    ),
    (StoreError, r"cannot open a store at (.*?): (.*)", r"无法打开存储 \1：\2"),
    (StoreError, r"connecting to (.*?) failed: (.*)", r"无法连接存储 \1：\2"),
)

_HISTORY: Final = (
    (
        r"expected sequence number (\d+) \(deleted, inserted or reordered records\)",
        r"应为第 \1 条（有记录被删除、插入或调换了顺序）",
    ),
    (r"does not link to the record before it", "与前一条记录接不上"),
    (r"content does not match its digest \(edited\)", "内容与摘要不符（被改动过）"),
    (
        r"the case is in state '(.*)' but its history ends in '(.*)'",
        r"案件状态为 \1，历史记录却止于 \2",
    ),
    (
        r"the history ends at record (-?\d+) but the store's head is record (\d+):.*",
        r"历史记录止于第 \1 条，存储记下的最后一条却是第 \2 条：末尾的记录缺失或被替换",
    ),
)

_PAYLOAD: Final = (
    (r"is required \((\w+)\)", "必须填写（{type}）"),
    (r"is required: this event must say why", "必须填写：此事件要说明理由（--reason）"),
    (r"is not a field of this event; fields: (.*)", r"不是此事件的字段；可填字段：\1"),
    (r"must be one of: (.*) \(got (.*)\)", r"应为以下之一：\1（填的是 \2）"),
    (r"must be a date such as 2024-06-30, not (.*)", r"应为日期，如 2024-06-30，不是 \1"),
    (r"must be a date and time, not (.*)", r"应为日期和时间，如 2024-06-30T09:00，不是 \1"),
    (r"must be a whole number, not (.*)", r"应为整数，不是 \1"),
    (r"must be a (?:finite )?number, not (.*)", r"应为数字，不是 \1"),
    (r"must be a phone number, not (.*)", r"应为电话号码，不是 \1"),
    (r"must be non-empty text", "不能为空"),
    (r"must be true or false", "应为 true 或 false"),
)


def _history(reason: str) -> str:
    for pattern, wording in _HISTORY:
        if found := re.fullmatch(pattern, reason, re.S):
            return found.expand(wording)
    return reason


def _payload(problem: str) -> str:
    for pattern, wording in _PAYLOAD:
        if found := re.fullmatch(pattern, problem, re.S):
            if "{type}" in wording:
                return wording.format(type=_TYPES.get(found.group(1), found.group(1)))
            return found.expand(wording)
    return problem


def _refusal(exc: EventRefusedError, spec: WorkflowSpec | None) -> str | None:
    """Return a refused event in Chinese, with the titles of ``spec`` (the case's workflow)."""
    detail = _refusal_detail(exc, spec)
    if detail is None:
        return None
    state = spec.state(exc.state).title if spec and spec.has_state(exc.state) else exc.state
    event = event_label(spec, exc.event)
    return f"案件 {exc.case_id!r} 处于「{state}」，不能执行「{event}」：{detail}"


def _refusal_detail(exc: EventRefusedError, spec: WorkflowSpec | None) -> str | None:
    def events(names: Sequence[str]) -> str:
        return "、".join(event_label(spec, e) for e in names) or "无"

    if isinstance(exc, UnknownEventError):
        return f"没有这个事件；此流程的事件有：{events(exc.known)}"
    if isinstance(exc, EventNotAllowedError):
        return f"当前状态下不能执行；现在可执行：{events(exc.allowed)}"
    if isinstance(exc, CaseFinalError):
        return "案件已办结"
    if isinstance(exc, RoleNotPermittedError):
        roles = "、".join(role_label(spec, r) for r in exc.roles)
        return f"角色「{role_label(spec, exc.role)}」无权执行；可执行的角色：{roles}"
    if isinstance(exc, GuardRefusedError):
        reason = "没有适用的流转" if exc.reason == "no transition applies" else exc.reason
        return f"条件 {exc.guard!r} 不满足：{reason}" if exc.guard else reason
    if isinstance(exc, PayloadError):
        return f"字段 {exc.field!r} {_payload(exc.problem)}"
    if isinstance(exc, EvidenceMissingError):
        titles = dict(spec.evidence) if spec else {}
        missing = "、".join(_titled(titles.get(k, ""), k) for k in exc.missing)
        return f"缺少证据：{missing}；用 --evidence 种类=文件 提供"
    if isinstance(exc, SeparationOfDutiesError):
        return (
            f"{exc.actor!r} 已在此案执行过{event_label(spec, exc.other)}，不能由同一人再执行此事件"
        )
    if isinstance(exc, OutOfOrderError):
        return f"时间 {exc.at} 早于此案最后一条记录的时间 {exc.last}"
    return None
