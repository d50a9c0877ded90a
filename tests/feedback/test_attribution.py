"""The feedback service keeps, per lead, the newest assignment and its attribution."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from feedback_support import prepare, serving

from baton_runtime.testing import (
    encode_assigned,
    eventually,
    produce,
    query,
    read_topic,
    sample_assigned,
)

ATTRIBUTION = (
    "SELECT lead_key, source, campaign_id, campaign_name, channel, owner_id, tier, score,"
    " assigned_at, assigned_event_id FROM lead_attribution ORDER BY lead_key"
)
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


async def processed(settings, *event_ids: str) -> bool:  # type: ignore[no-untyped-def]
    rows = await query(settings, "SELECT event_id FROM inbox")
    return set(event_ids) <= {row[0] for row in rows}


async def wait_processed(settings, *event_ids: str) -> None:  # type: ignore[no-untyped-def]
    assert await eventually(lambda: processed(settings, *event_ids), bool), event_ids


async def test_attribution_row_carries_source_campaign_owner_and_score(make_settings) -> None:
    settings = await prepare(make_settings)
    webinar = encode_assigned(
        settings,
        sample_assigned(
            "lead-a",
            owner_id="rep-1",
            assigned_at=T0,
            tier="hot",
            source="hubspot",
            campaign_id="spring-webinar",
            campaign_name="Spring webinar",
            channel="paid_social",
            score=87.5,
        ),
    )
    queued = encode_assigned(
        settings,
        sample_assigned(
            "lead-b",
            owner_id=None,
            assigned_at=T0,
            tier=None,
            source="generic",
            campaign_id=None,
            campaign_name=None,
            channel=None,
            score=0.0,
        ),
    )
    await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [webinar, queued])
    async with serving(settings):
        await wait_processed(settings, webinar.event_id, queued.event_id)
        rows = await query(settings, ATTRIBUTION)

    assert rows == [
        (
            "lead-a",
            "hubspot",
            "spring-webinar",
            "Spring webinar",
            "paid_social",
            "rep-1",
            "hot",
            87.5,
            T0,
            webinar.event_id,
        ),
        ("lead-b", "generic", None, None, None, None, None, 0.0, T0, queued.event_id),
    ]


async def test_newest_assignment_wins_across_batches(make_settings) -> None:
    settings = await prepare(make_settings)
    first = encode_assigned(settings, sample_assigned("lead-a", owner_id="rep-1", assigned_at=T0))
    async with serving(settings):
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [first])
        await wait_processed(settings, first.event_id)

        newer = encode_assigned(
            settings,
            sample_assigned(
                "lead-a",
                owner_id="rep-2",
                assigned_at=T0 + timedelta(hours=1),
                campaign_id="retargeting",
                campaign_name="Retargeting",
                channel="email",
                attempt=2,
            ),
        )
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [newer])
        await wait_processed(settings, newer.event_id)
        after_newer = await query(settings, ATTRIBUTION)

        # A late, older assignment (e.g. replayed) must not overwrite the newer one,
        # and redelivering the newer one changes nothing.
        late = encode_assigned(
            settings,
            sample_assigned("lead-a", owner_id="rep-0", assigned_at=T0 - timedelta(hours=1)),
        )
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [late, newer])
        await wait_processed(settings, late.event_id)
        await asyncio.sleep(0.3)
        after_late = await query(settings, ATTRIBUTION)
        inbox = await query(settings, "SELECT count(*) FROM inbox")

    expected = (
        "lead-a",
        "generic",
        "retargeting",
        "Retargeting",
        "email",
        "rep-2",
        "hot",
        42.0,
        T0 + timedelta(hours=1),
        newer.event_id,
    )
    assert after_newer == [expected]
    assert after_late == [expected]
    assert inbox == [(3,)]


async def test_newest_assignment_wins_within_one_batch(make_settings) -> None:
    settings = await prepare(make_settings)
    newer = encode_assigned(
        settings, sample_assigned("lead-a", owner_id="rep-new", assigned_at=T0 + timedelta(hours=1))
    )
    older = encode_assigned(settings, sample_assigned("lead-a", owner_id="rep-old", assigned_at=T0))
    # same key: one partition, one fetch
    await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [newer, older])
    async with serving(settings):
        await wait_processed(settings, newer.event_id, older.event_id)
        rows = await query(settings, "SELECT owner_id, assigned_event_id FROM lead_attribution")
    assert rows == [("rep-new", newer.event_id)]


async def test_invalid_record_goes_to_the_dead_letter_topic(make_settings) -> None:
    settings = await prepare(make_settings, max_retries=1)
    good = encode_assigned(settings, sample_assigned("lead-x", assigned_at=T0))
    invalid_headers = [(k, b"bad-1" if k == "ce_id" else v) for k, v in good.headers]
    invalid_value = json.loads(good.value)
    invalid_value["lead"] = {"attribution": {"campaign_id": "no source"}}  # lead.source missing
    invalid = (b"lead-x", json.dumps(invalid_value).encode(), invalid_headers)
    await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [invalid, good])

    async with serving(settings) as client:
        await wait_processed(settings, good.event_id)
        dead = await read_topic(
            settings.kafka_bootstrap, settings.topics.dead_letter("feedback"), 1
        )
        extra = await read_topic(
            settings.kafka_bootstrap, settings.topics.dead_letter("feedback"), 2, timeout=1.5
        )
        rows = await query(settings, "SELECT lead_key, assigned_event_id FROM lead_attribution")
        metrics = (await client.get("/metrics")).text

    assert rows == [("lead-x", good.event_id)]
    assert len(dead) == 1 and len(extra) == 1
    record = dead[0]
    assert record.key == b"lead-x"
    assert record.value == invalid[1]
    context = {name: value.decode() for name, value in record.headers}
    assert context["ce_id"] == "bad-1"
    assert context["__connect.errors.topic"] == settings.topics.leads_assigned
    assert context["__connect.errors.service"] == "feedback"
    assert context["__connect.errors.consumer.group"] == settings.group_id
    assert "lead.source" in context["__connect.errors.exception.message"]
    assert 'baton_dead_lettered_records_total{service="feedback"' in metrics


async def test_first_assignment_and_mql_accumulate_whatever_the_order(make_settings) -> None:
    """The newest assignment's columns only move forward, but an older assignment that
    arrives late still moves the handoff back and can make the lead an MQL."""
    settings = await prepare(make_settings)
    history = (
        "SELECT lead_key, owner_id, assigned_at, first_assigned_at, mql"
        " FROM lead_attribution ORDER BY lead_key"
    )

    def assigned(lead_key: str, owner_id: str, hours: int, stage: str = "lead"):  # type: ignore[no-untyped-def]
        event = sample_assigned(
            lead_key, owner_id=owner_id, assigned_at=T0 + timedelta(hours=hours)
        ).model_copy(update={"lifecycle_stage": stage})
        return encode_assigned(settings, event)

    newer = assigned("lead-a", "rep-new", 2)
    late_mql = assigned("lead-a", "rep-old", 0, "mql")
    # lead-b, in one fetch (sent before the consumer starts): its newest, then an older MQL,
    # then one in between
    lead_b = [assigned("lead-b", "rep-3", 5), assigned("lead-b", "rep-1", 1, "mql")]
    lead_b.append(assigned("lead-b", "rep-2", 3))
    await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [newer, *lead_b])
    async with serving(settings):
        await wait_processed(settings, newer.event_id, *(r.event_id for r in lead_b))
        first_seen = await query(settings, history)
        await produce(settings.kafka_bootstrap, settings.topics.leads_assigned, [late_mql])
        await wait_processed(settings, late_mql.event_id)
        rows = await query(settings, history)

    assert first_seen[0] == (
        "lead-a",
        "rep-new",
        T0 + timedelta(hours=2),
        T0 + timedelta(hours=2),
        False,
    )
    assert rows == [
        ("lead-a", "rep-new", T0 + timedelta(hours=2), T0, True),
        ("lead-b", "rep-3", T0 + timedelta(hours=5), T0 + timedelta(hours=1), True),
    ]
