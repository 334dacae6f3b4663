"""The Jinja2 adapter: rendering notices and reports into documents.

Built-in templates live in ``notices/`` (``NAME.html.j2`` and ``NAME.txt.j2``, with other
locales in a subfolder such as ``en/``). A host may supply its own folder: its templates
override built-ins by name. Every template runs in Jinja2's immutable sandbox, is loaded
only by a name inside its folder, and renders within a time budget and an output size
(``_sandbox``). Undefined variables are errors (``StrictUndefined``), reported with the
template, line and variable; HTML autoescapes. Any other error a template raises is a
``NoticeError`` naming the template and line.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from types import FrameType
from typing import Final

import attrs
import jinja2
import jinja2.meta
import jinja2.sandbox

from rectify._resources import default_notices
from rectify.exceptions import NoticeError
from rectify.templating._charts import count_chart, progress_chart
from rectify.templating._formatting import (
    document_number,
    en_date,
    mask_groups,
    mask_phone,
    percent,
    zh_date,
    zh_numeral,
    zh_ordinal,
)
from rectify.templating._sandbox import FolderLoader, Limits, Sandbox, limited

__all__ = [
    "DEFAULT_LOCALE",
    "FORMATS",
    "Document",
    "NoticeRenderer",
    "TemplateProblem",
    "context_digest",
]

DEFAULT_LOCALE: Final = "zh-CN"
FORMATS: Final = ("html", "text")
_SUFFIX: Final = {"html": "html.j2", "text": "txt.j2"}
_UNDEFINED: Final = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")
_REFERENCES: Final = (
    jinja2.nodes.Extends,
    jinja2.nodes.Include,
    jinja2.nodes.Import,
    jinja2.nodes.FromImport,
)
_SHOWN_TEMPLATES: Final = 30  # template names a message lists; a long list is cut short
#: Characters a document may have: the longest shipped one (a town's ledger) is far shorter.
MAX_OUTPUT: Final = 4_000_000
#: Seconds a render may take; the shipped templates take milliseconds.
TIME_BUDGET: Final = 10.0


@attrs.frozen
class Document:
    """A rendered notice or report.

    ``title`` is what the template sets (``{% set title = "..." %}``), else the context's
    ``title`` (reports carry theirs), else the notice's name. ``template_sha256`` covers
    the template and every template it extends or includes; ``context_sha256`` the
    context it was rendered with. Rendering the same template with
    the same context again gives the same body, byte for byte (for an appeal).
    """

    title: str
    body: str
    format: str
    template: str
    locale: str
    template_sha256: str
    context_sha256: str


@attrs.frozen
class TemplateProblem:
    """Why a template cannot be used, found by reading it rather than rendering it.

    Attributes:
        kind: ``encoding`` (not UTF-8 text), ``syntax`` (not valid Jinja2) or ``missing``
            (it extends, includes or imports a template that does not exist).
        template: The template's name (``reminder.txt.j2``).
        file: Its file: the path in the host's folder, ``notices/NAME`` for a built-in.
        line: 1-based line (of the bad byte, the syntax error or the reference).
        column: 1-based column; Jinja2 tells none, so 1.
        message: What is wrong.
    """

    kind: str
    template: str
    file: str
    line: int
    column: int
    message: str


@attrs.frozen
class _Member:
    """One template of a family, read and parsed."""

    name: str
    source: str
    tree: jinja2.nodes.Template


_SCALAR: Final = frozenset({str, int, float, bool, type(None)})


def _plain(value: object) -> object:
    if type(value) in _SCALAR:
        return value  # most of a context: text and numbers
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if attrs.has(type(value)):
        return _plain(attrs.asdict(value, recurse=False))  # type: ignore[arg-type]
    return value


def context_digest(context: Mapping[str, object]) -> str:
    """Return the SHA-256 of a context's canonical encoding."""
    text = json.dumps(
        _plain(context), ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":")
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _strict(function: Callable[..., object]) -> Callable[..., object]:
    """Make a filter or global fail on an undefined argument the way ``{{ x }}`` would.

    A filter receives a ``StrictUndefined`` without complaint; ``zh_date`` would then fail
    with "not a date", losing the variable's name. Touching it here raises the
    ``UndefinedError`` that names it.
    """

    @functools.wraps(function)
    def strict(*args: object, **kwargs: object) -> object:
        for value in (*args, *kwargs.values()):
            if isinstance(value, jinja2.Undefined):
                value._fail_with_undefined_error()
        return function(*args, **kwargs)

    return strict


def _may_see(context: jinja2.runtime.Context) -> bool:
    reader = context.get("reader")
    return bool(getattr(reader, "get", lambda _k, _d=None: None)("may_see_phones", False))


def _phone(context: jinja2.runtime.Context, value: object) -> str:
    return mask_phone(value, reveal=_may_see(context))


def _groups(context: jinja2.runtime.Context, value: object) -> str:
    return mask_groups(value, reveal=_may_see(context))


_FILTERS: Final[Mapping[str, Callable[..., object]]] = {
    "zh_date": _strict(zh_date),
    "en_date": _strict(en_date),
    "zh_numeral": _strict(zh_numeral),
    "zh_ordinal": _strict(zh_ordinal),
    "percent": _strict(percent),
    "phone": jinja2.pass_context(_strict(_phone)),
    "mask_phone": _strict(mask_phone),
    "groups": jinja2.pass_context(_strict(_groups)),
}
_GLOBALS: Final[Mapping[str, object]] = {
    "document_number": _strict(document_number),
    "progress_chart": _strict(progress_chart),
    "count_chart": _strict(count_chart),
}


def _environment(loader: jinja2.BaseLoader) -> Sandbox:
    env = Sandbox(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2", "html"), default_for_string=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(_FILTERS)
    env.globals.update(_GLOBALS)
    env.guard_filters()
    return env


class NoticeRenderer:
    """Renders notices and reports from the built-in templates and, optionally, the host's.

    Every template, built-in or the host's, runs in Jinja2's immutable sandbox and is
    loaded only by a name that stays inside its folder (see ``docs/notices.md``).

    Args:
        host_folder: A folder of the host's templates; they override built-ins by name.
        builtin: The built-in templates (``notices/`` shipped with rectify by default).
        max_output: Characters a rendered document may have (and any value a template
            builds on the way).
        time_budget: Seconds one render may take.
    """

    def __init__(
        self,
        host_folder: Path | None = None,
        *,
        builtin: Traversable | None = None,
        max_output: int = MAX_OUTPUT,
        time_budget: float = TIME_BUDGET,
    ) -> None:
        builtin_loader = FolderLoader(builtin or default_notices(), lambda t: f"notices/{t}")
        self._builtin = _environment(builtin_loader)
        self._host: jinja2.Environment | None = None
        self._host_folder = Path(host_folder) if host_folder is not None else None
        self._host_names: frozenset[str] = frozenset()
        self._fingerprints: dict[str, tuple[list[str], str]] = {}
        self._limits = Limits(max_output=max_output, time_budget=time_budget)
        if self._host_folder is not None:
            folder = self._host_folder
            host_loader = FolderLoader(folder, lambda t: str(folder / t))
            self._host = _environment(jinja2.ChoiceLoader([host_loader, builtin_loader]))
            self._host_names = frozenset(host_loader.list_templates())

    def template_name(self, notice: str, fmt: str = "html", locale: str = DEFAULT_LOCALE) -> str:
        """Return the file name of ``notice`` in ``fmt`` and ``locale``."""
        if fmt not in _SUFFIX:
            raise NoticeError(
                f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}", template=notice
            )
        prefix = "" if locale == DEFAULT_LOCALE else f"{locale}/"
        return f"{prefix}{notice}.{_SUFFIX[fmt]}"

    def has(self, notice: str, fmt: str = "html", locale: str = DEFAULT_LOCALE) -> bool:
        """Return whether ``notice`` has a template in ``fmt`` and ``locale``."""
        name = self.template_name(notice, fmt, locale)
        return name in self._host_names or name in self._builtin.list_templates()

    def available(self, locale: str = DEFAULT_LOCALE) -> frozenset[str]:
        """Return the notice names that have a template (in any format) in ``locale``."""
        prefix = "" if locale == DEFAULT_LOCALE else f"{locale}/"
        names = set(self._host_names) | set(self._builtin.list_templates())
        out = set()
        for name in names:
            if not name.startswith(prefix) or name[len(prefix) :].startswith("_"):
                continue
            rest = name[len(prefix) :]
            if "/" not in rest:
                out.add(rest.split(".", 1)[0])
        return frozenset(out)

    def problems(self) -> list[TemplateProblem]:
        """Return what makes any template unusable, found without rendering one.

        Reads every template (the host's ``*.j2`` files and the built-ins) and every template
        they extend, include or import. A template that is not UTF-8, is not valid Jinja2 or
        refers to a template that does not exist is reported once, however many use it;
        ``variables`` and ``render`` raise ``NoticeError`` for the notices that use it.
        """
        found: dict[TemplateProblem, None] = {}
        names = sorted(n for n in self._host_names | self._builtin_names() if n.endswith(".j2"))
        host = [n for n in names if n in self._host_names]
        for env, roots in ((self._host, host), (self._builtin, sorted(set(names) - set(host)))):
            if env is not None and roots:
                found.update(dict.fromkeys(p for p, _ in self._scan(env, roots)[1]))
        return sorted(found, key=lambda p: (p.file, p.line, p.column, p.message))

    def _builtin_names(self) -> frozenset[str]:
        return frozenset(self._builtin.list_templates())

    def _env(self, name: str) -> jinja2.Environment:
        if self._host is not None and name in self._host_names:
            return self._host
        return self._builtin

    def _load(self, name: str) -> tuple[jinja2.Environment, jinja2.Template]:
        env = self._env(name)
        try:
            return env, env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise NoticeError(f"no template {name!r}", template=name) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise NoticeError(
                f"syntax error: {exc.message}", template=name, line=exc.lineno
            ) from exc
        except UnicodeDecodeError as exc:
            problem = _not_utf8(name, self._file(env, name), exc)
            raise NoticeError(problem.message, template=name, line=problem.line) from exc
        except (RecursionError, MemoryError) as exc:
            message = f"syntax error: nested too deeply to read ({_described(exc)})"
            raise NoticeError(message, template=name, line=1) from exc

    def variables(
        self, notice: str, fmt: str = "html", locale: str = DEFAULT_LOCALE
    ) -> frozenset[str]:
        """Return the variables the template of ``notice`` (and its parents) needs from outside.

        Names the templates set or import themselves (``{% set title = ... %}``,
        ``{% from "_common.j2" import level_name %}``) are not counted.

        Raises:
            NoticeError: The template, or one it extends, includes or imports, is missing,
                is not UTF-8 or has a syntax error (see ``problems``).
        """
        name = self.template_name(notice, fmt, locale)
        env, _ = self._load(name)
        used: set[str] = set()
        assigned: set[str] = set()
        for member in self._family(env, name):
            tree = member.tree
            used |= jinja2.meta.find_undeclared_variables(tree)
            targets = [n.target for n in tree.find_all(jinja2.nodes.Assign)]
            targets += [n.target for n in tree.find_all(jinja2.nodes.AssignBlock)]
            for target in targets:
                names = [target, *target.find_all(jinja2.nodes.Name)]
                assigned |= {n.name for n in names if isinstance(n, jinja2.nodes.Name)}
            # Macros a template imports are its own names, not the context's.
            assigned |= {n.target for n in tree.find_all(jinja2.nodes.Import)}
            for node in tree.find_all(jinja2.nodes.FromImport):
                assigned |= {n if isinstance(n, str) else n[1] for n in node.names}
        return frozenset(used - assigned - set(env.globals))

    def _fingerprint(self, env: jinja2.Environment, name: str) -> tuple[list[str], str]:
        """Return the template family of ``name`` and the SHA-256 of its sources.

        Worked out once per template: templates are read when the renderer first uses them
        (a host that edits its templates while running makes a new renderer).
        """
        known = self._fingerprints.get(name)
        if known is None:
            family = self._family(env, name)
            sources = "\0".join(m.source for m in family)
            known = self._fingerprints[name] = (
                [m.name for m in family],
                hashlib.sha256(sources.encode()).hexdigest(),
            )
        return known

    def _family(self, env: jinja2.Environment, name: str) -> list[_Member]:
        """Return ``name`` and every template it extends, includes or imports, in order.

        Raises:
            NoticeError: The first problem of any of them (see ``problems``).
        """
        members, problems = self._scan(env, [name])
        if problems:
            problem, cause = problems[0]
            error = NoticeError(problem.message, template=problem.template, line=problem.line)
            raise error from cause
        return members

    def _scan(
        self, env: jinja2.Environment, roots: list[str]
    ) -> tuple[list[_Member], list[tuple[TemplateProblem, Exception]]]:
        """Read and parse ``roots`` and the templates they refer to, breadth first.

        Returns the templates that could be read, and the problems of the others with the
        exception behind each (a missing template is reported where it is named).
        """
        members: list[_Member] = []
        problems: list[tuple[TemplateProblem, Exception]] = []
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop(0)
            if name in seen:
                continue
            seen.add(name)
            read = self._read(env, name)
            if not isinstance(read, _Member):
                problems.append(read)
                continue
            members.append(read)
            for node, candidates, dynamic in _references(read.tree):
                present = [n for n in candidates if self._exists(env, n)]
                todo.extend(present)
                ignore = isinstance(node, jinja2.nodes.Include) and node.ignore_missing
                if not (present or dynamic or ignore or not candidates):
                    problems.append(self._missing(env, name, node, candidates))
        return members, problems

    def _read(
        self, env: jinja2.Environment, name: str
    ) -> _Member | tuple[TemplateProblem, Exception]:
        """Return ``name`` read and parsed, or why it cannot be."""
        file = self._file(env, name)
        try:
            source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
            return _Member(name, source, env.parse(source, name, file))
        except UnicodeDecodeError as exc:
            return _not_utf8(name, file, exc), exc
        except jinja2.TemplateSyntaxError as exc:
            message = f"syntax error: {exc.message}"
            return TemplateProblem("syntax", name, file, exc.lineno or 1, 1, message), exc
        except (RecursionError, MemoryError) as exc:
            message = f"syntax error: nested too deeply to read ({_described(exc)})"
            return TemplateProblem("syntax", name, file, 1, 1, message), exc

    def _exists(self, env: jinja2.Environment, name: str) -> bool:
        try:
            env.loader.get_source(env, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            return False
        except UnicodeDecodeError:
            return True  # it is there; reading it reports the encoding
        return True

    def _missing(
        self, env: jinja2.Environment, name: str, node: jinja2.nodes.Node, candidates: list[str]
    ) -> tuple[TemplateProblem, Exception]:
        """Return the problem of ``name`` naming ``candidates``, none of which exists."""
        verb = {"Extends": "extends", "Include": "includes"}.get(type(node).__name__, "imports")
        known = sorted(
            self._host_names | self._builtin_names() if env is self._host else self._builtin_names()
        )
        choices = ", ".join(known[:_SHOWN_TEMPLATES]) or "none"
        if len(known) > _SHOWN_TEMPLATES:
            choices += f" and {len(known) - _SHOWN_TEMPLATES} more"
        wanted = " or ".join(repr(c) for c in candidates)
        message = f"{verb} {wanted}, which is not a template; templates: {choices}"
        problem = TemplateProblem("missing", name, self._file(env, name), node.lineno, 1, message)
        return problem, jinja2.TemplatesNotFound(candidates)

    def _file(self, env: jinja2.Environment, name: str) -> str:
        """Return the file ``name`` is read from in ``env``, as diagnostics show it."""
        if env is self._host and name in self._host_names and self._host_folder is not None:
            return str(self._host_folder / name)
        return f"notices/{name}"

    def render(
        self,
        notice: str,
        context: Mapping[str, object],
        *,
        fmt: str = "html",
        locale: str = DEFAULT_LOCALE,
    ) -> Document:
        """Render ``notice`` with ``context`` into a document.

        Raises:
            NoticeError: The template, or one it extends, includes or imports, is missing,
                is not UTF-8 or has a syntax error (the error names that template and line);
                or rendering needs a variable the context lacks, or the sandbox refused
                something: then the error names this notice's template and its line, and
                the message says where in a template this one uses it happened (``used at
                _layout.html.j2:6``).
        """
        name = self.template_name(notice, fmt, locale)
        env, template = self._load(name)
        _, template_sha = self._fingerprint(env, name)
        try:
            body, exported = _generate(template, context, self._limits)
        except jinja2.UndefinedError as exc:
            line, inner = _where(env, name)
            match = _UNDEFINED.search(str(exc))
            variable = next((g for g in match.groups() if g), "") if match else ""
            raise NoticeError(
                f"undefined variable {variable!r}{inner}: {exc}",
                template=name,
                line=line,
                variable=variable,
            ) from exc
        except (Exception, RecursionError, MemoryError) as exc:
            # Whatever a template raises (1/0, a refused name or operation, a runaway
            # macro) is the template's fault, reported at its line.
            line, inner = _where(env, name)
            shown = str(exc) if isinstance(exc, jinja2.TemplateError) else _described(exc)
            raise NoticeError(f"cannot render{inner}: {shown}", template=name, line=line) from exc
        title = exported.get("title") or context.get("title") or notice
        return Document(
            title=str(title).strip(),
            body=body,
            format=fmt,
            template=name,
            locale=locale,
            template_sha256=template_sha,
            context_sha256=context_digest(context),
        )


def _generate(
    template: jinja2.Template, context: Mapping[str, object], limits: Limits
) -> tuple[str, dict[str, object]]:
    """Render ``template`` within ``limits``; return the body and the names it exported.

    As ``Template.make_module`` does, without Jinja2's traceback rewriting (``_where``
    reads the frames), but one piece at a time so that the output's size and the time
    are checked as it grows.
    """
    with limited(limits) as running:
        ctx = template.new_context(dict(context))
        pieces: list[str] = []
        size = 0
        stream = template.root_render_func(ctx)
        for piece in stream:
            size += len(piece)
            try:
                running.refuse(size)
                running.tick()
            except jinja2.TemplateError as exc:
                if isinstance(stream, Generator):  # raised where the template is, for its line
                    stream.throw(exc)
                raise
            pieces.append(piece)
        return "".join(pieces), ctx.get_exported()


def _described(exc: BaseException) -> str:
    """Return ``exc`` as a message: its type (``ZeroDivisionError``), then its text."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _not_utf8(name: str, file: str, exc: UnicodeDecodeError) -> TemplateProblem:
    line = exc.object[: exc.start].count(b"\n") + 1
    message = f"not UTF-8 text: {exc.reason} at byte {exc.start}"
    return TemplateProblem("encoding", name, file, line, 1, message)


def _references(
    tree: jinja2.nodes.Template,
) -> Iterator[tuple[jinja2.nodes.Node, list[str], bool]]:
    """Yield each extends, include and import with the template names it gives literally.

    The names come in ``jinja2.meta.find_referenced_templates`` order (the digest of a
    family depends on it); the flag tells whether some name is computed when rendering.
    """
    for node in tree.find_all(_REFERENCES):
        target = node.template  # type: ignore[attr-defined]
        items: list[object]
        if isinstance(target, jinja2.nodes.Const):
            value = target.value
            items = list(value) if isinstance(value, list | tuple) else [value]
        elif isinstance(target, jinja2.nodes.Tuple | jinja2.nodes.List):
            items = [i.value if isinstance(i, jinja2.nodes.Const) else None for i in target.items]
        else:
            items = [None]
        names = [i for i in items if isinstance(i, str)]
        yield node, names, None in items


def _where(env: jinja2.Environment, name: str) -> tuple[int, str]:
    """Return where the exception being handled passed through template ``name``.

    Returns the line of ``name`` (0 when unknown) and, when the exception was raised in
    another template that ``name`` extends, includes or imports, `` (used at NAME:LINE)``.
    ``make_module`` runs the compiled template without Jinja's traceback rewriting, so the
    frames carry lines of the generated code; each frame's template (the module global
    ``__jinja_template__``) maps them back to its own.
    """
    frames: list[tuple[jinja2.Template, FrameType, int]] = []
    tb = sys.exc_info()[2]
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template):
            line = template.get_corresponding_lineno(tb.tb_lineno)
            frames.append((template, tb.tb_frame, line))
        tb = tb.tb_next
    own = [i for i, (template, _, _) in enumerate(frames) if template.name == name]
    last = own[-1] if own else -1
    line = frames[last][2] if own else 0
    if last == len(frames) - 1:
        return line, ""
    if own and frames[last][1].f_locals.get("parent_template") is frames[last + 1][0]:
        # The child's root ends by running its parent; that line is wherever the child's
        # last statement was, so point at the extends tag instead.
        line = _extends_line(env, name) or line
    return line, f" (used at {frames[-1][0].name}:{frames[-1][2]})"


def _extends_line(env: jinja2.Environment, name: str) -> int:
    source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
    node = env.parse(source).find(jinja2.nodes.Extends)
    return node.lineno if node is not None else 0
