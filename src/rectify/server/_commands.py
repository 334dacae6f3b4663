"""The service's commands: ``rectify serve``, ``rectify token`` and ``rectify deliver``.

They join the ``rectify`` command through the ``rectify.commands`` entry points (see
``rectify/cli/__init__.py``), so the command line never imports the service: this module
imports only click and the command line's helpers at first, and the server extra
(FastAPI, uvicorn, httpx) when a command runs. Without the extra, a command says how to
install it.

``serve`` runs the application that :func:`make_app` builds from the ``RECTIFY_*``
environment (the same store and calendar as every command), under uvicorn; with
``--workers`` above 1 (PostgreSQL only) each worker process builds its own. With
``--webhooks`` one delivery worker runs beside them, in the serving process.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from rectify.cli._context import _ledger, _table, db_option
from rectify.engine._engine import TIMEZONE
from rectify.exceptions import RectifyError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from rectify.ledger import Ledger
    from rectify.server._access import JwtVerifier, ServiceStore

__all__ = ["COMMANDS", "deliver", "make_app", "serve", "token"]

_EXTRA: Final = "the service needs the server extra: pip install 'rectify[server]'"
_JWT_VARIABLES: Final = ("RECTIFY_JWT_KEY", "RECTIFY_JWT_ALGORITHMS")


def _need_server() -> None:
    try:
        import fastapi  # noqa: F401, PLC0415
        import uvicorn  # noqa: F401, PLC0415
    except ImportError as exc:
        raise click.ClickException(_EXTRA) from exc


@contextmanager
def _services(db: str) -> Iterator[tuple[Ledger, ServiceStore]]:
    """Open the ledger on ``db`` (which must exist) and its service store."""
    from rectify.server._access import service_store_for  # noqa: PLC0415

    with _ledger(db) as ledger:
        yield ledger, service_store_for(ledger.store)


def _jwt_from_env() -> JwtVerifier | None:
    """Return the JSON Web Token verifier ``RECTIFY_JWT_*`` describe, if a key is given.

    ``RECTIFY_JWT_KEY`` is the key itself or ``@file`` (a PEM public key);
    ``RECTIFY_JWT_ALGORITHMS`` (comma-separated, ``RS256`` by default),
    ``RECTIFY_JWT_ISSUER`` and ``RECTIFY_JWT_AUDIENCE`` what the tokens must say.
    """
    from rectify.server._access import JwtVerifier  # noqa: PLC0415

    key = os.environ.get("RECTIFY_JWT_KEY", "")
    if not key:
        return None
    if key.startswith("@"):
        key = Path(key[1:]).read_text(encoding="utf-8")
    algorithms = tuple(
        a.strip() for a in os.environ.get("RECTIFY_JWT_ALGORITHMS", "RS256").split(",") if a.strip()
    )
    if not algorithms or any(a.lower() == "none" for a in algorithms):
        raise click.UsageError("RECTIFY_JWT_ALGORITHMS must name signing algorithms (not none)")
    return JwtVerifier(
        key,
        algorithms,
        issuer=os.environ.get("RECTIFY_JWT_ISSUER") or None,
        audience=os.environ.get("RECTIFY_JWT_AUDIENCE") or None,
    )


def make_app() -> FastAPI:
    """Return the service over the store ``RECTIFY_DB`` names (uvicorn's factory).

    The store stays open for the application's life and closes when uvicorn shuts it down.
    """
    from rectify.server._app import create_app  # noqa: PLC0415

    stack = ExitStack()
    ledger, services = stack.enter_context(_services(os.environ.get("RECTIFY_DB", "rectify.db")))
    return create_app(
        ledger,
        services=services,
        jwt=_jwt_from_env(),
        console=os.environ.get("RECTIFY_CONSOLE", "1") != "0",
        on_shutdown=stack.close,
    )


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (above 1: PostgreSQL only).",
)
@click.option(
    "--webhooks",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Deliver the outbox to the hooks this YAML file names (see rectify deliver).",
)
@click.option("--no-console", is_flag=True, help="Serve the API only, not the web console.")
def serve(
    *, db: str, host: str, port: int, workers: int, webhooks: Path | None, no_console: bool
) -> None:
    """Serve the ledger over HTTP: the API under /api/v1, the web console under /.

    Callers need a token (rectify token create). The OpenAPI document is at
    /api/v1/openapi.json. RECTIFY_JWT_KEY (and _ALGORITHMS, _ISSUER, _AUDIENCE) also admit
    JSON Web Tokens a town's identity provider signs.
    """
    _need_server()
    import uvicorn  # noqa: PLC0415

    if workers > 1 and not db.startswith(("postgresql", "postgres")):
        raise click.UsageError(
            f"--workers {workers} needs a PostgreSQL store; a SQLite store is served by one "
            "process (--workers 1)"
        )
    _jwt_from_env()  # a bad setting is refused before the workers start
    with _services(db) as (_, services):  # the service tables are set up once, here
        live = sum(t.revoked_at is None for t in services.tokens())
        if not live:
            click.echo(
                "rectify: no token yet: make one with "
                "rectify token create <actor> --role <role> --town",
                err=True,
            )
    os.environ["RECTIFY_DB"] = db
    os.environ["RECTIFY_CONSOLE"] = "0" if no_console else "1"
    stop = threading.Event()
    worker = _deliverer(db, webhooks, stop) if webhooks else None
    try:
        uvicorn.run(
            "rectify.server._commands:make_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
        )
    finally:
        stop.set()
        if worker is not None:
            worker.join()


def _deliverer(db: str, webhooks: Path, stop: threading.Event) -> threading.Thread:
    from rectify.server._webhooks import load_webhooks  # noqa: PLC0415

    config = load_webhooks(webhooks)  # refused before serving

    def run() -> None:
        from rectify.server._webhooks import Deliverer  # noqa: PLC0415

        with _ledger(db) as ledger:
            deliverer = Deliverer(ledger, config)
            try:
                deliverer.run_forever(stop=stop)
            finally:
                deliverer.close()

    thread = threading.Thread(target=run, name="rectify-deliver", daemon=True)
    thread.start()
    return thread


@click.command()
@db_option
@click.option(
    "--webhooks",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The YAML file naming the hooks, the secret's variable and the retry policy.",
)
@click.option("--once", is_flag=True, help="One round, then exit (for cron).")
@click.option(
    "--interval", default=1.0, show_default=True, type=click.FloatRange(0.05, 3600), help="Seconds"
)
def deliver(*, db: str, webhooks: Path, once: bool, interval: float) -> None:
    """Deliver the outbox to the host's webhooks, signed, retried, dead-lettered.

    Runs until interrupted (Ctrl-C), or one round with --once. Dead letters are listed by
    rectify notices --failed and re-driven through POST /api/v1/outbox/redrive.
    """
    _need_server()
    from rectify.server._webhooks import Deliverer, load_webhooks  # noqa: PLC0415

    config = load_webhooks(webhooks)
    with _ledger(db) as ledger:
        deliverer = Deliverer(ledger, config)
        try:
            if once:
                done = deliverer.run_once(limit=None)
                click.echo(
                    f"已投递 {done.delivered} 件，失败 {done.failed} 件，"
                    f"转入死信 {done.dead} 件，等待重试 {done.waiting} 件"
                )
                return
            stop = threading.Event()
            try:
                deliverer.run_forever(interval=interval, stop=stop)
            except KeyboardInterrupt:
                stop.set()
        finally:
            deliverer.close()


@click.group()
def token() -> None:
    """Make, list and revoke the service's API tokens (kept hashed in the store)."""


@token.command("create")
@click.argument("actor")
@click.option("--role", "roles", multiple=True, required=True, help="A role it may act in.")
@click.option("--community", help="The one community it sees and changes.")
@click.option("--town", is_flag=True, help="It sees and changes the whole town's cases.")
@click.option("--label", default="", help="What it is for (shown by rectify token list).")
@db_option
def create(
    *, actor: str, roles: Sequence[str], community: str | None, town: bool, label: str, db: str
) -> None:
    """Make a token for ACTOR; it is printed once and kept only hashed.

    Give its scope: --community NAME, or --town for the whole town.
    """
    if town == (community is not None):
        raise click.UsageError("give the token's scope: --community NAME or --town")
    with _services(db) as (_, services):
        text, info = services.create_token(
            actor, roles, community, label=label, now=dt.datetime.now(TIMEZONE)
        )
    click.echo(text)
    click.echo(
        f"已创建令牌 {info.id}（{info.actor}，{'、'.join(info.roles)}，"
        f"{info.scope or '全镇'}）；令牌只显示这一次，请妥善保存",
        err=True,
    )


@token.command("list")
@db_option
def list_(*, db: str) -> None:
    """List the tokens: id, actor, roles, scope, label, made and revoked (never the secret)."""
    with _services(db) as (_, services):
        tokens = services.tokens()
    _table(
        ["令牌", "人员", "角色", "范围", "用途", "创建", "吊销"],
        [
            [
                t.id,
                t.actor,
                ",".join(t.roles),
                t.scope or "全镇",
                t.label,
                t.created_at.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M"),
                t.revoked_at.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")
                if t.revoked_at
                else "",
            ]
            for t in tokens
        ],
    )


@token.command("revoke")
@click.argument("token_id")
@db_option
def revoke(*, token_id: str, db: str) -> None:
    """Revoke a token by its id: requests with it are refused from now on."""
    with _services(db) as (_, services):
        if not services.revoke(token_id, now=dt.datetime.now(TIMEZONE)):
            raise RectifyError(f"no live token {token_id!r} (rectify token list shows them)")
    click.echo(f"已吊销令牌 {token_id}")


#: The commands the ``rectify.commands`` entry points name.
COMMANDS: Final = (serve, token, deliver)
