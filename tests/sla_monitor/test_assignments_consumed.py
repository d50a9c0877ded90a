"""The SLA monitor turns each `baton.lead.assigned.v1` into one open follow-up record."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sla_support import prepare, serving

from baton_runtime.testing import (
    DLQ_HEADERS,
    encode_assigned,
    eventually,
    produce,
    query,
    read_topic,
    sample_assigned,
)
from baton_schemas import LeadCaptured, encode_event

DEADLINES = (
    "SELECT assigned_event_id, lead_key, owner_id, tier, opened_at, status FROM deadlines"
    " ORDER BY opened_at"
)


async def count(settings, table: str) -> int:  # type: ignore[no-untyped-def]
    return int((await query(settings, f"SELECT count(*) FROM {table}"))[0][0])


async def test_each_assignment_opens_one_open_deadline(make_settings) -> None:
    settings = await prepare(make_settings)
    t0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    first = encode_assigned(
        settings, sample_assigned("lead-a", owner_id="rep-1", assigned_at=t0, tier="hot")
    )
    reassigned = encode_assigned(
        settings,
        sample_assigned("lead-a", owner_id="rep-2", assigned_at=t0 + timedelta(hours=1), attempt=2),
    )
    queued = encode_assigned(
        settings,
        sample_assigned("lead-b", owner_id=None, assigned_at=t0 + timedelta(hours=2), tier=None),
    )
    await produce(
        settings.kafka_bootstrap, settings.topics.leads_assigned, [first, reassigned, queued]
    )

    async with serving(settings):
        rows = await eventually(lambda: query(settings, DEADLINES), lambda r: len(r) >= 3)
        await asyncio.sleep(0.5)
        rows = await query(settings, DEADLINES)

    assert rows == [
        (first.event_id, "lead-a", "rep-1", "hot", t0, "open"),
        (reassigned.event_id, "lead-a", "rep-2", "hot", t0 + timedelta(hours=1), "open"),
        (queued.event_id, "lead-b", None, None, t0 + timedelta(hours=2), "open"),
    ]


async def test_a_redelivered_assignment_adds_nothing(make_settings) -> None:
    settings = await prepare(make_settings)
    t0 = datetime.now(UTC).replace(microsecond=0)
    a = encode_assigned(settings, sample_assigned("lead-dup", assigned_at=t0))
    b = encode_assigned(settings, sample_assigned("lead-other", assigned_at=t0))
    # the same event id three times: a redelivery
    await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [a, a, b, a])

    async with serving(settings):
        await eventually(lambda: count(settings, "deadlines"), lambda n: n >= 2)
        # Redelivered once more after it was processed, then a new assignment of the same
        # lead (same key, same partition, so it is consumed after the duplicate).
        marker = encode_assigned(
            settings, sample_assigned("lead-dup", assigned_at=t0 + timedelta(minutes=5), attempt=2)
        )
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [a, marker])
        await eventually(lambda: count(settings, "deadlines"), lambda n: n >= 3)
        await asyncio.sleep(0.5)
        rows = await query(settings, "SELECT assigned_event_id, lead_key FROM deadlines")
        inbox = await query(settings, "SELECT event_id FROM inbox")

    assert sorted(rows) == sorted(
        [(a.event_id, "lead-dup"), (b.event_id, "lead-other"), (marker.event_id, "lead-dup")]
    )
    assert sorted(r[0] for r in inbox) == sorted([a.event_id, b.event_id, marker.event_id])


async def test_invalid_records_go_to_the_dead_letter_topic_and_the_partition_moves_on(
    make_settings,
) -> None:
    settings = await prepare(make_settings, max_retries=1)
    good = encode_assigned(settings, sample_assigned("lead-x"))
    headers = list(good.headers)

    def with_id(event_id: bytes) -> list[tuple[str, bytes]]:
        return [(k, event_id if k == "ce_id" else v) for k, v in headers]

    not_json = (b"lead-x", b"{not json", with_id(b"bad-1"))
    missing_fields = (
        b"lead-x",
        json.dumps({"lead_key": "lead-x", "reason": "no owner, no lead"}).encode(),
        with_id(b"bad-2"),
    )
    no_event_id = (b"lead-x", good.value, [(k, v) for k, v in headers if k != "ce_id"])
    unknown_type = (
        b"lead-x",
        good.value,
        [(k, b"baton.lead.bogus.v1" if k == "ce_type" else v) for k, v in with_id(b"bad-4")],
    )
    # A Baton event this service does not act on is skipped, not dead-lettered.
    other = encode_event(
        LeadCaptured(lead_key="lead-x", source="generic", received_at=datetime.now(UTC)),
        topic=settings.topics.leads_assigned,
        source="/test",
    )
    await produce(
        settings.kafka_bootstrap,
        settings.topics.leads_assigned,
        [not_json, missing_fields, no_event_id, unknown_type, other, good],
    )

    async with serving(settings) as client:
        rows = await eventually(lambda: count(settings, "deadlines"), lambda n: n >= 1)
        dead = await read_topic(
            settings.kafka_bootstrap, settings.topics.dead_letter("sla-monitor"), 4
        )
        extra = await read_topic(
            settings.kafka_bootstrap, settings.topics.dead_letter("sla-monitor"), 5, timeout=1.5
        )
        metrics = (await client.get("/metrics")).text
        ids = await query(settings, "SELECT assigned_event_id FROM deadlines")

    assert rows == 1
    assert ids == [(good.event_id,)]
    assert len(dead) == 4 and len(extra) == 4
    dead.sort(key=lambda r: int(dict(r.headers)["__connect.errors.offset"]))
    assert [r.value for r in dead] == [
        not_json[1],
        missing_fields[1],
        good.value,
        good.value,
    ]
    for record in dead:
        context = {name: value.decode() for name, value in record.headers}
        assert context.keys() >= DLQ_HEADERS
        assert context["__connect.errors.topic"] == settings.topics.leads_assigned
        assert context["__connect.errors.service"] == "sla-monitor"
        assert context["__connect.errors.consumer.group"] == settings.group_id
        assert record.key == b"lead-x"
    messages = [dict(r.headers)["__connect.errors.exception.message"].decode() for r in dead]
    assert "JSON" in messages[0]
    assert "lead" in messages[1] and "captured_event_id" in messages[1]
    assert "ce_id" in messages[2]
    assert "baton.lead.bogus.v1" in messages[3]
    assert 'baton_dead_lettered_records_total{service="sla-monitor"' in metrics
