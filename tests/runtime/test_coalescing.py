"""`CoalescingPublisher`, the HTTP doors' way to the broker: concurrent callers' records go
together as closed batches, and each caller hears about its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, NotLeaderForPartitionError

from baton_runtime.coalescing import CoalescingPublisher, _outcome, _Waiter
from baton_runtime.devstack.topics import create_topics, read_topic
from baton_schemas import OutgoingRecord


def _record(topic: str, key: str, n: int) -> OutgoingRecord:
    return OutgoingRecord(
        topic=topic,
        key=key.encode(),
        value=f'{{"n": {n}}}'.encode(),
        headers=[("ce_id", f"event-{n}".encode())],
        event_id=f"event-{n}",
    )


@asynccontextmanager
async def _publisher(
    embedded_broker: Any, topic: str, linger_ms: int = 5, batch_bytes: int = 1 << 20
) -> AsyncIterator[CoalescingPublisher]:
    await create_topics(embedded_broker.bootstrap, [topic])
    # A linger no test would wait out: a call that returns sooner did not linger.
    producer = AIOKafkaProducer(
        bootstrap_servers=embedded_broker.bootstrap, acks="all", linger_ms=2000
    )
    await producer.start()
    try:
        await producer.partitions_for(topic)
        publisher = CoalescingPublisher(producer, linger_ms, batch_bytes)
        yield publisher
        await publisher.close()  # as the service stops: its loop first, then the producer
    finally:
        await producer.stop()


async def test_concurrent_callers_records_all_land_in_key_order_without_lingering(
    embedded_broker: Any, isolation: str
) -> None:
    topic = f"{isolation}.coalesce"
    # 150 callers with three records each; every key is shared by three callers.
    calls = [[_record(topic, f"lead-{c % 50}", c * 3 + i) for i in range(3)] for c in range(150)]

    async with _publisher(embedded_broker, topic) as publisher:
        started = time.monotonic()
        await asyncio.gather(*(publisher.publish(records, 5.0) for records in [*calls, []]))
        took = time.monotonic() - started

    assert took < 1.5
    read = await read_topic(embedded_broker.bootstrap, topic, 450)
    assert sorted(_n(record) for record in read) == list(range(450))
    for key in {record.key for record in read}:
        of_key = [_n(record) for record in read if record.key == key]
        assert of_key == sorted(of_key)  # as the callers handed them over


async def test_callers_time_out_while_the_broker_is_stopped_and_later_calls_go_through(
    embedded_broker: Any, isolation: str
) -> None:
    topic = f"{isolation}.coalesce-down"
    async with _publisher(embedded_broker, topic) as publisher:
        await publisher.publish([_record(topic, "warm", 0)], 5.0)
        embedded_broker.pause()
        try:
            started = time.monotonic()
            outcomes = await asyncio.gather(
                *(publisher.publish([_record(topic, f"k{n}", n)], 1.0) for n in range(1, 21)),
                return_exceptions=True,
            )
            took = time.monotonic() - started
        finally:
            embedded_broker.resume()
        assert all(isinstance(outcome, TimeoutError) for outcome in outcomes), outcomes
        assert took < 3.0

        await publisher.publish([_record(topic, "after", 21)], 10.0)
    read = await read_topic(embedded_broker.bootstrap, topic, 22)
    assert 21 in {_n(record) for record in read}


async def test_deliveries_start_at_least_the_linger_apart(
    embedded_broker: Any, isolation: str
) -> None:
    topic = f"{isolation}.coalesce-spaced"
    async with _publisher(embedded_broker, topic, linger_ms=300) as publisher:
        await publisher.publish([_record(topic, "first", 0)], 5.0)
        started = time.monotonic()
        await publisher.publish([_record(topic, "second", 1)], 5.0)
        waited = time.monotonic() - started

    assert waited >= 0.25  # the second delivery waited out the rest of the linger


async def test_a_delivery_goes_before_the_linger_once_enough_bytes_wait(
    embedded_broker: Any, isolation: str
) -> None:
    topic = f"{isolation}.coalesce-full"
    async with _publisher(embedded_broker, topic, linger_ms=3000, batch_bytes=100) as publisher:
        await publisher.publish([_record(topic, "first", 0)], 10.0)
        started = time.monotonic()
        # 20 callers of about 10 bytes each: past 100 bytes, the linger is cut short.
        await asyncio.gather(
            *(publisher.publish([_record(topic, f"k{n}", n)], 10.0) for n in range(1, 21))
        )
        took = time.monotonic() - started

    assert took < 1.5  # not the 3 s the linger alone would have waited
    read = await read_topic(embedded_broker.bootstrap, topic, 21)
    assert sorted(_n(record) for record in read) == list(range(21))


async def test_a_refused_batch_fails_only_the_callers_with_records_in_it() -> None:
    loop = asyncio.get_running_loop()
    refused, accepted, unanswered = (loop.create_future() for _ in range(3))
    refused.set_exception(NotLeaderForPartitionError())
    accepted.set_result(None)

    def outcome(acks: list[asyncio.Future[Any]], failure: BaseException | None) -> Any:
        return _outcome(_Waiter([], 0.0, loop.create_future(), acks), failure)

    assert isinstance(outcome([refused], None), NotLeaderForPartitionError)
    assert isinstance(outcome([accepted, refused], None), NotLeaderForPartitionError)
    assert outcome([accepted], None) is None
    assert outcome([accepted], TimeoutError()) is None  # its batches made it in time
    assert isinstance(outcome([accepted, unanswered], TimeoutError()), TimeoutError)
    assert isinstance(outcome([], KafkaError()), KafkaError)  # the hand-over itself failed


def _n(record: Any) -> int:
    return int(record.value.removeprefix(b'{"n": ').removesuffix(b"}"))


async def test_close_ends_the_delivery_loop_without_waiting_out_the_linger(
    embedded_broker: Any, isolation: str
) -> None:
    topic = f"{isolation}.coalesce-close"
    async with _publisher(embedded_broker, topic, linger_ms=5_000) as publisher:
        await publisher.publish([_record(topic, "first", 0)], 5.0)
        # A caller arriving during the linger is still delivered by close.
        late = asyncio.create_task(publisher.publish([_record(topic, "late", 1)], 5.0))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await publisher.close()
        took = time.monotonic() - started
        await late

        loops = [
            task
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "") == "CoalescingPublisher._flush"
        ]
    assert took < 2.0
    assert loops == []
    read = await read_topic(embedded_broker.bootstrap, topic, 2)
    assert sorted(_n(record) for record in read) == [0, 1]
