"""Starting the router on the embedded stack and reading back what it did."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from baton_router.config import RouterSettings
from baton_router.main import MIGRATIONS, create_app
from baton_runtime.testing import create_topics_for, migrate, running, wait_ready

T = TypeVar("T")

LEAD: dict[str, Any] = {
    "person": {"email": "Ada@Example.com", "first_name": "Ada", "title": "CTO", "country": "DE"},
    "company": {"name": "Analytical Engines", "domain": "example.com", "employees": 250},
    "attribution": {
        "campaign_id": "spring-webinar",
        "campaign_name": "Spring webinar",
        "channel": "paid_social",
        "utm_source": "linkedin",
    },
}


async def prepare(make_settings: Callable[..., RouterSettings], **overrides: Any) -> RouterSettings:
    settings = make_settings(RouterSettings, **overrides)
    await create_topics_for(settings)
    await migrate(settings, MIGRATIONS)
    return settings


@contextlib.asynccontextmanager
async def router(
    make_settings: Callable[..., RouterSettings], **overrides: Any
) -> AsyncIterator[tuple[RouterSettings, httpx.AsyncClient]]:
    """A migrated, ready router with its own topics and schema."""
    settings = await prepare(make_settings, **overrides)
    async with running(create_app(settings)) as client:
        await wait_ready(client)
        yield settings, client


async def query(settings: RouterSettings, sql: str, **params: Any) -> list[tuple[Any, ...]]:
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


async def produce_raw(
    settings: RouterSettings,
    topic: str,
    key: bytes | None,
    value: bytes,
    headers: list[tuple[str, bytes]],
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)"
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric(text_format: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format, or None when it is absent."""
    for line in text_format.splitlines():
        match = _SAMPLE.match(line)
        if not match or match["name"] != name:
            continue
        found = dict(_LABEL.findall(match["labels"] or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match["value"])
    return None
