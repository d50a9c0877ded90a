"""Producing test input and reading results for the runtime tests."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from baton_runtime.settings import ServiceSettings
from baton_schemas import LeadCaptured, encode_event


def captured(lead_key: str) -> LeadCaptured:
    return LeadCaptured(lead_key=lead_key, source="test", received_at=datetime.now(UTC))


async def produce_leads(settings: ServiceSettings, keys: list[str]) -> list[str]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        ids = []
        futures = []
        for key in keys:
            record = encode_event(
                captured(key), topic=settings.topics.leads_captured, source="/test"
            )
            futures.append(
                await producer.send(
                    record.topic, value=record.value, key=record.key, headers=record.headers
                )
            )
            ids.append(record.event_id)
        for future in futures:
            await future
        return ids
    finally:
        await producer.stop()


async def produce_raw(
    settings: ServiceSettings, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topics.leads_captured, value=value, key=key, headers=headers
        )
    finally:
        await producer.stop()


async def query(settings: ServiceSettings, sql: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'SET search_path TO "{settings.schema_name}"'))
            return [tuple(row) for row in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()
