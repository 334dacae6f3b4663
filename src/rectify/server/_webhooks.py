"""Webhooks: the outbox delivered to the host's HTTP endpoints, signed, with retries.

A :class:`Deliverer` hands each pending effect (``Ledger.deliver``) to every hook that
wants its kind, as plain JSON (:func:`effect_json`) in a ``POST`` with these headers:

- ``Rectify-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, signed
  with the shared secret, as Stripe signs: a host checks it with :func:`verify_signature`
  and refuses stale timestamps;
- ``Rectify-Delivery``: the effect's stable id, the same on every retry (the host
  de-duplicates on it), percent-encoded as UTF-8 where it is not ASCII (a case id may
  hold CJK ideographs; the body's ``id`` is the same id as it is);
- ``Rectify-Attempt``: the attempt, 1 the first time;
- ``Content-Type: application/json``.

Delivery is at least once: an effect is acknowledged once every hook that wants it
answered 2xx; if any hook fails (a non-2xx answer, a redirect, a transport error) the
effect is retried later, to every hook that wants it again. An effect no hook wants is
acknowledged, delivered to nobody: the webhooks are then the outbox's only consumer.

After a failure of attempt ``n`` the effect is not handed out again before
``min(backoff * 2 ** (n - 1), backoff_max) * uniform(0.5, 1)`` seconds. That state is kept
in memory by the :class:`Deliverer`, so a restarted worker retries sooner, which is
harmless (at least once). An effect that fails its ``max_attempts``-th attempt is a dead
letter: ``Ledger.failed`` lists it (``dead`` set, with its last error) and no worker
hands it out again; ``Ledger.redrive`` puts it back in the queue as new (``POST
/api/v1/outbox/redrive``), ``Ledger.acknowledge`` clears it once dealt with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final
from urllib.parse import quote, urlsplit

import attrs
import httpx

from rectify.definitions._yamlsource import load_yaml, read_source
from rectify.engine._case import DeadlineCleared, DeadlineSet, Effect, Escalated, NoticeDue
from rectify.exceptions import DefinitionError, RectifyError
from rectify.ledger import DEAD_AFTER, Ledger
from rectify.server._models import plain
from rectify.stores._store import Delivery

__all__ = [
    "KINDS",
    "Deliverer",
    "DeliveryRound",
    "Hook",
    "WebhookConfig",
    "effect_json",
    "effect_kind",
    "load_webhooks",
    "sign",
    "verify_signature",
]

#: The kinds of effect a hook can ask for, as ``effect_json`` names them.
KINDS: Final = ("notice", "deadline_set", "deadline_cleared", "escalated")
_KIND_OF: Final[Mapping[type, str]] = {
    NoticeDue: "notice",
    DeadlineSet: "deadline_set",
    DeadlineCleared: "deadline_cleared",
    Escalated: "escalated",
}
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_MAX_EXPONENT = 64  # 2**64 first-retry delays is past any sane ``backoff_max``


def effect_kind(effect: Effect) -> str:
    """Return the kind of ``effect`` as hooks and the API name it (one of :data:`KINDS`)."""
    return _KIND_OF[type(effect)]


def effect_json(delivery: Delivery) -> dict[str, object]:
    """Return the JSON a host gets for one outbox item.

    ``{"id", "case_id", "kind", "attempt", "effect"}``: ``kind`` is one of :data:`KINDS`,
    ``effect`` the effect's fields as plain values (dates as ISO strings, lists). Not the
    stores' tagged encoding.
    """
    fields = attrs.asdict(delivery.effect, recurse=False)
    return {
        "id": delivery.id,
        "case_id": delivery.case_id,
        "kind": effect_kind(delivery.effect),
        "attempt": delivery.attempts,
        "effect": {name: plain(value) for name, value in fields.items()},
    }


# -- configuration ---------------------------------------------------------------------------


@attrs.frozen
class Hook:
    """One endpoint: its http(s) URL and the kinds it wants (empty: every kind).

    Raises:
        DefinitionError: A kind is not one of :data:`KINDS` (its effects would otherwise be
            acknowledged unsent).
    """

    url: str
    kinds: frozenset[str] = frozenset()

    def __attrs_post_init__(self) -> None:
        unknown = sorted(self.kinds - frozenset(KINDS))
        if unknown:
            raise DefinitionError(
                f"hook {_shown(self.url)}: unknown kinds {', '.join(unknown)}; "
                f"known: {', '.join(KINDS)}"
            )

    def wants(self, kind: str) -> bool:
        """Return whether the hook is sent effects of ``kind``."""
        return not self.kinds or kind in self.kinds


@attrs.frozen
class WebhookConfig:
    """Where and how the outbox is delivered.

    Attributes:
        hooks: The endpoints.
        secret: The signing secret (never shown in the ``repr``).
        max_attempts: The attempt on whose failure an effect becomes a dead letter.
        backoff: Seconds before the first retry; each later one waits twice as long.
        backoff_max: The longest wait between retries, in seconds.
        timeout: Seconds a request may take (connecting, sending, answering).
    """

    hooks: tuple[Hook, ...]
    secret: bytes = attrs.field(repr=False)
    max_attempts: int = DEAD_AFTER
    backoff: float = 2.0
    backoff_max: float = 3600.0
    timeout: float = 10.0


_KEYS: Final = (
    "secret_env",
    "max_attempts",
    "backoff_seconds",
    "backoff_max_seconds",
    "timeout_seconds",
    "hooks",
)
_HOOK_KEYS: Final = ("url", "kinds")


def _unknown(data: Mapping[str, object], known: tuple[str, ...], where: str) -> list[str]:
    return [
        f"{where}{key}: unknown key; known: {', '.join(known)}" for key in data if key not in known
    ]


def _url_problem(url: object) -> str | None:
    if not isinstance(url, str):
        return "must be an http(s) URL"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "must be an http(s) URL"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number from 0 to 65535
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return "must be an http(s) URL"
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "must be an http(s) URL"
    return None


def _hook(raw: object, index: int, problems: list[str]) -> Hook | None:
    where = f"hooks.{index}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping with url (and kinds)")
        return None
    problems += _unknown(raw, _HOOK_KEYS, f"{where}.")
    url = raw.get("url")
    problem = _url_problem(url)
    if problem is not None:
        problems.append(f"{where}.url: {problem}")
    kinds = raw.get("kinds", [])
    if "kinds" in raw and kinds == []:
        problems.append(f"{where}.kinds: name at least one kind, or leave kinds out for all")
        return None
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        problems.append(f"{where}.kinds: must be a list of kinds ({', '.join(KINDS)}), or absent")
        return None
    unknown = [
        f"{where}.kinds: unknown kind {kind!r}; known: {', '.join(KINDS)}"
        for kind in kinds
        if kind not in KINDS
    ]
    problems += unknown
    return None if unknown else Hook(str(url), frozenset(kinds))


def _hooks(data: Mapping[str, object], problems: list[str]) -> tuple[Hook, ...]:
    raw = data.get("hooks")
    if not isinstance(raw, list) or not raw:
        problems.append("hooks: must be a list of at least one hook (url, kinds)")
        return ()
    found = (_hook(item, index, problems) for index, item in enumerate(raw))
    return tuple(hook for hook in found if hook is not None)


def _number(
    data: Mapping[str, object], key: str, default: float, problems: list[str], *, whole: bool
) -> float:
    value = data.get(key, default)
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        noun = "whole number" if whole else "number"
        problems.append(f"{key}: must be a {noun} above 0, not {value!r}")
        return default
    return value


def _secret(
    data: Mapping[str, object],
    secret: str | None,
    environ: Mapping[str, str],
    problems: list[str],
) -> bytes:
    if secret is not None:
        if not secret:
            problems.append("secret: the secret given is empty")
        return secret.encode()
    name = data.get("secret_env")
    if not isinstance(name, str) or not name:
        problems.append("secret_env: must name the environment variable holding the secret")
        return b""
    value = environ.get(name, "")
    if not value:
        problems.append(f"secret_env: the environment variable {name!r} is not set or is empty")
    return value.encode()


def load_webhooks(
    path: Path, *, secret: str | None = None, environ: Mapping[str, str] | None = None
) -> WebhookConfig:
    """Return the webhook configuration in the YAML file ``path``.

    The file has ``secret_env`` (the environment variable holding the signing secret),
    ``hooks`` (each a ``url`` and optionally ``kinds``, a list of :data:`KINDS`; absent:
    every kind) and optionally ``max_attempts``, ``backoff_seconds``,
    ``backoff_max_seconds`` and ``timeout_seconds``.

    Args:
        path: The file.
        secret: The signing secret, when the host holds it elsewhere; then ``secret_env``
            may be left out, and is not read.
        environ: Where ``secret_env`` is looked up (``os.environ`` by default).

    Raises:
        DefinitionError: The file cannot be read, or is not valid: the message names the
            file and, for each problem, its key (``hooks.0.url: must be an http(s) URL``).
    """
    text, name = read_source(path)
    document = load_yaml(text, name)
    errors = [d for d in document.diagnostics if d.is_error]
    if errors:
        raise DefinitionError(f"{name}: " + "; ".join(d.format() for d in errors))
    data = document.data
    if not isinstance(data, dict):
        raise DefinitionError(f"{name}: must be a mapping of {', '.join(_KEYS)}")
    problems = _unknown(data, _KEYS, "")
    hooks = _hooks(data, problems)
    key = _secret(data, secret, os.environ if environ is None else environ, problems)
    max_attempts = int(_number(data, "max_attempts", DEAD_AFTER, problems, whole=True))
    backoff = _number(data, "backoff_seconds", 2.0, problems, whole=False)
    backoff_max = _number(data, "backoff_max_seconds", 3600.0, problems, whole=False)
    timeout = _number(data, "timeout_seconds", 10.0, problems, whole=False)
    if backoff_max < backoff:
        problems.append(f"backoff_max_seconds: must be at least backoff_seconds ({backoff})")
    if problems:
        raise DefinitionError(f"{name}: " + "; ".join(problems))
    return WebhookConfig(hooks, key, max_attempts, backoff, backoff_max, timeout)


# -- signing ---------------------------------------------------------------------------------


def _mac(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """Return the ``Rectify-Signature`` header of ``body`` sent at ``timestamp``.

    ``t=<timestamp>,v1=<hex HMAC-SHA256 of b"<timestamp>." + body with secret>``.
    """
    return f"t={timestamp},v1={_mac(secret, body, timestamp)}"


def verify_signature(
    secret: bytes, body: bytes, header: str, *, now: int, tolerance: int = 300
) -> bool:
    """Return whether ``header`` signs ``body`` with ``secret``, and is fresh.

    What a host does with each request: check the raw body as received against the
    ``Rectify-Signature`` header. Refused: a malformed header, a timestamp more than
    ``tolerance`` seconds from ``now`` (either way: a replay, or a wrong clock), a
    signature that does not match (compared in constant time). Several ``v1`` values
    are allowed (one of them must match), for a secret being rotated.
    """
    timestamps: list[int] = []
    signatures: list[bytes] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and _TIMESTAMP.fullmatch(value):
            timestamps.append(int(value))
        elif key == "v1":
            signatures.append(value.encode("utf-8", "replace"))
    if len(timestamps) != 1 or not signatures or abs(now - timestamps[0]) > tolerance:
        return False
    expected = _mac(secret, body, timestamps[0]).encode()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


# -- delivering ------------------------------------------------------------------------------


@attrs.frozen
class DeliveryRound:
    """What one ``Deliverer.run_once`` did.

    Attributes:
        delivered: Effects acknowledged (those no hook wants included).
        failed: Effects that failed and will be retried after their backoff.
        dead: Effects that failed their last attempt: dead letters now.
        waiting: Effects held back because their retry time had not come.
    """

    delivered: int
    failed: int
    dead: int
    waiting: int


def _shown(url: str) -> str:
    """Return ``url`` as an error may show it: without credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        return "<a malformed URL>"
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class Deliverer:
    """Delivers a ledger's outbox to the configured hooks; one per worker thread.

    Args:
        ledger: Whose outbox.
        config: The hooks, the secret and the retry policy.
        client: The HTTP client (one made here, closed by :meth:`close`, by default).
        clock: Monotonic seconds, for the backoff.
        wall: Unix seconds, for the signatures' timestamps.
    """

    def __init__(
        self,
        ledger: Ledger,
        config: WebhookConfig,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=config.timeout, follow_redirects=False)
        self._clock = clock
        self._wall = wall
        self._not_before: dict[str, float] = {}  # effect id -> monotonic time of its retry
        self._random = random.SystemRandom()

    def close(self) -> None:
        """Close the HTTP client, if it was made here."""
        if self._owns_client:
            self._client.close()

    def retry_delay(self, attempt: int) -> float:
        """Return the seconds to wait after a failure of ``attempt`` (with jitter)."""
        config = self.config
        full = min(config.backoff * 2.0 ** min(attempt - 1, _MAX_EXPONENT), config.backoff_max)
        return full * self._random.uniform(0.5, 1.0)

    def run_once(self, limit: int | None = 100) -> DeliveryRound:
        """Deliver the pending effects whose retry time has come; return what happened.

        Each effect goes to every hook that wants its kind. If any of them fails, the whole
        effect is retried later, to all of them again: delivery is at least once, and hosts
        de-duplicate on ``Rectify-Delivery``. An effect no hook wants is acknowledged.

        Args:
            limit: The most effects to hand out; ``None``: every one due.

        Raises:
            StoreError: The store failed (nothing is lost: what was delivered is
                acknowledged, the rest comes again).
        """
        now = self._clock()
        for effect_id in [i for i, at in self._not_before.items() if at <= now]:
            del self._not_before[effect_id]
        waiting = frozenset(self._not_before)
        counts: Counter[str] = Counter()

        def on_failure(delivery: Delivery) -> None:
            if delivery.dead:
                counts["dead"] += 1
                self._not_before.pop(delivery.id, None)
            else:
                counts["failed"] += 1
                self._not_before[delivery.id] = self._clock() + self.retry_delay(delivery.attempts)

        delivered = self.ledger.deliver(
            self._post,
            limit=limit,
            dead_after=self.config.max_attempts,
            on_failure=on_failure,
            skip=waiting,
        )
        return DeliveryRound(delivered, counts["failed"], counts["dead"], len(waiting))

    def run_forever(self, *, interval: float = 1.0, stop: threading.Event) -> None:
        """Run :meth:`run_once` until ``stop`` is set, resting ``interval`` seconds when idle.

        An error of the store ends it (the host's supervisor starts the worker again).
        """
        while not stop.is_set():
            if self.run_once().delivered == 0:
                stop.wait(interval)

    def _post(self, delivery: Delivery) -> None:
        """Send ``delivery`` to every hook that wants it; raise if any of them failed."""
        kind = effect_kind(delivery.effect)
        hooks = [hook for hook in self.config.hooks if hook.wants(kind)]
        if not hooks:
            return
        body = json.dumps(effect_json(delivery), ensure_ascii=False, separators=(",", ":"))
        content = body.encode()
        headers = {
            "Content-Type": "application/json",
            "Rectify-Delivery": quote(delivery.id, safe=":"),
            "Rectify-Attempt": str(delivery.attempts),
            "Rectify-Signature": sign(self.config.secret, content, int(self._wall())),
        }
        errors = [self._send(hook.url, content, headers) for hook in hooks]
        failures = [error for error in errors if error is not None]
        if failures:
            raise RectifyError("; ".join(failures))

    def _send(self, url: str, content: bytes, headers: Mapping[str, str]) -> str | None:
        """POST to one hook; return why it failed, or ``None``."""
        try:
            response = self._client.post(
                url, content=content, headers=headers, timeout=self.config.timeout
            )
        except httpx.HTTPError as exc:
            return f"{_shown(url)}: {type(exc).__name__}"
        if not response.is_success:
            return f"{_shown(url)}: HTTP {response.status_code}"
        return None
