"""Normalising an inbound payload into the canonical `baton.lead.captured.v1`."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from baton_schemas import LeadCaptured

SERVER_FIELDS = ("source", "received_at", "raw")


class NormalisationError(ValueError):
    """The payload cannot become a lead; `fields` names what is wrong."""

    def __init__(self, message: str, fields: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.fields = fields


def lead_key_for(email: str | None, source: str, record_id: str | None) -> str | None:
    """One person is one lead: the key is derived from the normalised e-mail when there is one."""
    if email and email.strip():
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"email:{digest}"
    if record_id:
        return f"{source}:{record_id}"
    return None


def normalise_generic(payload: Any, *, source: str, received_at: datetime) -> LeadCaptured:
    """Baton's canonical lead JSON: the captured event's fields minus the server-set ones."""
    if not isinstance(payload, dict):
        raise NormalisationError(
            "body must be a JSON object", [{"field": "$", "error": "not an object"}]
        )
    data = {key: value for key, value in payload.items() if key not in SERVER_FIELDS}
    person = data.get("person")
    email = person.get("email") if isinstance(person, dict) else None
    if not isinstance(email, str):
        email = None  # a wrong type is reported by the model validation below
    if not data.get("lead_key"):
        key = lead_key_for(email, source, data.get("source_record_id"))
        if key is None and isinstance(person, dict) and person.get("email") is not None:
            email_type = type(person["email"]).__name__
            raise NormalisationError(
                "person.email must be a string",
                [{"field": "person.email", "error": f"expected a string, got {email_type}"}],
            )
        if key is None:
            raise NormalisationError(
                "a lead needs person.email, source_record_id or lead_key",
                [{"field": "person.email", "error": "missing"}],
            )
        data["lead_key"] = key
    try:
        return LeadCaptured.model_validate(
            {**data, "source": source, "received_at": received_at, "raw": payload}
        )
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(part) for part in error["loc"]), "error": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise NormalisationError("payload does not match the canonical lead", fields) from exc
