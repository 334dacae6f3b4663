"""The wheel carries the default workflows and notices and works outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, WORKFLOWS


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("rectify-*.whl")
    return built


@pytest.mark.slow
def test_wheel_contains_workflows_notices_and_py_typed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in WORKFLOWS.glob("*.yaml"):
        assert f"rectify/_data/workflows/{shipped.name}" in names
    assert "rectify/py.typed" in names
    for sample in ("ledger-2024.csv", "register-2024.csv", "earlier-2022-2023.csv"):
        assert f"rectify/_data/sample/{sample}" in names  # what `rectify demo` reads
    for shipped in (ROOT / "notices").rglob("*"):
        if shipped.is_file():
            relative = shipped.relative_to(ROOT / "notices").as_posix()
            assert f"rectify/_data/notices/{relative}" in names
    console = ROOT / "src" / "rectify" / "server" / "console"
    for page in console.iterdir():  # the web console's templates and stylesheet
        assert f"rectify/server/console/{page.name}" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[rectify.commands]" in text  # serve, token and deliver join `rectify`
    assert "serve = rectify.server._commands:serve" in text


@pytest.mark.slow
def test_installed_wheel_finds_its_workflows_from_another_directory(
    wheel: Path, tmp_path: Path
) -> None:
    # A wheel of pure Python is importable from the zip itself: no checkout on sys.path.
    script = (
        "import rectify, sys\n"
        "assert '.whl' in rectify.__file__, rectify.__file__\n"
        "folder = rectify.default_workflows()\n"
        "spec = rectify.load_workflow((folder / 'hazard.yaml').read_text('utf-8'))\n"
        "table = rectify.load_categories()\n"
        "print(spec.id, len(table.categories))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(wheel)!r}); {script}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "hazard"
