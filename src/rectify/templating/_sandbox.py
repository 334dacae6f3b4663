"""What a template may read and do: the folder loader, the sandbox and a render's limits.

Templates are loaded only by names that stay inside their folder and end in ``.j2``; they
run in Jinja2's immutable sandbox (no Python internals, no changing the context's lists and
dicts), and a render is held to a time budget and an output size (``Limits``): every loop
step, call, filter and operator checks the clock, and an operation that would build a value
larger than the output may hold is refused before it allocates it.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, TypeVar

import attrs
import jinja2
import jinja2.exceptions
import jinja2.nodes
import jinja2.runtime
import jinja2.sandbox
import jinja2.visitor

__all__ = ["TEMPLATE_SUFFIX", "FolderLoader", "Limits", "Sandbox"]

TEMPLATE_SUFFIX: Final = ".j2"
#: Characters no segment of a template name may hold: another separator, a drive, a NUL.
_UNSAFE_SEGMENT: Final = re.compile(r"[\\:\0]")
#: An integer result beyond this many bits is a computation, not a figure of a report.
MAX_INT_BITS: Final = 100_000
#: Width and precision in ``%`` and ``str.format`` specifications.
_PERCENT_WIDTHS: Final = re.compile(r"%[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")
_FORMAT_WIDTHS: Final = re.compile(r"\{[^{}]*:[^{}\d]*(\d+)?(?:\.(\d+))?[^{}]*\}")
_WIDTH_METHODS: Final = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "indent"})
_SIZED: Final = (str, bytes, list, tuple, dict, set, frozenset)
_T = TypeVar("_T")


def template_parts(template: str) -> list[str]:
    """Return the segments of ``template``, refusing a name that could leave its folder.

    As ``jinja2.loaders.split_template_path`` and stricter: no ``..`` or ``.`` segments, no
    empty ones (so no absolute paths), no backslashes, drive letters or NUL, and only names
    ending in ``.j2``.

    Raises:
        jinja2.TemplateNotFound: The name is refused.
    """
    parts = template.split("/")
    if not template.endswith(TEMPLATE_SUFFIX) or any(
        part in ("", ".", "..") or _UNSAFE_SEGMENT.search(part) for part in parts
    ):
        raise jinja2.TemplateNotFound(template)
    return parts


class FolderLoader(jinja2.BaseLoader):
    """Loads ``*.j2`` templates from one folder, on disk or inside a wheel.

    On disk, a name must also resolve inside the folder: a symbolic link that points out of
    it is no template. Templates are read once (a host that edits its templates while
    running makes a new renderer).

    Args:
        root: The folder.
        shown: The file name Jinja2 shows for a template (in tracebacks).
    """

    def __init__(self, root: Traversable, shown: Callable[[str], str]) -> None:
        self.root = root
        self._shown = shown
        self._real = root.resolve() if isinstance(root, Path) else None

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        node = self.root
        for part in template_parts(template):
            node = node / part
        if not (self._inside(node) and node.is_file()):
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), self._shown(template), lambda: True

    def list_templates(self) -> list[str]:
        out: list[str] = []
        stack: list[tuple[str, Traversable]] = [("", self.root)]
        seen: set[object] = set()
        while stack:
            prefix, node = stack.pop()
            for child in node.iterdir():
                if not self._inside(child):
                    continue
                if child.is_dir():
                    key = child.resolve() if isinstance(child, Path) else prefix + child.name
                    if key not in seen:  # a link to a folder above would loop
                        seen.add(key)
                        stack.append((f"{prefix}{child.name}/", child))
                elif child.name.endswith(TEMPLATE_SUFFIX):
                    out.append(prefix + child.name)
        return sorted(out)

    def _inside(self, node: Traversable) -> bool:
        if self._real is None or not isinstance(node, Path):
            return True
        try:
            return node.resolve(strict=True).is_relative_to(self._real)
        except (OSError, RuntimeError):  # missing, or a loop of links
            return False


@attrs.frozen
class Limits:
    """What one render may use.

    Attributes:
        max_output: Characters the document may have; no value a template builds may be
            longer (a string, list or mapping).
        time_budget: Seconds the render may take.
        deadline: The ``time.monotonic()`` reading past which it stops (infinite when
            no render is running, as when a constant is folded while compiling).
    """

    max_output: int
    time_budget: float
    deadline: float = math.inf

    def tick(self) -> None:
        """Refuse to go on once the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise jinja2.exceptions.SecurityError(
                f"the render ran past its time budget of {self.time_budget:g} s"
            )

    def sized(self, value: _T) -> _T:
        """Return ``value``, refusing it when it is larger than a render may build."""
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise jinja2.exceptions.SecurityError(
                f"a number of {value.bit_length()} bits is larger than {MAX_INT_BITS} bits"
            )
        if isinstance(value, _SIZED) and len(value) > self.max_output:
            self.refuse(len(value))
        return value

    def refuse(self, size: int) -> None:
        """Refuse a value or output of ``size`` characters or items."""
        if size > self.max_output:
            raise jinja2.exceptions.SecurityError(
                f"a value or output of {size} characters or items is larger than the limit"
                f" of {self.max_output}"
            )


_LIMITS: ContextVar[Limits | None] = ContextVar("rectify_render_limits", default=None)
_COMPILING: Final = Limits(max_output=4_000_000, time_budget=math.inf)


def current_limits() -> Limits:
    """Return the limits of the render running in this thread or task."""
    return _LIMITS.get() or _COMPILING


@contextlib.contextmanager
def limited(limits: Limits) -> Iterator[Limits]:
    """Run a render under ``limits``, its deadline counted from now."""
    running = attrs.evolve(limits, deadline=time.monotonic() + limits.time_budget)
    token = _LIMITS.set(running)
    try:
        yield running
    finally:
        _LIMITS.reset(token)


def _ints(values: Iterable[object]) -> list[int]:
    return [v for v in values if isinstance(v, int)]


def _format_widths(pattern: re.Pattern[str], spec: str) -> list[int]:
    found = (g for m in pattern.finditer(spec) for g in m.groups())
    return [int(g) for g in found if g and g.isdigit()]


def _precheck(name: str, owner: object, args: tuple[object, ...]) -> None:
    """Refuse an operation on ``owner`` that would build a value beyond the render's limits.

    Checked before it runs, as the value would fill memory before it could be measured:
    repetition (``*``), powers, padding to a width (``center``, ``%999999999d``),
    replacing.
    """
    size = 0
    if name == "*":
        for seq, count in ((owner, args[0]), (args[0], owner)):
            if isinstance(seq, _SIZED) and isinstance(count, int):
                size = max(size, len(seq) * count)
    elif name == "**":
        base, power = owner, args[0]
        if isinstance(base, int) and isinstance(power, int) and abs(base) > 1:
            bits = (abs(base).bit_length() - 1) * power
            if bits > MAX_INT_BITS:
                raise jinja2.exceptions.SecurityError(
                    f"a power of {bits} bits or more is larger than {MAX_INT_BITS} bits"
                )
    elif name == "join" and args:  # ``sep.join(items)`` and ``items | join(sep)``
        sep, items = (owner, args[0]) if isinstance(owner, str) else (args[0], owner)
        if isinstance(sep, str) and isinstance(items, _SIZED):
            size = len(sep) * len(items)
    elif isinstance(owner, str):
        size = _text_size(name, owner, args)
    current_limits().refuse(size)


def _text_size(name: str, text: str, args: tuple[object, ...]) -> int:
    """Return the least size the string operation ``name`` on ``text`` would build."""
    if name in ("%", "format", "format_map"):
        # ``%`` and the ``format`` filter pad by ``%`` specifications, ``str.format`` by ``{}``
        widths = _format_widths(_FORMAT_WIDTHS, text)
        if name != "format_map":
            widths += _format_widths(_PERCENT_WIDTHS, text)
        if "*" in text:
            rest = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
            widths += _ints(rest)
        return max(widths, default=0)
    if name == "indent" and args and isinstance(args[0], str):  # indented by a string
        return len(text) + (text.count("\n") + 1) * len(args[0])
    if name in _WIDTH_METHODS:
        return max(_ints(args), default=0)
    if name == "replace" and len(args) >= 2:  # noqa: PLR2004 (old and new)
        old, new = args[0], args[1]
        if isinstance(old, str) and isinstance(new, str):
            return len(text) + (text.count(old) + 1) * max(0, len(new) - len(old))
    return 0


def _guarded(name: str, function: Callable[..., object]) -> Callable[..., object]:
    """Wrap the filter ``name`` with the render's limits (before and after it runs)."""

    def guarded(*args: object, **kwargs: object) -> object:
        limits = current_limits()
        limits.tick()
        values = [a for a in args if not isinstance(a, jinja2.runtime.Context | _EvalContext)]
        if values:
            _precheck(name, values[0], (*values[1:], *kwargs.values()))
        return limits.sized(function(*args, **kwargs))

    guarded.__dict__.update(getattr(function, "__dict__", {}))  # keeps pass_context
    guarded.rectify_guarded = True  # type: ignore[attr-defined]
    guarded.__name__ = getattr(function, "__name__", name)
    guarded.__doc__ = function.__doc__
    return guarded


_EvalContext: Final = jinja2.nodes.EvalContext


class _Paced(jinja2.visitor.NodeTransformer):
    """Routes every loop's items and every ``~`` through the sandbox's limits."""

    def visit_For(self, node: jinja2.nodes.For) -> jinja2.nodes.Node:  # noqa: N802 (visitor)
        self.generic_visit(node)
        node.iter = _through("paced", node.iter)
        return node

    def visit_Concat(self, node: jinja2.nodes.Concat) -> jinja2.nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return _through("sized", node)


def _through(method: str, node: jinja2.nodes.Node) -> jinja2.nodes.Expr:
    callee = jinja2.nodes.EnvironmentAttribute(method, lineno=node.lineno)
    return jinja2.nodes.Call(callee, [node], [], None, None, lineno=node.lineno)


class Sandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, holding each render to the ``Limits`` it runs under.

    Templates cannot reach Python internals nor change lists, dicts and sets (so not the
    context either: ``reader.update(...)`` is refused). ``*``, ``**``, ``%`` and ``+`` are
    intercepted, which also keeps the compiler from folding them into constants.
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        # Its word count and lengths are unbounded, and no notice needs filler text.
        del self.globals["lipsum"]

    def guard_filters(self) -> None:
        """Wrap every filter not yet wrapped (call after adding filters)."""
        for name, function in self.filters.items():
            if not getattr(function, "rectify_guarded", False):
                self.filters[name] = _guarded(name, function)

    def _parse(self, source: str, name: str | None, filename: str | None) -> jinja2.nodes.Template:
        tree = _Paced().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree  # type: ignore[no-any-return]

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: object, right: object
    ) -> object:
        """Apply ``operator`` unless its result would break the render's limits."""
        limits = current_limits()
        limits.tick()
        _precheck(operator, left, (right,))
        return limits.sized(super().call_binop(context, operator, left, right))

    def call(
        self, context: jinja2.runtime.Context, obj: object, /, *args: object, **kwargs: object
    ) -> object:
        """Call ``obj`` unless the call would break the render's limits."""
        limits = current_limits()
        limits.tick()
        target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        owner = getattr(target, "__self__", None)
        _precheck(getattr(target, "__name__", ""), owner, args)
        return limits.sized(super().call(context, obj, *args, **kwargs))

    def paced(self, items: Iterable[object]) -> Iterator[object]:
        """Yield ``items``, checking the time budget at every step of a loop."""
        limits = current_limits()
        for item in items:
            limits.tick()
            yield item

    def sized(self, value: object) -> object:
        """Return ``value``, refusing one larger than the output may hold."""
        return current_limits().sized(value)
