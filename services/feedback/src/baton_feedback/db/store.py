"""The feedback service's reads and writes: the attribution read model and CRM reports."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_feedback.db.tables import crm_feedback, crm_records, lead_attribution
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
_NEWEST_WINS = tuple(name for name in _ATTRIBUTION if name != "lead_key")


def _upsert_attribution_tail() -> str:
    """A late, older assignment never overwrites the newest one's columns, but still counts
    towards the lead's first assignment time and whether it ever came as an MQL."""
    current = '"lead_attribution"'
    newer = f'{current}."assigned_at" <= EXCLUDED."assigned_at"'
    newest_wins = ", ".join(
        f'"{name}" = CASE WHEN {newer} THEN EXCLUDED."{name}" ELSE {current}."{name}" END'
        for name in _NEWEST_WINS
    )
    return (
        f'ON CONFLICT ("lead_key") DO UPDATE SET {newest_wins}, '
        f'"first_assigned_at" = LEAST({current}."first_assigned_at", '
        'EXCLUDED."first_assigned_at"), '
        f'"mql" = {current}."mql" OR EXCLUDED."mql"'
    )


_UPSERT_ATTRIBUTION = BulkInsert(
    lead_attribution,
    (*_ATTRIBUTION, "first_assigned_at", "mql"),
    tail=_upsert_attribution_tail(),
)
_STORE_REPORTS = BulkInsert(
    crm_feedback,
    ("crm_event_id", "lead_key", "crm_record_id", "event"),
    tail='ON CONFLICT DO NOTHING RETURNING "crm_event_id"',
)


async def record_attribution(
    conn: AsyncConnection, assignments: Sequence[tuple[str, LeadAssigned]]
) -> None:
    """Keep each lead's newest assignment (by assignment time), its first assignment time
    and whether any of its assignments came as an MQL."""
    leads: dict[str, _LeadAssignments] = {}
    for event_id, assigned in assignments:
        seen = leads.get(assigned.lead_key)
        leads[assigned.lead_key] = (
            _LeadAssignments(event_id, assigned, assigned.assigned_at, _is_mql(assigned))
            if seen is None
            else seen.including(event_id, assigned)
        )
    rows = [
        (*_attribution_row(lead.event_id, lead.newest), lead.first_assigned_at, lead.mql)
        for lead in leads.values()
    ]
    await _UPSERT_ATTRIBUTION.execute(conn, rows)


@dataclass(frozen=True)
class _LeadAssignments:
    """One lead's assignments in a batch (one upsert may touch a row only once)."""

    event_id: str
    newest: LeadAssigned
    first_assigned_at: datetime
    mql: bool

    def including(self, event_id: str, assigned: LeadAssigned) -> _LeadAssignments:
        # An older assignment later in the batch must not win.
        newer = assigned.assigned_at >= self.newest.assigned_at
        return _LeadAssignments(
            event_id if newer else self.event_id,
            assigned if newer else self.newest,
            min(self.first_assigned_at, assigned.assigned_at),
            self.mql or _is_mql(assigned),
        )


def _is_mql(assigned: LeadAssigned) -> bool:
    return assigned.lifecycle_stage == "mql"


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


_MAPPING_COLUMNS = ("crm_record_id", "lead_key")
_MAPPINGS = BulkInsert(
    crm_records,
    _MAPPING_COLUMNS,
    tail=upsert_tail("crm_record_id", _MAPPING_COLUMNS) + ', "updated_at" = now()',
)


async def remember_records(conn: AsyncConnection, pairs: dict[str, str]) -> None:
    """CRM record id -> lead key, the latest word winning (a CRM may merge records)."""
    await _MAPPINGS.execute(conn, sorted(pairs.items()))


async def leads_of_records(conn: AsyncConnection, record_ids: Collection[str]) -> dict[str, str]:
    if not record_ids:
        return {}
    rows = await conn.execute(
        select(crm_records.c.crm_record_id, crm_records.c.lead_key).where(
            among(crm_records.c.crm_record_id, record_ids)
        )
    )
    return {row.crm_record_id: row.lead_key for row in rows}


_MATCH_WAITING = text(
    """
UPDATE crm_feedback AS f
SET lead_key = m.lead_key, event = jsonb_set(f.event, '{lead_key}', to_jsonb(m.lead_key))
FROM crm_records AS m
WHERE f.lead_key IS NULL AND f.crm_record_id = m.crm_record_id
  AND m.crm_record_id = ANY(:record_ids)
RETURNING f.lead_key
"""
)


async def match_waiting(conn: AsyncConnection, record_ids: Collection[str]) -> set[str]:
    """Give the reports kept under only a CRM record id, now known, their lead; the leads."""
    if not record_ids:
        return set()
    rows = await conn.execute(_MATCH_WAITING, {"record_ids": sorted(record_ids)})
    return {row.lead_key for row in rows}
