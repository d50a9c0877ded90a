"""A reference service on the runtime: every captured lead becomes one effect row and one
emitted assignment. It lets the runtime's guarantees be tested without routing logic."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import ClassVar

import uvicorn
from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from baton_runtime.consumer import Batch
from baton_runtime.service import ConsumerSpec, create_service_app
from baton_runtime.settings import ServiceSettings
from baton_runtime.tables import add_runtime_tables
from baton_schemas import LeadAssigned, LeadCaptured
from baton_schemas.events.lead import LeadSnapshot

POISON = "poison"


class EchoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ECHO_")  # the rest from the base
    service_name: ClassVar[str] = "echo"
    handler_delay_s: float = 0.0


metadata = MetaData()
tables = add_runtime_tables(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # deliberately not unique: a duplicate effect must be visible, not rejected
    Column("captured_event_id", Text, nullable=False),
    Column("lead_key", Text, nullable=False),
)


async def create_schema(settings: EchoSettings) -> None:
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.schema_name}"'))
        await conn.execute(text(f'SET search_path TO "{settings.schema_name}"'))
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


async def prepare(settings: EchoSettings) -> None:
    """The echo service's topics and tables, before it starts."""
    from baton_runtime.testing import create_topics_for

    await create_topics_for(settings)
    await create_schema(settings)


def echo_handler(settings: EchoSettings):  # type: ignore[no-untyped-def]
    async def handle(batch: Batch) -> None:
        if settings.handler_delay_s:
            await asyncio.sleep(settings.handler_delay_s)
        rows = []
        for incoming in batch.events:
            lead = incoming.event
            assert isinstance(lead, LeadCaptured)
            if lead.lead_key.startswith(POISON):
                raise ValueError(f"handler cannot process lead {lead.lead_key}")
            rows.append({"captured_event_id": incoming.id, "lead_key": lead.lead_key})
            batch.emit(
                LeadAssigned(
                    lead_key=lead.lead_key,
                    captured_event_id=incoming.id,
                    assigned_at=datetime.now(UTC),
                    reason="echo",
                    policy_version="echo",
                    lead=LeadSnapshot(source=lead.source),
                ),
                topic=settings.topics.leads_assigned,
            )
        await batch.conn.execute(insert(effects), rows)

    return handle


def create_app(settings: EchoSettings) -> FastAPI:
    return create_service_app(
        settings=settings,
        tables=tables,
        consumers=lambda runtime: [
            ConsumerSpec([settings.topics.leads_captured], [LeadCaptured], echo_handler(settings))
        ],
        title="echo",
    )


if __name__ == "__main__":
    config = EchoSettings()
    asyncio.run(create_schema(config))
    uvicorn.run(create_app(config), host="127.0.0.1", port=config.http_port, log_config=None)
    sys.exit(0)
