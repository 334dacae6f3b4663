"""The hazard category table: categories, severities and their default periods.

Categories are data, shipped in ``workflows/categories.yaml`` and overridable by a town.
"""

from __future__ import annotations

from functools import cached_property
from typing import Final

import attrs

from rectify._diagnostics import Diagnostic
from rectify.definitions._parse import CATEGORY_CODE, parse_deadline
from rectify.definitions._reader import Reader
from rectify.definitions._spec import CampaignDate, DeadlineRule, Earliest, FieldDate, FromSeverity
from rectify.definitions._yamlsource import Path

__all__ = ["Category", "CategoryTable", "SeverityLevel", "check_categories", "parse_categories"]

_SEVERITY_KEYS: Final = ("title_en", "period", "workflow")
_CATEGORY_KEYS: Final = ("title_en", "party", "keywords", "basis")


@attrs.frozen
class SeverityLevel:
    """A severity: its default period and the workflow its cases follow."""

    name: str
    title: str
    period: DeadlineRule
    workflow: str
    title_en: str | None = None


@attrs.frozen
class Category:
    """A hazard category (``PAS.LANE``: 消防车通道被占用或堵塞).

    ``party`` is the usual responsible party, ``keywords`` help infer the category from a
    ledger's hazard text, and ``basis`` is the legal basis quoted on a rectification slip.
    """

    code: str
    title: str
    severity: str
    party: str = ""
    keywords: tuple[str, ...] = ()
    title_en: str | None = None
    basis: str = ""


@attrs.frozen
class CategoryTable:
    """All categories and severities of one table."""

    severities: tuple[SeverityLevel, ...]
    categories: tuple[Category, ...]
    source: str = attrs.field(default="<table>", eq=False, repr=False)

    @cached_property
    def _by_code(self) -> dict[str, Category]:
        return {c.code: c for c in self.categories}

    @cached_property
    def _by_severity(self) -> dict[str, SeverityLevel]:
        return {s.name: s for s in self.severities}

    def category(self, code: str) -> Category:
        """Return the category with ``code`` (``KeyError`` if there is none)."""
        return self._by_code[code]

    def severity(self, name: str) -> SeverityLevel:
        """Return the severity called ``name`` (``KeyError`` if there is none)."""
        return self._by_severity[name]

    @property
    def codes(self) -> frozenset[str]:
        """Return every category code."""
        return frozenset(self._by_code)

    @property
    def severity_names(self) -> frozenset[str]:
        """Return every severity name."""
        return frozenset(self._by_severity)


def parse_categories(reader: Reader) -> CategoryTable | None:
    """Build a category table from ``reader.doc``; ``None`` when too broken."""
    top = reader.mapping(
        (), reader.doc.data, required=("severities", "categories"), what="a category table"
    )
    if top is None:
        return None
    severities = reader.entries(
        ("severities",),
        top.get("severities"),
        lambda p, n, v: _severity(reader, p, n, v),
        "severity name",
    )
    categories = _categories(reader, top.get("categories"))
    return CategoryTable(severities, categories, source=reader.doc.file)


def _severity(reader: Reader, path: Path, name: str, value: object) -> SeverityLevel | None:
    table = reader.mapping(
        path,
        value,
        required=("title", "period", "workflow"),
        optional=("title_en",),
        what=f"severity {name!r}",
    )
    if table is None:
        return None
    title = reader.string((*path, "title"), table.get("title"))
    period = (
        parse_deadline(reader, (*path, "period"), table["period"]) if ("period" in table) else None
    )
    workflow = reader.name((*path, "workflow"), table.get("workflow"), "workflow id")
    if title is None or period is None or workflow is None:
        return None
    return SeverityLevel(
        name, title, period, workflow, reader.optional_text(path, table, "title_en")
    )


def _categories(reader: Reader, value: object) -> tuple[Category, ...]:
    if not isinstance(value, dict):
        reader.wrong_type(("categories",), value, "a mapping of category codes")
        return ()
    out: list[Category] = []
    for code, item in value.items():
        path: Path = ("categories", code)
        if not CATEGORY_CODE.fullmatch(code):
            reader.error(
                "bad-name",
                f"category code {code!r} must be capital letters and digits in dotted parts, "
                "such as PAS.LANE",
                path,
                key=True,
            )
            continue
        table = reader.mapping(
            path,
            item,
            required=("title", "severity"),
            optional=_CATEGORY_KEYS,
            what=f"category {code!r}",
        )
        if table is None:
            continue
        title = reader.string((*path, "title"), table.get("title"))
        severity = reader.name((*path, "severity"), table.get("severity"), "severity name")
        keywords: tuple[str, ...] = ()
        if "keywords" in table:
            raw = table["keywords"]
            if isinstance(raw, list) and all(isinstance(k, str) and k for k in raw):
                keywords = tuple(raw)
            else:
                reader.wrong_type((*path, "keywords"), raw, "a list of words")
        party = reader.optional_text(path, table, "party") or ""
        if title is not None and severity is not None:
            out.append(
                Category(
                    code,
                    title,
                    severity,
                    party,
                    keywords,
                    reader.optional_text(path, table, "title_en"),
                    reader.optional_text(path, table, "basis") or "",
                )
            )
    return tuple(out)


def check_categories(
    table: CategoryTable,
    reader: Reader,
    workflows: frozenset[str] | None = None,
    phases: frozenset[str] | None = None,
) -> list[Diagnostic]:
    """Check cross-references: each category's severity, each severity's workflow and period."""
    for level in table.severities:
        _check_period(reader, level, phases)
    for category in table.categories:
        if category.severity not in table.severity_names:
            choices = ", ".join(sorted(table.severity_names))
            reader.error(
                "undeclared-severity",
                f"severity {category.severity!r} is not declared; declared: {choices}",
                ("categories", category.code, "severity"),
            )
    if workflows is not None:
        for level in table.severities:
            if level.workflow not in workflows:
                choices = ", ".join(sorted(workflows))
                reader.error(
                    "unknown-workflow",
                    f"workflow {level.workflow!r} is not available; available: {choices}",
                    ("severities", level.name, "workflow"),
                )
    return reader.diagnostics


def _check_period(reader: Reader, level: SeverityLevel, phases: frozenset[str] | None) -> None:
    path: Path = ("severities", level.name, "period")
    rules = level.period.rules if isinstance(level.period, Earliest) else (level.period,)
    for rule in rules:
        if isinstance(rule, FromSeverity | FieldDate):
            reader.error(
                "bad-rule",
                "a severity's period cannot come from the severity or a "
                "case field; use days, a campaign phase or a date",
                path,
            )
        elif isinstance(rule, CampaignDate) and phases is not None and rule.phase not in phases:
            choices = ", ".join(sorted(phases)) or "none"
            reader.error(
                "unknown-phase",
                f"campaign phase {rule.phase!r} is not declared; declared: {choices}",
                (*path, "campaign"),
            )
