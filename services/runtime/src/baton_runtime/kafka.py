"""Producer and consumer construction, tuned once for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.producer.message_accumulator import BatchBuilder

from baton_runtime.partitioning import KeyPartitioner
from baton_runtime.settings import ServiceSettings
from baton_schemas import OutgoingRecord


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"baton-{settings.service_name}",
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=settings.producer_linger_ms,
        request_timeout_ms=10_000,
        max_batch_size=256 * 1024,
        partitioner=KeyPartitioner(),
    )


def create_consumer(settings: ServiceSettings, group_suffix: str = "") -> AIOKafkaConsumer:
    instance_id = settings.consumer_instance_id
    if instance_id and group_suffix:
        instance_id = f"{instance_id}.{group_suffix}"
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"baton-{settings.service_name}",
        group_id=settings.group_for(group_suffix),
        group_instance_id=instance_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=settings.max_poll_interval_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )


async def publish(producer: AIOKafkaProducer, records: Sequence[OutgoingRecord]) -> None:
    """Send `records` in order (each is queued before the next, so one key's records keep
    their order) and wait until the broker acknowledged every one."""
    acks = [
        await producer.send(
            record.topic, value=record.value, key=record.key, headers=record.headers
        )
        for record in records
    ]
    await asyncio.gather(*acks)


async def publish_now(producer: AIOKafkaProducer, records: Sequence[OutgoingRecord]) -> None:
    """`publish` for records that are all at hand (an outbox pass): one closed batch per
    partition, which the producer sends at once instead of lingering for more records that
    are not coming. Partitions are chosen as `send` chooses them (murmur2 of the key), and
    one key's records keep their order."""
    await asyncio.gather(*set(await queue_closed_batches(producer, records)))


async def queue_closed_batches(
    producer: AIOKafkaProducer, records: Sequence[OutgoingRecord]
) -> list[asyncio.Future[Any]]:
    """Hand `records` to the producer as closed batches, one per partition (several when
    a partition's records fill more than one); for each record, the future of its batch's
    acknowledgement. Returns once every batch is queued; acknowledgements come later."""
    partitioner = KeyPartitioner()
    partitions: dict[str, list[int]] = {}
    open_batches: dict[TopicPartition, tuple[BatchBuilder, list[int]]] = {}
    acks: list[asyncio.Future[Any] | None] = [None] * len(records)

    async def send(tp: TopicPartition, batch: BatchBuilder, members: list[int]) -> None:
        ack = await _send_closed(producer, tp, batch)
        for index in members:
            acks[index] = ack

    for index, record in enumerate(records):
        if record.topic not in partitions:
            partitions[record.topic] = sorted(await producer.partitions_for(record.topic))
        tp = TopicPartition(record.topic, partitioner(record.key, partitions[record.topic], []))
        batch, members = open_batches.get(tp) or (None, [])
        if batch is None or not _append(batch, record):
            if batch is not None:  # full: it goes now, the record starts the next one
                await send(tp, batch, members)
            batch, members = open_batches[tp] = (producer.create_batch(), [])
            _append(batch, record)  # an empty batch takes any record, however large
        members.append(index)
    for tp, (batch, members) in open_batches.items():
        await send(tp, batch, members)
    return cast(list[asyncio.Future[Any]], acks)  # every record is in a batch by now


def _append(batch: BatchBuilder, record: OutgoingRecord) -> bool:
    appended = batch.append(
        timestamp=None, key=record.key, value=record.value, headers=record.headers
    )
    return appended is not None


async def _send_closed(
    producer: AIOKafkaProducer, tp: TopicPartition, batch: BatchBuilder
) -> asyncio.Future[Any]:
    batch.close()  # a closed batch does not wait out linger_ms
    future: asyncio.Future[Any] = await producer.send_batch(batch, tp.topic, partition=tp.partition)
    return future
