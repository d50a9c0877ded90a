"""Transactional outbox: events are rows written in the same transaction as the state
they describe; the relay publishes them and marks them sent.

Rows are spread over shards by key hash. A relay publishes a shard only while it holds
that shard's transaction-scoped advisory lock, so several replicas share the work and
one lead's events (same key, same shard) are still published in id order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from baton_runtime.backoff import Backoff
from baton_runtime.bulk import BulkInsert, Rows
from baton_runtime.db import among
from baton_runtime.kafka import publish_now
from baton_runtime.metrics import RuntimeMetrics
from baton_runtime.tables import RuntimeTables
from baton_schemas import OutgoingRecord

# Advisory lock ids are (class, shard); the class is derived from the schema name so
# that services sharing one database do not contend. The shards this relay could lock are
# computed once per statement (an InitPlan), in the same round trip as the rows. The rows
# are marked in that same statement: the mark only counts once the transaction commits,
# which is after the broker acknowledged them (a failed publish rolls it back).
_MARK_DUE_IN_FREE_SHARDS = """
UPDATE "{table}" SET published_at = now()
WHERE id IN (
    SELECT id FROM "{table}"
    WHERE published_at IS NULL AND shard = ANY(ARRAY(
        SELECT s FROM generate_series(0, :shards - 1) AS s
        WHERE pg_try_advisory_xact_lock(:lock_class, s)))
    ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING id, event_id
"""

# A published row's entry stays in `outbox_unpublished` until a vacuum removes it, and
# autovacuum waits for a fifth of the table to be dead (with an hour's published rows kept,
# hundreds of thousands). A bitmap scan, which PostgreSQL prefers for the few rows due,
# visits the row of every such entry again on every pass and never marks one dead: at
# ~1,000 leads/s a pass took 8 ms after 20 s and kept growing. A plain index scan marks
# the entries of rows it finds dead, and every later scan skips them. (A sequential scan
# would read every published row: also off, for the transaction only.)
_PLAIN_INDEX_SCANS = text(
    "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)"
)


def shard_of(key: bytes, shards: int) -> int:
    return zlib.crc32(key) % shards


class RecentRecords:
    """The records the consumer just wrote to the outbox, kept by event id so the relay can
    publish them without reading their values back. The table stays the truth: the relay
    decides what to publish from it and reads any record missing here (written by another
    replica, evicted, or before a restart). Bounded; rolled-back records simply age out."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._records: OrderedDict[str, OutgoingRecord] = OrderedDict()

    def add(self, records: Iterable[OutgoingRecord]) -> None:
        for record in records:
            self._records[record.event_id] = record
        while len(self._records) > self._capacity:
            self._records.popitem(last=False)

    def take(self, event_id: str) -> OutgoingRecord | None:
        return self._records.pop(event_id, None)


class Outbox:
    """The outbox rows of events, written by the caller inside its transaction
    (`bulk.write_all`, with the transaction's other rows)."""

    def __init__(self, tables: RuntimeTables, shards: int, recent: RecentRecords) -> None:
        self._insert = BulkInsert(
            tables.outbox, ("event_id", "shard", "topic", "key", "value", "headers")
        )
        self._shards = shards
        self._recent = recent

    def rows(self, records: Sequence[OutgoingRecord]) -> Rows:
        """The outbox rows for `records`, to be written with other rows (`write_all`);
        call `written` once they are."""
        return self._insert.of(
            [
                (
                    record.event_id,
                    shard_of(record.key, self._shards),
                    record.topic,
                    record.key,
                    record.value,
                    json.dumps([[name, value.decode()] for name, value in record.headers]),
                )
                for record in records
            ]
        )

    def written(self, records: Sequence[OutgoingRecord]) -> None:
        self._recent.add(records)


class OutboxRelay:
    """Publishes unsent outbox rows. Woken right after a commit; polls as a safety net."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        tables: RuntimeTables,
        recent: RecentRecords,
        metrics: RuntimeMetrics,
        schema: str,
        shards: int,
        batch_size: int,
        poll_interval: float,
        outbox_retention_s: int,
        inbox_retention_s: int,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._table = tables.outbox
        self._inbox = tables.inbox
        self._recent = recent
        self._mark_due = text(_MARK_DUE_IN_FREE_SHARDS.format(table=self._table.name))
        self._outbox_retention = outbox_retention_s
        self._inbox_retention = inbox_retention_s
        self._last_prune = 0.0
        self._metrics = metrics
        self._shards = shards
        self._lock_class = zlib.crc32(f"{schema}.outbox".encode()) & 0x7FFFFFFF
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_stats = 0.0
        self.last_progress = time.monotonic()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        backoff = Backoff("outbox relay")
        while not self._stopping:
            self.last_progress = time.monotonic()
            # Cleared before the pass, not after: a commit that wakes us during the pass
            # (after its SELECT) must cause another pass, not wait for the next poll.
            self._wake.clear()
            try:
                published = await self.publish_pending()
                await self._refresh_stats()
                await self._prune()
                backoff.reset()
            except Exception as exc:
                await backoff.pause(exc)
                continue
            if published >= self._batch_size:
                continue  # more may be waiting: no sleep
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)

    async def publish_pending(self) -> int:
        """One pass: lock free shards, mark their oldest unsent rows, publish them in id
        order, and commit the marks once the broker has them."""
        async with self._engine.begin() as conn:
            await conn.execute(_PLAIN_INDEX_SCANS)
            marked = await conn.execute(
                self._mark_due,
                {"shards": self._shards, "lock_class": self._lock_class, "limit": self._batch_size},
            )
            due = sorted(marked, key=lambda row: row.id)
            if not due:
                return 0
            records = await self._records_for(conn, due)
            await publish_now(self._producer, records)
        self._metrics.outbox_published.labels(self._metrics.service).inc(len(due))
        return len(due)

    async def _records_for(self, conn: AsyncConnection, due: Sequence[Any]) -> list[OutgoingRecord]:
        """The due rows' records in id order: from memory when this process wrote them,
        else read from the table."""
        found = {row.id: self._recent.take(row.event_id) for row in due}
        missing = [row_id for row_id, record in found.items() if record is None]
        if missing:
            table = self._table
            rows = await conn.execute(
                select(
                    table.c.id,
                    table.c.event_id,
                    table.c.topic,
                    table.c.key,
                    table.c.value,
                    table.c.headers,
                ).where(among(table.c.id, missing))
            )
            for row in rows:
                found[row.id] = OutgoingRecord(
                    topic=row.topic,
                    key=row.key,
                    value=row.value,
                    headers=[(name, value.encode()) for name, value in row.headers],
                    event_id=row.event_id,
                )
        return [record for record in found.values() if record is not None]

    async def _prune(self) -> None:
        """Drop published outbox rows and inbox ids older than their retention (once a minute).
        An inbox id must outlive any redelivery of its event, hence days, not minutes."""
        now = time.monotonic()
        if now - self._last_prune < 60.0:
            return
        self._last_prune = now
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(self._table).where(
                    self._table.c.published_at
                    < func.now() - timedelta(seconds=self._outbox_retention)
                )
            )
            await conn.execute(
                delete(self._inbox).where(
                    self._inbox.c.processed_at
                    < func.now() - timedelta(seconds=self._inbox_retention)
                )
            )

    async def _refresh_stats(self) -> None:
        now = time.monotonic()
        if now - self._last_stats < 1.0:
            return
        self._last_stats = now
        table = self._table
        async with self._engine.connect() as conn:
            backlog, oldest = (
                await conn.execute(
                    select(func.count(), func.min(table.c.created_at)).where(
                        table.c.published_at.is_(None)
                    )
                )
            ).one()
        service = self._metrics.service
        self._metrics.outbox_backlog.labels(service).set(backlog)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        self._metrics.outbox_oldest_age.labels(service).set(max(age, 0.0))
