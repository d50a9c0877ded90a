"""`POST /webhooks/{source}`: answered 202 only after the broker acknowledged every lead.

In order: unknown source 404, no secret configured 401, body over the limit 413, body
not UTF-8 400, bad or stale signature 401, body not JSON (or form) 400, payload that
cannot be normalised 422 naming the field, broker unavailable 503 (the sender retries, and
the retry gets the same event ids), else 202 with the event ids and lead keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from baton_router.api.body import event_id, parse_form
from baton_router.config import RouterSettings
from baton_router.domain.sources import (
    NormalisationError,
    SignatureError,
    SignedRequest,
    Source,
    build_sources,
    check_secrets,
)
from baton_runtime.app_state import runtime_of
from baton_runtime.http_body import parse_json, read_limited, request_headers, require_utf8
from baton_runtime.kafka import publish_or_503
from baton_runtime.logs import get_logger
from baton_schemas import OutgoingRecord, encode_event

log = get_logger(__name__)

FORM = "application/x-www-form-urlencoded"


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


def _reject(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def webhook_router(settings: RouterSettings) -> APIRouter:
    """The intake routes. The sources are built (and the secrets and Marketo mapping
    checked) now, so a bad configuration stops the service at start."""
    router = APIRouter(tags=["intake"])
    sources = webhook_sources(settings)

    @router.post("/webhooks/{source}", status_code=202)
    async def receive(source: str, request: Request) -> JSONResponse:
        runtime = runtime_of(request)
        config: RouterSettings = request.app.state.settings
        handler = sources.get(source)
        if handler is None:
            raise HTTPException(404, f"unknown source {source!r}; known: {sorted(sources)}")
        secrets = config.webhook_secrets.get(source) or []
        if not secrets:
            log.warning("webhook rejected", source=source, reason="no secret configured")
            return _reject(401, "no secret configured for source")

        body = await read_limited(request, config.max_body_bytes)
        text = require_utf8(body)
        now = datetime.now(UTC)
        signed = SignedRequest(
            method=request.method,
            url=request_url(request, config.public_base_url),
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

        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        payload = (
            parse_form(text) if handler.accepts_form and content_type == FORM else parse_json(text)
        )
        try:
            leads = handler.normalise(payload, now)
        except NormalisationError as exc:
            log.info("webhook payload rejected", source=source, fields=exc.fields)
            return _reject(422, str(exc), fields=exc.fields)

        records: list[OutgoingRecord] = [
            encode_event(
                captured.lead,
                topic=config.topics.leads_captured,
                source=runtime.source,
                event_id=event_id(source, body, declared, index, captured.dedupe),
            )
            for index, captured in enumerate(leads)
        ]
        await publish_or_503(runtime.producer, records, config.publish_timeout_s)
        return JSONResponse(
            {
                "event_ids": [record.event_id for record in records],
                "lead_keys": [captured.lead.lead_key for captured in leads],
            },
            status_code=202,
        )

    return router
