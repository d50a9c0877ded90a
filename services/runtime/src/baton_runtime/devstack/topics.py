"""Topics for the embedded stack, the tests and the bench: create them (idempotent), wait
until the broker's metadata lists them, read one back from the start, delete the ones a
finished run left."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord


async def create_topics(bootstrap: str, names: list[str], partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="baton-devstack")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, 1) for name in names if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def delete_topics_with_prefix(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix`; the names deleted."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="baton-devstack")
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


async def wait_for_topics(bootstrap: str, names: list[str], timeout: float = 10.0) -> None:
    """Until the broker's metadata lists every topic with its partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        for name in names:
            if not await _partitions(consumer, name, time.monotonic() + timeout):
                raise TimeoutError(f"topic not in metadata: {name}")
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str, topic: str, count: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """`count` records from the start of `topic` (fewer if they do not arrive in time), read
    by a plain consumer without a group. Not `end_offsets`: the embedded broker's
    ListOffsets(latest) answers the base offset of a partition's last batch."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        assignment = await _partitions(consumer, topic, deadline)
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, deadline: float
) -> list[TopicPartition]:
    """The topic's partitions once the metadata knows them (empty if it never did)."""
    while True:
        await consumer.topics()  # refreshes the cluster metadata
        partitions = consumer.partitions_for_topic(topic)
        if partitions or time.monotonic() > deadline:
            return [TopicPartition(topic, p) for p in sorted(partitions or ())]
        await asyncio.sleep(0.1)
