"""Producing `baton.lead.assigned.v1` input and reading back the feedback service's state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from baton_feedback.config import FeedbackSettings
from baton_feedback.main import MIGRATIONS, create_app
from baton_runtime.testing import create_topics_for, migrate, running, wait_ready
from baton_schemas import LeadAssigned, OutgoingRecord, encode_event
from baton_schemas.events.lead import Attribution, LeadSnapshot, Owner, Score

T = TypeVar("T")


def assigned(
    lead_key: str,
    *,
    owner_id: str | None = "rep-1",
    assigned_at: datetime | None = None,
    tier: str | None = "hot",
    source: str = "generic",
    campaign_id: str | None = "spring-webinar",
    campaign_name: str | None = "Spring webinar",
    channel: str | None = "paid_social",
    score: float = 42.0,
    attempt: int = 1,
) -> LeadAssigned:
    return LeadAssigned(
        lead_key=lead_key,
        captured_event_id=f"captured-{lead_key}-{attempt}",
        assigned_at=assigned_at or datetime.now(UTC),
        owner=Owner(id=owner_id, name=f"Rep {owner_id}") if owner_id else None,
        queue=None if owner_id else "unassigned",
        reason="test",
        tier=tier,
        score=Score(total=score),
        policy_version="test-1",
        attempt=attempt,
        lead=LeadSnapshot(
            source=source,
            attribution=Attribution(
                campaign_id=campaign_id, campaign_name=campaign_name, channel=channel
            ),
        ),
    )


def encode(settings: FeedbackSettings, event: LeadAssigned) -> OutgoingRecord:
    return encode_event(event, topic=settings.topics.leads_assigned, source="/test/router")


async def produce(
    settings: FeedbackSettings,
    records: list[OutgoingRecord] | list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]],
) -> None:
    """Send records to the assigned topic in order, one at a time (acknowledged each)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for record in records:
            key, value, headers = (
                (record.key, record.value, record.headers)
                if isinstance(record, OutgoingRecord)
                else record
            )
            await producer.send_and_wait(
                settings.topics.leads_assigned, value=value, key=key, headers=headers
            )
    finally:
        await producer.stop()


async def prepare(
    make_settings: Callable[..., FeedbackSettings], **overrides: Any
) -> FeedbackSettings:
    settings = make_settings(FeedbackSettings, **overrides)
    await create_topics_for(settings)
    await migrate(settings, MIGRATIONS)
    return settings


@contextlib.asynccontextmanager
async def serving(settings: FeedbackSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings)) as client:
        await wait_ready(client)
        yield client


async def query(settings: FeedbackSettings, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'SET search_path TO "{settings.schema_name}"'))
            return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]
    finally:
        await engine.dispose()


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout: float = 20.0,
    interval: float = 0.1,
) -> T:
    """Poll `probe` until `done(value)`; return the last value either way."""
    deadline = asyncio.get_running_loop().time() + timeout
    value = await probe()
    while not done(value) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(interval)
        value = await probe()
    return value
