"""Assignments open a follow-up record. Deadlines, warnings and breaches come with the SLA policy."""

from __future__ import annotations

from baton_runtime.bulk import BulkInsert
from baton_runtime.consumer import Batch
from baton_schemas import LeadAssigned
from baton_sla_monitor.db.tables import deadlines

_OPEN = BulkInsert(
    deadlines,
    ("assigned_event_id", "lead_key", "owner_id", "tier", "opened_at", "status"),
    tail="ON CONFLICT DO NOTHING",
)


async def open_deadlines(batch: Batch) -> None:
    rows = []
    for incoming in batch.events:
        assigned = incoming.event
        assert isinstance(assigned, LeadAssigned)
        owner_id = assigned.owner.id if assigned.owner else None
        rows.append(
            (incoming.id, assigned.lead_key, owner_id, assigned.tier, assigned.assigned_at, "open")
        )
    await _OPEN.execute(batch.conn, rows)
