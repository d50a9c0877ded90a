"""Pytest fixtures for Baton's integration tests: a real PostgreSQL and a real
Kafka-protocol broker on loopback, one of each per test session, with a unique topic
prefix and database schema per test so tests never see each other.

Registered as a pytest plugin (entry point `pytest11`), so every workspace member's
test environment that installs `baton-runtime[embedded]` gets these fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from baton_runtime.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


@pytest.fixture(scope="session")
def embedded_postgres() -> Iterator[Any]:
    from baton_runtime.devstack.ports import free_port
    from baton_runtime.devstack.postgres import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(prefix="baton-test-pg-"))
    server = EmbeddedPostgres(root / "data", free_port())
    server.start()
    yield server
    server.destroy()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[Any]:
    from baton_runtime.devstack.broker import EmbeddedBroker
    from baton_runtime.devstack.ports import free_port

    broker = EmbeddedBroker(free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def isolation() -> str:
    """A unique token for this test's topic prefix and schema names."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_settings(embedded_postgres: Any, embedded_broker: Any, isolation: str) -> Any:
    def build(settings_cls: type[S], **overrides: Any) -> S:
        values: dict[str, Any] = {
            "kafka_bootstrap": embedded_broker.bootstrap,
            "topic_prefix": f"{isolation}.",
            "database_url": embedded_postgres.url,
            "db_schema": f"{isolation}_{settings_cls.service_name.replace('-', '_')}",
            "consumer_group": f"{isolation}-{settings_cls.service_name}",
            "poll_timeout_ms": 50,
            "outbox_poll_interval_s": 0.2,
            "retry_backoff_ms": 20,
            "session_timeout_ms": 6000,
            "heartbeat_interval_ms": 500,
            "db_pool_size": 4,
        }
        values.update(overrides)
        return settings_cls(**values)

    return build


async def create_topics_for(settings: ServiceSettings, partitions: int = 3) -> None:
    from baton_runtime.devstack.topics import create_topics

    await create_topics(settings.kafka_bootstrap, settings.topics.all_for(), partitions)


async def migrate(settings: ServiceSettings, script_location: str) -> None:
    from baton_runtime.migrations import upgrade

    await asyncio.to_thread(upgrade, settings, script_location)


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[Any]:
    """Run a FastAPI app's lifespan and give an httpx client bound to it (no socket)."""
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://baton.test") as client:
            yield client


async def wait_ready(client: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = await client.get("/readyz")
        if answer.status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not ready: {answer.text}")


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> list[Any]:
    """Read `count` records from the start of `topic` with a plain aiokafka consumer (no group)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + timeout
        while not partitions and time.monotonic() < deadline:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await asyncio.sleep(0.1)
        assignment = [TopicPartition(topic, p) for p in sorted(partitions or ())]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        records: list[Any] = []
        while len(records) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def as_env(settings: ServiceSettings) -> dict[str, str]:
    """The environment variables that recreate `settings` in a child process."""
    prefix = type(settings).model_config.get("env_prefix", "")
    env: dict[str, str] = {}
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        alias = field.validation_alias
        key = alias.choices[0] if alias is not None else f"{prefix}{name}".upper()  # type: ignore[union-attr]
        env[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return env
