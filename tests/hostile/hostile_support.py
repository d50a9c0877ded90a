"""The three services on the embedded stack, configured the way the hostile-input tests
attack them: an admin key for every service, a secret for every webhook source (the
router's test secrets from `signing.py`) and a Standard Webhooks secret for a feedback
client; signing for every door that takes a body from outside; and a snapshot of a
service's tables to prove a refused request changed nothing."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
from signing import (
    SECRETS,
    hubspot_headers,
    is_utf8,
    marketo_headers,
    mautic_headers,
    standard_webhook_headers,
)
from sqlalchemy import text

from baton_feedback.config import FeedbackSettings
from baton_feedback.main import MIGRATIONS as FEEDBACK_MIGRATIONS
from baton_feedback.main import create_app as feedback_app
from baton_router.config import RouterSettings
from baton_router.main import MIGRATIONS as ROUTER_MIGRATIONS
from baton_router.main import create_app as router_app
from baton_runtime.db import create_engine
from baton_runtime.settings import ServiceSettings
from baton_runtime.testing import MakeSettings, prepare_service, read_topic, serving
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.main import MIGRATIONS as SLA_MIGRATIONS
from baton_sla_monitor.main import create_app as sla_app

ADMIN_KEY = "hostile-admin-key-0123456789"
WRONG_KEY = "hostile-wrong-key-9876543210"
KEYS = {"ops": ADMIN_KEY}
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}

FEEDBACK_CLIENT = "crm"
FEEDBACK_SECRET = "whsec_" + base64.b64encode(b"baton-hostile-feedback-secret-01").decode()

WEBHOOK_SOURCES = ("hubspot", "mautic", "marketo", "generic")


@dataclass(frozen=True)
class Service:
    name: str
    settings_cls: type[ServiceSettings]
    migrations: str
    create_app: Callable[[Any], Any]
    overrides: Mapping[str, Any] = field(default_factory=dict)


SERVICES = {
    "router": Service(
        "router",
        RouterSettings,
        ROUTER_MIGRATIONS,
        router_app,
        {"api_keys": KEYS, "webhook_secrets": SECRETS},
    ),
    "sla-monitor": Service(
        "sla-monitor", SlaMonitorSettings, SLA_MIGRATIONS, sla_app, {"api_keys": KEYS}
    ),
    "feedback": Service(
        "feedback",
        FeedbackSettings,
        FEEDBACK_MIGRATIONS,
        feedback_app,
        {"api_keys": KEYS, "webhook_secrets": {FEEDBACK_CLIENT: [FEEDBACK_SECRET]}},
    ),
}


async def prepare(make_settings: MakeSettings, service: Service, **overrides: Any) -> Any:
    """The service's settings (keys and secrets set), its topics created, schema migrated."""
    values = {**service.overrides, **overrides}
    return await prepare_service(make_settings, service.settings_cls, service.migrations, **values)


# Signing -------------------------------------------------------------------------------------


def signed_headers(method: str, url: str, body: bytes) -> dict[str, str]:
    """The headers a legitimate sender adds to a request to `url`: per webhook source its
    platform's signature, for `POST /feedback` the client's Standard Webhooks signature.
    Nothing for any other path, nor a Standard Webhooks signature over a body that is not
    UTF-8 (the scheme signs text; such a body is refused before any signature check)."""
    path = urlsplit(url).path
    text = is_utf8(body)
    if path == "/feedback":
        return standard_webhook_headers(body, FEEDBACK_SECRET, _message_id(body)) if text else {}
    if not path.startswith("/webhooks/"):
        return {}
    source = path.removeprefix("/webhooks/")
    if source == "hubspot":
        return hubspot_headers(url, body, method=method)
    if source == "mautic":
        return mautic_headers(body)
    if source == "marketo":
        return marketo_headers()
    if source == "generic" and text:
        return standard_webhook_headers(body, msg_id=_message_id(body))
    return {}


def _message_id(body: bytes) -> str:
    return "msg_" + hashlib.sha256(body).hexdigest()[:24]


class SigningAuth(requests.auth.AuthBase):
    """Signs a prepared webhook request over the exact bytes it sends (after schemathesis
    has serialised the generated body), as the platform would. `POST /feedback` is left to
    its bearer key, which schemathesis sends (and takes away to check it is required)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not isinstance(body, bytes) or "/webhooks/" not in str(request.url):
            return request
        request.headers.update(signed_headers(request.method or "POST", str(request.url), body))
        return request


# What a refused request must not change ----------------------------------------------------


async def snapshot(settings: ServiceSettings) -> dict[str, tuple[int, str]]:
    """Every table of the service's schema: its row count and a digest of its rows (in a
    stable order), so a comparison shows any row added, removed or changed."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = :schema AND table_type = 'BASE TABLE' "
                        "ORDER BY table_name"
                    ),
                    {"schema": settings.schema_name},
                )
            ).scalars()
            state: dict[str, tuple[int, str]] = {}
            for table in list(tables):
                rows = (
                    await conn.execute(text(f'SELECT t::text FROM "{table}" AS t ORDER BY t::text'))
                ).scalars()
                contents = list(rows)
                digest = hashlib.sha256("\n".join(contents).encode()).hexdigest()
                state[table] = (len(contents), digest)
            return state
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def serving_service(
    make_settings: MakeSettings, name: str, **overrides: Any
) -> AsyncIterator[tuple[Any, Any, httpx.AsyncClient]]:
    """The service `name` migrated, started and ready: (settings, app, client)."""
    service = SERVICES[name]
    settings = await prepare(make_settings, service, **overrides)
    app = service.create_app(settings)
    async with serving(app) as client:
        yield settings, app, client


async def topic_records(settings: ServiceSettings, topic: str, timeout: float = 1.0) -> int:
    """How many records `topic` holds (read from the start until `timeout` passes)."""
    records = await read_topic(settings.kafka_bootstrap, topic, 1_000_000, timeout=timeout)
    return len(records)
