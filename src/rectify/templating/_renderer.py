"""The Jinja2 adapter: rendering notices and reports into documents.

Built-in templates live in ``notices/`` (``NAME.html.j2`` and ``NAME.txt.j2``, with other
locales in a subfolder such as ``en/``). A host may supply its own folder: its templates
override built-ins by name and run in Jinja2's sandbox. Undefined variables are errors
(``StrictUndefined``), reported with the template, line and variable; HTML autoescapes.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
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
    mask_phone,
    percent,
    zh_date,
    zh_numeral,
    zh_ordinal,
)

__all__ = ["DEFAULT_LOCALE", "FORMATS", "Document", "NoticeRenderer", "context_digest"]

DEFAULT_LOCALE: Final = "zh-CN"
FORMATS: Final = ("html", "text")
_SUFFIX: Final = {"html": "html.j2", "text": "txt.j2"}
_UNDEFINED: Final = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


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


def _phone(context: jinja2.runtime.Context, value: object) -> str:
    reader = context.get("reader")
    reveal = bool(getattr(reader, "get", lambda _k, _d=None: None)("may_see_phones", False))
    return mask_phone(value, reveal=reveal)


_FILTERS: Final[Mapping[str, Callable[..., object]]] = {
    "zh_date": _strict(zh_date),
    "en_date": _strict(en_date),
    "zh_numeral": _strict(zh_numeral),
    "zh_ordinal": _strict(zh_ordinal),
    "percent": _strict(percent),
    "phone": jinja2.pass_context(_strict(_phone)),
    "mask_phone": _strict(mask_phone),
}
_GLOBALS: Final[Mapping[str, object]] = {
    "document_number": _strict(document_number),
    "progress_chart": _strict(progress_chart),
    "count_chart": _strict(count_chart),
}


class _TraversableLoader(jinja2.BaseLoader):
    """Loads templates from a folder that may live inside a wheel (importlib.resources)."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        node = self.root
        for part in template.split("/"):
            node = node / part
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), f"notices/{template}", lambda: True

    def list_templates(self) -> list[str]:
        out: list[str] = []
        stack: list[tuple[str, Traversable]] = [("", self.root)]
        while stack:
            prefix, node = stack.pop()
            for child in node.iterdir():
                if child.is_dir():
                    stack.append((f"{prefix}{child.name}/", child))
                elif child.name.endswith(".j2"):
                    out.append(prefix + child.name)
        return sorted(out)


def _environment(cls: type[jinja2.Environment], loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = cls(
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
    return env


class NoticeRenderer:
    """Renders notices and reports from the built-in templates and, optionally, the host's.

    Args:
        host_folder: A folder of the host's templates; they override built-ins by name and
            run in Jinja2's sandbox.
        builtin: The built-in templates (``notices/`` shipped with rectify by default).
    """

    def __init__(
        self, host_folder: Path | None = None, *, builtin: Traversable | None = None
    ) -> None:
        builtin_loader = _TraversableLoader(builtin or default_notices())
        self._builtin = _environment(jinja2.Environment, builtin_loader)
        self._host: jinja2.Environment | None = None
        self._host_names: frozenset[str] = frozenset()
        self._fingerprints: dict[str, tuple[list[str], str]] = {}
        if host_folder is not None:
            host_loader = jinja2.FileSystemLoader(str(host_folder))
            self._host = _environment(
                jinja2.sandbox.SandboxedEnvironment,
                jinja2.ChoiceLoader([host_loader, builtin_loader]),
            )
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

    def variables(
        self, notice: str, fmt: str = "html", locale: str = DEFAULT_LOCALE
    ) -> frozenset[str]:
        """Return the variables the template of ``notice`` (and its parents) needs from outside.

        Names the templates set or import themselves (``{% set title = ... %}``,
        ``{% from "_common.j2" import level_name %}``) are not counted.
        """
        name = self.template_name(notice, fmt, locale)
        env, _ = self._load(name)
        used: set[str] = set()
        assigned: set[str] = set()
        for member in self._family(env, name):
            source = env.loader.get_source(env, member)[0]  # type: ignore[union-attr]
            tree = env.parse(source)
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
            sources = "\0".join(
                env.loader.get_source(env, n)[0]  # type: ignore[union-attr]
                for n in family
            )
            known = self._fingerprints[name] = (
                family,
                hashlib.sha256(sources.encode()).hexdigest(),
            )
        return known

    def _family(self, env: jinja2.Environment, name: str) -> list[str]:
        """Return ``name`` and every template it extends, includes or imports, in order."""
        seen: list[str] = []
        todo = [name]
        while todo:
            current = todo.pop(0)
            if current in seen:
                continue
            seen.append(current)
            source = env.loader.get_source(env, current)[0]  # type: ignore[union-attr]
            todo.extend(
                n
                for n in jinja2.meta.find_referenced_templates(env.parse(source))
                if isinstance(n, str)
            )
        return seen

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
            NoticeError: The template is missing, has a syntax error, uses a variable the
                context lacks (naming the template, line and variable), or the sandbox
                refused something.
        """
        name = self.template_name(notice, fmt, locale)
        env, template = self._load(name)
        family, template_sha = self._fingerprint(env, name)
        try:
            module = template.make_module(dict(context))
        except jinja2.UndefinedError as exc:
            where, line = _where(env, family)
            match = _UNDEFINED.search(str(exc))
            variable = next((g for g in match.groups() if g), "") if match else ""
            raise NoticeError(
                f"undefined variable {variable!r}: {exc}",
                template=where,
                line=line,
                variable=variable,
            ) from exc
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            where, line = _where(env, family)
            raise NoticeError(f"cannot render: {exc}", template=where, line=line) from exc
        title = getattr(module, "title", None) or context.get("title") or notice
        return Document(
            title=str(title).strip(),
            body=str(module),
            format=fmt,
            template=name,
            locale=locale,
            template_sha256=template_sha,
            context_sha256=context_digest(context),
        )


def _where(env: jinja2.Environment, names: list[str]) -> tuple[str, int]:
    """Return the template and line the exception being handled was raised at.

    ``make_module`` runs the compiled template without Jinja's traceback rewriting, so the
    frames carry lines of the generated code; each template maps them back to its own.
    """
    by_file = {t.filename: (n, t) for n in names if (t := env.get_template(n)).filename}
    tb = sys.exc_info()[2]
    found = (names[0], 0)
    while tb is not None:
        hit = by_file.get(tb.tb_frame.f_code.co_filename)
        if hit is not None:
            found = (hit[0], hit[1].get_corresponding_lineno(tb.tb_lineno))
        tb = tb.tb_next
    return found
