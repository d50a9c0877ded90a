"""`POST /webhooks/{source}`: answered 202 only after the broker acknowledged the lead."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from baton_router.api.body import delivery_id, parse_json, read_limited
from baton_router.config import RouterSettings
from baton_router.domain.intake import NormalisationError, normalise_generic
from baton_runtime.logs import get_logger
from baton_runtime.service import ServiceRuntime
from baton_schemas import encode_event

log = get_logger(__name__)

SOURCES = {"generic": normalise_generic}


def webhook_router() -> APIRouter:
    router = APIRouter(tags=["intake"])

    @router.post("/webhooks/{source}", status_code=202)
    async def receive(source: str, request: Request) -> JSONResponse:
        runtime: ServiceRuntime = request.app.state.runtime
        settings: RouterSettings = request.app.state.settings
        normalise = SOURCES.get(source)
        if normalise is None:
            raise HTTPException(404, f"unknown source {source!r}; known: {sorted(SOURCES)}")
        body = await read_limited(request, settings.max_body_bytes)
        payload = parse_json(body)
        try:
            lead = normalise(payload, source=source, received_at=datetime.now(UTC))
        except NormalisationError as exc:
            return JSONResponse({"detail": str(exc), "fields": exc.fields}, status_code=422)
        record = encode_event(
            lead,
            topic=settings.topics.leads_captured,
            source=runtime.source,
            event_id=delivery_id(source, body, request.headers.get("webhook-id")),
        )
        try:
            await asyncio.wait_for(
                runtime.producer.send_and_wait(
                    record.topic, value=record.value, key=record.key, headers=record.headers
                ),
                settings.publish_timeout_s,
            )
        except (KafkaError, TimeoutError) as exc:
            log.warning("broker unavailable, asking sender to retry", error=repr(exc))
            return JSONResponse(
                {"detail": "broker unavailable, retry later"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        log.info("lead accepted", event_id=record.event_id, lead_key=lead.lead_key, source=source)
        return JSONResponse(
            {"event_ids": [record.event_id], "lead_keys": [lead.lead_key]}, status_code=202
        )

    return router
