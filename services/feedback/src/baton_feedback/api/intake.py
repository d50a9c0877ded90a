"""`POST /feedback`: CRMs and sales tools report activities, dispositions, stage changes
and closed deals, one event (a JSON object) or a batch (an array).

The caller is a client with a bearer key (`FEEDBACK_API_KEYS`) or one that signs with the
Standard Webhooks scheme (`FEEDBACK_WEBHOOK_SECRETS`). Every event is checked against
`baton.crm.feedback.v1` (a 422 names each bad event's index and field, and nothing of the
batch is taken), then published to `crm.activity`, the topic CRMs that speak Kafka write to,
so both doors share one consumer. The answer is 202 once the broker has every event, 503
(retry) when it is unavailable. An event's id derives from its CRM event id, so a CRM that
sends an event again gets the same id and the consumer absorbs it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ValidationError

from baton_feedback.config import FeedbackSettings
from baton_feedback.domain.outgoing import UnknownReason, check_reason
from baton_runtime.api_auth import (
    SafeJSONResponse,
    authenticate,
    bearer_scheme,
    validation_errors,
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
from baton_runtime.openapi import error_responses, inline_schema
from baton_runtime.signatures import SignatureError, SignedRequest, verify_standard_webhooks
from baton_schemas import CrmFeedback, encode_event

log = get_logger(__name__)

CRM_EVENT_NAMESPACE = uuid.UUID("0d6b7c1e-52a4-4c1b-9f3e-5a8e2b7d9c40")


def feedback_event_id(crm_event_id: str) -> str:
    return str(uuid.uuid5(CRM_EVENT_NAMESPACE, crm_event_id))


class Accepted(BaseModel):
    """The batch, on the broker: one event id per event, in the batch's order."""

    event_ids: list[str]


# For the OpenAPI document only: the route checks the signature itself, over the raw body.
signature_scheme = APIKeyHeader(
    name="webhook-signature",
    scheme_name="StandardWebhooks",
    description=(
        "Standard Webhooks signature (with webhook-id and webhook-timestamp) under one of "
        "a client's FEEDBACK_WEBHOOK_SECRETS; an alternative to the bearer key"
    ),
    auto_error=False,
)
_EVENT = inline_schema(CrmFeedback)
REQUEST_BODY = {
    "required": True,
    "description": "one `baton.crm.feedback.v1` event, or a batch of them",
    "content": {
        "application/json": {
            "schema": {"anyOf": [_EVENT, {"type": "array", "items": _EVENT, "minItems": 1}]}
        }
    },
}
RESPONSES = error_responses(
    400,
    401,
    403,
    413,
    422,
    503,
    e413="the body is larger than FEEDBACK_MAX_BODY_BYTES, or the batch than FEEDBACK_MAX_BATCH",
    e422="an empty batch, or events that are not valid; each problem names the event's index",
)


def intake_router() -> APIRouter:
    router = APIRouter(tags=["feedback"], default_response_class=SafeJSONResponse)

    @router.post(
        "/feedback",
        status_code=202,
        response_model=Accepted,
        responses=RESPONSES,
        dependencies=[Depends(bearer_scheme), Depends(signature_scheme)],
        openapi_extra={"requestBody": REQUEST_BODY},
    )
    async def receive(request: Request) -> JSONResponse:
        runtime = runtime_of(request)
        config: FeedbackSettings = request.app.state.settings
        # A client with a key is checked before its body is read: an unauthenticated caller
        # never makes the service read (up to) a megabyte. A signature needs the body.
        signed = "webhook-signature" in request.headers
        keyed = None if signed else authenticate(request)
        body = await read_limited(request, config.max_body_bytes)
        text = require_utf8(body)  # 400 naming the byte, before a signature over it fails
        client = keyed if keyed is not None else _client(request, body, config)
        payload = parse_json(text)
        refuse_nul(text, payload)
        events = _validated(payload, config.max_batch, config.reject_reasons)
        topic = config.topics.crm_activity
        records = [
            encode_event(
                event,
                topic=topic,
                source=runtime.source,
                event_id=feedback_event_id(event.crm_event_id),
            )
            for event in events
        ]
        await publish_or_503(runtime.request_publisher, records, config.publish_timeout_s)
        log.info("feedback accepted", client=client, events=len(records))
        return SafeJSONResponse(
            {"event_ids": [record.event_id for record in records]}, status_code=202
        )

    return router


def _client(request: Request, body: bytes, config: FeedbackSettings) -> str:
    """The calling client: by its Standard Webhooks signature when it signs, else by its
    bearer key. 401 (or 403 for an unknown key) otherwise."""
    if "webhook-signature" not in request.headers:
        return authenticate(request)
    signed = SignedRequest(
        method=request.method,
        url=str(request.url),
        headers=request_headers(request),
        body=body,
        now=datetime.now(UTC),
        tolerance_s=config.webhook_tolerance_s,
    )
    reason = "no client signs with a secret configured here"
    for client, secrets in config.webhook_secrets.items():
        try:
            verify_standard_webhooks(signed, secrets)
        except SignatureError as exc:
            reason = exc.reason
            continue
        return client
    raise HTTPException(401, reason)


def _validated(payload: Any, max_batch: int, reasons: list[str]) -> list[CrmFeedback]:
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise HTTPException(422, "an empty batch")
    if len(items) > max_batch:
        raise HTTPException(413, f"a batch holds at most {max_batch} events")
    events: list[CrmFeedback] = []
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            event = CrmFeedback.model_validate(item)
            check_reason(event, reasons)
        except ValidationError as exc:
            for problem in validation_errors(exc):
                problems.append({**problem, "loc": ["body", index, *problem.get("loc", [])]})
            continue
        except UnknownReason as exc:
            loc = ["body", index, "disposition", "reason_code"]
            problems.append({"type": "value_error", "loc": loc, "msg": str(exc)})
            continue
        events.append(event)
    if problems:
        raise HTTPException(422, problems)
    return events
