"""Signing webhook requests the way each platform does, for the router's tests.

`router(...)` is `router_support.router` with a secret configured for every source and a
client that signs every `POST /webhooks/generic` with Standard Webhooks, as a sender
would; the other sources' tests sign explicitly with the helpers below.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

GENERIC_SECRET = "whsec_" + base64.b64encode(b"baton-test-generic-secret-0123456").decode()
GENERIC_NEXT_SECRET = "whsec_" + base64.b64encode(b"baton-test-generic-secret-rotated").decode()
HUBSPOT_SECRET = "3f1b9c2e-7d4a-4b8e-9f10-hubspot-client"
MAUTIC_SECRET = "mautic-webhook-secret-7c41"
MARKETO_SECRET = "marketo-shared-token-19ab"

SECRETS: dict[str, list[str]] = {
    "generic": [GENERIC_SECRET],
    "hubspot": [HUBSPOT_SECRET],
    "mautic": [MAUTIC_SECRET],
    "marketo": [MARKETO_SECRET],
}


def standard_webhook_headers(
    body: bytes,
    secret: str = GENERIC_SECRET,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers, signed by the `standardwebhooks` package itself. Without
    `msg_id`, one derived from the body: the same message retried keeps its id."""
    msg_id = msg_id or "msg_" + hashlib.sha256(body).hexdigest()[:24]
    sent = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(sent, UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(sent), "webhook-signature": signature}


def hubspot_headers(
    url: str,
    body: bytes,
    secret: str = HUBSPOT_SECRET,
    method: str = "POST",
    timestamp_ms: int | None = None,
) -> dict[str, str]:
    """HubSpot's v3 request signature, computed as its documentation describes."""
    sent = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    message = f"{method}{url}".encode() + body + sent.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": sent,
        "X-HubSpot-Signature-Version": "v3",
    }


def mautic_headers(body: bytes, secret: str = MAUTIC_SECRET) -> dict[str, str]:
    """Mautic's `Webhook-Signature`: base64 HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"Webhook-Signature": base64.b64encode(digest).decode()}


def marketo_headers(secret: str = MARKETO_SECRET, header: str = "X-Baton-Token") -> dict[str, str]:
    return {header: secret}


def is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class StandardWebhooksAuth(httpx.Auth):
    """Signs requests to /webhooks/generic that are not signed already."""

    requires_request_body = True

    def __init__(self, secret: str = GENERIC_SECRET) -> None:
        self.secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if (
            request.url.path.endswith("/webhooks/generic")
            and "webhook-signature" not in request.headers
            and is_utf8(request.content)  # else it is refused (400) before any signature check
        ):
            request.headers.update(standard_webhook_headers(request.content, self.secret))
        yield request


@contextlib.asynccontextmanager
async def router(
    make_settings: Any, **overrides: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """`router_support.router` with every source's secret, signing generic requests."""
    from router_support import router as unsigned_router

    overrides.setdefault("webhook_secrets", SECRETS)
    async with unsigned_router(make_settings, **overrides) as (settings, client):
        client.auth = StandardWebhooksAuth()
        yield settings, client
