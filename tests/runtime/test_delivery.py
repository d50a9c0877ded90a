"""The consumer loop's delivery rules, against a real PostgreSQL and a real broker."""

from __future__ import annotations

import asyncio
import json

from echo_service import EchoSettings, create_app, prepare
from helpers import captured, committed_total, produce_leads, produce_raw

from baton_runtime.testing import (
    DLQ_HEADERS,
    count_rows,
    eventually,
    query,
    read_topic,
    running,
    wait_ready,
)
from baton_schemas import encode_event


async def wait_for_rows(settings: EchoSettings, count: int, timeout: float = 20.0) -> int:
    return await eventually(lambda: count_rows(settings, "effects"), lambda n: n >= count, timeout)


async def start_echo(make_settings, **overrides):  # type: ignore[no-untyped-def]
    settings = make_settings(EchoSettings, **overrides)
    await prepare(settings)
    return settings


async def test_each_event_has_one_effect_and_one_emitted_event(make_settings) -> None:
    settings = await start_echo(make_settings)
    ids = await produce_leads(settings, [f"lead-{n}" for n in range(50)])
    async with running(create_app(settings)) as client:
        await wait_ready(client)
        assert await wait_for_rows(settings, 50) == 50
        out = await read_topic(settings.kafka_bootstrap, settings.topics.leads_assigned, 50)
    assert sorted(json.loads(r.value)["captured_event_id"] for r in out) == sorted(ids)
    headers = dict(out[0].headers)
    assert headers["ce_type"] == b"baton.lead.assigned.v1"
    assert out[0].key == json.loads(out[0].value)["lead_key"].encode()


async def test_offsets_are_committed_after_the_batch_without_waiting_for_more(
    make_settings,
) -> None:
    # Offsets go to the broker in the background once a batch's transaction committed: they
    # must arrive without a later batch to carry them, and a stop must not lose them.
    settings = await start_echo(make_settings)
    topic = settings.topics.leads_captured
    await produce_leads(settings, [f"lead-{n}" for n in range(30)])
    async with running(create_app(settings)) as client:
        await wait_ready(client)
        await wait_for_rows(settings, 30)
        running_total = await eventually(
            lambda: committed_total(settings, topic), lambda n: n == 30, 10
        )
        await produce_leads(settings, ["lead-last"])
        await wait_for_rows(settings, 31)
    assert running_total == 30
    assert await committed_total(settings, topic) == 31


async def test_redelivered_event_changes_nothing(make_settings) -> None:
    settings = await start_echo(make_settings)
    record = encode_event(
        captured("lead-dup"), topic=settings.topics.leads_captured, source="/test"
    )
    for _ in range(3):  # the same event id three times, as a redelivery would
        await produce_raw(settings, record.key, record.value, record.headers)
    after = await produce_leads(settings, ["lead-after"])
    async with running(create_app(settings)) as client:
        await wait_ready(client)
        await wait_for_rows(settings, 2)
        await asyncio.sleep(0.5)
    rows = await query(settings, "SELECT captured_event_id FROM effects")
    assert sorted(row[0] for row in rows) == sorted([record.event_id, *after])


async def test_an_event_redelivered_between_new_ones_changes_nothing(make_settings) -> None:
    # A redelivery in the middle of a running consumer, not only at its start: the new
    # events beside it count once, the redelivered one not again.
    settings = await start_echo(make_settings)
    record = encode_event(
        captured("lead-dup"), topic=settings.topics.leads_captured, source="/test"
    )
    await produce_raw(settings, record.key, record.value, record.headers)
    async with running(create_app(settings)) as client:
        await wait_ready(client)
        await wait_for_rows(settings, 1)
        new = await produce_leads(settings, ["lead-a"])
        await wait_for_rows(settings, 2)
        await produce_raw(settings, record.key, record.value, record.headers)
        new += await produce_leads(settings, ["lead-b", "lead-c"])
        await wait_for_rows(settings, 4)
        await asyncio.sleep(0.5)
        out = await read_topic(settings.kafka_bootstrap, settings.topics.leads_assigned, 5, 3)
    rows = await query(settings, "SELECT captured_event_id FROM effects")
    assert sorted(row[0] for row in rows) == sorted([record.event_id, *new])
    emitted = [json.loads(r.value)["captured_event_id"] for r in out]
    assert sorted(emitted) == sorted([record.event_id, *new])


async def test_poison_records_go_to_dead_letter_and_partition_moves_on(make_settings) -> None:
    settings = await start_echo(make_settings, max_retries=1)
    good = encode_event(captured("same-key"), topic=settings.topics.leads_captured, source="/test")
    headers = dict(good.headers)
    await produce_raw(settings, b"same-key", b"{not json", good.headers)
    invalid = [(k, v if k != "ce_id" else b"bad-schema-id") for k, v in good.headers]
    await produce_raw(settings, b"same-key", json.dumps({"lead_key": "same-key"}).encode(), invalid)
    handler_poison = encode_event(
        captured("poison-1"), topic=settings.topics.leads_captured, source="/test"
    )
    await produce_raw(settings, b"same-key", handler_poison.value, handler_poison.headers)
    await produce_raw(settings, b"same-key", good.value, good.headers)

    async with running(create_app(settings)) as client:
        await wait_ready(client)
        assert await wait_for_rows(settings, 1) == 1
        dead = await read_topic(settings.kafka_bootstrap, settings.topics.dead_letter("echo"), 3)
        metrics = (await client.get("/metrics")).text

    assert [r.value for r in dead][:2] == [
        b"{not json",
        json.dumps({"lead_key": "same-key"}).encode(),
    ]
    assert len(dead) == 3
    for record in dead:
        context = {name: value.decode() for name, value in record.headers}
        assert context.keys() >= DLQ_HEADERS
        assert context["__connect.errors.topic"] == settings.topics.leads_captured
        assert context["__connect.errors.consumer.group"] == settings.group_id
        assert context["__connect.errors.service"] == "echo"
        assert record.key == b"same-key"
        assert context["ce_type"] == headers["ce_type"].decode()  # original headers kept
    reasons = [dict(r.headers)["__connect.errors.exception.message"].decode() for r in dead]
    assert "not valid JSON" in reasons[0]
    assert "received_at" in reasons[1] or "source" in reasons[1]
    assert "cannot process lead poison-1" in reasons[2]
    offsets = sorted(int(dict(r.headers)["__connect.errors.offset"]) for r in dead)
    assert offsets == sorted(set(offsets))
    assert 'baton_dead_lettered_records_total{service="echo"' in metrics
    effects = await query(settings, "SELECT lead_key FROM effects")
    assert effects == [("same-key",)]


async def test_metrics_expose_lag_throughput_batches_and_outbox(make_settings) -> None:
    settings = await start_echo(make_settings)
    await produce_leads(settings, [f"m-{n}" for n in range(20)])
    async with running(create_app(settings)) as client:
        await wait_ready(client)
        await wait_for_rows(settings, 20)
        await asyncio.sleep(1.5)  # the relay refreshes its outbox figures once a second
        text = (await client.get("/metrics")).text
    for name in (
        "baton_consumer_lag{",
        "baton_records_processed_total{",
        "baton_batch_duration_seconds_bucket{",
        "baton_outbox_backlog{",
        "baton_outbox_oldest_unsent_age_seconds{",
    ):
        assert name in text, name
    assert 'baton_records_processed_total{outcome="ok",service="echo"' in text


async def test_an_http_only_replica_leaves_the_topic_to_the_consumers(make_settings) -> None:
    settings = await start_echo(make_settings, consumers_enabled=False)
    await produce_leads(settings, ["lead-http-only"])
    async with running(create_app(settings)) as client:
        await wait_ready(client)  # ready without a consumer group to join
        await asyncio.sleep(1.0)
        assert (await query(settings, "SELECT count(*) FROM effects"))[0][0] == 0
    async with running(create_app(settings.model_copy(update={"consumers_enabled": True}))):
        assert await wait_for_rows(settings, 1) == 1
