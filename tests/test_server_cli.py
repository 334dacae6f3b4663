"""The service's commands: rectify token create/list/revoke, rectify deliver, rectify serve."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rectify.server import SQLServiceStore, verify_signature
from rectify.stores import SQLStore
from tests.test_cli import invoke, run, run_main

SECRET = "s3cret-for-the-hooks"  # noqa: S105 - a test secret


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "rectify.db"
    run("init", "--db", path)
    return str(path)


def test_a_token_is_printed_once_kept_hashed_listed_and_revoked(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = invoke("token", "create", "正街社区-李", "--role", "community",
                  "--community", "正街社区", "--label", "台账员", "--db", db)  # fmt: skip
    assert made.exit_code == 0, made.output
    text = made.stdout.strip()
    assert text.startswith("rct_")
    secret = text.rsplit("_", 1)[1]
    store = SQLStore.open(db)
    try:
        services = SQLServiceStore(store.engine, store.prefix)
        principal = services.authenticate(text)
        assert principal is not None
        assert (principal.actor, principal.roles, principal.scope) == (
            "正街社区-李",
            ("community",),
            "正街社区",
        )
        with store.engine.connect() as conn:  # the secret itself is nowhere in the store
            dumped = "\n".join(str(line) for line in conn.connection.iterdump())
        assert secret not in dumped
        token_id = principal.token
        listing = run("token", "list", "--db", db)
        assert token_id in listing
        assert "正街社区" in listing
        assert "台账员" in listing
        assert secret not in listing
        assert "已吊销令牌" in run("token", "revoke", token_id, "--db", db)
        assert services.authenticate(text) is None
        code, _, err = run_main(capsys, "token", "revoke", token_id, "--db", db)
        assert code == 1
        assert "no live token" in err
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["--role", "community"], "--community NAME or --town"),
        (["--role", "community", "--town", "--community", "东区"], "--community NAME or --town"),
        (["--town"], "--role"),
    ],
)
def test_a_token_needs_roles_and_exactly_one_scope(db: str, args: list[str], wanted: str) -> None:
    result = invoke("token", "create", "someone", *args, "--db", db)
    assert result.exit_code == 2
    assert wanted in result.output


def test_a_token_with_a_control_character_is_refused(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(capsys, "token", "create", "bad\x07actor", "--role", "x", "--town",
                            "--db", db)  # fmt: skip
    assert code == 1
    assert "printable" in err


def test_token_commands_need_an_existing_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(capsys, "token", "list", "--db", tmp_path / "missing.db")
    assert code == 1
    assert "rectify init" in err


def test_serve_refuses_several_workers_on_sqlite(db: str) -> None:
    result = invoke("serve", "--db", db, "--workers", "4")
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output


class Receiver(http.server.BaseHTTPRequestHandler):
    """Takes every delivery; keeps the bodies and signatures."""

    got: list[tuple[bytes, str]] = []  # noqa: RUF012 - shared with the test on purpose

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((body, self.headers["Rectify-Signature"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.got = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def test_deliver_once_posts_the_outbox_signed_and_empties_it(
    db: str, receiver: str, tmp_path: Path
) -> None:
    data = tmp_path / "ledger.csv"
    data.write_text(
        (Path(__file__).parents[1] / "examples" / "data" / "ledger-2024.csv")
        .read_text(encoding="utf-8")
        .splitlines(keepends=True)[0]
        + "".join(
            (Path(__file__).parents[1] / "examples" / "data" / "ledger-2024.csv")
            .read_text(encoding="utf-8")
            .splitlines(keepends=True)[1:4]
        ),
        encoding="utf-8",
    )
    imported = invoke("import", data, "--db", db, "--at", "2024-03-18T09:00")
    assert imported.exit_code == 0, imported.output
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text(f"secret_env: HOOK_SECRET\nhooks:\n  - url: {receiver}\n", encoding="utf-8")
    result = invoke(
        "deliver", "--webhooks", hooks, "--once", "--db", db, env={"HOOK_SECRET": SECRET}
    )
    assert result.exit_code == 0, result.output
    assert "已投递" in result.stdout
    assert Receiver.got
    for body, signature in Receiver.got:
        stamp = int(signature.split(",")[0].removeprefix("t="))
        assert verify_signature(SECRET.encode(), body, signature, now=stamp)
        assert json.loads(body)["case_id"]
    again = invoke(
        "deliver", "--webhooks", hooks, "--once", "--db", db, env={"HOOK_SECRET": SECRET}
    )
    assert "已投递 0 件" in again.stdout


def test_deliver_refuses_a_bad_hooks_file(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text("secret_env: HOOK_SECRET\nhooks:\n  - url: ftp://x\n", encoding="utf-8")
    code, _, err = run_main(capsys, "deliver", "--webhooks", hooks, "--once", "--db", db)
    assert code == 2
    assert "hooks.0.url: must be an http(s) URL" in err
