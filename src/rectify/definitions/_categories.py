"""The hazard category table: categories, severities and their default periods.

Categories are data, shipped in ``workflows/categories.yaml`` and overridable by a town.
Besides its keywords, a category may list term sets (``terms:``, each ``电动车 + 楼道 +
停放``: one word of each part, in any order, other words between) and the table may list
synonyms (``synonyms:``, ``电动车: [电瓶车, 电动自行车]``), which the ledger import reads to
infer a category from a hazard text (:func:`split_terms` reads one term set).
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

__all__ = [
    "Category",
    "CategoryTable",
    "SeverityLevel",
    "check_categories",
    "parse_categories",
    "split_terms",
]

_SEVERITY_KEYS: Final = ("title_en", "period", "workflow")
_CATEGORY_KEYS: Final = ("title_en", "party", "keywords", "terms", "basis")
#: What separates the parts of a term set, the words of a part, and marks a word that must
#: not be there; none of them may be in a word.
_PLUS: Final = "+"
_OR: Final = "|"
_NOT: Final = "!"


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

    ``party`` is the usual responsible party, ``keywords`` and ``terms`` help infer the
    category from a ledger's hazard text (a keyword as written; a term set, such as ``电动车 +
    楼道 + 停放``, one word of each part in any order, see :func:`split_terms`), and
    ``basis`` is the legal basis quoted on a rectification slip.
    """

    code: str
    title: str
    severity: str
    party: str = ""
    keywords: tuple[str, ...] = ()
    title_en: str | None = None
    basis: str = ""
    terms: tuple[str, ...] = ()


@attrs.frozen
class CategoryTable:
    """All categories and severities of one table.

    ``synonyms`` are groups of words that mean the same in a hazard text (电动车, 电瓶车,
    电动自行车), the head word first: a word of a term set or of a title stands for its group.
    """

    severities: tuple[SeverityLevel, ...]
    categories: tuple[Category, ...]
    source: str = attrs.field(default="<table>", eq=False, repr=False)
    synonyms: tuple[tuple[str, ...], ...] = ()

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
        (),
        reader.doc.data,
        required=("severities", "categories"),
        optional=("synonyms",),
        what="a category table",
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
    synonyms = _synonyms(reader, top["synonyms"]) if "synonyms" in top else ()
    return CategoryTable(severities, categories, source=reader.doc.file, synonyms=synonyms)


def split_terms(text: str) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """Return the parts of a term set and the words it must not meet.

    ``"电动车|电瓶车 + 楼道 + !充电"`` is ``((("电动车", "电瓶车"), ("楼道",)), ("充电",))``:
    parts are separated by ``+``, the words of a part by ``|``, and a part starting with
    ``!`` lists words that, found in the same clause, stop the set matching.

    Raises:
        ValueError: A part or a word is empty, or no part is required; the message says so.
    """
    parts: list[tuple[str, ...]] = []
    without: list[str] = []
    for raw in text.split(_PLUS):
        part = raw.strip()
        negated = part.startswith(_NOT)
        words = tuple(w.strip() for w in part.removeprefix(_NOT).split(_OR))
        if not all(words):
            raise ValueError(f"term set {text!r} has an empty part or word")
        if any(_NOT in w for w in words):
            raise ValueError(f"term set {text!r}: '!' may only start a part")
        if negated:
            without.extend(words)
        else:
            parts.append(words)
    if not parts:
        raise ValueError(f"term set {text!r} has no part that must be found")
    return tuple(parts), tuple(without)


def _word_list(reader: Reader, path: Path, value: object) -> tuple[str, ...] | None:
    """Read a list of words that a term set can hold (no ``+``, ``|`` or ``!`` in them)."""
    if not (isinstance(value, list) and all(isinstance(w, str) and w.strip() for w in value)):
        reader.wrong_type(path, value, "a list of words")
        return None
    words = tuple(w.strip() for w in value)
    for i, word in enumerate(words):
        if any(mark in word for mark in (_PLUS, _OR, _NOT)):
            reader.error("bad-value", f"word {word!r} holds '+', '|' or '!'", (*path, i))
            return None
    return words


def _synonyms(reader: Reader, value: object) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, dict):
        reader.wrong_type(("synonyms",), value, "a mapping of words to lists of words")
        return ()
    groups: list[tuple[str, ...]] = []
    for head, words in value.items():
        path: Path = ("synonyms", head)
        marks = (_PLUS, _OR, _NOT)
        if not isinstance(head, str) or not head.strip() or any(m in head for m in marks):
            reader.error("bad-value", f"synonym head {head!r} must be one word", path, key=True)
            continue
        group = _word_list(reader, path, words)
        if group is not None:
            groups.append((head.strip(), *group))
    return tuple(groups)


def _terms(reader: Reader, path: Path, value: object) -> tuple[str, ...]:
    if not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
        reader.wrong_type(path, value, "a list of term sets such as '电动车 + 楼道'")
        return ()
    out: list[str] = []
    for i, text in enumerate(value):
        try:
            split_terms(text)
        except ValueError as exc:
            reader.error("bad-value", f"{exc}; write words joined by '+' and '|'", (*path, i))
            continue
        out.append(text)
    return tuple(out)


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
        terms = _terms(reader, (*path, "terms"), table["terms"]) if "terms" in table else ()
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
                    terms,
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
