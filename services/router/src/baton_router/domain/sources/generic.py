"""Generic: Baton's own canonical lead JSON, signed with Standard Webhooks.

For any platform without a source of its own: the body is the `baton.lead.captured.v1`
data minus the fields the server sets, signed per standardwebhooks.com (`webhook-id`,
`webhook-timestamp`, `webhook-signature`); `webhook-id` identifies the delivery, so a
redelivered message gets the event id it got the first time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from baton_router.domain.sources.canonical import (
    Captured,
    fail,
    lead_key_for,
    payload_loc,
    validate_lead,
)
from baton_runtime.signatures import SignedRequest, verify_standard_webhooks
from baton_schemas import LeadCaptured

NAME = "generic"
SERVER_FIELDS = ("source", "received_at", "raw")


def verify(request: SignedRequest, secrets: Sequence[str]) -> str | None:
    return verify_standard_webhooks(request, secrets)


def normalise(payload: Any, received_at: datetime) -> list[Captured]:
    return [Captured(normalise_generic(payload, source=NAME, received_at=received_at))]


def normalise_generic(payload: Any, *, source: str, received_at: datetime) -> LeadCaptured:
    """Baton's canonical lead JSON: the captured event's fields minus the server-set ones."""
    if not isinstance(payload, dict):
        raise fail("$", "not an object", "body must be a JSON object")
    data = {key: value for key, value in payload.items() if key not in SERVER_FIELDS}
    person = data.get("person")
    if person is not None and not isinstance(person, dict):
        raise fail("person", "expected an object", "person must be an object")
    email = person.get("email") if isinstance(person, dict) else None
    if not isinstance(email, str):
        email = None  # a wrong type is reported by the model validation below
    if not data.get("lead_key"):
        record_id = data.get("source_record_id")
        key = lead_key_for(email, source, record_id if isinstance(record_id, str) else None)
        if key is None and isinstance(person, dict) and person.get("email") is not None:
            email_type = type(person["email"]).__name__
            raise fail(
                "person.email",
                f"expected a string, got {email_type}",
                "person.email must be a string",
            )
        if key is None and record_id is not None and not isinstance(record_id, str):
            raise fail("source_record_id", "expected a string", "source_record_id must be a string")
        if key is None:
            raise fail(
                "person.email", "missing", "a lead needs person.email, source_record_id or lead_key"
            )
        data["lead_key"] = key
    return validate_lead(
        {**data, "source": source, "received_at": received_at, "raw": payload},
        "payload does not match the canonical lead",
        payload_loc(payload),
    )
