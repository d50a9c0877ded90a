"""(d) Latency from the webhook's 202 to the assignment being readable: leads are posted at
a fixed pace (half the measured maximum rate of that same path) and a separate plain
consumer on the assigned topic notes when each lead's `baton.lead.assigned.v1` arrives,
matched on `captured_event_id` (the event id the 202 answered).

The maximum is measured end to end (`measure_end_to_end`): a burst of webhooks, from the
first request to the last assignment readable, with intake and routing sharing the
machine as they do in the latency run. The intake's own maximum (c) is higher than what
the whole path sustains, and half of it would not be half load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from baton_router.config import RouterSettings
from bench.gcpause import collector_paused
from bench.intake import load_spec
from bench.loadgen import LoadResult, run_load
from bench.serve import WEBHOOK_PATH
from bench.stack import Stack


@dataclass(frozen=True)
class LatencyResult:
    rate: float
    """Requests/s asked for."""
    load: LoadResult
    latencies_ms: list[float]
    """Per lead: its 202 -> its assignment read by the watcher."""
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    """Per stage (`STAGES`), per lead: where the time went, from the timestamps the lead's
    events carry (wall clocks of processes on one machine)."""

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

STAGES = ("received -> routing started", "routing started -> published", "published -> read")
"""The intake's receipt (`lead.captured_at`) -> the routing handler's clock (`assigned_at`)
-> the relay handing the record to the producer (its create timestamp) -> the watcher
reading it."""


@dataclass(frozen=True)
class Timeline:
    received: float
    routed: float
    published: float
    read: float

    def stages_ms(self) -> tuple[float, float, float]:
        return (
            (self.routed - self.received) * 1000,
            (self.published - self.routed) * 1000,
            (self.read - self.published) * 1000,
        )


class AssignedWatcher:
    """A plain consumer from the end of the assigned topic: when each captured event's
    assignment became readable (`time.monotonic()`)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen: dict[str, float] = {}
        self.timelines: dict[str, Timeline] = {}
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
            with collector_paused():
                yield await self._reading()
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            await self._consumer.stop()

    async def _reading(self) -> AssignedWatcher:
        """From the topic's end on, in the background."""
        partitions = [
            TopicPartition(self._topic, p)
            for p in sorted(self._consumer.partitions_for_topic(self._topic) or ())
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            now, wall = time.monotonic(), time.time()
            for records in batches.values():
                for record in records:
                    assigned = json.loads(record.value)
                    captured = assigned["captured_event_id"]
                    if captured not in self.seen:
                        self.seen[captured] = now
                        self.timelines[captured] = Timeline(
                            received=_epoch(assigned["lead"]["captured_at"]),
                            routed=_epoch(assigned["assigned_at"]),
                            published=record.timestamp / 1000,
                            read=wall,
                        )
                    self._wanted.discard(captured)
            if not self._wanted:
                self._all_seen.set()

    async def settle(self, quiet_s: float = 1.0, timeout: float = 120) -> None:
        """Until nothing new has arrived for `quiet_s` (assignments still on their way from
        an earlier phase would otherwise be counted in the next), then forget what was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = len(self.seen)
            await asyncio.sleep(quiet_s)
            if len(self.seen) == before:
                break
        self.seen.clear()
        self.timelines.clear()

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
    matched = [
        (event_id, answered) for event_id, answered in load.answered if event_id in watcher.seen
    ]
    latencies = [(watcher.seen[event_id] - answered) * 1000 for event_id, answered in matched]
    timelines = [watcher.timelines[event_id].stages_ms() for event_id, _ in matched]
    return LatencyResult(
        rate=rate,
        load=load,
        latencies_ms=latencies,
        stages_ms={name: [t[i] for t in timelines] for i, name in enumerate(STAGES)},
    )


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


@dataclass(frozen=True)
class EndToEndResult:
    requests: int
    assigned: int
    seconds: float
    """From the first webhook sent to the last assignment readable."""
    unrelated: int = 0
    """Assignments of other leads seen meanwhile (0: the router had nothing else to do)."""

    @property
    def per_second(self) -> float:
        return self.assigned / self.seconds if self.seconds else 0.0


async def measure_end_to_end(
    stack: Stack, settings: RouterSettings, requests: int, concurrency: int
) -> EndToEndResult:
    """The path's maximum rate: `requests` webhooks as fast as they are answered, until
    every assignment is readable (the router must have nothing else in flight)."""
    spec = load_spec(settings, WEBHOOK_PATH, count=requests, concurrency=concurrency, answers=True)
    watcher = AssignedWatcher(settings.kafka_bootstrap, settings.topics.leads_assigned)
    async with watcher.watching():
        await watcher.settle()
        load = await run_load(spec, stack.workdir / "loadgen-end-to-end.log")
        event_ids = [event_id for event_id, _ in load.answered]
        await watcher.wait_for(event_ids, timeout=120)
    seen = [watcher.seen[event_id] for event_id in event_ids if event_id in watcher.seen]
    return EndToEndResult(
        requests=requests,
        assigned=len(seen),
        seconds=max(seen, default=0.0) - load.started,
        unrelated=len(watcher.seen) - len(seen),
    )
