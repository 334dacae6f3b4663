"""The benchmark runner runs and reports every figure; no timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    assert "suite engine" in done.stdout
    assert "suite sweep" in done.stdout
    assert "suite store" in done.stdout
    assert "suite notices" in done.stdout
    assert "suite reports" in done.stdout
    assert "suite service" in done.stdout
    assert "lower is better" in done.stdout
    assert "rectify.load_workflow" in done.stdout


def test_unknown_suite_is_a_usage_error() -> None:
    done = run("no_such_suite", "--quick")
    assert done.returncode == 2
    assert "unknown suite no_such_suite" in done.stderr
    assert "workflow" in done.stderr


def _one(figures: dict[str, dict[str, Any]], prefix: str) -> dict[str, Any]:
    """Return the only figure whose name starts with ``prefix`` (names carry case counts)."""
    found = [f for name, f in figures.items() if name.startswith(prefix)]
    assert len(found) == 1, (prefix, sorted(figures))
    return found[0]


@pytest.fixture(scope="module")
def engine_and_sweep() -> dict[str, Any]:
    """The JSON report of ``run.py engine sweep --quick --json``, run once for these tests."""
    done = run("engine", "sweep", "--quick", "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_engine_and_sweep_figures_are_positive_with_positive_ratios(
    engine_and_sweep: dict[str, Any],
) -> None:
    report = engine_and_sweep
    assert report["settings"]["quick"] is True
    assert list(report["suites"]) == ["engine", "sweep"]
    assert report["environment"]["transitions"]
    assert report["environment"]["python-statemachine"]
    for suite in report["suites"].values():
        names = {f["name"] for f in suite["figures"]}
        for figure in suite["figures"]:
            assert figure["value"] > 0
            assert figure["number"] > 0
            assert figure["repeats"] >= 1
            assert figure["description"]
            for floor in [figure["floor"], *figure["extra_floors"]]:
                assert floor is None or floor in names
        assert suite["ratios"]
        for ratio in suite["ratios"]:
            assert ratio["ratio"] > 0
            assert ratio["target"] is None or ratio["target"] > 0
            assert ratio["target_met"] is (
                None if ratio["target"] is None else ratio["ratio"] <= ratio["target"]
            )


def test_engine_suite_compares_rectify_with_every_peer(engine_and_sweep: dict[str, Any]) -> None:
    engine = engine_and_sweep["suites"]["engine"]
    figures = {f["name"]: f for f in engine["figures"]}
    ratios = {(r["figure"], r["floor"]): r for r in engine["ratios"]}
    table = _one(figures, "dict table [")
    shared = _one(figures, "transitions, shared machine [")
    per_case = _one(figures, "transitions, Machine per case [")
    psm = _one(figures, "python-statemachine [")
    engines = sorted(
        (f for name, f in figures.items() if name.startswith("rectify.Engine [")),
        key=lambda f: f["number"],
    )
    assert len(engines) == 2
    few, many = engines
    for figure in (table, shared, per_case, psm, few, many):
        assert figure["unit"] == "s"
        assert figure["ops_per_second"] > 0
        assert figure["number"] % 6 == 0  # six events per case: open and five more
    assert table["floor"] is None
    assert many["number"] == table["number"] == shared["number"]
    assert few["number"] == per_case["number"] == psm["number"] < many["number"]
    # rectify against every peer and the floor, each at the same number of cases.
    for figure, floor in [(many, table), (many, shared), (few, per_case), (few, psm)]:
        assert (figure["name"], floor["name"]) in ratios
    assert ratios[many["name"], shared["name"]]["target"] == 2.0
    assert ratios[few["name"], per_case["name"]]["target"] == 0.2
    assert "SHA-256" in many["description"]

    memory = {name: f for name, f in figures.items() if name.startswith("memory: ")}
    assert set(memory) == {
        "memory: dict table",
        "memory: transitions, shared machine",
        "memory: transitions, Machine per case",
        "memory: python-statemachine",
        "memory: rectify.Engine",
    }
    assert all(f["unit"] == "B/case" and f["ops_per_second"] is None for f in memory.values())
    mine = ratios["memory: rectify.Engine", "memory: transitions, shared machine"]
    assert mine["target"] == 1.5


def test_sweep_suite_has_each_size_against_its_loop_and_the_growth(
    engine_and_sweep: dict[str, Any],
) -> None:
    sweep = engine_and_sweep["suites"]["sweep"]
    figures = {f["name"]: f for f in sweep["figures"]}
    ratios = {(r["figure"], r["floor"]): r for r in sweep["ratios"]}
    sweeps = sorted(
        (f for name, f in figures.items() if name.startswith("rectify.engine.sweep [")),
        key=lambda f: f["number"],
    )
    assert len(sweeps) == 3
    smallest = sweeps[0]
    for figure in sweeps:
        assert figure["unit"] == "s"
        loop = figures[figure["floor"]]
        assert loop["name"].startswith("due-date loop [")
        assert loop["number"] == figure["number"]
        assert (figure["name"], loop["name"]) in ratios
    for figure in sweeps[1:]:  # how the cost per case grows with the number of cases
        assert (figure["name"], smallest["name"]) in ratios
    quiet = _one(figures, "rectify.engine.sweep, none due [")
    assert figures[quiet["floor"]]["name"].startswith("due-date loop, none due [")


def test_store_suite_compares_each_figure_with_raw_sql_in_the_same_run() -> None:
    done = run("store", "--quick", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert list(report["suites"]) == ["store"]
    store = report["suites"]["store"]
    figures: dict[str, dict[str, Any]] = {f["name"]: f for f in store["figures"]}
    ratios: dict[tuple[str, str], dict[str, Any]] = {
        (r["figure"], r["floor"]): r for r in store["ratios"]
    }
    for figure in figures.values():
        assert figure["unit"] == "s"
        assert figure["value"] > 0
        assert figure["ops_per_second"] > 0
        assert figure["number"] > 0
        assert figure["repeats"] >= 1
        assert figure["description"]
        for floor in [figure["floor"], *figure["extra_floors"]]:
            assert floor is None or floor in figures
            if floor is not None:
                assert ratios[figure["name"], floor]["ratio"] > 0
    assert all(r["ratio"] > 0 for r in ratios.values())

    def rectify_against(prefix: str, floor_prefix: str) -> dict[str, Any]:
        figure = _one(figures, prefix)
        floor = figures[figure["floor"]]
        assert floor["name"].startswith(floor_prefix)
        assert floor["floor"] is None
        assert floor["number"] == figure["number"]
        return ratios[figure["name"], floor["name"]]

    # The targets of the issue: half of raw's rate, at most twice the raw query's time.
    assert (
        rectify_against("Ledger.fire on SQLStore [", "raw sqlite3, durable fires [")["target"]
        == 2.0
    )
    assert rectify_against("SQLStore.add_many [", "raw executemany import [")["target"] == 2.0
    assert rectify_against("Ledger.import_cases [", "raw executemany import [")["target"] == 2.0
    listing = rectify_against(
        "SQLStore.summaries overdue_on [", "raw indexed SELECT overdue columns ["
    )
    assert listing["target"] == 2.0
    assert "[20,000]" in listing["figure"]  # --quick: 20,000 stored cases
    query = rectify_against("SQLStore.query overdue_on [", "raw SELECT overdue with records [")
    assert query["target"] == 2.0
    assert (
        "raw indexed SELECT overdue ["
        in _one(figures, "SQLStore.query overdue_on [")["extra_floors"][0]
    )
    assert rectify_against("Ledger.sweep [", "raw sweep [")["target"] == 2.0
    # --quick: the same 200 due cases among 2,000 and among 20,000 stored cases.
    small = rectify_against("Ledger.sweep, 200 due [2,000 stored]", "raw indexed sweep, 200 due [")
    big = rectify_against("Ledger.sweep, 200 due [20,000 stored]", "raw indexed sweep, 200 due [")
    assert small["target"] == big["target"] == 2.0
    assert ratios[big["figure"], small["figure"]]["target"] == 1.3

    postgres = sorted(
        (f for name, f in figures.items() if name.startswith("Ledger.fire on PostgreSQL")),
        key=lambda f: f["number"],
    )
    if os.environ.get("RECTIFY_BENCH_POSTGRES_URL") or os.environ.get("RECTIFY_TEST_POSTGRES_URL"):
        assert [f["name"].split(", ")[1].split(" [")[0] for f in postgres] == [
            "1 process",
            "2 processes",
            "4 processes",
        ]
        for figure in postgres:
            assert figures[figure["floor"]]["name"].startswith("raw psycopg, ")
        one = postgres[0]["name"]
        assert all(one in f["extra_floors"] for f in postgres[1:])
        assert all(ratios[f["name"], f["floor"]]["target"] == 2.0 for f in postgres)
        assert ratios[postgres[-1]["name"], one]["target"] == 0.67  # 4 processes: 1.5x the rate
    else:
        assert postgres == []
        assert "PostgreSQL figures were skipped" in done.stderr
        assert "RECTIFY_BENCH_POSTGRES_URL" in done.stderr


def test_notices_suite_renders_the_slip_against_raw_jinja2() -> None:
    done = run("notices", "--quick", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    notices = report["suites"]["notices"]
    figures = {f["name"]: f for f in notices["figures"]}
    assert set(figures) == {"jinja2 render [compiled]", "rectify render [slip]"}
    assert all(f["value"] > 0 for f in figures.values())
    (ratio,) = notices["ratios"]
    assert ratio["floor"] == "jinja2 render [compiled]"
    assert ratio["ratio"] > 0


def test_reports_suite_compares_the_past_circular_with_now_and_the_raw_events() -> None:
    done = run("reports", "--quick", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert list(report["suites"]) == ["reports"]
    suite = report["suites"]["reports"]
    figures: dict[str, dict[str, Any]] = {f["name"]: f for f in suite["figures"]}
    ratios: dict[tuple[str, str], dict[str, Any]] = {
        (r["figure"], r["floor"]): r for r in suite["ratios"]
    }
    past = _one(figures, "circular as of 2024-06-22 [")
    now = _one(figures, "circular now [")
    raw = _one(figures, "raw sqlite3 events as of 2024-06-22 [")
    as_of = _one(figures, "Ledger.cases_as_of(2024-06-22) [")
    cases = _one(figures, "Ledger.cases() [")
    for figure in (past, now, raw, as_of, cases):
        assert figure["unit"] == "s"
        assert figure["value"] > 0
        assert figure["ops_per_second"] > 0
        assert figure["number"] == 1  # one circular, one pass over the store
        assert figure["repeats"] >= 1
        assert "at scale 1 (" in figure["description"]  # --quick: the demo at scale 1
    for floor in (now, raw, cases):
        assert floor["floor"] is None
    # The target: the circular of a past day at most 3x the circular of now.
    assert past["floor"] == now["name"]
    assert past["extra_floors"] == [raw["name"]]
    assert ratios[past["name"], now["name"]]["target"] == 3.0
    assert ratios[past["name"], raw["name"]]["target"] is None
    assert as_of["floor"] == cases["name"]
    assert all(r["ratio"] > 0 for r in ratios.values())
    assert len(ratios) == 3

    per_case = _one(figures, "circular as of 2024-06-22, per case [")
    assert per_case["unit"] == "µs/case"
    assert per_case["value"] > 0
    assert per_case["ops_per_second"] is None
    assert per_case["floor"] is None
    assert per_case["name"].endswith(past["name"][len("circular as of 2024-06-22 ") :])
    assert "1,000,000" in per_case["description"]
    replayed = figures["cases replayed as of 2024-06-22"]
    assert replayed["unit"] == "%"
    assert 0 <= replayed["value"] <= 100
    assert "replayed" in replayed["description"]


def test_service_suite_compares_http_with_direct_fires_on_sqlite() -> None:
    done = subprocess.run(
        [sys.executable, str(RUNNER), "service", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "RECTIFY_BENCH_SERVICE_BACKENDS": "sqlite"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert list(report["suites"]) == ["service"]
    suite = report["suites"]["service"]
    figures: dict[str, dict[str, Any]] = {f["name"]: f for f in suite["figures"]}
    ratios: dict[tuple[str, str], dict[str, Any]] = {
        (r["figure"], r["floor"]): r for r in suite["ratios"]
    }
    assert not any("PostgreSQL" in name for name in figures)  # SQLite only, as asked
    direct = _one(figures, "direct, SQLite [")
    http = _one(figures, "HTTP, SQLite, 1 worker [")
    assert direct["floor"] is None
    assert http["floor"] == direct["name"]
    assert direct["unit"] == http["unit"] == "s"
    assert direct["number"] == http["number"] > 0
    assert direct["ops_per_second"] > 0
    assert http["ops_per_second"] > 0
    for which in ("p50", "p99"):
        floor = _one(figures, f"direct {which}, SQLite [")
        figure = _one(figures, f"HTTP {which}, SQLite, 1 worker [")
        assert floor["unit"] == figure["unit"] == "ms"
        assert figure["floor"] == floor["name"]
        assert figure["value"] > 0
        assert floor["value"] > 0
        assert ratios[figure["name"], floor["name"]]["ratio"] > 0
    assert ratios[http["name"], direct["name"]]["ratio"] > 0
    assert all(f["description"] for f in figures.values())
    assert len(figures) == 6


def test_service_soak_runs_briefly_and_finds_nothing() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--seconds", "5", "--clients", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no findings" in done.stdout
    assert "verify: ok" in done.stdout
    assert "requests: " in done.stdout
    for kind in ("open", "fire", "history", "list", "bad"):
        assert f"  {kind} " in done.stdout
