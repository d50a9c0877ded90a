"""Assignments feed the attribution read model every outgoing feedback event carries."""

from __future__ import annotations

from typing import Any

from baton_feedback.db.tables import lead_attribution
from baton_runtime.bulk import BulkInsert, upsert_tail
from baton_runtime.consumer import Batch
from baton_schemas import LeadAssigned

_COLUMNS = (
    "lead_key",
    "source",
    "campaign_id",
    "campaign_name",
    "channel",
    "owner_id",
    "tier",
    "score",
    "assigned_at",
    "assigned_event_id",
)
# A late, older assignment never overwrites a newer one.
_UPSERT = BulkInsert(
    lead_attribution,
    _COLUMNS,
    tail=upsert_tail("lead_key", _COLUMNS)
    + ' WHERE "lead_attribution"."assigned_at" <= EXCLUDED."assigned_at"',
)


async def record_attribution(batch: Batch) -> None:
    latest: dict[str, tuple[str, LeadAssigned]] = {}
    for incoming in batch.events:
        assigned = incoming.event
        assert isinstance(assigned, LeadAssigned)
        kept = latest.get(assigned.lead_key)
        if kept is not None and kept[1].assigned_at > assigned.assigned_at:
            continue  # an older assignment later in the batch must not win
        latest[assigned.lead_key] = (incoming.id, assigned)
    await _UPSERT.execute(batch.conn, [_row(event_id, a) for event_id, a in latest.values()])


def _row(event_id: str, assigned: LeadAssigned) -> tuple[Any, ...]:
    attribution = assigned.lead.attribution
    return (
        assigned.lead_key,
        assigned.lead.source,
        attribution.campaign_id,
        attribution.campaign_name,
        attribution.channel,
        assigned.owner.id if assigned.owner else None,
        assigned.tier,
        assigned.score.total,
        assigned.assigned_at,
        event_id,
    )
