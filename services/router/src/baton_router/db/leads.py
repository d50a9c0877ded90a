"""Lead ownership, identities (one person = one lead) and account owners."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.tables import account_owners, assignments, lead_identities, leads
from baton_runtime.bulk import BulkInsert, Rows, upsert_tail
from baton_runtime.db import among
from baton_schemas import LeadAssigned, LeadCaptured, OutgoingRecord

_NOT_DIGITS = re.compile(r"[^\d]")


@dataclass(frozen=True)
class KnownLead:
    lead_key: str
    owner_id: str | None
    attempt: int
    previous_owners: tuple[str, ...]
    assigned_at: datetime
    last_assigned_event_id: str
    last_captured_event_id: str
    lead: LeadCaptured
    company_domain: str | None


def identities_of(lead: LeadCaptured) -> list[str]:
    """The keys the same person can arrive under: the lead key (from the e-mail when there is
    one) and the phone number, digits only, when it is long enough to mean something."""
    found = [f"key:{lead.lead_key}"]
    digits = _NOT_DIGITS.sub("", lead.person.phone or "")
    if len(digits) >= 7:
        found.append(f"phone:{digits}")
    return found


async def canonical_keys(conn: AsyncConnection, wanted: Mapping[str, list[str]]) -> dict[str, str]:
    """Map each lead key to the key of the lead this person already is (itself if new),
    given each key's identities (`identities_of`)."""
    all_ids = sorted({identity for ids in wanted.values() for identity in ids})
    if not all_ids:
        return {}
    rows = (
        await conn.execute(
            select(lead_identities).where(among(lead_identities.c.identity, all_ids))
        )
    ).all()
    known = {row.identity: row.lead_key for row in rows}
    result = {}
    for key, ids in wanted.items():
        result[key] = next((known[i] for i in ids if i in known), key)
    return result


def identity_rows(pairs: Iterable[tuple[str, str]]) -> Rows:
    return _IDENTITIES.of(list(pairs))


async def known_leads(conn: AsyncConnection, keys: Iterable[str]) -> dict[str, KnownLead]:
    rows = (
        await conn.execute(
            select(leads).where(among(leads.c.lead_key, sorted(set(keys)))).with_for_update()
        )
    ).all()
    return {
        row.lead_key: KnownLead(
            lead_key=row.lead_key,
            owner_id=row.owner_id,
            attempt=row.attempt,
            previous_owners=tuple(row.previous_owners),
            assigned_at=row.assigned_at,
            last_assigned_event_id=row.last_assigned_event_id,
            last_captured_event_id=row.last_captured_event_id,
            lead=LeadCaptured.model_validate(row.captured),
            company_domain=row.company_domain,
        )
        for row in rows
    }


async def account_owners_for(conn: AsyncConnection, domains: Iterable[str]) -> dict[str, str]:
    wanted = sorted({domain for domain in domains if domain})
    if not wanted:
        return {}
    rows = (
        await conn.execute(select(account_owners).where(among(account_owners.c.domain, wanted)))
    ).all()
    return {row.domain: row.rep_id for row in rows}


@dataclass(frozen=True)
class Recorded:
    """One decision to persist, in order, with its published JSON (stored as it went out)."""

    record: OutgoingRecord
    event: LeadAssigned
    lead: LeadCaptured
    domain: str | None
    trigger_event_id: str | None = None


_HISTORY = BulkInsert(
    assignments,
    (
        "assigned_event_id",
        "captured_event_id",
        "trigger_event_id",
        "lead_key",
        "owner_id",
        "queue",
        "attempt",
        "assigned_at",
        "decision",
    ),
)
_CURRENT_COLUMNS = (
    "lead_key",
    "owner_id",
    "queue",
    "pool",
    "attempt",
    "previous_owners",
    "company_domain",
    "tier",
    "assigned_at",
    "last_assigned_event_id",
    "last_captured_event_id",
    "captured",
)
_CURRENT = BulkInsert(leads, _CURRENT_COLUMNS, tail=upsert_tail("lead_key", _CURRENT_COLUMNS))
_IDENTITIES = BulkInsert(lead_identities, ("identity", "lead_key"), tail="ON CONFLICT DO NOTHING")


def decision_rows(decisions: list[Recorded]) -> list[Rows]:
    """The assignment history rows and each lead's current owner (the last decision wins)."""
    history = []
    current: dict[str, tuple[Any, ...]] = {}
    for item in decisions:
        event = item.event
        owner_id = event.owner.id if event.owner else None
        history.append(
            (
                item.record.event_id,
                event.captured_event_id,
                item.trigger_event_id,
                event.lead_key,
                owner_id,
                event.queue,
                event.attempt,
                event.assigned_at,
                item.record.value.decode(),
            )
        )
        current[event.lead_key] = (
            event.lead_key,
            owner_id,
            event.queue,
            event.pool,
            event.attempt,
            json.dumps(event.previous_owners),
            item.domain,
            event.tier,
            event.assigned_at,
            item.record.event_id,
            event.captured_event_id,
            item.lead.model_dump_json(exclude={"raw"}),
        )
    return [_HISTORY.of(history), _CURRENT.of(list(current.values()))]
