"""Assignments feed the attribution read model every outgoing feedback event carries."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from baton_feedback.db.tables import lead_attribution
from baton_runtime.consumer import Batch
from baton_schemas import LeadAssigned


async def record_attribution(batch: Batch) -> None:
    latest: dict[str, dict[str, object]] = {}
    for incoming in batch.events:
        assigned = incoming.event
        assert isinstance(assigned, LeadAssigned)
        attribution = assigned.lead.attribution
        kept = latest.get(assigned.lead_key)
        if kept is not None and kept["assigned_at"] > assigned.assigned_at:  # type: ignore[operator]
            continue  # an older assignment later in the batch must not win
        latest[assigned.lead_key] = {
            "lead_key": assigned.lead_key,
            "source": assigned.lead.source,
            "campaign_id": attribution.campaign_id,
            "campaign_name": attribution.campaign_name,
            "channel": attribution.channel,
            "owner_id": assigned.owner.id if assigned.owner else None,
            "tier": assigned.tier,
            "score": assigned.score.total,
            "assigned_at": assigned.assigned_at,
            "assigned_event_id": incoming.id,
        }
    statement = insert(lead_attribution)
    updatable = {
        c.name: statement.excluded[c.name] for c in lead_attribution.c if c.name != "lead_key"
    }
    await batch.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[lead_attribution.c.lead_key],
            set_=updatable,
            where=lead_attribution.c.assigned_at <= statement.excluded.assigned_at,
        ),
        list(latest.values()),
    )
