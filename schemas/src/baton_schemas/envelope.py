"""CloudEvents 1.0 in Kafka binary mode: attributes in `ce_*` headers, JSON data as the value.

The binding is written out here rather than going through the `cloudevents` SDK's event
objects: on the hot path the SDK's attribute validation and dateutil time parsing cost
more than everything else a record needs (measured by the bench), and it invents an id
or a time for a record that lacks one, which would defeat the inbox. The tests hold this
code to the SDK in both directions.

The record key is the lead key, so one lead's events stay in order on one partition.
A W3C `traceparent` header rides along so traces cross the broker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import ValidationError

from baton_schemas.events.base import BatonEvent, assume_utc

EventT = TypeVar("EventT", bound=BatonEvent)

CONTENT_TYPE = "application/json"
CONTENT_TYPE_BYTES = CONTENT_TYPE.encode()
TRACEPARENT = "traceparent"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time")

Headers = list[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """A record that is not a valid Baton CloudEvent (bad headers or not JSON)."""


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes
    value: bytes
    headers: Headers
    event_id: str


@dataclass(frozen=True)
class DecodedEvent:
    id: str
    type: str
    source: str
    time: datetime
    key: str | None
    data: bytes  # the JSON value, parsed by `parse_data`
    traceparent: str | None = None


def new_traceparent() -> str:
    ids = os.urandom(24).hex()  # trace id and span id from one read of the system's RNG
    return f"00-{ids[:32]}-{ids[32:]}-01"


def child_traceparent(parent: str | None) -> str:
    """A new span in the parent's trace (W3C trace context), or a new trace."""
    parts = parent.split("-") if parent else []
    if len(parts) != 4 or len(parts[1]) != 32:
        return new_traceparent()
    return f"{parts[0]}-{parts[1]}-{os.urandom(8).hex()}-{parts[3]}"


def encode_event(
    event: BatonEvent,
    *,
    topic: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
    data: bytes | None = None,
) -> OutgoingRecord:
    """`event` as a record; `data` is its JSON when the caller has written it already."""
    event_id = event_id or str(uuid.uuid4())
    headers: Headers = [
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", event.event_type.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_time", _timestamp(time or datetime.now(UTC)).encode()),
        ("content-type", CONTENT_TYPE_BYTES),
        (TRACEPARENT, (traceparent or new_traceparent()).encode()),
    ]
    return OutgoingRecord(
        topic=topic,
        key=event.record_key.encode(),
        value=data if data is not None else event.__pydantic_serializer__.to_json(event),
        headers=headers,
        event_id=event_id,
    )


def _timestamp(when: datetime) -> str:
    """RFC 3339 as the CloudEvents SDK writes it: `Z` for UTC, the offset otherwise."""
    text = when.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def decode_record(
    key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]]
) -> DecodedEvent:
    """Read a binary-mode record's attributes. Raises EnvelopeError with the cause."""
    header_map = {name: raw for name, raw in headers}
    missing = [name for name in REQUIRED_HEADERS if not header_map.get(name)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
    if header_map["ce_specversion"] != b"1.0":
        raise EnvelopeError(f"unsupported ce_specversion {header_map['ce_specversion']!r}")
    content_type = header_map.get("content-type")
    if content_type is not None and not content_type.startswith(CONTENT_TYPE_BYTES):
        raise EnvelopeError(f"unsupported content-type {content_type.decode(errors='replace')!r}")
    if value is None:
        raise EnvelopeError("record has no value")
    try:
        event_id, event_type, source, time_text = (
            header_map[name].decode() for name in ("ce_id", "ce_type", "ce_source", "ce_time")
        )
        time = datetime.fromisoformat(time_text)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise EnvelopeError(f"invalid CloudEvents headers: {exc}") from exc
    traceparent = header_map.get(TRACEPARENT)
    return DecodedEvent(
        id=event_id,
        type=event_type,
        source=source,
        time=assume_utc(time),
        key=key.decode("utf-8", "replace") if key is not None else None,
        data=value,
        traceparent=traceparent.decode("utf-8", "replace") if traceparent else None,
    )


def parse_data(decoded: DecodedEvent, model: type[EventT]) -> EventT:
    """The record's JSON value as `model` (parsed and validated in one pass by pydantic).
    Raises EnvelopeError when the value is not JSON, ValidationError when it breaks the model."""
    try:
        return model.model_validate_json(decoded.data)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise EnvelopeError(f"value is not valid JSON: {exc.errors()[0]['msg']}") from exc
        raise
