"""Draw a workflow as a Mermaid state diagram or as Graphviz DOT text."""

from __future__ import annotations

from typing import Final

from rectify.definitions._spec import WorkflowSpec

__all__ = ["FORMATS", "draw_workflow"]

FORMATS: Final = ("dot", "mermaid")


def draw_workflow(spec: WorkflowSpec, fmt: str = "mermaid", *, english: bool = False) -> str:
    """Return the state diagram of ``spec`` as text in ``fmt`` (``mermaid`` or ``dot``).

    Raises:
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt == "mermaid":
        return _mermaid(spec, english=english)
    if fmt == "dot":
        return _dot(spec, english=english)
    raise ValueError(f"unknown diagram format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def _label(title: str, title_en: str | None, name: str, *, english: bool) -> str:
    return (title_en or name) if english else (title or name)


def _edges(spec: WorkflowSpec, *, english: bool) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for event in spec.events:
        label = _label(event.title, event.title_en, event.name, english=english)
        level = () if event.min_escalation is None else (f"level ≥ {event.min_escalation}",)
        for t in event.transitions:
            conditions = (*t.guards, *level)
            guard = f" [{', '.join(conditions)}]" if conditions else ""
            out.append((t.source, t.target, f"{label}{guard}"))
    return out


def _mermaid(spec: WorkflowSpec, *, english: bool) -> str:
    title = _label(spec.title, spec.title_en, spec.id, english=english)
    lines = ["---", f"title: {title} ({spec.id} v{spec.version})", "---", "stateDiagram-v2"]
    for state in spec.states:
        label = _label(state.title, state.title_en, state.name, english=english)
        lines.append(f'    state "{_quote(label)}" as {state.name}')
    lines.append(f"    [*] --> {spec.initial}")
    lines.extend(
        f"    {a} --> {b}: {_quote(label)}" for a, b, label in _edges(spec, english=english)
    )
    lines.extend(f"    {state} --> [*]" for state in spec.final_states)
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def _dot(spec: WorkflowSpec, *, english: bool) -> str:
    title = _label(spec.title, spec.title_en, spec.id, english=english)
    lines = [
        f'digraph "{spec.id}" {{',
        f'    label="{_quote(title)} ({spec.id} v{spec.version})";',
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Noto Sans CJK SC"];',
        '    __start [shape=point, label=""];',
    ]
    for state in spec.states:
        label = _label(state.title, state.title_en, state.name, english=english)
        shape = ", peripheries=2" if state.final else ""
        lines.append(f'    {state.name} [label="{_quote(label)}"{shape}];')
    lines.append(f"    __start -> {spec.initial};")
    lines.extend(
        f'    {a} -> {b} [label="{_quote(label)}"];'
        for a, b, label in _edges(spec, english=english)
    )
    lines.append("}")
    return "\n".join(lines) + "\n"
