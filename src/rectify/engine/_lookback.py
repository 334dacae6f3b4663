"""Look-back (回头看): which closed cases to look at again.

The rule (DOMAIN part C): every fire-lane, exit and e-bike case, every major case, every case
closed by a grid worker alone, and at least a fifth of the rest in each community, drawn with
a seeded generator so the sample can be reproduced.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Final

from rectify.engine._case import Case

__all__ = ["ALWAYS_SAMPLED", "sample_lookback"]

#: Category prefixes whose closed cases are all looked at again.
ALWAYS_SAMPLED: Final = ("PAS.LANE", "PAS.EVAC", "EBIKE.", "FAC.HYD.BLOCK")


def _always(case: Case, earlier_states: Sequence[str]) -> bool:
    category = str(case.data.get("category", ""))
    if case.workflow == "major" or category.startswith(ALWAYS_SAMPLED):
        return True
    # Closed by a grid worker alone. What was recorded of an earlier year's hazard once it
    # was rectified (its look-back) is not how it was closed, and leaves the draw alone.
    actors = {
        r.role
        for r in case.history
        if not r.event.startswith("@") and r.source not in earlier_states
    }
    return actors == {"grid_worker"}


def sample_lookback(
    cases: Iterable[Case],
    *,
    share: float = 0.2,
    seed: int = 0,
    rectified_states: Sequence[str],
    earlier_states: Sequence[str] = (),
) -> list[Case]:
    """Return the closed cases to look at again, ordered by id.

    Args:
        cases: Candidate cases; only those in ``rectified_states`` or ``earlier_states``
            count.
        share: The least share of the other closed cases drawn in each community.
        seed: Seeds the draw, so the same cases give the same sample.
        rectified_states: The final states that mean "fixed" (``closed``, ``delisted``...).
        earlier_states: The states of earlier years' rectified hazards not yet looked at
            again (the ``earlier`` workflow's ``rectified``): sampled like closed cases.
    """
    closed = [
        c
        for c in cases
        if (c.final and c.state in rectified_states) or (not c.final and c.state in earlier_states)
    ]
    chosen = [c for c in closed if _always(c, earlier_states)]
    rest: dict[str, list[Case]] = defaultdict(list)
    for case in closed:
        if not _always(case, earlier_states):
            rest[str(case.data.get("community", ""))].append(case)
    draw = random.Random(seed)  # noqa: S311 - a sample, not a secret
    for community in sorted(rest):
        group = sorted(rest[community], key=lambda c: c.id)
        chosen += draw.sample(group, math.ceil(len(group) * share))
    return sorted(chosen, key=lambda c: c.id)
