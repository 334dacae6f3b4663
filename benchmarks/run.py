"""The rectify benchmark runner.

Usage::

    python benchmarks/run.py [suite ...] [--json] [--quick]

Each suite measures what rectify does next to a *floor*: the least work that does the same
job without rectify (parsing the same YAML with PyYAML alone, for instance). The runner
prints every figure with its time per operation and operations per second, and the ratio
``rectify / floor`` measured in the same run, where lower is better: 1.00 means rectify
costs no more than the floor. The ratios are what to compare between machines and commits;
the absolute times depend on the machine.

A suite is one function registered in :data:`SUITES`, each in its module of
``benchmarks/suites/`` (``suites/base.py`` has the settings, ``Measurement`` and the timing
helpers); see ``benchmarks/README.md``. A figure may carry targets, ratios the project aims
for: they are printed beside the ratio with whether they are met. Nothing here asserts
anything about timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Final

import yaml
from suites import engine, notices, reports, service, store, sweep, workflow
from suites.base import (
    C_SAFE_LOADER,
    FULL,
    QUICK,
    Measurement,
    Settings,
    Suite,
    time_batch,
    time_call,
)

import rectify

__all__ = ["SUITES", "Measurement", "Settings", "main", "time_batch", "time_call"]


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """``figure / floor`` for one pair of measurements of a suite (lower is better)."""

    figure: str
    floor: str
    value: float
    target: float | None = None

    @property
    def met(self) -> bool | None:
        """Return whether the ratio is within its target, ``None`` when it has none."""
        return None if self.target is None else self.value <= self.target


@dataclass
class SuiteResult:
    """What one suite measured, with its ratios worked out."""

    name: str
    measurements: list[Measurement]
    ratios: list[Ratio] = field(default_factory=list)


#: Every suite by name, in the order they run when none is named.
SUITES: Final[dict[str, Suite]] = {
    "workflow": workflow.suite,
    "engine": engine.suite,
    "sweep": sweep.suite,
    "notices": notices.suite,
    "store": store.suite,
    "reports": reports.suite,
    "service": service.suite,
}


# --- running and reporting ------------------------------------------------------------------


def run_suite(name: str, settings: Settings) -> SuiteResult:
    """Run the suite called ``name`` and work out its ratios.

    Raises:
        ValueError: The suite names a floor it did not measure, or a name twice, or gives
            a target for a floor the figure is not compared with.
    """
    measurements = SUITES[name](settings)
    by_name: dict[str, Measurement] = {}
    for m in measurements:
        if m.name in by_name:
            raise ValueError(f"suite {name!r} measured {m.name!r} twice")
        by_name[m.name] = m
    result = SuiteResult(name, measurements)
    for m in measurements:
        targets = dict(m.targets)
        if not targets.keys() <= set(m.floors):
            raise ValueError(f"suite {name!r}: {m.name!r} has a target for a floor it lacks")
        for floor_name in m.floors:
            floor = by_name.get(floor_name)
            if floor is None:
                raise ValueError(f"suite {name!r}: {m.name!r} names a floor it did not measure")
            if floor.unit != m.unit:
                raise ValueError(f"suite {name!r}: {m.name!r} and its floor differ in unit")
            ratio = m.value / floor.value
            result.ratios.append(Ratio(m.name, floor_name, ratio, targets.get(floor_name)))
    return result


def environment() -> dict[str, object]:
    """Return what the figures depend on besides the code."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "pyyaml": yaml.__version__,
        "libyaml": C_SAFE_LOADER is not None,
        "rectify": rectify.__version__,
        "transitions": _version("transitions"),
        "python-statemachine": _version("python-statemachine"),
    }


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def to_json(results: Sequence[SuiteResult], settings: Settings) -> dict[str, object]:
    """Return every figure and ratio as one JSON-ready document."""
    return {
        "environment": environment(),
        "settings": {
            "quick": settings.quick,
            "repeats": settings.repeats,
            "min_time_s": settings.min_time,
            "statistic": "best of the repeats (median also given)",
            "timer": "time.perf_counter",
        },
        "ratio": "rectify / floor",
        "lower_is_better": True,
        "suites": {
            r.name: {
                "figures": [
                    {
                        "name": m.name,
                        "value": m.value,
                        "unit": m.unit,
                        "median": m.median,
                        "ops_per_second": 1 / m.value if m.unit == "s" and m.value else None,
                        "repeats": m.repeats,
                        "number": m.number,
                        "floor": m.floor,
                        "extra_floors": list(m.extra_floors),
                        "description": m.description,
                    }
                    for m in r.measurements
                ],
                "ratios": [
                    {
                        "figure": q.figure,
                        "floor": q.floor,
                        "ratio": q.value,
                        "target": q.target,
                        "target_met": q.met,
                    }
                    for q in r.ratios
                ],
            }
            for r in results
        },
    }


def format_value(value: float, unit: str) -> str:
    """Return ``value`` for reading: times scaled to s, ms, µs or ns."""
    if unit != "s":
        return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:.3g} {unit}"
    for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value / 1e-9:.3g} ns"


def format_table(results: Sequence[SuiteResult], settings: Settings) -> str:
    """Return the human-readable report."""
    env = environment()
    lines = [
        f"rectify {env['rectify']} benchmarks: {env['implementation']} {env['python']} on "
        f"{env['machine']}, PyYAML {env['pyyaml']} "
        f"(libyaml C loader: {'yes' if env['libyaml'] else 'no, pure-Python floors'})",
        f"{'quick run, figures are rough' if settings.quick else 'full run'}: "
        f"best of {settings.repeats} repeats of at least {settings.min_time:g} s each, "
        "timed with time.perf_counter; long batches (one call of many operations) are "
        "timed fewer times: 'runs' shows repeats x operations",
        "ratio = rectify / floor, measured in this run; lower is better "
        "(1.00 = no slower than the floor)",
    ]
    for r in results:
        width = max(len(m.name) for m in r.measurements)
        shown = [format_value(m.value, m.unit) for m in r.measurements]
        vw = max(10, *(len(v) for v in shown))
        lines += ["", f"suite {r.name}"]
        lines.append(
            f"  {'figure':<{width}}  {'per op':>{vw}}  {'median':>{vw}}  {'ops/s':>11}  "
            f"{'runs':>13}  vs floor"
        )
        ratios = {(q.figure, q.floor): q.value for q in r.ratios}
        for m in r.measurements:
            ops = f"{1 / m.value:,.0f}" if m.unit == "s" and m.value else "-"
            median = format_value(m.median, m.unit) if m.median is not None else "-"
            vs = (
                f"{ratios[(m.name, m.floor)]:.2f} x {m.floor}"
                if m.floor
                else "(floor)"
                if any(m.name in o.floors for o in r.measurements)
                else ""
            )
            runs = f"{m.repeats} x {m.number:,}"
            lines.append(
                f"  {m.name:<{width}}  {format_value(m.value, m.unit):>{vw}}  {median:>{vw}}  "
                f"{ops:>11}  {runs:>13}  {vs}"
            )
        lines += ["", "  ratios (rectify / floor, lower is better):"]
        pair_width = max((len(f"{q.figure} / {q.floor}") for q in r.ratios), default=0)
        lines.extend(
            f"    {f'{q.figure} / {q.floor}':<{pair_width}}  {q.value:6.2f}{_target(q)}"
            for q in r.ratios
        )
        lines += ["", "  what was measured:"]
        lines.extend(f"    {m.name}: {m.description}" for m in r.measurements if m.description)
    return "\n".join(lines)


def _target(ratio: Ratio) -> str:
    if ratio.target is None:
        return ""
    return f"  (target <= {ratio.target:.2f}: {'met' if ratio.met else 'NOT met'})"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line; unknown suites are a usage error (exit status 2)."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark rectify against floors measured in the same run "
        "(ratio = rectify / floor; lower is better).",
    )
    parser.add_argument(
        "suites",
        nargs="*",
        metavar="suite",
        help=f"suites to run (default: all): {', '.join(SUITES)}",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--quick", action="store_true", help="few, short repeats: checks that it runs, in seconds"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite {', '.join(unknown)}; choose from: {', '.join(SUITES)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen suites and print their figures; return the exit status."""
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    names = list(dict.fromkeys(args.suites)) or list(SUITES)
    results = [run_suite(name, settings) for name in names]
    if args.json:
        print(json.dumps(to_json(results, settings), indent=2, ensure_ascii=False))
    else:
        print(format_table(results, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
