"""Publishing for HTTP doors: concurrent requests' records go to the broker together.

A webhook is answered only once the broker acknowledged its records, so under load many
requests wait on the producer at once. Sent one by one (`producer.send`), each record
paid for its own trip through the producer and then waited out the linger. Here the
records that arrive while the previous delivery is on its way go together, as closed
batches (`queue_closed_batches`): group commit, with the broker's round trip as the
window. Each caller still learns about its own records only: a batch the broker refused
fails the requests that had records in it, not the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import HTTPException

from baton_runtime.kafka import queue_closed_batches
from baton_runtime.logs import get_logger
from baton_schemas import OutgoingRecord

log = get_logger(__name__)


async def publish_or_503(
    publisher: CoalescingPublisher, records: Sequence[OutgoingRecord], timeout_s: float
) -> None:
    """For an HTTP door that answers 202 only once the broker has the records: a broker
    that is down or too slow is a 503 the client retries, never a lost record."""
    try:
        await publisher.publish(records, timeout_s)
    except (KafkaError, TimeoutError) as exc:
        log.warning("broker unavailable, asking the client to retry", error=repr(exc))
        raise HTTPException(
            503, "broker unavailable, retry later", headers={"Retry-After": "5"}
        ) from exc


@dataclass(slots=True)
class _Waiter:
    records: Sequence[OutgoingRecord]
    deadline: float
    delivered: asyncio.Future[None]
    acks: list[asyncio.Future[Any]] = field(default_factory=list)


class CoalescingPublisher:
    def __init__(self, producer: AIOKafkaProducer, linger_ms: int, batch_bytes: int) -> None:
        self._producer = producer
        self._linger_s = linger_ms / 1000
        self._batch_bytes = batch_bytes
        self._waiting: list[_Waiter] = []
        self._waiting_bytes = 0
        self._full = asyncio.Event()
        self._flushing: asyncio.Task[None] | None = None
        self._closing = False

    async def publish(self, records: Sequence[OutgoingRecord], timeout_s: float) -> None:
        """Return once the broker acknowledged every one of `records`; TimeoutError when
        that takes longer than `timeout_s`, the producer's KafkaError when it failed."""
        if not records:  # a delivery with no leads in it
            return
        loop = asyncio.get_running_loop()
        waiter = _Waiter(records, loop.time() + timeout_s, loop.create_future())
        self._waiting.append(waiter)
        self._waiting_bytes += sum(len(record.value) for record in records)
        if self._waiting_bytes >= self._batch_bytes:
            self._full.set()
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        await waiter.delivered

    async def close(self, timeout_s: float = 10.0) -> None:
        """For shutdown, before the producer stops: deliver what is waiting, then end the
        delivery loop without waiting out the linger (left pending, the loop's task was
        destroyed with the event loop)."""
        task = self._flushing
        if task is None:
            return
        self._closing = True
        self._full.set()  # the linger ends at once; what is waiting still goes first
        await asyncio.wait({task}, timeout=timeout_s)

    async def _flush(self) -> None:
        """Deliver what is waiting, again and again until nothing is. One delivery at a
        time: what arrives while one is on its way goes in the next, and each key keeps
        its order. Deliveries start at least the linger apart (`request_linger_ms`), as a
        lingering producer's batches would: a broker would otherwise get a request per
        webhook, and each costs it more than the records in it. As with a producer's
        `batch.size`, the wait ends early once `batch_bytes` of records are waiting: under
        a burst the linger would otherwise cap a door at its concurrent requests per
        linger. A request arriving after a quiet spell is delivered at once."""
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                started = loop.time()
                waiting, self._waiting = self._waiting, []
                self._waiting_bytes = 0
                self._full.clear()
                await _deliver(self._producer, waiting)
                if self._closing:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._full.wait(), started + self._linger_s - loop.time()
                    )
        finally:
            self._flushing = None


async def _deliver(producer: AIOKafkaProducer, waiting: list[_Waiter]) -> None:
    failure: BaseException | None = None
    try:
        async with asyncio.timeout_at(min(waiter.deadline for waiter in waiting)):
            acks = await queue_closed_batches(producer, [r for w in waiting for r in w.records])
            start = 0
            for waiter in waiting:
                waiter.acks = list(set(acks[start : start + len(waiter.records)]))
                start += len(waiter.records)
            await asyncio.wait(set(acks))
    except Exception as exc:  # every caller learns it; none is left waiting
        failure = exc
    for waiter in waiting:
        _settle(waiter, _outcome(waiter, failure))


def _outcome(waiter: _Waiter, failure: BaseException | None) -> BaseException | None:
    """What to tell a caller: its first refused batch, else `failure` (the deadline, or a
    hand-over that failed) unless every batch of its records was acknowledged."""
    for ack in waiter.acks:
        if ack.done() and (refused := _refusal(ack)) is not None:
            return refused
    if waiter.acks and all(ack.done() for ack in waiter.acks):
        return None
    return failure or KafkaError("not acknowledged")


def _refusal(ack: asyncio.Future[Any]) -> BaseException | None:
    if ack.cancelled():  # the producer gave the batch up, say on stop: not delivered
        return cast(BaseException, KafkaError("delivery cancelled"))
    return ack.exception()


def _settle(waiter: _Waiter, failure: BaseException | None) -> None:
    if waiter.delivered.done():  # its request was cancelled
        return
    if failure is None:
        waiter.delivered.set_result(None)
    else:
        waiter.delivered.set_exception(failure)
