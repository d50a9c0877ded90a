"""The routing-state read keeps looking leads up by index as the table grows.

Prepared while the leads table was empty, PostgreSQL's generic plan for it was a
sequential scan, and asyncpg keeps a prepared statement for the connection's life: every
batch then read the whole table (1,405 scans over 7 million rows in 20 s of the latency
bench, the database's CPU doubling over the run)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from baton_router.config import RouterSettings
from baton_router.db.leads import LeadQuery
from baton_router.db.routing_state import load_routing_state
from baton_router.main import MIGRATIONS
from baton_runtime.db import create_engine
from baton_runtime.testing import prepare_service
from baton_schemas import LeadCaptured

GROWN = 20_000
INSERT_LEADS = text(
    """
    INSERT INTO leads (lead_key, attempt, previous_owners, assigned_at,
                       last_assigned_event_id, last_captured_event_id, captured)
    SELECT 'lead-' || n, 1, '[]'::jsonb, now(), 'assigned-' || n, 'captured-' || n,
           CAST(:captured AS jsonb)
    FROM generate_series(1, :count) AS n
    """
)
ROWS_SCANNED = text(  # this session's counts not yet flushed to pg_stat_user_tables
    "SELECT seq_tup_read FROM pg_stat_xact_user_tables"
    " WHERE schemaname = :schema AND relname = 'leads'"
)


async def test_the_routing_state_read_uses_the_index_once_leads_have_grown(
    make_settings: Any,
) -> None:
    settings = await prepare_service(make_settings, RouterSettings, MIGRATIONS)
    now = datetime.now(UTC)
    wanted = LeadQuery(identities={}, keys=frozenset({"lead-17"}), domains=frozenset())
    captured = LeadCaptured(lead_key="lead-17", source="test", received_at=now)
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:  # one connection: its prepared statements
            for _ in range(10):  # past PostgreSQL's first five plans, on an empty table
                async with conn.begin():
                    await load_routing_state(conn, now, lock=True, leads=wanted)
            async with conn.begin():
                parameters = {"captured": captured.model_dump_json(), "count": GROWN}
                await conn.execute(INSERT_LEADS, parameters)
            async with conn.begin():
                schema = {"schema": settings.schema_name}
                before = await conn.scalar(ROWS_SCANNED, schema)
                state = await load_routing_state(conn, now, lock=True, leads=wanted)
                scanned = await conn.scalar(ROWS_SCANNED, schema) - before
    finally:
        await engine.dispose()
    assert set(state.leads.known) == {"lead-17"}
    assert scanned == 0  # a sequential scan would have read all 20,000
