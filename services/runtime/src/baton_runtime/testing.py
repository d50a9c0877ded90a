"""Pytest fixtures for Baton's integration tests: a real PostgreSQL and a real
Kafka-protocol broker on loopback, one of each per test session, with a unique topic
prefix and database schema per test so tests never see each other.

Registered as a pytest plugin (entry point `pytest11`), so every workspace member's
test environment that installs `baton-runtime[embedded]` gets these fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from baton_runtime.devstack.topics import read_topic as read_topic  # for the tests
from baton_runtime.settings import ServiceSettings
from baton_schemas import LeadAssigned, OutgoingRecord, encode_event
from baton_schemas.events.lead import Attribution, LeadSnapshot, Owner, Score

S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T")

RawRecord = tuple[bytes | None, bytes, Sequence[tuple[str, bytes]]]
"""A record as (key, value, headers), for input no encoder would write."""


class MakeSettings(Protocol):
    """The `make_settings` fixture: isolated settings of the class it is given."""

    def __call__(self, settings_cls: type[S], **overrides: Any) -> S: ...


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
def make_settings(embedded_postgres: Any, embedded_broker: Any, isolation: str) -> MakeSettings:
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


# What every dead-lettered record must carry (Kafka Connect's names, plus group and service),
# spelled out here rather than taken from the runtime so the tests can catch a change.
DLQ_HEADERS = frozenset(
    {
        "__connect.errors.topic",
        "__connect.errors.partition",
        "__connect.errors.offset",
        "__connect.errors.exception.class.name",
        "__connect.errors.exception.message",
        "__connect.errors.exception.stacktrace",
        "__connect.errors.consumer.group",
        "__connect.errors.service",
    }
)


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


async def prepare_service(
    make_settings: MakeSettings, settings_cls: type[S], migrations: str, **overrides: Any
) -> S:
    """Settings from `make_settings`, with the topics created and the schema migrated."""
    settings = make_settings(settings_cls, **overrides)
    await create_topics_for(settings)
    await migrate(settings, migrations)
    return settings


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[Any]:
    """`running(app)`, entered once the app reports ready."""
    async with running(app) as client:
        await wait_ready(client)
        yield client


async def wait_ready(client: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = await client.get("/readyz")
        if answer.status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not ready: {answer.text}")


async def produce(
    bootstrap: str, topic: str, records: Iterable[OutgoingRecord | RawRecord]
) -> None:
    """Send records to `topic` in order, each acknowledged before the next."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for record in records:
            key, value, headers = (
                (record.key, record.value, record.headers)
                if isinstance(record, OutgoingRecord)
                else record
            )
            await producer.send_and_wait(topic, value=value, key=key, headers=list(headers))
    finally:
        await producer.stop()


async def committed_offsets(
    bootstrap: str, group: str, topics: Iterable[str]
) -> dict[TopicPartition, int | None]:
    """The group's committed offset on every partition of `topics` (None: nothing committed),
    by TopicPartition. Read by a consumer of the group that never joins it (the embedded
    broker does not answer the admin client's OffsetFetch)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(reader.partitions_for_topic(topic) or ())
        ]
        return {tp: await reader.committed(tp) for tp in partitions}
    finally:
        await reader.stop()


async def query(settings: ServiceSettings, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run `sql` in the service's schema and commit; its rows, if it returns any (a test
    may also reach into the database to change it)."""
    from sqlalchemy import text

    from baton_runtime.db import create_engine

    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


async def scalar(settings: ServiceSettings, sql: str, **params: Any) -> Any:
    """The first column of the first row of `sql` (None without rows)."""
    rows = await query(settings, sql, **params)
    return rows[0][0] if rows else None


async def count_rows(settings: ServiceSettings, table: str) -> int:
    return int(await scalar(settings, f'SELECT count(*) FROM "{table}"'))


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


def sample_assigned(
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
    """A `LeadAssigned` as the router would emit it; no owner means the unassigned queue."""
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


def encode_assigned(settings: ServiceSettings, event: LeadAssigned) -> OutgoingRecord:
    """`event` as a record on the assigned topic, from a stand-in router."""
    return encode_event(event, topic=settings.topics.leads_assigned, source="/test/router")


_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)"
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples in Prometheus text format, as (name, labels, value)."""
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = dict(_LABEL.findall(match["labels"] or ""))
            samples.append((match["name"], labels, float(match["value"])))
    return samples


def metric(text: str, name: str, **labels: str) -> float | None:
    """The first sample named `name` carrying `labels`, or None when there is none."""
    for sample, found, value in parse_metrics(text):
        if sample == name and all(found.get(k) == v for k, v in labels.items()):
            return value
    return None
