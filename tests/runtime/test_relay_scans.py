"""The relay's reads stay proportional to what is due, not to what it already published."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from echo_service import EchoSettings, create_app, prepare
from helpers import produce_leads

from baton_runtime.testing import eventually, query, running, scalar, wait_ready

PUBLISHED = 3000
# A backend that flushed its statistics less than a second ago keeps the new ones pending,
# and once idle it flushes them only after PostgreSQL's idle interval of 10 s.
STATISTICS_FLUSH_S = 11


@dataclass(frozen=True)
class IndexReads:
    scans: int
    entries: int


async def unpublished_index_reads(settings: EchoSettings) -> IndexReads:
    """How often `outbox_unpublished` was scanned and how many entries the scans returned,
    as far as PostgreSQL's statistics have them (each backend reports within seconds)."""
    rows = await query(
        settings,
        "SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes "
        "WHERE schemaname = current_schema() AND indexrelname = 'outbox_unpublished'",
    )
    scans, entries = rows[0]
    return IndexReads(scans=scans, entries=entries)


async def test_the_relay_skips_the_rows_it_already_published(make_settings) -> None:
    # A published row's index entry outlives its publication until a vacuum. Kept out of the
    # way (autovacuum off), 3,000 of them must not be read again by every later pass.
    settings = make_settings(EchoSettings)
    await prepare(settings)
    await query(settings, "ALTER TABLE outbox SET (autovacuum_enabled = false)")
    await produce_leads(settings, [f"lead-{n}" for n in range(PUBLISHED)])
    async with running(create_app(settings)) as client:
        await wait_ready(client)
        published = await eventually(
            lambda: scalar(settings, "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"),
            lambda n: n == PUBLISHED,
            60,
        )
        assert published == PUBLISHED
        # Nothing is due now: the relay's polls and its backlog gauge still scan the index.
        # The statistics of the passes that published must be in before counting starts.
        await asyncio.sleep(STATISTICS_FLUSH_S)
        settled = await unpublished_index_reads(settings)
        after = await eventually(
            lambda: unpublished_index_reads(settings),
            lambda reads: reads.scans >= settled.scans + 10,
            30,
        )
    scans = after.scans - settled.scans
    assert scans >= 10
    assert (after.entries - settled.entries) / scans < PUBLISHED / 10
