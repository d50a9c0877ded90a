"""Generic: Baton's own canonical lead JSON, signed with Standard Webhooks.

For any platform without a source of its own: the body is the `baton.lead.captured.v1`
data minus the fields the server sets, signed per standardwebhooks.com (`webhook-id`,
`webhook-timestamp`, `webhook-signature`); `webhook-id` identifies the delivery, so a
redelivered message gets the event id it got the first time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

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


# Escapes the careful path refuses (NUL, lone surrogates) or that might hide one; a body
# holding any goes that way. Paired surrogates (an escaped emoji) are rare enough to follow.
_CAREFUL_ESCAPES = (b"\\u0000", b"\\ud", b"\\uD")


def read_json(body: bytes, received_at: datetime) -> list[Captured] | None:
    """The lead of a well-formed canonical body, validated straight from its bytes in one
    pass of pydantic-core; the body itself is the event's `raw`. Parsing it into Python
    values first, validating those and writing them out again took a third longer.

    None for any other body: one holding a server field, an escape the careful path
    refuses, a number that is not finite, or anything the model refuses. `parse_json` and
    `normalise` then decide, and name what is wrong; the result for a body read here is
    the one `normalise` gives (the tests compare both ways on every kind of body)."""
    if b"\\u" in body and any(escape in body for escape in _CAREFUL_ESCAPES):
        return None  # most bodies hold no escape at all: one scan of the body for them
    try:
        sent = _sent_lead_model().model_validate_json(body)
    except ValidationError:
        return None
    values = sent.__dict__  # the model is built at run time: its fields have no static types
    if not _all_finite(values):
        return None
    key = values["lead_key"] or lead_key_for(
        values["person"].email, NAME, values["source_record_id"]
    )
    if key is None:
        return None
    fields = {**values, "lead_key": key, "source": NAME, "received_at": received_at}
    try:
        lead = LeadCaptured.model_validate(fields)  # the parts are validated models already
    except ValidationError:
        return None
    return [Captured(lead, raw_json=body)]


@functools.cache
def _sent_lead_model() -> type[BaseModel]:
    """The canonical lead as a sender writes it: the captured event's fields, the lead key
    optional, none of the fields the server sets."""
    carried = {
        name: (field.annotation, field)
        for name, field in LeadCaptured.model_fields.items()
        if name not in (*SERVER_FIELDS, "lead_key")
    }
    model: type[BaseModel] = create_model(
        "SentLead",
        __config__=ConfigDict(extra="forbid", frozen=True),
        lead_key=(str | None, Field(default=None)),
        **carried,  # type: ignore[call-overload]
    )
    return model


def _all_finite(values: dict[str, Any]) -> bool:
    """Whether the lead's numbers are finite: pydantic reads `NaN`, `Infinity` and `1e400`
    as floats, which `parse_json` refuses. These are the canonical lead's float fields
    (a test derives them from the JSON Schema)."""
    revenue = values["company"].annual_revenue
    if revenue is not None and not math.isfinite(revenue):
        return False
    custom = values["custom"]
    return all(math.isfinite(value) for value in custom.values() if isinstance(value, float))


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
