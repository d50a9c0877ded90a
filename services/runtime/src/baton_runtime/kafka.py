"""Producer and consumer construction, tuned once for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from fastapi import HTTPException

from baton_runtime.logs import get_logger
from baton_runtime.settings import ServiceSettings
from baton_schemas import OutgoingRecord

log = get_logger(__name__)


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"baton-{settings.service_name}",
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=settings.producer_linger_ms,
        request_timeout_ms=10_000,
        max_batch_size=256 * 1024,
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
    partitioner = DefaultPartitioner()
    partitions: dict[str, list[int]] = {}
    open_batches: dict[TopicPartition, BatchBuilder] = {}
    delivered: list[asyncio.Future[Any]] = []
    for record in records:
        if record.topic not in partitions:
            partitions[record.topic] = sorted(await producer.partitions_for(record.topic))
        tp = TopicPartition(record.topic, partitioner(record.key, partitions[record.topic], []))
        batch = open_batches.get(tp)
        if batch is None or not _append(batch, record):
            if batch is not None:  # full: it goes now, the record starts the next one
                delivered.append(await _send_closed(producer, tp, batch))
            batch = open_batches[tp] = producer.create_batch()
            if not _append(batch, record):
                raise MessageSizeTooLargeError(f"record {record.event_id} exceeds a batch")
    for tp, batch in open_batches.items():
        delivered.append(await _send_closed(producer, tp, batch))
    await asyncio.gather(*delivered)


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


async def publish_or_503(
    producer: AIOKafkaProducer, records: Sequence[OutgoingRecord], timeout_s: float
) -> None:
    """`publish` for an HTTP door that answers 202 only once the broker has the records:
    a broker that is down or too slow is a 503 the client retries, never a lost record."""
    try:
        async with asyncio.timeout(timeout_s):  # no task per call, unlike wait_for
            await publish(producer, records)
    except (KafkaError, TimeoutError) as exc:
        log.warning("broker unavailable, asking the client to retry", error=repr(exc))
        raise HTTPException(
            503, "broker unavailable, retry later", headers={"Retry-After": "5"}
        ) from exc
