"""Assignments open a follow-up record. Deadlines, warnings and breaches come with the SLA policy."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from baton_runtime.consumer import Batch
from baton_schemas import LeadAssigned
from baton_sla_monitor.db.tables import deadlines


async def open_deadlines(batch: Batch) -> None:
    rows = []
    for incoming in batch.events:
        assigned = incoming.event
        assert isinstance(assigned, LeadAssigned)
        rows.append(
            {
                "assigned_event_id": incoming.id,
                "lead_key": assigned.lead_key,
                "owner_id": assigned.owner.id if assigned.owner else None,
                "tier": assigned.tier,
                "opened_at": assigned.assigned_at,
                "status": "open",
            }
        )
    await batch.conn.execute(insert(deadlines).on_conflict_do_nothing(), rows)
