"""docs/service.md's curl session runs, as written, against ``rectify serve`` on the demo's store.

The session walks a case through its life over HTTP (open, assign with an idempotent
retry and a stale fire refused, plan, fixed, verify, close), reads its history and its
notice, and checks the scopes. The server is the real command, in its own process.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from tests.conftest import ROOT, demo_copy

DOC = (ROOT / "docs" / "service.md").read_text(encoding="utf-8")
RECTIFY = Path(sys.executable).with_name("rectify")


def session_script() -> str:
    blocks: list[str] = re.findall(r"```bash\n(.*?)```", DOC, re.S)
    assert len(blocks) == 1, "docs/service.md has one bash session"
    return blocks[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(
    demo_run: tuple[Result, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, int]]:
    """Serve a copy of the demo's store with ``rectify serve``; yield its path and port."""
    db = demo_copy(demo_run, tmp_path_factory) / "rectify.db"
    port = free_port()
    env = {**os.environ, "RECTIFY_DB": str(db), "RECTIFY_WEEKENDS_FALLBACK": "1"}
    server = subprocess.Popen(
        [str(RECTIFY), "serve", "--port", str(port), "--no-console"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            server.kill()
            pytest.fail(f"rectify serve did not start: {server.communicate()[0]!r}")
        yield db, port
    finally:
        server.terminate()
        server.communicate(timeout=30)


@pytest.mark.slow
def test_the_curl_session_walks_a_case_through_its_life(served: tuple[Path, int]) -> None:
    for tool in ("bash", "curl", "sha256sum", "date"):
        if shutil.which(tool) is None:
            pytest.skip(f"the session needs {tool}")
    db, port = served
    env = {
        **os.environ,
        "RECTIFY_DB": str(db),
        "PORT": str(port),
        "PATH": f"{RECTIFY.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "RECTIFY_WEEKENDS_FALLBACK": "1",  # the session dates its case today
    }
    run = subprocess.run(
        ["bash", "-c", session_script()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert 'etag: "0"' in out.lower()
    assert "try 1: 200" in out
    assert "try 2: 200" in out
    assert '"status":409' in out
    assert '"expected":0,"found":1' in out
    states = re.findall(r"^\d \S+ (\w+) ", out, re.M)
    assert states == ["discovered", "assigned", "planned", "fixed", "verified", "closed"]
    assert "\nclosed\n" in out
    assert "【整改通知】" in out
    assert "西城社区: 404" in out
    assert "verify ok: True" in out


def test_the_session_is_shown_with_its_output() -> None:
    shown = re.search(r"It prints .*?```text\n(.*?)```", DOC, re.S)
    assert shown is not None
    for line in ("try 2: 200", "closed", "西城社区: 404", "verify ok: True"):
        assert line in shown.group(1)


def test_readme_says_the_one_command_that_serves_the_demo() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make serve" in readme
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = re.search(r"^serve:.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert target is not None
    assert "rectify serve --db out/rectify.db" in target.group(1)
    assert "rectify token create" in target.group(1)
