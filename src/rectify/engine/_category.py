"""Changing a case's hazard category: a ``@category`` record, and the severity that follows.

A ledger import may infer a category the clerk has to check (an unsure inference leaves
``category_inferred`` and ``category_confidence`` in the case's data). Confirming or
correcting it is a recorded change, as a severity change is: a ``@category`` record with
``from``, ``to`` and the reason, which clears the inference's marks. When the case's
severity is the old category's default (nobody chose another), it follows the new
category's default through the severity machinery itself: a ``@severity`` record right
after, so that deadlines, escalation ladders and replay see an ordinary severity change.
A category whose default severity runs another workflow is refused: the case cannot move
between workflows (close it and open one in the right workflow).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import attrs

from rectify.definitions._categories import CategoryTable
from rectify.engine._case import Actor, Case, Outcome, Record
from rectify.engine._engine import Engine, before, local_date
from rectify.engine._history import seal
from rectify.engine._severity import change_severity
from rectify.exceptions import CaseFinalError, OutOfOrderError, PayloadError

__all__ = [
    "CATEGORY",
    "CATEGORY_CONFIDENCE",
    "CATEGORY_INFERRED",
    "apply_category",
    "change_category",
]

#: The event name of a category change record.
CATEGORY: Final = "@category"
#: The data an unsure ledger inference leaves on a case: the words it went by (电动车+楼道)
#: and its confidence (0.55). A category change clears both.
CATEGORY_INFERRED: Final = "category_inferred"
CATEGORY_CONFIDENCE: Final = "category_confidence"
_INFERENCE_KEYS: Final = (CATEGORY_INFERRED, CATEGORY_CONFIDENCE)


def change_category(
    engine: Engine,
    case: Case,
    category: str,
    actor: Actor,
    at: dt.datetime,
    *,
    reason: str,
    categories: CategoryTable,
) -> Outcome:
    """Set ``case``'s category, record why, and let its severity follow when it was the default.

    The change is a ``@category`` record (``from``, ``to``). The same category again
    confirms it (an unsure inference checked and found right); either way the marks of an
    unsure inference (``category_inferred``, ``category_confidence``) are cleared. If the
    case's severity is the old category's default severity and the new category's default
    differs, a ``@severity`` record follows (:func:`~rectify.engine.change_severity`, the
    same reason), which recomputes a severity-based deadline; a severity someone chose is
    kept. The outcome's case holds both records; ``Outcome.record`` is the last of them.

    Args:
        engine: The engine of the case's workflow version.
        case: The case.
        category: The new category's code.
        actor: Who changes it.
        at: When (timezone-aware, not before the case's last record).
        reason: Why; required.
        categories: The category table the case was categorised with.

    Raises:
        CaseFinalError: The case is closed.
        PayloadError: ``reason`` is empty (field ``reason``); ``category`` is not in the
            table, or its default severity runs another workflow than the case's (field
            ``category``).
        OutOfOrderError: ``at`` is before the last event.
    """
    local_date(at)
    _check(engine, case, category, at=at, reason=reason, categories=categories)
    payload = {"from": case.data.get("category"), "to": category}
    record = seal(
        Record(
            case.seq + 1, CATEGORY, case.state, case.state, actor.id, actor.role, at, payload,
            (), reason,
        ),
        case.history[-1],
    )  # fmt: skip
    changed = apply_category(case, record)
    severity = _following(case, category, categories)
    if severity is None:
        return Outcome(changed)
    return change_severity(engine, changed, severity, actor, at, reason=reason)


def apply_category(case: Case, record: Record) -> Case:
    """Return ``case`` with a ``@category`` record applied (also used by replay)."""
    data = {k: v for k, v in case.data.items() if k not in _INFERENCE_KEYS}
    data["category"] = record.payload.get("to")
    return attrs.evolve(case, data=data, history=(*case.history, record))


def _following(case: Case, category: str, categories: CategoryTable) -> str | None:
    """Return the severity the case takes with ``category``, or ``None`` if it keeps its own."""
    old = case.data.get("category")
    severity = case.data.get("severity")
    new = categories.category(category).severity
    default = (
        categories.category(old).severity
        if isinstance(old, str) and old in categories.codes
        else None
    )
    if severity not in (None, default) or new == severity:
        return None
    return new


def _check(
    engine: Engine,
    case: Case,
    category: str,
    *,
    at: dt.datetime,
    reason: str,
    categories: CategoryTable,
) -> None:
    def refuse(field: str, problem: str) -> PayloadError:
        return PayloadError(
            case_id=case.id, state=case.state, event=CATEGORY, field=field, problem=problem
        )

    if engine.is_final(case):
        raise CaseFinalError(case_id=case.id, state=case.state, event=CATEGORY)
    if not reason.strip():
        raise refuse("reason", "is required: say why the category changes")
    if category not in categories.codes:
        known = ", ".join(c.code for c in categories.categories)
        raise refuse("category", f"{category!r} is not a category; categories: {known}")
    severity = categories.category(category).severity
    workflow = (
        categories.severity(severity).workflow if severity in categories.severity_names else None
    )
    if workflow != case.workflow:
        raise refuse(
            "category",
            f"{category!r} has severity {severity!r}, whose cases follow workflow "
            f"{workflow!r}, but this case follows {case.workflow!r}: a category can only "
            "change within the case's workflow (close this case and open one in the other)",
        )
    if before(at, case.updated_at):
        raise OutOfOrderError(
            case_id=case.id,
            state=case.state,
            event=CATEGORY,
            at=at.isoformat(),
            last=case.updated_at.isoformat(),
        )
