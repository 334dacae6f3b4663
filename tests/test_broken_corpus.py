"""The corpus of broken workflow files: one file per diagnostic code, at an exact place.

Each file in ``tests/broken`` is named after the code it provokes and starts with comment
lines that say what to expect::

    # expect: CODE LINE:COL        one or more; the exact set of diagnostics
    # catalog: guards=a,b notices=x categories=PAS.LANE severities=general phases=p
    # validate: paths [EXTRA ...]  read with validate_paths (category tables, folders),
                                   together with EXTRA files named from the repository root

Without ``validate: paths`` a file is read with ``validate_workflow`` and the catalog.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

import rectify

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "tests" / "broken"
SRC = ROOT / "src" / "rectify"
CORPUS = sorted(BROKEN.glob("*.yaml"))

_CODE = re.compile(r"^[a-z]+(?:-[a-z]+)*$")
_HEADER = re.compile(r"^#\s*(expect|catalog|validate):\s*(.*?)\s*$")
_EXPECT = re.compile(r"^([a-z]+(?:-[a-z]+)*) (\d+):(\d+)$")
_CATALOG_FIELDS = frozenset(f.name for f in attrs.fields(rectify.definitions.Catalog))

Found = set[tuple[str, int, int]]

#: Codes that no document can provoke on its own, with the reason; everything else the
#: source emits must have a corpus file.
NOT_FROM_A_DOCUMENT = {
    "unknown-action": "Engine(actions=...) reports an action its registry lacks, at no line",
    "template-syntax": "a host template (.j2) that is not valid Jinja2: tests/test_checks.py",
}


@attrs.frozen
class Case:
    """What one corpus file expects and how to read it."""

    path: Path
    expected: frozenset[tuple[str, int, int]]
    catalog: rectify.definitions.Catalog | None
    with_paths: tuple[Path, ...] | None  # None: validate_workflow; else validate_paths

    @property
    def code(self) -> str:
        return self.path.stem


def read_case(path: Path) -> Case:
    """Parse the leading comment lines of a corpus file (which may not be UTF-8)."""
    expected: set[tuple[str, int, int]] = set()
    catalog: rectify.definitions.Catalog | None = None
    with_paths: tuple[Path, ...] | None = None
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not line.startswith("#"):
            break
        header = _HEADER.match(line)
        if header is None:
            continue
        kind, value = header.groups()
        if kind == "expect":
            found = _EXPECT.match(value)
            assert found, f"{path.name}: bad expect line {line!r}"
            expected.add((found[1], int(found[2]), int(found[3])))
        elif kind == "catalog":
            catalog = parse_catalog(value)
        else:
            mode, *extra = value.split()
            assert mode == "paths", f"{path.name}: unknown validate mode {mode!r}"
            with_paths = tuple(ROOT / e for e in extra)
    assert expected, f"{path.name}: no '# expect:' line"
    return Case(path, frozenset(expected), catalog, with_paths)


def parse_catalog(text: str) -> rectify.definitions.Catalog:
    """Turn ``guards=a,b notices=x`` into a Catalog (an empty value is an empty set)."""
    fields: dict[str, Any] = {}
    for item in text.split():
        name, _, names = item.partition("=")
        assert name in _CATALOG_FIELDS, f"unknown catalog field {name!r}"
        fields[name] = frozenset(n for n in names.split(",") if n)
    return rectify.definitions.Catalog(**fields)


def diagnose(case: Case) -> list[rectify.Diagnostic]:
    if case.with_paths is None:
        return rectify.validate_workflow(case.path, catalog=case.catalog)
    report = rectify.validate_paths([case.path, *case.with_paths], catalog=case.catalog)
    return list(report.diagnostics)


def where(diagnostics: list[rectify.Diagnostic]) -> Found:
    return {(d.code, d.location.line, d.location.column) for d in diagnostics}


#: Modules that report problems of other inputs (spreadsheet rows by column), not
#: diagnostics of definition documents.
NOT_DEFINITIONS = frozenset({"spreadsheets"})  # row reports of ledger imports, not definitions


def source_codes() -> set[str]:
    """Collect every diagnostic code the source can emit, by reading its syntax tree.

    A code is the first text argument of ``error``, ``warning``, ``_error``, ``problem``
    and ``_LimitError``, the second of ``Diagnostic``/``report``, any ``code="..."``, and
    ``undeclared-WHAT`` for each ``undeclared("WHAT", ...)`` that gives no code of its own.
    """
    first = {"error", "warning", "_error", "problem", "_LimitError"}
    second = {"Diagnostic", "report"}
    codes: set[str] = set()
    for file in sorted(SRC.rglob("*.py")):
        if NOT_DEFINITIONS & set(file.relative_to(SRC).parts):
            continue
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            texts = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
            given = [
                k.value.value
                for k in node.keywords
                if k.arg == "code" and isinstance(k.value, ast.Constant)
            ]
            codes.update(g for g in given if isinstance(g, str) and _CODE.match(g))
            if name == "undeclared" and not given and texts and isinstance(texts[0], str):
                codes.add(f"undeclared-{texts[0]}")
            index = 0 if name in first else 1 if name in second else None
            if index is not None and len(texts) > index:
                text = texts[index]
                if isinstance(text, str) and _CODE.match(text):
                    codes.add(text)
    return codes


# -- the corpus ------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_file_yields_exactly_its_expected_diagnostics(path: Path) -> None:
    assert path.read_bytes().startswith(b"# expect: "), "the first line says what to expect"
    case = read_case(path)
    assert case.code in {code for code, _, _ in case.expected}
    assert where(diagnose(case)) == case.expected


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_diagnostics_point_into_the_corpus_file(path: Path) -> None:
    case = read_case(path)
    files = {d.location.file for d in diagnose(case)}
    assert files == {str(path)}


def test_every_code_in_the_source_has_a_corpus_file_and_no_file_is_stale() -> None:
    assert {p.stem for p in CORPUS} == source_codes() - set(NOT_FROM_A_DOCUMENT)


def test_codes_exempt_from_the_corpus_are_still_emitted_and_have_no_file() -> None:
    assert set(NOT_FROM_A_DOCUMENT) <= source_codes()
    assert not {p.stem for p in CORPUS} & set(NOT_FROM_A_DOCUMENT)


def test_source_code_collector_finds_codes_of_every_kind() -> None:
    # One literal of each shape the collector reads, so a blind collector cannot pass.
    assert {
        "empty",  # _error("empty", ...) in the YAML adapter
        "duplicate-key",  # self.problem(...) in the walker
        "too-deep",  # _LimitError(...)
        "unknown-key",  # reader.error(...)
        "unknown-document",  # Diagnostic(Severity.ERROR, "unknown-document", ...)
        "unreachable-state",  # self.warning(...)
        "unknown-guard",  # undeclared(..., code="unknown-guard")
        "undeclared-ladder",  # undeclared("ladder", ...)
    } <= source_codes()


# -- load_workflow raises with the same diagnostics --------------------------------------

WORKFLOW_CASES = [p for p in CORPUS if read_case(p).with_paths is None]


@pytest.mark.parametrize("path", WORKFLOW_CASES, ids=[p.stem for p in WORKFLOW_CASES])
def test_load_workflow_raises_for_errors_and_loads_with_only_warnings(path: Path) -> None:
    case = read_case(path)
    diagnostics = rectify.validate_workflow(path, catalog=case.catalog)
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        spec = rectify.load_workflow(path, catalog=case.catalog)
        assert spec.id == "mini"
        return
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        rectify.load_workflow(path, catalog=case.catalog)
    exc = info.value
    assert exc.source == str(path)
    assert list(exc.diagnostics) == diagnostics
    assert list(exc.errors) == errors
    for error in errors:
        assert f"{path}:{error.location.line}:{error.location.column}" in str(exc)
        assert error.code in str(exc)


def test_warnings_only_corpus_files_are_exactly_the_warning_codes() -> None:
    warned = set()
    for path in WORKFLOW_CASES:
        case = read_case(path)
        if not any(d.is_error for d in rectify.validate_workflow(path, catalog=case.catalog)):
            warned.add(case.code)
    assert warned == {"sod-never-before", "unknown-field", "unreachable-state"}


def test_load_workflow_reads_yaml_text_and_reports_string_locations() -> None:
    text = (BROKEN / "trap-state.yaml").read_text(encoding="utf-8")
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        rectify.load_workflow(text)
    assert where(list(info.value.diagnostics)) == read_case(BROKEN / "trap-state.yaml").expected
    assert info.value.source == "<string>"
    assert "<string>:" in str(info.value)


def test_load_categories_raises_for_an_undeclared_severity() -> None:
    path = BROKEN / "undeclared-severity.yaml"
    with pytest.raises(rectify.WorkflowDefinitionError) as info:
        rectify.load_categories(path)
    assert where(list(info.value.diagnostics)) == read_case(path).expected


# -- documents that hold nothing ---------------------------------------------------------


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "~\n", "null\n", "--- ~\n"])
def test_a_document_holding_nothing_is_reported_empty(text: str) -> None:
    assert where(rectify.validate_workflow(text)) == {("empty", 1, 1)}


def test_a_document_holding_nothing_is_not_clean_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "blank.yaml").write_text("---\n", encoding="utf-8")
    report = rectify.validate_paths([tmp_path])
    assert where(list(report.diagnostics)) == {("empty", 1, 1)}
