"""(d) Latency from the webhook's 202 to the assignment being readable: leads are posted at
a fixed pace (half the measured maximum intake rate) and a separate plain consumer on
the assigned topic notes when each lead's `baton.lead.assigned.v1` arrives, matched on
`captured_event_id` (the event id the 202 answered)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from baton_router.config import RouterSettings
from bench.intake import WEBHOOK_PATH, load_spec
from bench.loadgen import LoadResult, run_load
from bench.stack import Stack


@dataclass(frozen=True)
class LatencyResult:
    rate: float
    """Requests/s asked for."""
    load: LoadResult
    latencies_ms: list[float]
    """Per lead: its 202 -> its assignment read by the watcher."""

    @property
    def matched(self) -> int:
        return len(self.latencies_ms)

    @property
    def missing(self) -> int:
        return len(self.load.answered) - self.matched

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


OBSERVER_FETCH_WAIT_MS = 10


class AssignedWatcher:
    """A plain consumer from the end of the assigned topic: when each captured event's
    assignment became readable (`time.monotonic()`)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen: dict[str, float] = {}
        self._topic = topic
        # The embedded broker does not answer a pending fetch when records arrive (with
        # aiokafka's default fetch_max_wait_ms, 500, a record waits ~130 ms on average); a
        # short wait makes this observer see a record within a few ms of it being readable.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=OBSERVER_FETCH_WAIT_MS,
        )
        self._task: asyncio.Task[None] | None = None
        self._wanted: set[str] = set()
        self._all_seen = asyncio.Event()

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[AssignedWatcher]:
        await self._consumer.start()
        try:
            partitions = [
                TopicPartition(self._topic, p)
                for p in sorted(self._consumer.partitions_for_topic(self._topic) or ())
            ]
            self._consumer.assign(partitions)
            await self._consumer.seek_to_end(*partitions)
            for tp in partitions:
                await self._consumer.position(tp)
            self._task = asyncio.create_task(self._read())
            yield self
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            await self._consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    captured = json.loads(record.value)["captured_event_id"]
                    self.seen.setdefault(captured, now)
                    self._wanted.discard(captured)
            if not self._wanted:
                self._all_seen.set()

    async def wait_for(self, event_ids: list[str], timeout: float) -> None:
        """Until every one of `event_ids` was seen, or `timeout` seconds."""
        self._wanted = {event_id for event_id in event_ids if event_id not in self.seen}
        if self._wanted:
            self._all_seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_seen.wait(), timeout)


async def measure_latency(
    stack: Stack, settings: RouterSettings, rate: float, seconds: float, concurrency: int
) -> LatencyResult:
    count = max(1, round(rate * seconds))
    spec = load_spec(settings, WEBHOOK_PATH, count=count, concurrency=concurrency, rate=rate)
    watcher = AssignedWatcher(settings.kafka_bootstrap, settings.topics.leads_assigned)
    async with watcher.watching():
        load = await run_load(spec, stack.workdir / "loadgen-latency.log")
        await watcher.wait_for([event_id for event_id, _ in load.answered], timeout=30)
    latencies = [
        (watcher.seen[event_id] - answered) * 1000
        for event_id, answered in load.answered
        if event_id in watcher.seen
    ]
    return LatencyResult(rate=rate, load=load, latencies_ms=latencies)
