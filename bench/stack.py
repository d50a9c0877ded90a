"""The embedded stack the bench runs on: PostgreSQL and the Tansu broker on loopback,
plus the topic and database helpers every phase shares."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from baton_runtime.devstack.topics import create_topics


@dataclass(frozen=True)
class Stack:
    """Where the broker and the database listen, and a scratch directory."""

    bootstrap: str
    database_url: str
    workdir: Path


@contextlib.contextmanager
def embedded_stack() -> Iterator[Stack]:
    """Start an embedded PostgreSQL and an embedded broker; remove both afterwards."""
    from baton_runtime.devstack.broker import EmbeddedBroker
    from baton_runtime.devstack.ports import free_port
    from baton_runtime.devstack.postgres import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    postgres = EmbeddedPostgres(root / "pg", free_port())
    broker = EmbeddedBroker(free_port(), log_file=root / "broker.log")
    try:
        postgres.start()
        broker.start()
        yield Stack(bootstrap=broker.bootstrap, database_url=postgres.url, workdir=root)
    finally:
        broker.stop()
        postgres.destroy()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def attached_stack(bootstrap: str, database_url: str) -> Iterator[Stack]:
    """A stack somebody else runs (the test fixtures); only a scratch directory is ours."""
    root = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    try:
        yield Stack(bootstrap=bootstrap, database_url=database_url, workdir=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def token(label: str) -> str:
    """A unique name part, so phases and runs never share topics, groups or schemas."""
    return f"b{label}{uuid.uuid4().hex[:8]}"


async def ensure_topics(bootstrap: str, names: list[str], partitions: int = 3) -> None:
    await create_topics(bootstrap, names, partitions)


async def wait_for_topics(bootstrap: str, names: list[str], timeout: float = 10.0) -> None:
    """Until the broker's metadata lists every topic with its partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await consumer.topics()  # refreshes the metadata
            if all(consumer.partitions_for_topic(name) for name in names):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics not in metadata: {names}")
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()


class TopicReader:
    """A plain consumer (no group) reading every record of one topic from the start.

    Not `end_offsets`: the embedded broker's ListOffsets(latest) answers the base offset of
    the partition's last batch, not the offset after its last record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(self.topic)
        while not partitions:
            await self._consumer.topics()  # refreshes the metadata
            partitions = self._consumer.partitions_for_topic(self.topic)
        self._partitions = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def read_all(self, expected: int, timeout: float = 30.0) -> list[Any]:
        """The topic's records from the start: `expected` of them, or what arrived in time."""
        await self._consumer.seek_to_beginning(*self._partitions)
        records: list[Any] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for batch in batches.values():
                records.extend(batch)
        return records


@contextlib.asynccontextmanager
async def schema_connection(database_url: str, schema: str) -> AsyncIterator[AsyncConnection]:
    """One connection whose statements run in `schema` (each in its own transaction)."""
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'SET search_path TO "{schema}"'))
            yield conn
    finally:
        await engine.dispose()
