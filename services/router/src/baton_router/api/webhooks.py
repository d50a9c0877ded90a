"""`POST /webhooks/{source}`: answered 202 only after the broker acknowledged every lead.

In order: unknown source 404, no secret configured 401, body over the limit 413, body
not UTF-8 400, bad or stale signature 401, body not JSON (or form) 400, more than
`MAX_EVENTS` events or leads in one delivery 413, payload that cannot be normalised 422
naming the field, broker unavailable 503 (the sender retries, and the retry gets the same
event ids), else 202 with the event ids and lead keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pydantic_core import to_json

from baton_router.api.body import body_digest, event_id, parse_form
from baton_router.api.receipts import FirstReceipts, delivery_key
from baton_router.config import RouterSettings
from baton_router.domain.sources import (
    NormalisationError,
    SignatureError,
    SignedRequest,
    Source,
    build_sources,
    check_secrets,
    mautic,
)
from baton_runtime.app_state import runtime_of
from baton_runtime.coalescing import publish_or_503
from baton_runtime.http_body import (
    parse_json,
    read_limited,
    refuse_nul,
    request_headers,
    require_utf8,
)
from baton_runtime.logs import get_logger
from baton_runtime.openapi import error_responses
from baton_schemas import OutgoingRecord, encode_event

log = get_logger(__name__)

FORM = "application/x-www-form-urlencoded"
MAX_EVENTS = 1000
"""Most events (a HubSpot array's items) or leads one delivery may carry. HubSpot sends at
most 100 a request; a bigger batch, even within the byte limit, is refused whole before it
is normalised or published, rather than held up in one request."""
TOO_MANY = f"a delivery holds at most {MAX_EVENTS} events"


def webhook_sources(settings: RouterSettings) -> dict[str, Source]:
    """The sources for these settings; ValueError when the configuration cannot work."""
    problems = check_secrets(settings.webhook_secrets)
    if problems:
        raise ValueError("ROUTER_WEBHOOK_SECRETS: " + "; ".join(problems))
    return build_sources(settings.marketo_mapping_file)


def request_url(request: Request, public_base_url: str | None) -> str:
    """The URL the sender called: the public base URL when one is configured (behind a
    proxy), else this request's own; the path as sent, still percent-encoded."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    if public_base_url:
        base = public_base_url.rstrip("/")
    else:
        host = request.headers.get("host") or request.url.netloc
        base = f"{request.scope['scheme']}://{host}"  # request.url would parse the URL again
    return f"{base}{path}" + (f"?{query}" if query else "")


class Accepted(BaseModel):
    """The leads of a delivery, on the broker: one event id and lead key per lead."""

    event_ids: list[str]
    lead_keys: list[str]


_OBJECT: dict[str, Any] = {"type": "object"}
_FORM = {"type": "object", "additionalProperties": {"type": "string"}}
PAYLOADS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "generic": (
        "Baton's canonical lead (person, company, attribution, activities, custom), signed "
        "with Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).",
        {"application/json": {"schema": _OBJECT}},
    ),
    "hubspot": (
        "HubSpot's webhook events (a JSON array) or a contact record (an object), signed "
        "with `X-HubSpot-Signature-v3` and `X-HubSpot-Request-Timestamp`.",
        {"application/json": {"schema": {"anyOf": [{"type": "array", "items": _OBJECT}, _OBJECT]}}},
    ),
    "marketo": (
        "The webhook's payload template, as JSON or a form, with the shared token in the "
        "header the mapping names.",
        {"application/json": {"schema": _OBJECT}, FORM: {"schema": _FORM}},
    ),
    "mautic": (
        "Mautic's event lists keyed by event type (types that are not leads are ignored), "
        "signed with `Webhook-Signature`.",
        {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        event: {"type": "array", "items": _OBJECT} for event in mautic.EVENTS
                    },
                }
            }
        },
    ),
}
RESPONSES = error_responses(
    400,
    401,
    413,
    422,
    503,
    e413=f"the body is larger than ROUTER_MAX_BODY_BYTES, or holds more than {MAX_EVENTS} events",
    e422="the payload cannot be normalised; `fields` names each field and what is wrong",
)


def _reject(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def checked_delivery(
    source: str,
    handler: Source,
    secrets: Sequence[str],
    request: Request,
    body: bytes,
    receipts: FirstReceipts,
    event_source: str,
    config: RouterSettings,
) -> Response | tuple[list[OutgoingRecord], bytes]:
    """A delivery's records and its 202's body, or the response refusing it.

    A function of its own so that everything built on the way (the parsed payload, the
    leads, the signed request) is gone before the request waits on the broker. Under load
    ~100 requests wait at once, and what each keeps alive is evicted from the CPU's caches
    by the others: an `await` that suspends cost 45-60 us with 96 requests in flight and
    5-9 us with one (measured in-process)."""
    text = require_utf8(body)
    now = datetime.now(UTC)
    signed = SignedRequest(
        method=request.method,
        # Only HubSpot signs the URL; building it for every webhook cost ~1 us a request.
        url=request_url(request, config.public_base_url) if handler.signs_url else "",
        headers=request_headers(request),
        body=body,
        now=now,
        tolerance_s=config.webhook_tolerance_s,
    )
    try:
        declared = handler.verify(signed, secrets)
    except SignatureError as exc:
        log.warning("webhook rejected", source=source, reason=exc.reason)
        return _reject(401, exc.reason)

    digest = body_digest(body)
    received_at = receipts.received_at(delivery_key(source, digest), now)
    form = handler.accepts_form and _content_type(request) == FORM
    leads = None if form else handler.read_json(body, received_at)
    if leads is None:
        payload: Any = parse_form(text) if form else parse_json(text)
        if not form:
            refuse_nul(text, payload)
        if isinstance(payload, list) and len(payload) > MAX_EVENTS:
            return _reject(413, TOO_MANY)
        try:
            leads = handler.normalise(payload, received_at)
        except NormalisationError as exc:
            log.info("webhook payload rejected", source=source, fields=exc.fields)
            return _reject(422, str(exc), fields=exc.fields)
    if len(leads) > MAX_EVENTS:
        return _reject(413, TOO_MANY)

    topic = config.topics.leads_captured
    records = [
        encode_event(
            captured.lead,
            topic=topic,
            source=event_source,
            event_id=event_id(source, digest, declared, index, captured.dedupe),
            data=captured.event_json(),
        )
        for index, captured in enumerate(leads)
    ]
    accepted = {
        "event_ids": [record.event_id for record in records],
        "lead_keys": [captured.lead.lead_key for captured in leads],
    }
    # Rendered by pydantic-core: JSONResponse's json.dumps took twice as long.
    return records, to_json(accepted)


def _content_type(request: Request) -> str:
    """The media type, without parameters; read only for a source that takes forms (the
    request's headers are parsed again for it: ~1.5 us a webhook, measured)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def webhook_router(settings: RouterSettings) -> APIRouter:
    """The intake routes. The sources are built (and the secrets and Marketo mapping
    checked) now, so a bad configuration stops the service at start."""
    router = APIRouter(tags=["intake"])
    sources = webhook_sources(settings)
    receipts = FirstReceipts(timedelta(seconds=settings.webhook_tolerance_s))

    known = sorted(sources)

    async def receive(source: str, request: Request) -> Response:
        runtime = runtime_of(request)
        config: RouterSettings = request.app.state.settings
        handler = sources.get(source)
        if handler is None:
            raise HTTPException(404, f"unknown source {source!r}; known: {known}")
        secrets = config.webhook_secrets.get(source) or []
        if not secrets:
            log.warning("webhook rejected", source=source, reason="no secret configured")
            return _reject(401, "no secret configured for source")
        outcome = checked_delivery(
            source,
            handler,
            secrets,
            request,
            await read_limited(request, config.max_body_bytes),
            receipts,
            runtime.source,
            config,
        )
        if isinstance(outcome, Response):
            return outcome
        records, answer = outcome
        await publish_or_503(runtime.request_publisher, records, config.publish_timeout_s)
        return Response(answer, status_code=202, media_type="application/json")

    # One documented route per source, so its OpenAPI entry says what it takes; the rest of
    # /webhooks/... is the same handler, undocumented, answering 404 for a source not known.
    for name in known:
        description, content = PAYLOADS.get(name, ("", {"application/json": {"schema": {}}}))
        router.add_api_route(
            f"/webhooks/{name}",
            _for_source(receive, name),
            methods=["POST"],
            name=f"receive_{name}",
            summary=f"Receive a {name} webhook",
            status_code=202,
            response_model=Accepted,
            responses=RESPONSES,
            openapi_extra={
                "requestBody": {"required": True, "description": description, "content": content}
            },
        )
    router.add_api_route(
        "/webhooks/{source}", receive, methods=["POST"], status_code=202, include_in_schema=False
    )
    return router


def _for_source(
    receive: Callable[[str, Request], Awaitable[Response]], source: str
) -> Callable[[Request], Awaitable[Response]]:
    async def receive_source(request: Request) -> Response:
        return await receive(source, request)

    return receive_source
