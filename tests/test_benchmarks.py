"""The benchmark runner runs and reports every figure; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "benchmarks" / "run.py"

pytestmark = pytest.mark.slow


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )


def test_workflow_suite_json_has_every_figure_and_positive_ratios() -> None:
    done = run("workflow", "--quick", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert report["lower_is_better"] is True
    assert report["settings"]["quick"] is True
    assert set(report["suites"]) == {"workflow"}
    suite = report["suites"]["workflow"]
    figures = {f["name"]: f for f in suite["figures"]}
    assert {"rectify.load_workflow", "rectify.validate_paths"} <= set(figures)
    for figure in figures.values():
        assert figure["unit"] == "s"
        assert figure["value"] > 0
        assert figure["ops_per_second"] > 0
        for floor in [figure["floor"], *figure["extra_floors"]]:
            assert floor is None or floor in figures

    ratios = {(r["figure"], r["floor"]): r["ratio"] for r in suite["ratios"]}
    assert all(ratio > 0 for ratio in ratios.values())
    load = figures["rectify.load_workflow"]
    validate = figures["rectify.validate_paths"]
    assert (load["name"], load["floor"]) in ratios
    assert (validate["name"], validate["floor"]) in ratios
    # The second ratio, against the pure-Python SafeLoader, exists whenever the first floor
    # is the C loader; without libyaml both floors are the same measurement.
    if report["environment"]["libyaml"]:
        assert ("rectify.load_workflow", "yaml.load[SafeLoader]") in ratios
        assert load["floor"] == "yaml.load[CSafeLoader]"
    else:
        assert load["floor"] == "yaml.load[SafeLoader]"


def test_quick_table_of_all_suites_says_lower_is_better() -> None:
    done = run("--quick")
    assert done.returncode == 0, done.stderr
    assert "suite workflow" in done.stdout
    assert "lower is better" in done.stdout
    assert "rectify.load_workflow" in done.stdout


def test_unknown_suite_is_a_usage_error() -> None:
    done = run("no_such_suite", "--quick")
    assert done.returncode == 2
    assert "unknown suite no_such_suite" in done.stderr
    assert "workflow" in done.stderr
