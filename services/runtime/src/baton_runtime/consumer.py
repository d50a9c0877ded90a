"""The Kafka consumer loop every service runs.

Per batch from `getmany`: decode and validate each record (poison goes to the dead-letter
topic), then one database transaction that records the event ids in the inbox (so a
redelivered event changes nothing), runs the service's handler and writes the events it
emits to the outbox (with any rows the handler asked to write, in one statement). Offsets
are committed only after that transaction committed, in the background and at most once
per `commit_interval_ms`: the next batch does not wait for the broker's answer, and offsets
queued meanwhile go in one request. The next batch is fetched and decoded while the current
one's writes are in the database; a batch that is abandoned takes the one fetched ahead of
it back with it (both are sought back and fetched again).

Failures of the infrastructure (database or broker down) are retried until they pass and
never dead-letter a record. Failures of a record are retried a bounded number of times;
then the batch is replayed record by record and the one that still fails is dead-lettered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, RebalanceInProgressError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from baton_runtime.bulk import BulkInsert, Rows, write_all
from baton_runtime.deadletter import DeadLetters
from baton_runtime.errors import is_transient
from baton_runtime.logs import get_logger
from baton_runtime.metrics import RuntimeMetrics
from baton_runtime.outbox import Outbox
from baton_runtime.tables import RuntimeTables
from baton_schemas import (
    EVENT_MODELS,
    BatonEvent,
    DecodedEvent,
    EnvelopeError,
    OutgoingRecord,
    child_traceparent,
    decode_record,
    encode_event,
    parse_data,
)

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class IncomingEvent:
    envelope: DecodedEvent
    event: BatonEvent
    record: Record

    @property
    def id(self) -> str:
        return self.envelope.id


@dataclass
class Batch:
    """What a handler sees: the new (never processed) events and the open transaction."""

    conn: AsyncConnection
    events: list[IncomingEvent]
    source: str
    emitted: list[OutgoingRecord] = field(default_factory=list)
    writes: list[Rows] = field(default_factory=list)
    committed: list[Callable[[], None]] = field(default_factory=list)

    def write(self, rows: Rows) -> None:
        """Write `rows` with the batch's outbox rows, in one statement after the handler
        returns (for rows nothing in the batch reads back)."""
        self.writes.append(rows)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the batch's transaction committed (not if it rolls back)."""
        self.committed.append(callback)

    def emit(
        self, event: BatonEvent, *, topic: str, traceparent: str | None = None
    ) -> OutgoingRecord:
        """Queue `event` for the outbox (written with the batch); the record as published."""
        record = encode_event(
            event, topic=topic, source=self.source, traceparent=child_traceparent(traceparent)
        )
        self.emitted.append(record)
        return record


Handler = Callable[[Batch], Awaitable[None]]


@dataclass
class Fetched:
    """One `getmany` result, decoded: the events to apply and the records that failed."""

    batches: dict[TopicPartition, list[Record]]
    events: list[IncomingEvent] = field(default_factory=list)
    poison: list[tuple[Record, Exception]] = field(default_factory=list)


def _partition_of(record: Record) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Waits for the in-flight batch on revoke (it commits its own offsets)."""

    def __init__(self, loop: EventConsumer) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._loop.wait_idle()
        await self._loop.flush_offsets()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._loop.joined = True
        log.info(
            "partitions assigned", partitions=[f"{tp.topic}:{tp.partition}" for tp in assigned]
        )


class EventConsumer:
    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        topics: Sequence[str],
        handler: Handler,
        accepts: Sequence[type[BatonEvent]],
        engine: AsyncEngine,
        tables: RuntimeTables,
        outbox: Outbox,
        dead_letters: DeadLetters,
        metrics: RuntimeMetrics,
        source: str,
        batch_max_records: int,
        poll_timeout_ms: int,
        max_retries: int,
        retry_backoff_ms: int,
        commit_interval_ms: int,
        on_outbox_committed: Callable[[], None],
    ) -> None:
        self._consumer = consumer
        self._topics = list(topics)
        self._handler = handler
        self._accepts = {model.event_type: model for model in accepts}
        self._engine = engine
        self._inbox_insert = BulkInsert(
            tables.inbox,
            ("event_id", "topic", "partition", "offset"),
            tail='ON CONFLICT DO NOTHING RETURNING "event_id"',
        )
        self._outbox = outbox
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._source = source
        self._batch_max = batch_max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._max_retries = max_retries
        self._backoff = retry_backoff_ms / 1000
        self._commit_interval = commit_interval_ms / 1000
        self._on_outbox_committed = on_outbox_committed  # wakes the relay
        self._wrote_outbox = False
        self._offsets: dict[TopicPartition, int] = {}
        """Next offsets whose records are committed in the database, not yet to the broker."""
        self._committing: asyncio.Task[None] | None = None
        self._ahead: asyncio.Task[Fetched] | None = None
        """The next batch, being fetched and decoded while this one is written."""
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self.joined = False
        self.last_progress = time.monotonic()

    # lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        self._consumer.subscribe(self._topics, listener=_Listener(self))
        await self._consumer.start()

    def stop(self) -> None:
        self._stopping = True

    async def close(self) -> None:
        await self.wait_idle()
        await self.flush_offsets()
        await self._consumer.stop()  # leaves the group

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def run(self) -> None:
        ahead: asyncio.Task[Fetched] | None = None
        try:
            while not self._stopping:
                self.last_progress = time.monotonic()
                fetched = await (ahead or self._fetch())
                ahead = None
                if not fetched.batches:
                    continue
                await self._top_up(fetched)
                handled = await self._handle(fetched)
                ahead, self._ahead = self._ahead or asyncio.create_task(self._fetch()), None
                if handled:
                    continue
                skipped = await ahead
                ahead = None
                self._rewind(skipped.batches)
                self._rewind(fetched.batches)
                if self._stopping:
                    return
                await asyncio.sleep(1.0)
        finally:
            for task in (ahead, self._ahead):
                if task is not None:
                    task.cancel()

    def _fetch_ahead(self) -> None:
        """Start fetching and decoding the next batch, once this one's handler is done: the
        decoding then runs while the database writes this batch, instead of delaying the
        handler (the process would otherwise sit idle during the write)."""
        if self._ahead is None:
            self._ahead = asyncio.create_task(self._fetch())

    async def _top_up(self, fetched: Fetched) -> None:
        """Add the records buffered since `fetched` was taken (while the previous batch was
        handled), up to the batch size: without them, a record arriving just after the
        fetch ahead waited a whole batch more."""
        room = self._batch_max - sum(len(records) for records in fetched.batches.values())
        if room <= 0:
            return
        more = await self._fetch(timeout_ms=0, max_records=room)
        for tp, records in more.batches.items():
            fetched.batches[tp] = [*fetched.batches.get(tp, []), *records]
        fetched.events += more.events
        fetched.poison += more.poison

    async def _fetch(
        self, timeout_ms: int | None = None, max_records: int | None = None
    ) -> Fetched:
        batches = await self._consumer.getmany(
            timeout_ms=self._poll_timeout_ms if timeout_ms is None else timeout_ms,
            max_records=max_records or self._batch_max,
        )
        fetched = Fetched(batches)
        for records in batches.values():
            for record in records:
                try:
                    incoming = self._decode(record)
                except (EnvelopeError, ValidationError) as exc:
                    fetched.poison.append((record, exc))
                    continue
                if incoming is not None:
                    fetched.events.append(incoming)
        return fetched

    async def _handle(self, fetched: Fetched) -> bool:
        """Process one fetched batch: True once its offsets are committed, False if it was
        abandoned (the caller fetches it again)."""
        self._idle.clear()
        try:
            started = time.perf_counter()
            await self._process(fetched)
            self._metrics.batch_duration.labels(self._metrics.service).observe(
                time.perf_counter() - started
            )
        except Exception:
            if not self._stopping:
                log.exception("batch aborted; it will be fetched again")
            return False
        finally:
            self._idle.set()
        self._update_lag(fetched.batches)
        return True

    def _rewind(self, batches: dict[TopicPartition, list[Record]]) -> None:
        """Seek back so an uncommitted batch is fetched again, not skipped."""
        assignment = self._consumer.assignment()
        for tp, records in batches.items():
            if tp in assignment:
                self._consumer.seek(tp, records[0].offset)

    # one batch -----------------------------------------------------------------

    async def _process(self, fetched: Fetched) -> None:
        # A rebalance while the batch was fetched ahead may have moved partitions away:
        # their new owner starts from the committed offsets.
        owned = self._consumer.assignment()
        for record, error in fetched.poison:
            if _partition_of(record) in owned:
                await self._dead_letter(record, error)
        events = [e for e in fetched.events if _partition_of(e.record) in owned]
        self._wrote_outbox = False
        if events:
            await self._apply_with_retries(events)
        if self._wrote_outbox:
            # The rows are committed: publishing need not wait for the offset commit.
            self._on_outbox_committed()
        self._queue_offsets(fetched.batches)
        self._count(fetched.batches)

    def _decode(self, record: Record) -> IncomingEvent | None:
        envelope = decode_record(record.key, record.value, record.headers or ())
        model = self._accepts.get(envelope.type)
        if model is None:
            if envelope.type not in EVENT_MODELS:
                raise EnvelopeError(f"unknown event type {envelope.type!r}")
            return None  # a Baton event this consumer does not act on
        return IncomingEvent(envelope=envelope, event=parse_data(envelope, model), record=record)

    async def _apply_with_retries(self, events: list[IncomingEvent]) -> None:
        if await self._attempt(events) is None:
            return
        # The batch keeps failing: replay one record per transaction to find the poison.
        for event in events:
            error = await self._attempt([event])
            if error is not None:
                log.error(
                    "record failed after retries, dead-lettering",
                    event_id=event.id,
                    lead_key=event.envelope.key,
                    error=repr(error),
                )
                await self._dead_letter(event.record, error)

    async def _attempt(self, events: list[IncomingEvent]) -> Exception | None:
        """Apply `events` in one transaction: None once it committed, or the record's own
        error after the bounded retries. An outage is waited out, never counted."""
        failures = 0
        while True:
            try:
                await self._apply(events)
                return None
            except Exception as exc:
                if is_transient(exc):
                    if self._stopping:
                        raise  # abandon the batch uncommitted; it is redelivered
                    await self._wait_out_outage(exc)
                    continue
                failures += 1
                if failures > self._max_retries:
                    return exc
                log.warning("apply failed, retrying", attempt=failures, error=repr(exc))
                await asyncio.sleep(self._backoff * failures)

    async def _wait_out_outage(self, exc: BaseException) -> None:
        log.warning("infrastructure unavailable, holding offsets", error=repr(exc))
        self.last_progress = time.monotonic()  # a broken database must not fail liveness
        await asyncio.sleep(min(5.0, self._backoff * 5))

    async def _apply(self, events: list[IncomingEvent]) -> None:
        first_by_id: dict[str, IncomingEvent] = {}
        for event in events:
            first_by_id.setdefault(event.id, event)  # one id twice in a batch counts once
        unique = list(first_by_id.values())
        async with self._engine.begin() as conn:
            fresh_ids = await self._record_in_inbox(conn, unique)
            fresh = [event for event in unique if event.id in fresh_ids]
            if not fresh:
                return
            batch = Batch(conn=conn, events=fresh, source=self._source)
            await self._handler(batch)
            self._fetch_ahead()
            await write_all(conn, [*batch.writes, self._outbox.rows(batch.emitted)])
            self._outbox.written(batch.emitted)
            self._wrote_outbox |= bool(batch.emitted)
        for callback in batch.committed:
            callback()

    async def _record_in_inbox(
        self, conn: AsyncConnection, events: list[IncomingEvent]
    ) -> set[str]:
        rows = [(e.id, e.record.topic, e.record.partition, e.record.offset) for e in events]
        return set(await self._inbox_insert.fetch_column(conn, rows))

    async def _dead_letter(self, record: Record, error: BaseException) -> None:
        while True:
            try:
                await self._dead_letters.send(record, error)
                break
            except Exception as exc:
                if self._stopping:
                    raise
                log.warning("dead-letter topic unavailable, retrying", error=repr(exc))
                await asyncio.sleep(1.0)
        self._metrics.dead_lettered.labels(self._metrics.service, record.topic).inc()
        headers = dict(record.headers or ())
        log.warning(
            "record dead-lettered",
            event_id=headers.get("ce_id", b"").decode("utf-8", "replace") or None,
            lead_key=record.key.decode("utf-8", "replace") if record.key else None,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=f"{type(error).__name__}: {str(error)[:300]}",
        )

    def _queue_offsets(self, batches: dict[TopicPartition, list[Record]]) -> None:
        """Commit the batch's offsets in the background (one request in flight; whatever
        queued meanwhile goes in the next)."""
        for tp, records in batches.items():
            self._offsets[tp] = records[-1].offset + 1
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_offsets())

    async def flush_offsets(self, timeout: float = 10.0) -> None:
        """Until every queued offset was committed or given up (at a rebalance or a stop;
        offsets left behind mean redelivery, which the inbox absorbs)."""
        task = self._committing
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            log.warning("offset commit still pending, left to redelivery", timeout_s=timeout)

    async def _commit_offsets(self) -> None:
        while self._offsets:
            assignment = self._consumer.assignment()
            offsets = {tp: offset for tp, offset in self._offsets.items() if tp in assignment}
            self._offsets = {}
            if not offsets:
                return
            try:
                await self._consumer.commit(offsets)
                # Offsets queued during the pause go together in the next request.
                await asyncio.sleep(self._commit_interval)
            except (CommitFailedError, RebalanceInProgressError, IllegalStateError) as exc:
                # Safe: the records will be redelivered and the inbox absorbs them.
                log.warning("offset commit skipped after rebalance", error=repr(exc))
            except Exception as exc:
                # The broker is unreachable: keep them (unless newer ones were queued) and
                # try again; a stop leaves them to redelivery, which the inbox absorbs.
                self._offsets = {**offsets, **self._offsets}
                if self._stopping:
                    log.warning("offsets left uncommitted at stop", error=repr(exc))
                    return
                log.warning("offset commit failed, retrying", error=repr(exc))
                await asyncio.sleep(1.0)

    def _count(self, batches: dict[TopicPartition, list[Record]]) -> None:
        for tp, records in batches.items():
            processed = self._metrics.records_processed.labels(
                self._metrics.service, tp.topic, "ok"
            )
            processed.inc(len(records))

    def _update_lag(self, batches: dict[TopicPartition, list[Record]]) -> None:
        for tp, records in batches.items():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            lag = max(0, highwater - (records[-1].offset + 1))
            self._metrics.consumer_lag.labels(
                self._metrics.service, tp.topic, str(tp.partition)
            ).set(lag)
