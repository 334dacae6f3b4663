"""Opening a SQL store safely: a connect timeout, no store made by mistake, no foreign tables.

``open_store`` must not hang on a server that accepts connections and never answers, must
not create a store where the caller only meant to read one (``create=False``), must not
spread its tables into a database that holds someone else's (``shared=False``), and must
turn a malformed URL into a ``StoreError`` that masks the password. The silent server is a
listening socket on 127.0.0.1 that never accepts: the kernel completes the TCP handshake and
then nothing is ever said, which is what a hung database looks like to a client.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rectify.exceptions import SchemaError, StoreError
from rectify.stores import SQLStore, open_store

SERVERS = {
    "postgresql": "RECTIFY_TEST_POSTGRES_URL",
    "mariadb": "RECTIFY_TEST_MARIADB_URL",
}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Return the port of a server on 127.0.0.1 that accepts TCP and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


@pytest.mark.parametrize(
    "scheme", ["postgresql+psycopg://postgres", "mysql+pymysql://root"], ids=["pg", "mysql"]
)
def test_a_silent_server_fails_with_a_store_error_after_the_connect_timeout(
    silent_port: int, scheme: str
) -> None:
    with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{silent_port}"):
        open_store(f"{scheme}@127.0.0.1:{silent_port}/test", connect_timeout=1)


def test_the_connect_timeout_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"connect timeout 0 .*positive"):
        open_store(tmp_path / "town.db", connect_timeout=0)


def test_a_missing_sqlite_file_is_not_created_when_create_is_false(tmp_path: Path) -> None:
    target = tmp_path / "typo" / "dir" / "town.db"
    with pytest.raises(StoreError, match=r"no store at .*town\.db.*rectify init"):
        open_store(target, create=False)
    assert not (tmp_path / "typo").exists()


def test_a_sqlite_url_to_a_missing_file_is_not_created_when_create_is_false(
    tmp_path: Path,
) -> None:
    target = tmp_path / "town.db"
    with pytest.raises(StoreError, match="no store at"):
        open_store(f"sqlite:///{target}", create=False)
    assert not target.exists()


def test_an_empty_database_is_no_store_when_create_is_false(tmp_path: Path) -> None:
    target = tmp_path / "empty.db"
    sqlite3.connect(target).close()
    with pytest.raises(StoreError, match=r"no store at .*empty\.db"):
        open_store(target, create=False)
    assert _tables(target) == []


def test_an_existing_store_opens_when_create_is_false(tmp_path: Path) -> None:
    target = tmp_path / "town.db"
    open_store(target).close()
    store = open_store(target, create=False)
    store.close()
    assert "rectify_cases" in _tables(target)


def test_the_schema_is_not_set_up_beside_foreign_tables(tmp_path: Path) -> None:
    target = tmp_path / "app.db"
    _make_table(target, "accounts")
    _make_table(target, "orders")
    with pytest.raises(SchemaError, match=r"'accounts', 'orders'.*shared=True"):
        open_store(target)
    assert _tables(target) == ["accounts", "orders"]


def test_shared_lets_the_schema_in_beside_foreign_tables_and_it_reopens(tmp_path: Path) -> None:
    target = tmp_path / "app.db"
    _make_table(target, "accounts")
    open_store(target, shared=True).close()
    open_store(target).close()  # a store is there now: opening it needs no opt-in
    assert {"accounts", "rectify_cases", "rectify_schema"} <= set(_tables(target))


def test_tables_with_the_store_prefix_are_not_foreign(tmp_path: Path) -> None:
    target = tmp_path / "town.db"
    _make_table(target, "town_notes")
    open_store(target, prefix="town_").close()
    assert "town_cases" in _tables(target)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://:::", "postgresql://:::"),
        ("postgresql://clerk:secret@[::1", "postgresql://clerk:***@[::1"),
        ("mysql+pymysql://clerk:secret@db:port/town", "mysql+pymysql://clerk:***@db:port/town"),
        ("nosuchdriver://x", "nosuchdriver://x"),
    ],
)
def test_a_malformed_url_is_a_store_error_naming_it_with_the_password_masked(
    url: str, shown: str
) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert shown in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("backend", list(SERVERS))
def test_a_server_database_without_the_store_is_refused_when_create_is_false(
    backend: str,
) -> None:
    url = os.environ.get(SERVERS[backend])
    if not url:
        pytest.skip(f"{backend} tests need a server: set {SERVERS[backend]}")
    prefix = f"n{uuid.uuid4().hex[:8]}_"
    with pytest.raises(StoreError, match=rf"no store at .*{prefix}schema"):
        open_store(url, prefix=prefix, create=False)
    engine = sa.create_engine(url)
    try:
        names = sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert [n for n in names if n.startswith(prefix)] == []


def test_sqlstore_open_keeps_sharing_by_default(tmp_path: Path) -> None:
    target = tmp_path / "app.db"
    _make_table(target, "accounts")
    with SQLStore.open(target) as store:
        assert store.prefix == "rectify_"


def _make_table(path: Path, name: str) -> None:
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)")
    connection.close()


def _tables(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    with connection:
        rows = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
    connection.close()
    return [str(name) for (name,) in rows]
