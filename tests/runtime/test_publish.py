"""`publish_now`, the relay's way to the broker: closed batches, one per partition, on the
real embedded broker."""

from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from baton_runtime.devstack.topics import create_topics, read_topic
from baton_runtime.kafka import publish_now
from baton_schemas import OutgoingRecord


def _records(topic: str, count: int, keys: int, size: int) -> list[OutgoingRecord]:
    return [
        OutgoingRecord(
            topic=topic,
            key=f"lead-{n % keys}".encode(),
            value=f'{{"n": {n}, "pad": "{"x" * size}"}}'.encode(),
            headers=[("ce_id", f"event-{n}".encode())],
            event_id=f"event-{n}",
        )
        for n in range(count)
    ]


async def _published(
    embedded_broker: Any, topic: str, records: list[OutgoingRecord], **producer: Any
) -> tuple[list[Any], float]:
    """What `topic` holds after `publish_now(records)`, and how long that call took."""
    await create_topics(embedded_broker.bootstrap, [topic])
    sender = AIOKafkaProducer(bootstrap_servers=embedded_broker.bootstrap, acks="all", **producer)
    await sender.start()
    try:
        await sender.partitions_for(topic)
        started = time.monotonic()
        await publish_now(sender, records)
        took = time.monotonic() - started
    finally:
        await sender.stop()
    return await read_topic(embedded_broker.bootstrap, topic, len(records)), took


async def test_each_record_lands_where_send_puts_it_with_its_headers_in_order(
    embedded_broker: Any, isolation: str
) -> None:
    topic = f"{isolation}.publish"
    records = _records(topic, 60, keys=7, size=10)

    read, took = await _published(embedded_broker, topic, records, linger_ms=2000)

    assert took < 1.5  # acknowledged without waiting out the producer's linger
    assert len(read) == 60
    partitions = [0, 1, 2]
    for record in read:
        assert record.partition == DefaultPartitioner()(record.key, partitions, partitions)
        assert dict(record.headers)["ce_id"] == f"event-{_n(record)}".encode()
    for key in {record.key for record in read}:
        in_partition = [_n(record) for record in read if record.key == key]
        assert in_partition == sorted(in_partition)  # one key's records keep their order


async def test_a_pass_larger_than_a_batch_goes_in_several_in_order(
    embedded_broker: Any, isolation: str
) -> None:
    topic = f"{isolation}.publish-large"
    # 2 KB records, 4 KB batches: each partition's share needs many batches.
    records = _records(topic, 40, keys=1, size=2000)

    read, _ = await _published(embedded_broker, topic, records, max_batch_size=4096)

    assert [_n(record) for record in read] == list(range(40))


def _n(record: Any) -> int:
    return int(record.value.split(b",")[0].removeprefix(b'{"n": '))
