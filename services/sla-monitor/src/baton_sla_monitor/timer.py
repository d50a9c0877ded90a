"""Fires warnings and escalation rungs on time.

The deadlines table is the truth: every row with a step to fire has `next_fire_at`. In
memory there is only a heap of `(fire time, deadline id)` hints for the steps due within
the horizon, filled from the table at start and at every rescan and by the consumer right
after it commits a new or changed deadline. At a hint's time the timer locks the named
rows that are still due (waiting for a consumer that holds one, then re-checking), fires
their steps, advances them and writes the events to the outbox in one transaction, so a
step fires once however many replicas hold the same hint. The rescan also sweeps every
row already due (`FOR UPDATE SKIP LOCKED`): rows whose hint lived in a replica that died,
or in this process before it restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from baton_runtime.backoff import Backoff
from baton_runtime.service import ServiceRuntime
from baton_schemas import SlaBreached, SlaWarning
from baton_sla_monitor.db import store
from baton_sla_monitor.domain.lifecycle import fire_due, next_steps
from baton_sla_monitor.metrics import SlaMetrics
from baton_sla_monitor.policies import PolicyBook


class DeadlineTimer:
    def __init__(
        self,
        runtime: ServiceRuntime,
        policies: PolicyBook,
        metrics: SlaMetrics,
        *,
        rescan_s: float,
        horizon_s: float,
    ) -> None:
        self._runtime = runtime
        self._policies = policies
        self._metrics = metrics
        self._topic = runtime.settings.topics.sla_events
        self._rescan_s = rescan_s
        self._horizon = timedelta(seconds=horizon_s)
        self._heap: list[tuple[float, str]] = []
        self._planned: dict[str, float] = {}  # the live hint per deadline; others are stale
        self._wake = asyncio.Event()
        self._stopping = False
        self._next_rescan = 0.0
        self.last_progress = time.monotonic()

    def schedule(self, steps: Iterable[tuple[str, datetime]]) -> None:
        """Hints from the consumer: these deadlines' next steps fire at these times."""
        limit = (datetime.now(UTC) + self._horizon).timestamp()
        for deadline_id, fire_at in steps:
            at = fire_at.timestamp()
            if at <= limit and self._planned.get(deadline_id) != at:
                self._planned[deadline_id] = at
                heapq.heappush(self._heap, (at, deadline_id))
        self._metrics.planned.set(len(self._planned))
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        backoff = Backoff("SLA timer")
        while not self._stopping:
            self.last_progress = time.monotonic()
            self._wake.clear()
            try:
                if time.monotonic() >= self._next_rescan:
                    await self._rescan()
                    self._next_rescan = time.monotonic() + self._rescan_s
                due = self._pop_due()
                # In slices, so the relay publishes the first while the next are fired.
                for start in range(0, len(due), store.SWEEP_BATCH):
                    await self._fire(due[start : start + store.SWEEP_BATCH])
                backoff.reset()
            except Exception as exc:
                # The rows stay due in the table; the rescan after the pause fires them.
                self._next_rescan = 0.0
                await backoff.pause(exc)
                continue
            await self._sleep()

    async def _sleep(self) -> None:
        until = self._next_rescan - time.monotonic()
        if self._heap:
            until = min(until, self._heap[0][0] + 0.001 - time.time())
        if until > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), until)

    def _pop_due(self) -> list[str]:
        # A millisecond late: a hint's float time can round below its row's instant, and
        # the locked re-check would then find the step not yet due.
        now = time.time() - 0.001
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            at, deadline_id = heapq.heappop(self._heap)
            if self._planned.get(deadline_id) == at:
                del self._planned[deadline_id]
                due.append(deadline_id)
        return due

    async def _rescan(self) -> None:
        """Sweep what is already due, then reload the hints for the horizon."""
        while await self._fire(None) >= store.SWEEP_BATCH:
            pass
        async with self._runtime.engine.connect() as conn:
            upcoming = await store.upcoming(conn, datetime.now(UTC) + self._horizon)
        self.schedule(upcoming)

    async def _fire(self, ids: list[str] | None) -> int:
        """Fire the due steps of the named deadlines (None: of any due deadline not locked
        by someone else); the number of deadlines that fired."""
        now = datetime.now(UTC)
        async with self._runtime.engine.begin() as conn:
            due = await store.due_deadlines(conn, now, ids)
            if not due:
                return 0
            breached = await store.breached_owners(conn, {d.lead_key for d in due})
            fired: list[SlaWarning | SlaBreached] = []
            for deadline in due:
                sla = await self._policies.terms(conn, deadline.policy_version)
                if sla is None:  # a version without terms opens no deadlines
                    continue
                if deadline.next_fire_at is not None:
                    lateness = (now - deadline.next_fire_at).total_seconds()
                    self._metrics.fire_delay.observe(max(lateness, 0.0))
                fired += fire_due(deadline, now, sla, breached.get(deadline.lead_key, ()))
            await self._runtime.emit(
                conn, fired, topic=self._topic, writes=[store.deadline_rows(due)]
            )
        self._metrics.count(fired)
        self._runtime.relay.wake()
        self.schedule(next_steps(due))
        return len(due)
