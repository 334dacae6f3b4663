"""The served application of the ``service`` suite and the soak, and the servers that run it.

uvicorn imports this module in each of its worker processes and calls :func:`app`
(``uvicorn --factory --app-dir benchmarks _service_app:app``), which reads where the store
is from the environment:

- ``RECTIFY_BENCH_SERVICE_DB``: the store, a SQLite file or a database URL;
- ``RECTIFY_BENCH_SERVICE_PREFIX``: its tables' prefix;
- ``RECTIFY_BENCH_SHIFT_WEEKS``: how many whole weeks the ledger's clock runs behind the
  system's (see :class:`ShiftedClock`).

The benchmark and the soak open the same store with :func:`ledger_for` in their own process
(to open cases before the timing, to fire directly, to verify after), so both sides run the
same workflows on the same calendar and clock. :class:`Served` starts and stops the uvicorn
processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Final
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

import rectify
from rectify.server import create_app
from rectify.stores import SQLStore

HERE: Final = Path(__file__).resolve().parent
TZ: Final = ZoneInfo("Asia/Shanghai")
DB_VARIABLE: Final = "RECTIFY_BENCH_SERVICE_DB"
PREFIX_VARIABLE: Final = "RECTIFY_BENCH_SERVICE_PREFIX"
SHIFT_VARIABLE: Final = "RECTIFY_BENCH_SHIFT_WEEKS"
#: The ledger's clock is moved back into the week of this day (the holiday data of
#: chinese-calendar ends with its release, so "now" stays in a year it covers).
ANCHOR: Final = dt.date(2024, 7, 1)
#: Where the API's routes are.
API: Final = "/api/v1"


def shift_weeks(today: dt.date | None = None) -> int:
    """Return how many whole weeks back ``today`` (the system's) is in ``ANCHOR``'s week."""
    return ((today or dt.datetime.now(TZ).date()) - ANCHOR).days // 7


class ShiftedClock:
    """The system's clock moved back by whole weeks: real time, weekdays kept.

    Every process computes the same moment from the same system clock and shift, so the
    records of the uvicorn workers and of the benchmark's own process stay in order.
    """

    def __init__(self, weeks: int) -> None:
        self.shift = dt.timedelta(weeks=weeks)

    def now(self) -> dt.datetime:
        """Return the system's now in Asia/Shanghai, moved back by the shift."""
        return dt.datetime.now(TZ) - self.shift


def ledger_for(db: str, prefix: str, weeks: int) -> rectify.Ledger:
    """Return a ledger with the shipped workflows on the store at ``db`` (tables ``prefix``)."""
    store = SQLStore.open(db, prefix=prefix)
    return rectify.Ledger.with_workflows(store, clock=ShiftedClock(weeks))


def app() -> FastAPI:
    """Return the service over the store the environment names (uvicorn's factory)."""
    ledger = ledger_for(
        os.environ[DB_VARIABLE], os.environ[PREFIX_VARIABLE], int(os.environ[SHIFT_VARIABLE])
    )
    return create_app(ledger, console=False)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 nothing listens on (at the moment of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    """uvicorn serving :func:`app` with ``workers`` processes, on a free port of 127.0.0.1.

    Used as a context manager: the server is up (its health route answers) inside, and
    stopped (SIGTERM, then SIGKILL after ``grace`` seconds) after. uvicorn's own output goes
    to ``log``, which the error names when the server does not come up.
    """

    def __init__(
        self, db: str, prefix: str, weeks: int, *, workers: int, log: Path, grace: float = 10
    ) -> None:
        self.db, self.prefix, self.weeks, self.workers = db, prefix, weeks, workers
        self.log_path = log
        self.grace = grace
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start uvicorn and wait until it answers.

        Raises:
            RuntimeError: It exited, or did not answer within ``timeout`` seconds.
        """
        env = {
            **os.environ,
            DB_VARIABLE: self.db,
            PREFIX_VARIABLE: self.prefix,
            SHIFT_VARIABLE: str(self.weeks),
        }
        command = [
            *(sys.executable, "-m", "uvicorn", "--factory", "_service_app:app"),
            *("--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(self.port)),
            *("--workers", str(self.workers), "--log-level", "warning", "--no-access-log"),
        ]
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(command, env=env, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"uvicorn exited ({self._process.returncode}): {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}{API}/health", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"uvicorn did not answer in {timeout:g} s: {self.tail()}")
            time.sleep(0.1)

    def tail(self, size: int = 2000) -> str:
        """Return the end of uvicorn's output."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-size:]

    def stop(self) -> int | None:
        """Stop uvicorn (SIGTERM, then SIGKILL); return its exit status."""
        process, self._process = self._process, None
        status = None
        if process is not None:
            process.terminate()
            try:
                status = process.wait(self.grace)
            except subprocess.TimeoutExpired:
                process.kill()
                status = process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return status

    def __enter__(self) -> Served:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def drop_prefixed(url: str, prefix: str) -> None:
    """Drop every table whose name starts with ``prefix`` (the store's and the service's)."""
    import sqlalchemy as sa  # noqa: PLC0415 - only for a server

    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine, only=lambda name, _: name.startswith(prefix))
        metadata.drop_all(engine)
    finally:
        engine.dispose()
