"""rectify as an HTTP service: the API, tokens and scopes, webhooks and the web console.

``create_app(ledger)`` returns the ASGI application (FastAPI) that ``rectify serve`` runs
under uvicorn and a Python host may mount in its own. Needs the ``server`` extra
(``pip install 'rectify[server]'``).

May import every layer below it, ``rectify.cli`` included (the report rendering and the
wording the commands share); nothing imports it but the commands it adds to ``rectify``
(``serve``, ``token``, ``deliver``), loaded by their entry points.
"""

from __future__ import annotations

from rectify.server._access import (
    AccessError,
    IdempotencyConflictError,
    JwtVerifier,
    MemoryServiceStore,
    Principal,
    ServiceStore,
    SQLServiceStore,
    TokenInfo,
    service_store_for,
)
from rectify.server._app import API_PREFIX, MAX_BODY, MAX_IMPORT, create_app
from rectify.server._webhooks import (
    KINDS,
    Deliverer,
    DeliveryRound,
    Hook,
    WebhookConfig,
    effect_json,
    effect_kind,
    load_webhooks,
    sign,
    verify_signature,
)

__all__ = [
    "API_PREFIX",
    "KINDS",
    "MAX_BODY",
    "MAX_IMPORT",
    "AccessError",
    "Deliverer",
    "DeliveryRound",
    "Hook",
    "IdempotencyConflictError",
    "JwtVerifier",
    "MemoryServiceStore",
    "Principal",
    "SQLServiceStore",
    "ServiceStore",
    "TokenInfo",
    "WebhookConfig",
    "create_app",
    "effect_json",
    "effect_kind",
    "load_webhooks",
    "service_store_for",
    "sign",
    "verify_signature",
]
