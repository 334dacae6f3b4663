"""The rectify benchmark runner.

Usage::

    python benchmarks/run.py [suite ...] [--json] [--quick]

Each suite measures what rectify does next to a *floor*: the least work that does the same
job without rectify (parsing the same YAML with PyYAML alone, for instance). The runner
prints every figure with its time per operation and operations per second, and the ratio
``rectify / floor`` measured in the same run, where lower is better: 1.00 means rectify
costs no more than the floor. The ratios are what to compare between machines and commits;
the absolute times depend on the machine.

A suite is one function registered in :data:`SUITES`; see ``benchmarks/README.md``.
Nothing here asserts anything about timings.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

import rectify

ROOT: Final = Path(__file__).resolve().parents[1]
WORKFLOWS: Final = ROOT / "workflows"

#: The libyaml-backed loader when PyYAML was built with it, else ``None``.
C_SAFE_LOADER: Final[type[yaml.SafeLoader] | None] = getattr(yaml, "CSafeLoader", None)


# --- settings and measurements --------------------------------------------------------------


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
    description: str = ""
    median: float | None = None
    repeats: int = 0
    number: int = 0

    @property
    def floors(self) -> tuple[str, ...]:
        """Return every floor this measurement is compared with, the main one first."""
        return (*((self.floor,) if self.floor else ()), *self.extra_floors)


@dataclass(frozen=True)
class Ratio:
    """``figure / floor`` for one pair of measurements of a suite (lower is better)."""

    figure: str
    floor: str
    value: float


@dataclass
class SuiteResult:
    """What one suite measured, with its ratios worked out."""

    name: str
    measurements: list[Measurement]
    ratios: list[Ratio] = field(default_factory=list)


Suite = Callable[[Settings], list[Measurement]]


def time_call(
    name: str,
    operation: Callable[[], object],
    settings: Settings,
    *,
    floor: str | None = None,
    extra_floors: tuple[str, ...] = (),
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
        description=description,
        median=statistics.median(per_op),
        repeats=settings.repeats,
        number=number,
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


# --- suites ---------------------------------------------------------------------------------


def suite_workflow(settings: Settings) -> list[Measurement]:
    """Loading and validating workflow definitions, against parsing the YAML alone.

    Floors: ``yaml.load`` with the libyaml C loader (the pure-Python SafeLoader when
    PyYAML has no C loader), which is also what rectify's own loader is built on; and the
    pure-Python SafeLoader, the floor a host without libyaml would have.
    """
    hazard = WORKFLOWS / "hazard.yaml"
    text = hazard.read_text(encoding="utf-8")  # read once, outside the timing
    files = sorted(p for p in WORKFLOWS.rglob("*") if p.suffix in (".yaml", ".yml"))
    folder = str(WORKFLOWS)

    report = rectify.validate_paths([folder])
    if not report.clean:  # the timing is still taken, but say that the folder is not clean
        print(
            f"note: validate_paths found {len(report.diagnostics)} diagnostics in {folder}",
            file=sys.stderr,
        )

    def python_load() -> object:
        return yaml.load(text, Loader=yaml.SafeLoader)

    if C_SAFE_LOADER is not None:
        c_loader = C_SAFE_LOADER

        def floor_load() -> object:
            return yaml.load(text, Loader=c_loader)  # noqa: S506 - CSafeLoader is safe

        def floor_folder() -> object:
            return [yaml.load(p.read_bytes(), Loader=c_loader) for p in files]  # noqa: S506

        loader = "CSafeLoader"
        loader_note = "the libyaml C loader"
    else:
        floor_load = python_load

        def floor_folder() -> object:
            return [yaml.load(p.read_bytes(), Loader=yaml.SafeLoader) for p in files]

        loader = "SafeLoader"
        loader_note = "pure Python: this PyYAML has no C loader (libyaml), so no CSafeLoader"

    floor = f"yaml.load[{loader}]"
    python_floor = "yaml.load[SafeLoader]"
    folder_floor = f"yaml.load[{loader}] x{len(files)} files"
    out = [
        time_call(
            floor,
            floor_load,
            settings,
            description=f"yaml.load(text, Loader=yaml.{loader}) of {hazard.name}: {loader_note}",
        )
    ]
    if C_SAFE_LOADER is not None:
        out.append(
            time_call(
                python_floor,
                python_load,
                settings,
                description=f"yaml.load(text, Loader=yaml.SafeLoader) of {hazard.name}: "
                "pure Python",
            )
        )
    out.append(
        time_call(
            "rectify.load_workflow",
            lambda: rectify.load_workflow(text),
            settings,
            floor=floor,
            extra_floors=(python_floor,) if C_SAFE_LOADER is not None else (),
            description=f"rectify.load_workflow(text) of {hazard.name}: located YAML, "
            "parse, static checks, frozen spec",
        )
    )
    out.append(
        time_call(
            folder_floor,
            floor_folder,
            settings,
            description=f"read and yaml.load every file of workflows/ with {loader}: "
            + ", ".join(p.name for p in files),
        )
    )
    out.append(
        time_call(
            "rectify.validate_paths",
            lambda: rectify.validate_paths([folder]),
            settings,
            floor=folder_floor,
            description='rectify.validate_paths(["workflows"]): read, parse and check every '
            "file of the folder (workflows against the category table and back)",
        )
    )
    return out


#: Every suite by name, in the order they run when none is named.
SUITES: Final[dict[str, Suite]] = {
    "workflow": suite_workflow,
}


# --- running and reporting ------------------------------------------------------------------


def run_suite(name: str, settings: Settings) -> SuiteResult:
    """Run the suite called ``name`` and work out its ratios.

    Raises:
        ValueError: The suite names a floor it did not measure, or a name twice.
    """
    measurements = SUITES[name](settings)
    by_name: dict[str, Measurement] = {}
    for m in measurements:
        if m.name in by_name:
            raise ValueError(f"suite {name!r} measured {m.name!r} twice")
        by_name[m.name] = m
    result = SuiteResult(name, measurements)
    for m in measurements:
        for floor_name in m.floors:
            floor = by_name.get(floor_name)
            if floor is None:
                raise ValueError(f"suite {name!r}: {m.name!r} names a floor it did not measure")
            if floor.unit != m.unit:
                raise ValueError(f"suite {name!r}: {m.name!r} and its floor differ in unit")
            result.ratios.append(Ratio(m.name, floor_name, m.value / floor.value))
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
    }


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
                    {"figure": q.figure, "floor": q.floor, "ratio": q.value} for q in r.ratios
                ],
            }
            for r in results
        },
    }


def format_value(value: float, unit: str) -> str:
    """Return ``value`` for reading: times scaled to s, ms, µs or ns."""
    if unit != "s":
        return f"{value:.4g} {unit}"
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
        "timed with time.perf_counter",
        "ratio = rectify / floor, measured in this run; lower is better "
        "(1.00 = no slower than the floor)",
    ]
    for r in results:
        width = max(len(m.name) for m in r.measurements)
        lines += ["", f"suite {r.name}"]
        lines.append(
            f"  {'figure':<{width}}  {'per op':>10}  {'median':>10}  {'ops/s':>10}  vs floor"
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
            lines.append(
                f"  {m.name:<{width}}  {format_value(m.value, m.unit):>10}  {median:>10}  "
                f"{ops:>10}  {vs}"
            )
        lines += ["", "  ratios (rectify / floor, lower is better):"]
        pair_width = max((len(f"{q.figure} / {q.floor}") for q in r.ratios), default=0)
        lines.extend(
            f"    {f'{q.figure} / {q.floor}':<{pair_width}}  {q.value:6.2f}" for q in r.ratios
        )
        lines += ["", "  what was measured:"]
        lines.extend(f"    {m.name}: {m.description}" for m in r.measurements if m.description)
    return "\n".join(lines)


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
