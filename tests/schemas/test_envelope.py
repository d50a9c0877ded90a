"""CloudEvents binary-mode encoding round trip."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from baton_schemas import (
    EnvelopeError,
    LeadAssigned,
    LeadCaptured,
    OutgoingRecord,
    decode_record,
    encode_event,
    parse_data,
)
from baton_schemas.events.lead import Activity, LeadSnapshot, Owner, Person

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
SOURCE = "urn:baton:router"
WHEN = datetime(2025, 3, 14, 9, 30, 15, 123000, tzinfo=UTC)


def captured() -> LeadCaptured:
    return LeadCaptured(
        lead_key="lead:ada@example.com",
        source="hubspot",
        source_record_id="101",
        received_at=WHEN,
        person=Person(email="ada@example.com", first_name="Ada", country="GB"),
        product_interest=["routing"],
        activities=[Activity(type="form_submit", occurred_at=WHEN - timedelta(minutes=1))],
        custom={"score": 12, "vip": True, "note": None, "ratio": 0.5},
        raw={"objectId": 101, "nested": {"a": [1, 2]}},
    )


def assigned() -> LeadAssigned:
    return LeadAssigned(
        lead_key="lead:ada@example.com",
        captured_event_id="0b8f2a0e-7d0b-4b86-9d7e-3f5a2c1d9e10",
        assigned_at=WHEN,
        owner=Owner(id="rep-1", name="Grace", time_zone="Europe/London"),
        reason="round robin",
        policy_version="2025-03-01",
        lead=LeadSnapshot(source="hubspot", captured_at=WHEN),
    )


def headers_of(record: OutgoingRecord) -> dict[str, bytes]:
    names = [name for name, _ in record.headers]
    assert len(names) == len(set(names)), f"duplicate headers: {names}"
    return dict(record.headers)


def without(record: OutgoingRecord, header: str) -> list[tuple[str, bytes]]:
    return [(name, value) for name, value in record.headers if name != header]


@pytest.mark.parametrize("event", [captured(), assigned()], ids=lambda e: e.event_type)
def test_round_trip(event: LeadCaptured | LeadAssigned) -> None:
    record = encode_event(event, topic="t." + event.topic, source=SOURCE, time=WHEN)
    headers = headers_of(record)

    assert record.topic == "t." + event.topic
    assert record.key == event.lead_key.encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == record.event_id.encode()
    assert headers["ce_source"] == SOURCE.encode()
    assert headers["ce_type"] == event.event_type.encode()
    assert datetime.fromisoformat(headers["ce_time"].decode()) == WHEN
    assert headers["content-type"] == b"application/json"
    assert TRACEPARENT.match(headers["traceparent"].decode())

    decoded = decode_record(record.key, record.value, record.headers)
    assert decoded.id == record.event_id
    assert decoded.type == event.event_type
    assert decoded.source == SOURCE
    assert decoded.time == WHEN
    assert decoded.key == event.lead_key
    assert decoded.traceparent == headers["traceparent"].decode()
    assert parse_data(decoded, type(event)) == event


def test_explicit_id_and_traceparent_are_kept() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    record = encode_event(
        assigned(), topic="leads.assigned", source=SOURCE, event_id="evt-1", traceparent=traceparent
    )
    headers = headers_of(record)
    assert record.event_id == "evt-1"
    assert headers["ce_id"] == b"evt-1"
    assert headers["traceparent"] == traceparent.encode()
    assert decode_record(record.key, record.value, record.headers).traceparent == traceparent


def test_new_records_get_fresh_ids_and_traces() -> None:
    first = encode_event(captured(), topic="leads.captured", source=SOURCE)
    second = encode_event(captured(), topic="leads.captured", source=SOURCE)
    assert first.event_id != second.event_id
    assert headers_of(first)["traceparent"] != headers_of(second)["traceparent"]
    assert headers_of(first)["ce_time"]


def test_timestamps_carry_an_offset_on_the_wire() -> None:
    naive = captured().model_copy(update={"received_at": datetime(2025, 3, 14, 9, 30)})
    # model_copy skips validation; validate as a consumer would
    event = LeadCaptured.model_validate(naive.model_dump())
    assert event.received_at == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
    record = encode_event(event, topic="leads.captured", source=SOURCE)
    assert b'"received_at":"2025-03-14T09:30:00Z"' in record.value

    plus_two = timezone(timedelta(hours=2))
    local = LeadCaptured.model_validate(
        {**captured().model_dump(), "received_at": datetime(2025, 3, 14, 11, 30, tzinfo=plus_two)}
    )
    assert local.received_at == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", [b"{not json", b"\xff\xfe", b""])
def test_invalid_json_value_raises(value: bytes) -> None:
    record = encode_event(captured(), topic="leads.captured", source=SOURCE)
    decoded = decode_record(record.key, value, record.headers)
    with pytest.raises(EnvelopeError, match="not valid JSON"):
        parse_data(decoded, LeadCaptured)


def test_missing_value_raises() -> None:
    record = encode_event(captured(), topic="leads.captured", source=SOURCE)
    with pytest.raises(EnvelopeError):
        decode_record(record.key, None, record.headers)


@pytest.mark.parametrize("header", ["ce_type", "ce_source", "ce_id", "ce_specversion", "ce_time"])
def test_missing_required_header_raises(header: str) -> None:
    record = encode_event(captured(), topic="leads.captured", source=SOURCE)
    with pytest.raises(EnvelopeError):
        decode_record(record.key, record.value, without(record, header))


def test_other_spec_version_is_rejected() -> None:
    record = encode_event(captured(), topic="leads.captured", source=SOURCE)
    headers = [*without(record, "ce_specversion"), ("ce_specversion", b"0.3")]
    with pytest.raises(EnvelopeError, match="specversion"):
        decode_record(record.key, record.value, headers)


def test_wrong_content_type_raises() -> None:
    record = encode_event(captured(), topic="leads.captured", source=SOURCE)
    headers = [*without(record, "content-type"), ("content-type", b"application/avro")]
    with pytest.raises(EnvelopeError, match="content-type"):
        decode_record(record.key, record.value, headers)


def test_data_that_breaks_the_model_is_rejected_by_validation() -> None:
    record = encode_event(captured(), topic="leads.captured", source=SOURCE)
    value = json.dumps({**json.loads(record.value), "unexpected": 1}).encode()
    decoded = decode_record(record.key, value, record.headers)
    with pytest.raises(ValidationError, match="extra"):
        parse_data(decoded, LeadCaptured)


@pytest.mark.parametrize(
    "when",
    [WHEN, datetime(2025, 3, 14, 9, 30, tzinfo=UTC), WHEN.astimezone(timezone(timedelta(hours=2)))],
)
def test_headers_are_the_ones_the_cloudevents_sdk_writes(when: datetime) -> None:
    record = encode_event(assigned(), topic="leads.assigned", source=SOURCE, time=when)
    reference = CloudEvent(
        attributes={
            "id": record.event_id,
            "source": SOURCE,
            "type": LeadAssigned.event_type,
            "specversion": "1.0",
            "time": when,
            "datacontenttype": "application/json",
        },
        data=None,
    )
    sdk = to_binary(reference, JSONFormat(), key_mapper=lambda _: assigned().lead_key)
    ours = {name: value for name, value in record.headers if name != "traceparent"}
    assert ours == dict(sdk.headers)
    assert record.key == str(sdk.key).encode()


def test_the_sdk_reads_our_records_as_we_do() -> None:
    record = encode_event(assigned(), topic="leads.assigned", source=SOURCE, time=WHEN)
    ours = decode_record(record.key, record.value, record.headers)
    message = KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    theirs = from_binary(message, JSONFormat())
    assert (ours.id, ours.type, ours.source, ours.time) == (
        theirs.get_id(),
        theirs.get_type(),
        theirs.get_source(),
        theirs.get_time(),
    )


def test_we_read_records_the_sdk_writes() -> None:
    event = CloudEvent(
        attributes={
            "id": "evt-9",
            "source": SOURCE,
            "type": LeadCaptured.event_type,
            "time": WHEN,
            "datacontenttype": "application/json",
        },
        data=None,
    )
    message = to_binary(event, JSONFormat(), key_mapper=lambda _: "lead:ada@example.com")
    value = captured().model_dump_json().encode()
    decoded = decode_record(str(message.key).encode(), value, list(message.headers.items()))
    assert (decoded.id, decoded.type, decoded.source, decoded.time) == (
        "evt-9",
        LeadCaptured.event_type,
        SOURCE,
        WHEN,
    )
    assert parse_data(decoded, LeadCaptured) == captured()


@pytest.mark.parametrize("bad", [b"yesterday", b"\xff"])
def test_unreadable_time_is_an_envelope_error(bad: bytes) -> None:
    record = encode_event(captured(), topic="leads.captured", source=SOURCE)
    headers = [*without(record, "ce_time"), ("ce_time", bad)]
    with pytest.raises(EnvelopeError, match="invalid CloudEvents headers"):
        decode_record(record.key, record.value, headers)
