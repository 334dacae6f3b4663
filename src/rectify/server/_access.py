"""Who calls the service, and what the service keeps beside the ledger for its callers.

A caller presents a bearer token: an API token this module issued (``rct_<id>_<secret>``,
kept only as the SHA-256 of its secret) or, when the service is given a key, a JSON Web
Token a town's identity provider signed. Either maps to a :class:`Principal`: the actor
the records name, the roles it may act in and its scope, the whole town (``None``) or one
community. A community's principal sees and changes only the cases whose ``community`` is
its own; every read and write of the service goes through :meth:`Principal.sees`.

The service also keeps its idempotency keys: the response to a POST made with an
``Idempotency-Key``, so that the same request sent again gets the same answer and is not
carried out twice. Both live in a :class:`ServiceStore`: in memory beside a memory store,
in two tables of the store's own database beside a SQL store (``<prefix>api_tokens`` and
``<prefix>api_requests``), so that every worker process sees the same tokens and keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Protocol

import attrs
import sqlalchemy as sa

from rectify.documents._contexts import PHONE_ROLES
from rectify.engine._case import Actor
from rectify.exceptions import ArgumentError, RectifyError, StoreError
from rectify.stores._sql import SQLStore
from rectify.stores._store import MemoryStore, Store

__all__ = [
    "KEY_SECONDS",
    "TOKEN_PREFIX",
    "AccessError",
    "IdempotencyConflictError",
    "JwtVerifier",
    "MemoryServiceStore",
    "Principal",
    "SQLServiceStore",
    "ServiceStore",
    "StoredResponse",
    "TokenCache",
    "TokenInfo",
    "service_store_for",
]

#: How every API token starts, so that a leaked one is recognisable (secret scanners).
TOKEN_PREFIX: Final = "rct_"  # noqa: S105 - a prefix, not a secret
_TOKEN: Final = re.compile(r"rct_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
#: The most characters of an actor id, role, scope or label a token carries.
NAME_LENGTH: Final = 200
#: How long an idempotency key is kept from its first request, in seconds (a day, as
#: Stripe keeps them): a retry within it is answered as the first was; after it, the key
#: is new again (and a key whose first request never answered is freed).
KEY_SECONDS: Final = 24 * 3600.0
#: A service store drops its expired keys every this many claims.
PRUNE_EVERY: Final = 256
#: The most characters of an idempotency key.
KEY_LENGTH: Final = 200
#: The most characters of a key's owner as a SQL service store keeps it (longer: hashed).
OWNER_LENGTH: Final = 80
_NAME: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


class AccessError(RectifyError):
    """A token cannot be made, found or used (names what was wrong)."""


class IdempotencyConflictError(RectifyError):
    """An idempotency key was sent again with another request, or while the first runs.

    Attributes:
        running: The first request with the key has not answered yet (else: the requests
            differ).
    """

    def __init__(self, key: str, *, running: bool) -> None:
        self.key = key
        self.running = running
        super().__init__(
            f"Idempotency-Key {key!r} is still being answered; retry later"
            if running
            else f"Idempotency-Key {key!r} was used with another request; use a new key"
        )


def _name(what: str, value: str) -> str:
    if not _NAME.fullmatch(value) or value != value.strip():
        raise AccessError(
            f"a token's {what} {value!r} must be 1 to {NAME_LENGTH} printable characters "
            "without spaces at either end"
        )
    return value


@attrs.frozen
class Principal:
    """Who a request acts for: an actor, the roles it may take, and its scope.

    Attributes:
        actor: The actor id every record the request makes names.
        roles: The roles it may act in (one per request; see :meth:`actor_as`).
        scope: The community it may see and change; ``None``: the whole town.
        token: The token's id (``jwt:<subject>`` for a JSON Web Token).
    """

    actor: str
    roles: tuple[str, ...]
    scope: str | None
    token: str

    @property
    def may_see_phones(self) -> bool:
        """Return whether one of its roles reads phone and ID numbers unmasked."""
        return any(role in PHONE_ROLES for role in self.roles)

    @property
    def reader(self) -> str:
        """Return the role documents are rendered for (one that sees phones, if any)."""
        return next((r for r in self.roles if r in PHONE_ROLES), self.roles[0])

    @property
    def is_town(self) -> bool:
        """Return whether the principal's scope is the whole town."""
        return self.scope is None

    def sees(self, data: Mapping[str, object]) -> bool:
        """Return whether a case with ``data`` is in the principal's scope."""
        return self.scope is None or data.get("community") == self.scope

    def actor_as(self, role: str | None) -> Actor:
        """Return the actor acting in ``role`` (the only role, when ``None`` and it has one).

        Raises:
            AccessError: ``role`` is not one of the principal's, or it has several and none
                was named.
        """
        if role is None:
            if len(self.roles) != 1:
                raise AccessError(
                    f"name the role to act in: this token may act as {', '.join(self.roles)}"
                )
            role = self.roles[0]
        if role not in self.roles:
            raise AccessError(
                f"this token may not act as {role!r}; it may act as {', '.join(self.roles)}"
            )
        return Actor(self.actor, role)


@attrs.frozen
class TokenInfo:
    """A token as ``rectify token list`` shows it: never its secret."""

    id: str
    actor: str
    roles: tuple[str, ...]
    scope: str | None
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def principal(self) -> Principal:
        """Return the principal the token stands for."""
        return Principal(self.actor, self.roles, self.scope, self.id)


@attrs.frozen
class StoredResponse:
    """The answer kept for an idempotency key: its status and JSON body."""

    status: int
    body: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _new_token(
    actor: str, roles: Sequence[str], scope: str | None, label: str, now: dt.datetime
) -> tuple[str, TokenInfo, str]:
    """Return a new token's text, its info and the digest of its secret, checking the names."""
    if not roles:
        raise AccessError("a token needs at least one role")
    info = TokenInfo(
        secrets.token_hex(6),
        _name("actor", actor),
        tuple(_name("role", r) for r in dict.fromkeys(roles)),
        None if scope is None else _name("scope", scope),
        _name("label", label) if label else "",
        now,
    )
    secret = secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}{info.id}_{secret}", info, _digest(secret)


def _split(text: str) -> tuple[str, str] | None:
    found = _TOKEN.fullmatch(text)
    return (found.group(1), found.group(2)) if found else None


class ServiceStore(Protocol):
    """Where the service keeps its tokens and idempotency keys."""

    def create_token(
        self,
        actor: str,
        roles: Sequence[str],
        scope: str | None,
        *,
        label: str = "",
        now: dt.datetime,
    ) -> tuple[str, TokenInfo]:
        """Make a token; return its text (shown once, never stored) and its info."""
        ...

    def authenticate(self, text: str) -> Principal | None:
        """Return the principal of an API token, or ``None`` if it is unknown or revoked."""
        ...

    def tokens(self) -> list[TokenInfo]:
        """Return every token, revoked ones too, oldest first."""
        ...

    def revoke(self, token_id: str, *, now: dt.datetime) -> bool:
        """Revoke a token; return whether it was live."""
        ...

    def begin(self, owner: str, key: str, fingerprint: str) -> StoredResponse | None:
        """Claim ``key`` for a request; return the kept answer if it was answered before.

        A key is kept for ``KEY_SECONDS`` from its claim; an older one is claimed anew.

        Raises:
            IdempotencyConflictError: The key was claimed for another request (a different
                ``fingerprint``), or its first request is still running.
            ArgumentError: The key is not 1 to ``KEY_LENGTH`` printable ASCII characters.
        """
        ...

    def finish(self, owner: str, key: str, response: StoredResponse) -> None:
        """Keep the answer to the request that claimed ``key``."""
        ...

    def release(self, owner: str, key: str) -> None:
        """Forget a claim whose request failed before it changed anything."""
        ...


def _check_key(key: str) -> None:
    if not key or len(key) > KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ArgumentError(
            f"an Idempotency-Key is 1 to {KEY_LENGTH} printable ASCII characters, not {key!r}"
        )


class MemoryServiceStore:
    """Tokens and idempotency keys in memory (beside a ``MemoryStore``; for tests)."""

    def __init__(
        self, *, keep_seconds: float = KEY_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[TokenInfo, str]] = {}
        self._keys: dict[tuple[str, str], tuple[str, StoredResponse | None, float]] = {}
        self._keep = keep_seconds
        self._clock = clock

    def create_token(
        self,
        actor: str,
        roles: Sequence[str],
        scope: str | None,
        *,
        label: str = "",
        now: dt.datetime,
    ) -> tuple[str, TokenInfo]:
        """Make a token; see ``ServiceStore.create_token``."""
        text, info, digest = _new_token(actor, roles, scope, label, now)
        with self._lock:
            self._tokens[info.id] = (info, digest)
        return text, info

    def authenticate(self, text: str) -> Principal | None:
        """Return the principal of an API token; see ``ServiceStore.authenticate``."""
        parts = _split(text)
        kept = self._tokens.get(parts[0]) if parts else None
        if parts is None or kept is None or kept[0].revoked_at is not None:
            return None
        return kept[0].principal() if hmac.compare_digest(kept[1], _digest(parts[1])) else None

    def tokens(self) -> list[TokenInfo]:
        """Return every token; see ``ServiceStore.tokens``."""
        return sorted((info for info, _ in self._tokens.values()), key=lambda t: t.created_at)

    def revoke(self, token_id: str, *, now: dt.datetime) -> bool:
        """Revoke a token; see ``ServiceStore.revoke``."""
        with self._lock:
            kept = self._tokens.get(token_id)
            if kept is None or kept[0].revoked_at is not None:
                return False
            self._tokens[token_id] = (attrs.evolve(kept[0], revoked_at=now), kept[1])
            return True

    def begin(self, owner: str, key: str, fingerprint: str) -> StoredResponse | None:
        """Claim ``key``; see ``ServiceStore.begin``."""
        _check_key(key)
        now = self._clock()
        with self._lock:
            kept = self._keys.get((owner, key))
            if kept is None or kept[2] < now - self._keep:
                self._keys[(owner, key)] = (fingerprint, None, now)
                return None
        return _answer(key, fingerprint, kept[0], kept[1])

    def finish(self, owner: str, key: str, response: StoredResponse) -> None:
        """Keep the answer; see ``ServiceStore.finish``."""
        with self._lock:
            fingerprint, _, claimed = self._keys[(owner, key)]
            self._keys[(owner, key)] = (fingerprint, response, claimed)

    def release(self, owner: str, key: str) -> None:
        """Forget a claim; see ``ServiceStore.release``."""
        with self._lock:
            self._keys.pop((owner, key), None)


def _answer(
    key: str, fingerprint: str, kept: str, response: StoredResponse | None
) -> StoredResponse:
    if kept != fingerprint:
        raise IdempotencyConflictError(key, running=False)
    if response is None:
        raise IdempotencyConflictError(key, running=True)
    return response


class SQLServiceStore:
    """Tokens and idempotency keys in two tables of a SQL store's database.

    The tables are made when missing (``<prefix>api_tokens``, ``<prefix>api_requests``);
    they carry the store's prefix, so a store opened without ``shared`` still opens.
    """

    def __init__(
        self,
        engine: sa.Engine,
        prefix: str = "rectify_",
        *,
        keep_seconds: float = KEY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._keep = keep_seconds
        self._clock = clock
        self._claims = 0
        metadata = sa.MetaData()
        self._tokens = sa.Table(
            f"{prefix}api_tokens",
            metadata,
            sa.Column("id", sa.String(12), primary_key=True),
            sa.Column("digest", sa.String(64), nullable=False),
            sa.Column("actor", sa.String(NAME_LENGTH), nullable=False),
            sa.Column("roles", sa.Text, nullable=False),
            sa.Column("scope", sa.String(NAME_LENGTH), nullable=True),
            sa.Column("label", sa.String(NAME_LENGTH), nullable=False),
            sa.Column("created_at", sa.String(40), nullable=False),
            sa.Column("revoked_at", sa.String(40), nullable=True),
        )
        self._requests = sa.Table(
            f"{prefix}api_requests",
            metadata,
            sa.Column("owner", sa.String(OWNER_LENGTH), primary_key=True),
            sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
            sa.Column("fingerprint", sa.String(64), nullable=False),
            sa.Column("status", sa.Integer, nullable=False),  # 0: still being answered
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("claimed", sa.BigInteger, nullable=False),  # seconds since the epoch
        )
        try:
            metadata.create_all(engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot set the service's tables up: {exc}") from exc

    def create_token(
        self,
        actor: str,
        roles: Sequence[str],
        scope: str | None,
        *,
        label: str = "",
        now: dt.datetime,
    ) -> tuple[str, TokenInfo]:
        """Make a token; see ``ServiceStore.create_token``."""
        text, info, digest = _new_token(actor, roles, scope, label, now)
        with self._engine.begin() as conn:
            conn.execute(
                self._tokens.insert().values(
                    id=info.id,
                    digest=digest,
                    actor=info.actor,
                    roles=json.dumps(info.roles, ensure_ascii=False),
                    scope=info.scope,
                    label=info.label,
                    created_at=now.isoformat(),
                )
            )
        return text, info

    def _info(self, row: sa.Row[tuple[object, ...]]) -> TokenInfo:
        """Return the token a row holds.

        Raises:
            StoreError: The row was altered: its roles are not a list of text, or a time
                is not an ISO time.
        """
        m = row._mapping
        revoked = m["revoked_at"]
        try:
            return TokenInfo(
                str(m["id"]),
                str(m["actor"]),
                _roles(json.loads(str(m["roles"]))),
                None if m["scope"] is None else str(m["scope"]),
                str(m["label"]),
                dt.datetime.fromisoformat(str(m["created_at"])),
                None if revoked is None else dt.datetime.fromisoformat(str(revoked)),
            )
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"the stored token {str(m['id'])!r} in {self._tokens.name} cannot be read "
                f"({exc}); revoke it and make a new one"
            ) from exc

    def authenticate(self, text: str) -> Principal | None:
        """Return the principal of an API token; see ``ServiceStore.authenticate``."""
        parts = _split(text)
        if parts is None:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(self._tokens).where(self._tokens.c.id == parts[0])).first()
        if row is None or row._mapping["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(str(row._mapping["digest"]), _digest(parts[1])):
            return None
        return self._info(row).principal()

    def tokens(self) -> list[TokenInfo]:
        """Return every token; see ``ServiceStore.tokens``."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(self._tokens).order_by(self._tokens.c.created_at))
            return [self._info(row) for row in rows]

    def revoke(self, token_id: str, *, now: dt.datetime) -> bool:
        """Revoke a token; see ``ServiceStore.revoke``."""
        with self._engine.begin() as conn:
            done = conn.execute(
                self._tokens.update()
                .where(self._tokens.c.id == token_id, self._tokens.c.revoked_at.is_(None))
                .values(revoked_at=now.isoformat())
            )
        return done.rowcount == 1

    def begin(self, owner: str, key: str, fingerprint: str) -> StoredResponse | None:
        """Claim ``key``; see ``ServiceStore.begin``."""
        _check_key(key)
        owner = _owner(owner)
        table = self._requests
        now = self._clock()
        expired = table.c.claimed < int(now - self._keep)
        self._claims += 1
        try:
            with self._engine.begin() as conn:
                if self._claims % PRUNE_EVERY == 0:  # every key past its time, now and then
                    conn.execute(table.delete().where(expired))
                conn.execute(  # this key, if it is past its time: it is new again
                    table.delete().where(table.c.owner == owner, table.c.key == key, expired)
                )
                conn.execute(
                    table.insert().values(
                        owner=owner,
                        key=key,
                        fingerprint=fingerprint,
                        status=0,
                        body="",
                        claimed=int(now),
                    )
                )
        except sa.exc.IntegrityError:
            pass  # claimed before: the kept answer, or a conflict
        else:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(table.c.fingerprint, table.c.status, table.c.body).where(
                    table.c.owner == owner, table.c.key == key
                )
            ).first()
        if row is None:  # released meanwhile: the first request failed; this one may run
            return self.begin(owner, key, fingerprint)
        status = row.status
        if not isinstance(status, int):
            raise StoreError(f"the kept answer of Idempotency-Key {key!r} cannot be read")
        kept = StoredResponse(status, str(row.body)) if status else None
        return _answer(key, fingerprint, str(row.fingerprint), kept)

    def finish(self, owner: str, key: str, response: StoredResponse) -> None:
        """Keep the answer; see ``ServiceStore.finish``."""
        owner = _owner(owner)
        table = self._requests
        with self._engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.owner == owner, table.c.key == key)
                .values(status=response.status, body=response.body)
            )

    def release(self, owner: str, key: str) -> None:
        """Forget a claim; see ``ServiceStore.release``."""
        owner = _owner(owner)
        table = self._requests
        with self._engine.begin() as conn:
            conn.execute(table.delete().where(table.c.owner == owner, table.c.key == key))


def _roles(value: object) -> tuple[str, ...]:
    """Return a stored token's roles (a JSON list of text)."""
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise TypeError(f"roles {value!r} are not a list of text")
    return tuple(value)


def _owner(owner: str) -> str:
    """Return ``owner`` as its column keeps it: a long one (a JWT's subject) as its hash."""
    if len(owner) <= OWNER_LENGTH:
        return owner
    return f"sha256:{hashlib.sha256(owner.encode()).hexdigest()}"


def _text_key(text: str) -> str:
    """Return what a token cache keeps a token's text under (never the text itself)."""
    return hashlib.sha256(text.encode()).hexdigest()


class TokenCache:
    """Remembers what a token stood for, for a few seconds: a request then costs no query.

    Only tokens found live are remembered, so a new token works at once; a revoked one is
    refused by every worker within ``seconds`` (by the worker that revoked it at once, if
    it revokes through :meth:`forget`). Keys are the SHA-256 of the token's text.

    Args:
        services: Where tokens are looked up when not remembered.
        seconds: How long a token is remembered; 0: never (every request looks it up).
        size: The most tokens remembered (the oldest go first).
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        services: ServiceStore,
        seconds: float,
        *,
        size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self.seconds = seconds
        self._size = size
        self._clock = clock
        self._kept: dict[str, tuple[Principal, float]] = {}

    def remembered(self, text: str) -> Principal | None:
        """Return the principal of ``text`` if it was found live less than ``seconds`` ago."""
        kept = self._kept.get(_text_key(text))
        return kept[0] if kept is not None and kept[1] > self._clock() else None

    def authenticate(self, text: str) -> Principal | None:
        """Return the principal of ``text``, remembered or looked up (see the class)."""
        found = self.remembered(text)
        if found is not None:  # not remembered longer: a revoked token must drop out
            return found
        found = self.services.authenticate(text)
        if found is not None and self.seconds > 0:
            if len(self._kept) >= self._size:
                self._kept.pop(next(iter(self._kept)), None)
            self._kept[_text_key(text)] = (found, self._clock() + self.seconds)
        return found

    def forget(self) -> None:
        """Forget every token (after a revocation in this process)."""
        self._kept.clear()


def service_store_for(store: Store) -> ServiceStore:
    """Return the service store that goes with ``store`` (its database, or memory)."""
    if isinstance(store, SQLStore):
        return SQLServiceStore(store.engine, store.prefix)
    if isinstance(store, MemoryStore):
        return MemoryServiceStore()
    raise AccessError(
        f"no service store for a {type(store).__name__}; pass create_app(services=...)"
    )


@attrs.frozen
class JwtVerifier:
    """Reads JSON Web Tokens a town's identity provider signs (OIDC access tokens).

    The token's ``sub`` is the actor, ``roles`` (a list of text) the roles, and
    ``community`` the scope; a token without ``community`` must carry ``"scope": "town"``
    to act for the whole town, so that a token issued for something else gets no access.

    Attributes:
        key: The HMAC secret, or the PEM public key of an RS256/ES256 issuer.
        algorithms: The algorithms accepted (never ``none``).
        issuer: The ``iss`` required, if any.
        audience: The ``aud`` required, if any.
        leeway: Seconds of clock difference allowed on ``exp`` and ``nbf``.
    """

    key: str
    algorithms: tuple[str, ...] = ("RS256",)
    issuer: str | None = None
    audience: str | None = None
    leeway: float = 30.0

    def principal(self, text: str) -> Principal | None:
        """Return the principal of a signed, unexpired token; ``None`` if it is not one."""
        import jwt  # noqa: PLC0415 - the server extra

        try:
            claims = jwt.decode(
                text,
                self.key,
                algorithms=[a for a in self.algorithms if a.lower() != "none"],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        roles, community = claims.get("roles"), claims.get("community")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            return None
        if community is None and claims.get("scope") != "town":
            return None
        if community is not None and not isinstance(community, str):
            return None
        return Principal(str(claims["sub"]), tuple(roles), community, f"jwt:{claims['sub']}")
