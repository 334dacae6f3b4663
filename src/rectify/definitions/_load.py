"""Loading and validating definition documents from files, folders or text."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path as FsPath

import attrs

from rectify._diagnostics import Diagnostic, Location, Severity, sort_diagnostics
from rectify.definitions._campaign import parse_campaign
from rectify.definitions._categories import CategoryTable, check_categories, parse_categories
from rectify.definitions._checks import Catalog, check_workflow
from rectify.definitions._holidays import parse_holidays
from rectify.definitions._parse import parse_workflow_data
from rectify.definitions._reader import Reader, read_definition
from rectify.definitions._spec import WorkflowSpec
from rectify.definitions._yamlsource import Source, YamlDocument, load_yaml, read_source
from rectify.exceptions import DefinitionError, NoticeError, WorkflowDefinitionError
from rectify.templating._renderer import FORMATS, NoticeRenderer, TemplateProblem

__all__ = [
    "ValidationReport",
    "load_categories",
    "load_workflow",
    "validate_paths",
    "validate_workflow",
    "workflow_files",
]


def _parse(source: Source, catalog: Catalog | None) -> tuple[WorkflowSpec | None, Reader]:
    text, name = read_source(source)
    reader = Reader(load_yaml(text, name))
    reader.diagnostics.extend(reader.doc.diagnostics)
    if reader.doc.data is None:
        return None, reader
    spec = parse_workflow_data(reader)
    if spec is not None:
        reader.diagnostics.extend(check_workflow(spec, reader.doc, catalog))
    return spec, reader


def validate_workflow(source: Source, *, catalog: Catalog | None = None) -> list[Diagnostic]:
    """Return every problem of a workflow document, errors and warnings, sorted by position.

    Raises:
        DefinitionError: The file cannot be read.
    """
    _, reader = _parse(source, catalog)
    return sort_diagnostics(reader.diagnostics)


def load_workflow(source: Source, *, catalog: Catalog | None = None) -> WorkflowSpec:
    """Load a workflow from a file or from YAML text and return its frozen spec.

    Args:
        source: A path, or the YAML text itself.
        catalog: What guards, notices, categories, severities and campaign phases exist;
            references are checked only against what it names.

    Raises:
        WorkflowDefinitionError: The document has errors; all of them are attached.
        DefinitionError: The file cannot be read.
    """
    spec, reader = _parse(source, catalog)
    diagnostics = sort_diagnostics(reader.diagnostics)
    if spec is None or any(d.is_error for d in diagnostics):
        raise WorkflowDefinitionError(reader.doc.file, diagnostics)
    return spec


def load_categories(source: Source | None = None) -> CategoryTable:
    """Load a category table; by default the one shipped with rectify.

    Raises:
        WorkflowDefinitionError: The table has errors.
        DefinitionError: The file cannot be read.
    """

    def parse(reader: Reader) -> CategoryTable | None:
        table = parse_categories(reader)
        if table is not None:
            check_categories(table, reader)
        return table

    return read_definition(source, parse, default="categories.yaml")


@attrs.frozen
class ValidationReport:
    """What ``validate_paths`` found: the files read and every diagnostic."""

    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def clean(self) -> bool:
        """Return whether no diagnostic at all was found."""
        return not self.diagnostics


def validate_paths(
    paths: Iterable[Source],
    *,
    catalog: Catalog | None = None,
    notices: NoticeRenderer | None = None,
) -> ValidationReport:
    """Validate files and folders of definitions together.

    Each ``.yaml``/``.yml`` file is a workflow, a category table, a campaign or a holiday
    file, told apart by its keys. Workflows are checked against the category table found
    among the paths (the shipped one otherwise), the campaign phases found there, and the
    notice templates (the shipped ones, or ``notices`` with a host's folder): each notice a
    workflow or campaign names must exist and use only variables the engine provides. A
    template that cannot be used (a syntax error, not UTF-8, naming a template that does
    not exist) is a diagnostic at its own file and line, and the rest is still checked.

    Raises:
        DefinitionError: A path cannot be read.
    """
    files = _expand(paths)
    docs = [load_yaml(*read_source(file)) for file in files]
    kinds = {id(d): _kind(d) for d in docs}
    flows = [d for d in docs if kinds[id(d)] == "workflow"]
    diagnostics: list[Diagnostic] = [x for d in docs for x in d.diagnostics]
    base = _with_templates(catalog or Catalog(), notices, diagnostics)
    phases, people = _campaigns([d for d in docs if kinds[id(d)] == "campaign"], diagnostics, base)
    if phases and base.phases is None:
        base = attrs.evolve(base, phases=frozenset(phases))
    if people and base.people is None:
        base = attrs.evolve(base, people=people)
    tables = [d for d in docs if kinds[id(d)] == "categories"]
    table = _table(tables, flows, diagnostics, base.phases)
    if table is not None and base.categories is None:
        base = attrs.evolve(base, categories=table.codes)
    if table is not None and base.severities is None:
        base = attrs.evolve(base, severities=table.severity_names)
    for doc in docs:
        kind = kinds[id(doc)]
        if kind == "workflow":
            reader = Reader(doc)
            spec = parse_workflow_data(reader)
            diagnostics.extend(reader.diagnostics)
            if spec is not None:
                diagnostics.extend(check_workflow(spec, doc, base))
        elif kind == "holidays":
            reader = Reader(doc)
            parse_holidays(reader)
            diagnostics.extend(reader.diagnostics)
        elif kind == "not-a-mapping":
            diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "wrong-type",
                    "expected a mapping at the top level (a workflow, a category table, a "
                    f"campaign or a holiday file), found a {type(doc.data).__name__}",
                    Location(doc.file, 1, 1),
                )
            )
        elif kind == "unknown":
            diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "unknown-document",
                    "expected a workflow (key 'workflow'), a category table (keys 'severities' and "
                    "'categories'), a campaign (key 'campaign') or a holiday file (key 'years')",
                    Location(doc.file, 1, 1),
                )
            )
    return ValidationReport(tuple(str(f) for f in files), tuple(sort_diagnostics(diagnostics)))


def _with_templates(
    catalog: Catalog, renderer: NoticeRenderer | None, diagnostics: list[Diagnostic]
) -> Catalog:
    """Fill in the notices that have templates and the variables those templates use.

    Templates that cannot be used (not UTF-8, not valid Jinja2, naming a template that does
    not exist) are added to ``diagnostics``; their notices still exist, but what they use
    is unknown, so it is not checked.
    """
    if catalog.notices is not None:
        return catalog
    names, found, problems = _template_catalog(renderer) if renderer else _shipped_templates()
    diagnostics.extend(problems)
    uses = catalog.template_variables if catalog.template_variables is not None else found
    return attrs.evolve(catalog, notices=names, template_variables=uses)


def _template_catalog(
    renderer: NoticeRenderer,
) -> tuple[frozenset[str], frozenset[str], tuple[Diagnostic, ...]]:
    """Return the notice names that have templates, what those use, and their problems."""
    problems = tuple(_template_diagnostic(p) for p in renderer.problems())
    names = renderer.available()
    uses: set[str] = set()
    for name in names:
        for fmt in FORMATS:
            if not renderer.has(name, fmt):
                continue
            try:
                variables = renderer.variables(name, fmt)
            except NoticeError:
                continue  # the template or one it uses is broken: one of ``problems``
            uses.update(f"{name}.{variable}" for variable in variables)
    return names, frozenset(uses), problems


def _template_diagnostic(problem: TemplateProblem) -> Diagnostic:
    """Return ``problem`` as a diagnostic at the template's file.

    The codes: ``encoding`` (as for a definition file), ``template-syntax`` for a template
    that is not valid Jinja2, and ``unknown-notice`` for a template that extends, includes or
    imports one that does not exist.
    """
    where = Location(problem.file, problem.line, problem.column)
    if problem.kind == "encoding":
        return Diagnostic(Severity.ERROR, "encoding", problem.message, where)
    if problem.kind == "syntax":
        return Diagnostic(Severity.ERROR, "template-syntax", problem.message, where)
    return Diagnostic(Severity.ERROR, "unknown-notice", problem.message, where)


@functools.cache
def _shipped_templates() -> tuple[frozenset[str], frozenset[str], tuple[Diagnostic, ...]]:
    # The shipped templates are files of the installed package: read and parsed once.
    return _template_catalog(NoticeRenderer())


def _campaigns(
    docs: list[YamlDocument], diagnostics: list[Diagnostic], catalog: Catalog
) -> tuple[set[str], dict[str, tuple[str, ...]]]:
    """Return the phases the campaigns declare and the people each notice names."""
    phases: set[str] = set()
    people: dict[str, tuple[str, ...]] = {}
    for doc in docs:
        reader = Reader(doc)
        campaign = parse_campaign(reader)
        if campaign is not None:
            phases.update(campaign.phase_ends)
            people.update({r.kind: r.people for r in campaign.documents if r.people})
            known = catalog.notices
            for report in campaign.reports:
                if known is not None and report.notice and report.notice not in known:
                    choices = ", ".join(sorted(known)) or "none"
                    reader.error(
                        "unknown-notice",
                        f"notice {report.notice!r} is not declared; declared: {choices}",
                        ("reports", report.name, "notice"),
                    )
        diagnostics.extend(reader.diagnostics)
    return phases, people


def _table(
    tables: list[YamlDocument],
    flows: list[YamlDocument],
    diagnostics: list[Diagnostic],
    phases: frozenset[str] | None,
) -> CategoryTable | None:
    if not tables:
        return load_categories()
    ids = frozenset(
        d.data["workflow"]
        for d in flows
        if isinstance(d.data, dict) and isinstance(d.data.get("workflow"), str)
    )
    found = None
    for doc in tables:
        reader = Reader(doc)
        table = parse_categories(reader)
        if table is not None:
            check_categories(table, reader, ids or None, phases)
            found = found or table
        diagnostics.extend(reader.diagnostics)
    return found


def workflow_files(folder: Source) -> list[FsPath]:
    """Return the workflow documents (not tables, campaigns or holidays) in ``folder``."""
    return [f for f in _expand([folder]) if _kind(load_yaml(*read_source(f))) == "workflow"]


def _kind(doc: YamlDocument) -> str:
    if not isinstance(doc.data, dict):
        # Unreadable YAML has its diagnostic already; a list or a scalar has none yet.
        return "broken" if any(d.is_error for d in doc.diagnostics) else "not-a-mapping"
    if "workflow" in doc.data:
        return "workflow"
    if "categories" in doc.data or "severities" in doc.data:
        return "categories"
    if "campaign" in doc.data:
        return "campaign"
    if "years" in doc.data:
        return "holidays"
    return "unknown"


def _expand(paths: Iterable[Source]) -> list[FsPath]:
    """Return the files ``paths`` name: each file, and the YAML files under each folder.

    In a folder only regular files count: a named pipe or a device there is skipped (reading
    it would never end); named outright, it is an error.

    Raises:
        DefinitionError: A path does not exist or is neither a folder nor a regular file.
    """
    out: list[FsPath] = []
    for source in paths:
        path = FsPath(source)
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
            out.extend(sorted(p for p in found if p.is_file()))
        elif path.is_file():
            out.append(path)
        elif path.exists():
            raise DefinitionError(
                f"not a regular file: {str(source)!r} (a pipe, a device or a socket)"
            )
        else:
            raise DefinitionError(f"no such file or folder: {str(source)!r}")
    return out
