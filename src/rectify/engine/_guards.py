"""Guards and actions: plain callables the host registers by name, and the built-in ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Final

import attrs

from rectify.engine._case import Actor, Case, Evidence

__all__ = ["BUILTIN_GUARDS", "Action", "Guard", "GuardContext", "panel_quorum"]


@attrs.frozen
class GuardContext:
    """What a guard or an action sees of an event being fired."""

    case: Case
    event: str
    target: str
    actor: Actor
    payload: Mapping[str, object]
    evidence: tuple[Evidence, ...]
    at: dt.datetime


#: A guard returns ``None`` to let the event through, or the reason it refuses.
Guard = Callable[[GuardContext], str | None]

#: An action returns data to merge into the case (or ``None`` for nothing).
Action = Callable[[GuardContext], Mapping[str, object] | None]

_EXPERT_PANEL: Final = 7
_GROUP: Final = 3


def panel_quorum(ctx: GuardContext) -> str | None:
    """Check a major-hazard determination (GB 35181): enough people, enough votes.

    A group decision needs at least 3 people and a majority; after an expert review the
    panel needs at least 7 experts and two thirds agreeing.
    """
    size, votes = ctx.payload.get("panel_size"), ctx.payload.get("votes_for")
    if not isinstance(size, int) or not isinstance(votes, int):
        return "panel_size and votes_for must be whole numbers"
    if not 0 <= votes <= size:
        return f"votes_for ({votes}) must be between 0 and panel_size ({size})"
    if ctx.case.state == "expert_review":
        if size < _EXPERT_PANEL:
            return f"an expert panel needs at least {_EXPERT_PANEL} experts, not {size}"
        if votes * 3 < size * 2:
            return f"two thirds of the panel must agree; {votes} of {size} did"
        return None
    if size < _GROUP:
        return f"a determination needs at least {_GROUP} people, not {size}"
    if votes * 2 <= size:
        return f"a majority must agree; {votes} of {size} did"
    return None


#: The guards the shipped workflows name.
BUILTIN_GUARDS: Final[Mapping[str, Guard]] = {"panel_quorum": panel_quorum}
