"""Assembles a service: engine, producer, consumers, outbox relay, health, metrics.

Everything is built in the FastAPI lifespan and torn down in reverse order, so nothing
exists at import time and tests can run many apps in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from baton_runtime.bulk import Rows, write_all
from baton_runtime.coalescing import CoalescingPublisher
from baton_runtime.consumer import EventConsumer, Handler
from baton_runtime.db import create_engine, ping
from baton_runtime.deadletter import DeadLetters
from baton_runtime.errors import is_transient
from baton_runtime.health import check, health_router, stale
from baton_runtime.kafka import create_consumer, create_producer
from baton_runtime.logs import configure_logging, get_logger
from baton_runtime.metrics import RuntimeMetrics
from baton_runtime.outbox import Outbox, OutboxRelay, RecentRecords
from baton_runtime.settings import ServiceSettings
from baton_runtime.tables import RuntimeTables
from baton_schemas import BatonEvent, encode_event

log = get_logger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    topics: Sequence[str]
    accepts: Sequence[type[BatonEvent]]
    handler: Handler
    group_suffix: str = ""
    """A consumer group of its own (`<group>.<suffix>`): topics whose records must not wait
    behind the service's main topics, or that the main handler waits for."""


class BackgroundLoop(Protocol):
    """A loop a service runs beside its consumers (the outbox relay, a timer)."""

    last_progress: float
    """`time.monotonic()` of the loop's latest turn; liveness reports a loop that stalls."""

    async def run(self) -> None: ...

    def stop(self) -> None:
        """Ask the loop to finish its turn and return."""


RELAY = "outbox-relay"

ConsumerFactory = Callable[["ServiceRuntime"], Sequence[ConsumerSpec]]
StartupHook = Callable[["ServiceRuntime"], Awaitable[None]]


def tune_garbage_collector(gen0_threshold: int) -> None:
    """Move everything alive after start-up (modules, schemas, compiled statements) out of
    the collector's sight and collect the young generation less often. A batch allocates
    thousands of short-lived objects; with the default threshold (700) the collector ran
    over the whole long-lived heap again and again, which the bench measured as a large
    share of the per-record cost."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


class ServiceRuntime:
    """The live parts of one service process."""

    def __init__(self, settings: ServiceSettings, tables: RuntimeTables) -> None:
        self.settings = settings
        self.tables = tables
        self.metrics = RuntimeMetrics(service=settings.service_name)
        self.engine: AsyncEngine = create_engine(settings)
        self.producer = create_producer(settings)
        # For HTTP doors: concurrent requests' records go to the broker together.
        self.request_publisher = CoalescingPublisher(
            self.producer, settings.request_linger_ms, settings.request_batch_bytes
        )
        recent = RecentRecords()
        self.outbox = Outbox(tables, settings.outbox_shards, recent)
        self.relay = OutboxRelay(
            engine=self.engine,
            producer=self.producer,
            tables=tables,
            recent=recent,
            metrics=self.metrics,
            schema=settings.schema_name,
            shards=settings.outbox_shards,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval_s,
            outbox_retention_s=settings.outbox_retention_s,
            inbox_retention_s=settings.inbox_retention_s,
        )
        self.consumers: list[EventConsumer] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._joining: set[EventConsumer] = set()
        self._loops: dict[str, BackgroundLoop] = {}

    @property
    def source(self) -> str:
        return f"/baton/{self.settings.service_name}"

    async def emit(
        self,
        conn: AsyncConnection,
        events: Iterable[BatonEvent],
        *,
        topic: str,
        writes: Sequence[Rows] = (),
    ) -> None:
        """Write `events` to the outbox in the caller's transaction (outside a consumer
        batch), in one statement with `writes` (rows nothing reads back before the commit).
        The relay publishes them once that commits; `relay.wake()` after the commit
        publishes them at once instead of at the next poll."""
        records = [encode_event(event, topic=topic, source=self.source) for event in events]
        await write_all(conn, [*writes, self.outbox.rows(records)])
        self.outbox.written(records)

    def spawn(self, name: str, loop: BackgroundLoop) -> None:
        """Run a background loop until shutdown; liveness reports it if it ends early or
        stops making progress."""
        self._tasks[name] = asyncio.create_task(loop.run(), name=name)
        self._loops[name] = loop

    def build_consumer(self, spec: ConsumerSpec) -> EventConsumer:
        settings = self.settings
        return EventConsumer(
            consumer=create_consumer(settings, spec.group_suffix),
            topics=spec.topics,
            handler=spec.handler,
            accepts=spec.accepts,
            engine=self.engine,
            tables=self.tables,
            outbox=self.outbox,
            dead_letters=DeadLetters(
                self.producer,
                settings.topics.dead_letter(settings.service_name),
                group=settings.group_for(spec.group_suffix),
                service=settings.service_name,
            ),
            metrics=self.metrics,
            source=self.source,
            batch_max_records=settings.batch_max_records,
            poll_timeout_ms=settings.poll_timeout_ms,
            max_retries=settings.max_retries,
            retry_backoff_ms=settings.retry_backoff_ms,
            commit_interval_ms=settings.offset_commit_interval_ms,
            on_outbox_committed=self.relay.wake,
        )

    async def start(self, specs: Sequence[ConsumerSpec]) -> None:
        tune_garbage_collector(self.settings.gc_gen0_threshold)
        await self.producer.start()
        if not self.settings.consumers_enabled:
            specs = []  # an HTTP-only replica (see ServiceSettings.consumers_enabled)
        if self.settings.outbox_relay_enabled:
            self.spawn(RELAY, self.relay)
        for index, spec in enumerate(specs):
            consumer = self.build_consumer(spec)
            self.consumers.append(consumer)
            self._tasks[f"consumer-{index}"] = asyncio.create_task(
                self._join_and_run(consumer), name=f"consumer-{index}"
            )

    async def _join_and_run(self, consumer: EventConsumer) -> None:
        """Join the group, then consume. Joining can wait out a rebalance (after a crash,
        the dead member's session timeout), so it happens here, in the background: HTTP,
        intake and the relay serve meanwhile, and /readyz says the group is not joined."""
        self._joining.add(consumer)
        try:
            await consumer.start()
        finally:
            self._joining.discard(consumer)
        await consumer.run()

    async def stop(self) -> None:
        for consumer in self.consumers:
            consumer.stop()
        for index, consumer in enumerate(self.consumers):
            task = self._tasks[f"consumer-{index}"]
            if consumer in self._joining:  # nothing consumed yet: no batch to finish
                task.cancel()
            # Not wait_for: awaiting a task cancelled above (still joining) raises
            # CancelledError, which stopped the shutdown before the relay, producer and
            # engine were closed.
            await _finish(task, 30)
        for consumer in self.consumers:
            with contextlib.suppress(Exception):
                await consumer.close()
        # The relay last: it publishes what the other loops wrote to the outbox.
        for name in sorted(self._loops, key=lambda name: name == RELAY):
            self._loops[name].stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tasks[name], 10)
        with contextlib.suppress(Exception):
            await self.request_publisher.close()
            await self.producer.stop()
        await self.engine.dispose()

    def liveness_problems(self) -> list[str]:
        limit = self.settings.max_poll_interval_ms / 1000
        problems = [name for name, task in self._tasks.items() if task.done()]
        problems += [
            f"consumer-{index} stalled"
            for index, consumer in enumerate(self.consumers)
            if stale(consumer.last_progress, limit)
        ]
        problems += [
            f"{name} stalled"
            for name, loop in self._loops.items()
            if stale(loop.last_progress, limit)
        ]
        return problems

    async def readiness_checks(self) -> dict[str, bool]:
        database = await check(lambda: ping(self.engine))
        broker = await check(self.producer.client.fetch_all_metadata)
        joined = all(consumer.joined for consumer in self.consumers)
        return {"database": database, "broker": broker, "consumer_group": joined}


async def _finish(task: asyncio.Task[None], timeout: float) -> None:
    """Wait up to `timeout` for `task` to end, then cancel it. How it ended (an error, a
    cancellation) is not raised here: shutdown goes on to close everything else."""
    done, _ = await asyncio.wait([task], timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it again at exit


async def answer_unhandled(request: Request, exc: Exception) -> Response:
    """An error no route handled: 503 (retry) when the database or broker is unavailable,
    which is not the client's doing and will pass; 500 otherwise."""
    if is_transient(exc):
        log.warning("dependency unavailable", path=request.url.path, error=repr(exc))
        return JSONResponse(
            {"detail": "a dependency is unavailable; retry shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    log.error("unhandled error", path=request.url.path, error=repr(exc))
    return JSONResponse({"detail": "internal error"}, status_code=500)


def create_service_app(
    *,
    settings: ServiceSettings,
    tables: RuntimeTables,
    consumers: ConsumerFactory,
    routers: Sequence[APIRouter] = (),
    doors: Sequence[APIRouter] = (),
    title: str,
    on_startup: StartupHook | None = None,
) -> FastAPI:
    """`on_startup` runs after the engine exists and before any consumer starts. `doors`
    are the routers senders post to at rate (webhooks, CRM feedback): their routes go on
    the app itself (`add_routes`), the other `routers` are included."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        runtime = ServiceRuntime(settings, tables)
        app.state.runtime = runtime
        try:
            if on_startup is not None:
                await on_startup(runtime)
            await runtime.start(consumers(runtime))
            log.info("service started", port=settings.http_port)
            yield
        finally:
            await runtime.stop()
            log.info("service stopped")

    app = FastAPI(title=title, lifespan=lifespan)
    app.add_exception_handler(Exception, answer_unhandled)
    app.state.settings = settings
    app.include_router(health_router())
    for door in doors:
        add_routes(app, door)
    for router in routers:
        app.include_router(router)
    return app


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """`router`'s routes on `app` itself, for a router included with no options (no prefix,
    tags or dependencies of the include's own: the router's are in its routes already).
    FastAPI includes a router as one route that matches a request against the router's
    routes twice, once to say it matches and once to handle it, and checks each time
    whether any router changed; a route on the app is matched once. For the router's
    webhook door that was 7.5 us of the 128 a request took (in-process ASGI, publishing
    stubbed, min of 5 runs of 4,000 distinct signed leads)."""
    app.router.routes.extend(router.routes)
