"""What every suite uses: the settings, the measurements a suite returns, and timing."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

ROOT: Final = Path(__file__).resolve().parents[2]
WORKFLOWS: Final = ROOT / "workflows"

#: The libyaml-backed loader when PyYAML was built with it, else ``None``.
C_SAFE_LOADER: Final[type[yaml.SafeLoader] | None] = getattr(yaml, "CSafeLoader", None)


@dataclass(frozen=True)
class Settings:
    """How hard to measure.

    Attributes:
        quick: Whether this is the short ``--quick`` run (a smoke test, not a measurement).
        repeats: How many timed repeats each figure gets; the figure is the best of them.
        min_time: The least time, in seconds, one repeat runs; the number of calls per
            repeat is raised until a repeat takes at least this long.
    """

    quick: bool
    repeats: int
    min_time: float


FULL: Final = Settings(quick=False, repeats=7, min_time=0.2)
QUICK: Final = Settings(quick=True, repeats=3, min_time=0.02)


@dataclass(frozen=True)
class Measurement:
    """One figure of a suite.

    Attributes:
        name: Unique within its suite; floors are referred to by this name.
        value: The figure: for unit ``"s"``, the best time of one operation in seconds.
        unit: ``"s"`` for a time per operation (the runner then also shows operations per
            second); any other unit is printed as it is and gets no ops/s.
        floor: The name of the measurement in the same suite this one is compared with,
            or ``None`` when this measurement is itself a floor.
        extra_floors: Further floors in the same suite to report a ratio against.
        targets: Ratios the project aims for, as ``(floor name, highest ratio)`` pairs:
            printed beside the ratio with whether it is met, never asserted.
        description: What exactly was measured, shown under the table.
        median: The median over the repeats (same unit), when there were repeats.
        repeats: How many timed repeats the figure is the best of.
        number: How many operations each repeat ran.
    """

    name: str
    value: float
    unit: str
    floor: str | None = None
    extra_floors: tuple[str, ...] = ()
    targets: tuple[tuple[str, float], ...] = ()
    description: str = ""
    median: float | None = None
    repeats: int = 0
    number: int = 0

    @property
    def floors(self) -> tuple[str, ...]:
        """Return every floor this measurement is compared with, the main one first."""
        return (*((self.floor,) if self.floor else ()), *self.extra_floors)


#: A suite: measures with the given settings and returns its figures.
Suite = Callable[[Settings], list[Measurement]]


def time_call(
    name: str,
    operation: Callable[[], object],
    settings: Settings,
    *,
    floor: str | None = None,
    extra_floors: tuple[str, ...] = (),
    targets: tuple[tuple[str, float], ...] = (),
    description: str = "",
) -> Measurement:
    """Time ``operation`` with :func:`time.perf_counter` and return the best repeat.

    The operation is called once untimed (a warm-up, which also surfaces exceptions), then
    the number of calls per repeat is raised (1, 2, 5, 10, 20, 50...) until one repeat
    takes ``settings.min_time``; then ``settings.repeats`` repeats are timed. The garbage
    collector stays on, as it is in real use, but runs before every repeat.
    """
    operation()
    number = _calibrate(operation, settings.min_time)
    per_op: list[float] = []
    for _ in range(settings.repeats):
        per_op.append(_run(operation, number) / number)
    return Measurement(
        name=name,
        value=min(per_op),
        unit="s",
        floor=floor,
        extra_floors=extra_floors,
        targets=targets,
        description=description,
        median=statistics.median(per_op),
        repeats=settings.repeats,
        number=number,
    )


def time_batch(
    name: str,
    operation: Callable[[], object],
    count: int,
    repeats: int,
    *,
    floor: str | None = None,
    extra_floors: tuple[str, ...] = (),
    targets: tuple[tuple[str, float], ...] = (),
    description: str = "",
) -> Measurement:
    """Time ``operation``, one call of which does ``count`` operations; return the best.

    For work too long to call over and over (100,000 cases through their lifecycle, a
    sweep over a million cases): no warm-up call and no calibration, so the suite warms up
    on a small input itself. The operation is called ``repeats`` times, the garbage
    collector run before each call and left on during it; the figure is the best call's
    time divided by ``count``.
    """
    per_op = [_run(operation, 1) / count for _ in range(repeats)]
    return Measurement(
        name=name,
        value=min(per_op),
        unit="s",
        floor=floor,
        extra_floors=extra_floors,
        targets=targets,
        description=description,
        median=statistics.median(per_op),
        repeats=repeats,
        number=count,
    )


def _run(operation: Callable[[], object], number: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(number):
        operation()
    return time.perf_counter() - start


def _calibrate(operation: Callable[[], object], min_time: float) -> int:
    base = 1
    while True:
        for step in (1, 2, 5):
            number = base * step
            if _run(operation, number) >= min_time:
                return number
        base *= 10
