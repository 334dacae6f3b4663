"""What the service remembers for a while: idempotency keys (a day), live tokens (seconds)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from rectify.exceptions import StoreError
from rectify.server._access import (
    KEY_SECONDS,
    PRUNE_EVERY,
    IdempotencyConflictError,
    MemoryServiceStore,
    ServiceStore,
    SQLServiceStore,
    StoredResponse,
    TokenCache,
)
from rectify.stores import SQLStore
from tests.test_cli import run, run_main

ANSWER = StoredResponse(200, '{"ok":true}')
NOW = dt.datetime(2024, 5, 6, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def keys(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServiceStore, Clock]]:
    clock = Clock()
    if request.param == "memory":
        yield MemoryServiceStore(clock=clock), clock
        return
    store = SQLStore.open(tmp_path / "rectify.db")
    try:
        yield SQLServiceStore(store.engine, store.prefix, clock=clock), clock
    finally:
        store.close()


def test_a_retry_within_the_day_gets_the_kept_answer(keys: tuple[ServiceStore, Clock]) -> None:
    services, clock = keys
    assert services.begin("t1", "k", "f") is None
    services.finish("t1", "k", ANSWER)
    clock.now += KEY_SECONDS - 1
    assert services.begin("t1", "k", "f") == ANSWER
    with pytest.raises(IdempotencyConflictError):
        services.begin("t1", "k", "another request")


def test_after_the_day_the_key_is_new_again(keys: tuple[ServiceStore, Clock]) -> None:
    services, clock = keys
    assert services.begin("t1", "k", "f") is None
    services.finish("t1", "k", ANSWER)
    clock.now += KEY_SECONDS + 1
    assert services.begin("t1", "k", "another request") is None  # claimed anew
    with pytest.raises(IdempotencyConflictError) as running:
        services.begin("t1", "k", "another request")
    assert running.value.running


def test_a_key_whose_request_never_answered_is_freed_after_the_day(
    keys: tuple[ServiceStore, Clock],
) -> None:
    services, clock = keys
    assert services.begin("t1", "k", "f") is None  # the worker died before it answered
    with pytest.raises(IdempotencyConflictError):
        services.begin("t1", "k", "f")
    clock.now += KEY_SECONDS + 1
    assert services.begin("t1", "k", "f") is None


def test_expired_keys_are_dropped_from_the_table_now_and_then(tmp_path: Path) -> None:
    clock = Clock()
    store = SQLStore.open(tmp_path / "rectify.db")
    try:
        services = SQLServiceStore(store.engine, store.prefix, clock=clock)
        for n in range(10):
            services.begin("t1", f"old-{n}", "f")
        clock.now += KEY_SECONDS + 1
        for n in range(PRUNE_EVERY - 10):
            services.begin("t1", f"new-{n}", "f")
        with store.engine.connect() as conn:
            table = sa.table(f"{store.prefix}api_requests", sa.column("key"))
            keys = conn.execute(sa.select(table.c.key)).scalars()
            assert not [k for k in keys if k.startswith("old-")]
    finally:
        store.close()


def test_a_revoked_token_in_constant_use_drops_out_of_the_cache() -> None:
    clock = Clock()
    services = MemoryServiceStore()
    text, info = services.create_token("t-1", ["town_office"], None, now=NOW)
    cache = TokenCache(services, 2.0, clock=clock)
    assert cache.authenticate(text) is not None
    services.revoke(info.id, now=NOW)
    for _ in range(3):  # used every second: being used must not keep it remembered
        clock.now += 0.9
        if cache.authenticate(text) is None:
            break
    assert cache.authenticate(text) is None
    assert cache.remembered(text) is None


@pytest.mark.parametrize(
    "change",
    [{"roles": "not json"}, {"roles": '{"a": 1}'}, {"created_at": "yesterday"}],
    ids=["roles-not-json", "roles-not-a-list", "time-not-iso"],
)
def test_an_altered_token_row_is_a_clear_store_error(
    tmp_path: Path, change: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "rectify.db"
    run("init", "--db", db)
    store = SQLStore.open(db)
    try:
        services = SQLServiceStore(store.engine, store.prefix)
        text, info = services.create_token("t-1", ["town_office"], None, now=NOW)
        table = sa.table(f"{store.prefix}api_tokens", *(sa.column(c) for c in ("id", *change)))
        with store.engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == info.id).values(**change))
        with pytest.raises(StoreError, match=info.id):
            services.authenticate(text)
    finally:
        store.close()
    code, _, err = run_main(capsys, "token", "list", "--db", db)
    assert code == 1
    assert "rectify: error:" in err
    assert info.id in err
    assert "Traceback" not in err
