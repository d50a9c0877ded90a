"""The feedback service's reads and writes: the attribution read model and CRM reports."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_feedback.db.tables import crm_feedback, lead_attribution
from baton_feedback.domain.outgoing import Handoff
from baton_runtime.bulk import BulkInsert, upsert_tail
from baton_runtime.db import among
from baton_schemas import CrmFeedback, LeadAssigned

_ATTRIBUTION = (
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
_UPSERT_ATTRIBUTION = BulkInsert(
    lead_attribution,
    _ATTRIBUTION,
    tail=upsert_tail("lead_key", _ATTRIBUTION)
    + ' WHERE "lead_attribution"."assigned_at" <= EXCLUDED."assigned_at"',
)
_STORE_REPORTS = BulkInsert(
    crm_feedback,
    ("crm_event_id", "lead_key", "crm_record_id", "event"),
    tail='ON CONFLICT DO NOTHING RETURNING "crm_event_id"',
)


async def record_attribution(
    conn: AsyncConnection, assignments: Sequence[tuple[str, LeadAssigned]]
) -> None:
    """Keep each lead's newest assignment (by assignment time)."""
    latest: dict[str, tuple[str, LeadAssigned]] = {}
    for event_id, assigned in assignments:
        kept = latest.get(assigned.lead_key)
        if kept is not None and kept[1].assigned_at > assigned.assigned_at:
            continue  # an older assignment later in the batch must not win
        latest[assigned.lead_key] = (event_id, assigned)
    rows = [_attribution_row(event_id, a) for event_id, a in latest.values()]
    await _UPSERT_ATTRIBUTION.execute(conn, rows)


def _attribution_row(event_id: str, assigned: LeadAssigned) -> tuple[Any, ...]:
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


async def handoffs(conn: AsyncConnection, lead_keys: Collection[str]) -> dict[str, Handoff]:
    if not lead_keys:
        return {}
    columns = [lead_attribution.c[name] for name in _ATTRIBUTION if name != "assigned_event_id"]
    rows = await conn.execute(select(*columns).where(among(lead_attribution.c.lead_key, lead_keys)))
    return {row.lead_key: Handoff(**row._mapping) for row in rows}


async def store_reports(conn: AsyncConnection, reports: Sequence[CrmFeedback]) -> list[CrmFeedback]:
    """Keep every report not seen before (by CRM event id; a repeat is absorbed): the ones
    that were new."""
    unique = {report.crm_event_id: report for report in reports}
    rows = [
        (r.crm_event_id, r.lead_key, r.crm_record_id, r.model_dump_json()) for r in unique.values()
    ]
    return [unique[crm_event_id] for crm_event_id in await _STORE_REPORTS.fetch_column(conn, rows)]


async def waiting_reports(conn: AsyncConnection, lead_keys: Collection[str]) -> list[CrmFeedback]:
    """The reports of these leads kept and not published yet, locked."""
    if not lead_keys:
        return []
    rows = await conn.execute(
        select(crm_feedback.c.event)
        .where(among(crm_feedback.c.lead_key, lead_keys), crm_feedback.c.published_at.is_(None))
        .order_by(crm_feedback.c.crm_event_id)
        .with_for_update()
    )
    return [CrmFeedback.model_validate(row.event) for row in rows]


async def mark_published(conn: AsyncConnection, crm_event_ids: Collection[str]) -> None:
    if crm_event_ids:
        await conn.execute(
            update(crm_feedback)
            .where(among(crm_feedback.c.crm_event_id, crm_event_ids))
            .values(published_at=func.now())
        )
