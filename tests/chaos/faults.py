"""The fault driver: SIGKILL a service at a random moment and restart it, stop PostgreSQL,
pause the broker; after each fault, time how long the system takes to recover.

Recovered means every service answers `/readyz` 200 again and the work accepted before the
fault ended has gone all the way through: every lead the router accepted is assigned and
has its SLA deadline, every call feedback accepted is reported to marketing.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx
from aiokafka import TopicPartition
from chaos_stack import ChaosStack
from senders import Traffic

from baton_runtime.testing import committed_offsets as group_offsets

RECOVERY_LIMIT_S = 120.0

# What a fault reports: how long it lasted, and for the database outage the consumer
# groups whose committed offsets moved while it was down.
Outcome = tuple[float, list[str] | None]
Fault = Callable[[], Awaitable[Outcome]]


@dataclass(frozen=True)
class FaultPlan:
    kills: int
    outage_s: float  # how long PostgreSQL is stopped and the broker paused
    publish_timeout_s: float  # how long the intake waits for the broker before a 503
    pause_between_s: tuple[float, float] = (0.3, 2.0)


@dataclass
class FaultRecord:
    kind: str  # "kill router", "postgres stopped", "broker paused"
    at_s: float  # since the run started
    down_s: float  # how long the fault lasted (a kill: until the process was started again)
    recovered_s: float | None  # from the fault's end until recovered; None: never
    # The database outage: consumer groups whose committed offsets moved while it was down.
    offsets_moved: list[str] | None = None

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {
            "kind": self.kind,
            "at_s": round(self.at_s, 1),
            "down_s": round(self.down_s, 2),
            "recovered_s": None if self.recovered_s is None else round(self.recovered_s, 2),
        }
        if self.offsets_moved is not None:
            found["offsets_moved_while_down"] = self.offsets_moved
        return found


def asyncpg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://")


async def progress(stack: ChaosStack) -> tuple[int, int, int]:
    """(leads assigned, SLA deadlines opened, calls reported) as the databases have them."""
    conn = await asyncpg.connect(asyncpg_url(stack.database_url("router")), timeout=2)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(DISTINCT lead_key) FROM router.assignments),"
            " (SELECT count(DISTINCT lead_key) FROM sla_monitor.deadlines),"
            " (SELECT count(*) FROM feedback.crm_feedback WHERE published_at IS NOT NULL)"
        )
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        await conn.close()


# The services' consumer groups (the SLA monitor reads policies in a group of their own).
GROUPS = ("baton-router", "baton-sla-monitor", "baton-sla-monitor.policy", "baton-feedback")


async def committed_offsets(stack: ChaosStack) -> dict[str, dict[TopicPartition, int | None]]:
    """Every group's committed offset on every partition."""
    topics = stack.topics.all_for()
    return {group: await group_offsets(stack.broker.bootstrap, group, topics) for group in GROUPS}


async def wait_recovered(
    stack: ChaosStack, traffic: Traffic, client: httpx.AsyncClient, limit: float
) -> float | None:
    """Seconds until ready and caught up with what was accepted when this was called."""
    started = time.monotonic()
    leads = len(traffic.leads.accepted)
    touches = len(traffic.touches.accepted)
    while time.monotonic() - started < limit:
        if await stack.all_ready(client):
            try:
                assigned, deadlines, reported = await progress(stack)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                pass
            else:
                if assigned >= leads and deadlines >= leads and reported >= touches:
                    return time.monotonic() - started
        await asyncio.sleep(0.1)
    return None


class FaultDriver:
    def __init__(self, stack: ChaosStack, traffic: Traffic, plan: FaultPlan, seed: int) -> None:
        self.stack = stack
        self.traffic = traffic
        self.plan = plan
        self.random = random.Random(seed)
        self.records: list[FaultRecord] = []

    def schedule(self) -> list[tuple[str, Fault]]:
        """The kills spread over the three services in a random order, with the database
        outage and the broker pause at random places among them."""
        names = list(self.stack.services)
        kills = [names[i % len(names)] for i in range(self.plan.kills)]
        self.random.shuffle(kills)
        faults: list[tuple[str, Fault]] = [
            (f"kill {name}", functools.partial(self._kill, name)) for name in kills
        ]
        for kind, fault in (
            ("postgres stopped", self._stop_postgres),
            ("broker paused", self._pause_broker),
        ):
            faults.insert(self.random.randrange(1, len(faults) + 1), (kind, fault))
        return faults

    async def run(self, started: float) -> None:
        async with httpx.AsyncClient() as client:
            for kind, fault in self.schedule():
                await asyncio.sleep(self.random.uniform(*self.plan.pause_between_s))
                at = time.monotonic() - started
                down, offsets_moved = await fault()
                recovered = await wait_recovered(self.stack, self.traffic, client, RECOVERY_LIMIT_S)
                self.records.append(FaultRecord(kind, at, down, recovered, offsets_moved))

    async def _kill(self, name: str) -> Outcome:
        service = self.stack.services[name]
        begun = time.monotonic()
        service.kill()
        service.start()
        return time.monotonic() - begun, None

    async def _stop_postgres(self) -> Outcome:
        """Crash-stop the server (no checkpoint, like a killed pod). The consumers must
        hold their offsets while it is gone: compared a second in (a batch already handled
        may still commit) and at the end."""
        begun = time.monotonic()
        await asyncio.to_thread(self.stack.postgres.stop, "immediate")
        await asyncio.sleep(1.0)
        before = await committed_offsets(self.stack)
        await asyncio.sleep(self.plan.outage_s - 1.0)
        after = await committed_offsets(self.stack)
        await asyncio.to_thread(self.stack.postgres.start)
        return time.monotonic() - begun, sorted(g for g in GROUPS if after[g] != before[g])

    async def _pause_broker(self) -> Outcome:
        begun = time.monotonic()
        self.stack.broker.pause()
        try:
            await asyncio.sleep(self.plan.outage_s)
        finally:
            self.stack.broker.resume()
        return time.monotonic() - begun, None
