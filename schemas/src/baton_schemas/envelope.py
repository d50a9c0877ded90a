"""CloudEvents 1.0 in Kafka binary mode: attributes in `ce_*` headers, JSON data as the value.

The record key is the lead key, so one lead's events stay in order on one partition.
A W3C `traceparent` header rides along so traces cross the broker.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from baton_schemas.events.base import BatonEvent

CONTENT_TYPE = "application/json"
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
    time: datetime | None
    key: str | None
    data: Any
    traceparent: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def new_traceparent() -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


def child_traceparent(parent: str | None) -> str:
    """A new span in the parent's trace (W3C trace context), or a new trace."""
    parts = parent.split("-") if parent else []
    if len(parts) != 4 or len(parts[1]) != 32:
        return new_traceparent()
    return f"{parts[0]}-{parts[1]}-{uuid.uuid4().hex[:16]}-{parts[3]}"


def encode_event(
    event: BatonEvent,
    *,
    topic: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> OutgoingRecord:
    event_id = event_id or str(uuid.uuid4())
    cloud_event = CloudEvent(
        attributes={
            "id": event_id,
            "source": source,
            "type": event.event_type,
            "specversion": "1.0",
            "time": time or datetime.now(UTC),
            "datacontenttype": CONTENT_TYPE,
        },
        data=None,
    )
    message = to_binary(cloud_event, JSONFormat(), key_mapper=lambda _: event.lead_key)
    headers: Headers = list(message.headers.items())
    headers.append((TRACEPARENT, (traceparent or new_traceparent()).encode()))
    return OutgoingRecord(
        topic=topic,
        key=event.lead_key.encode(),
        value=event.model_dump_json(exclude_none=False).encode(),
        headers=headers,
        event_id=event_id,
    )


def decode_record(key: bytes | None, value: bytes | None, headers: Headers) -> DecodedEvent:
    """Parse a binary-mode record. Raises EnvelopeError with the cause."""
    header_map = {name: raw for name, raw in headers}
    # The library fills a missing id or time with fresh values; a redelivered record would
    # then look new to the inbox, so the required attributes are checked here first.
    missing = [name for name in REQUIRED_HEADERS if not header_map.get(name)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
    if header_map["ce_specversion"] != b"1.0":
        raise EnvelopeError(f"unsupported ce_specversion {header_map['ce_specversion']!r}")
    try:
        message = KafkaMessage(headers=header_map, key=key, value=b"")
        cloud_event = from_binary(message, JSONFormat())
    except Exception as exc:  # the library raises several types for bad attributes
        raise EnvelopeError(f"invalid CloudEvents headers: {exc}") from exc
    content_type = cloud_event.get_datacontenttype()
    if content_type is not None and not content_type.startswith(CONTENT_TYPE):
        raise EnvelopeError(f"unsupported content-type {content_type!r}")
    if value is None:
        raise EnvelopeError("record has no value")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"value is not valid JSON: {exc}") from exc
    traceparent = header_map.get(TRACEPARENT)
    return DecodedEvent(
        id=cloud_event.get_id(),
        type=cloud_event.get_type(),
        source=cloud_event.get_source(),
        time=cloud_event.get_time(),
        key=key.decode("utf-8", "replace") if key is not None else None,
        data=data,
        traceparent=traceparent.decode("utf-8", "replace") if traceparent else None,
    )
