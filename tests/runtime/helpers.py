"""Producing test input for the runtime tests' echo service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from baton_runtime.kafka import publish
from baton_runtime.settings import ServiceSettings
from baton_runtime.testing import committed_offsets, produce
from baton_schemas import LeadCaptured, encode_event


def captured(lead_key: str) -> LeadCaptured:
    return LeadCaptured(lead_key=lead_key, source="test", received_at=datetime.now(UTC))


async def produce_leads(settings: ServiceSettings, keys: list[str]) -> list[str]:
    records = [
        encode_event(captured(key), topic=settings.topics.leads_captured, source="/test")
        for key in keys
    ]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        await publish(producer, records)
    finally:
        await producer.stop()
    return [record.event_id for record in records]


async def produce_raw(
    settings: ServiceSettings, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]
) -> None:
    """One record onto the captured topic, acknowledged."""
    await produce(settings.kafka_bootstrap, settings.topics.leads_captured, [(key, value, headers)])


async def committed_total(settings: ServiceSettings, topic: str) -> int:
    """The offsets the service's consumer group committed on `topic`, summed over its
    partitions."""
    offsets = await committed_offsets(settings.kafka_bootstrap, settings.group_id, [topic])
    return sum(offset or 0 for offset in offsets.values())
