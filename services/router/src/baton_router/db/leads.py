"""Lead ownership, identities (one person = one lead) and account owners."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton_router.db.tables import assignments, lead_identities, leads
from baton_router.domain.facts import lead_facts
from baton_router.domain.routing.ownership import account_domain
from baton_runtime.bulk import BulkInsert, Rows, upsert_tail
from baton_schemas import BatonEvent, LeadAssigned, LeadCaptured, OutgoingRecord

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


def identity_rows(pairs: Iterable[tuple[str, str]]) -> Rows:
    return _IDENTITIES.of(list(pairs))


@dataclass(frozen=True)
class LeadQuery:
    """What a batch asks about its leads, answered in the routing-state read."""

    identities: Mapping[str, list[str]]
    """Each incoming lead key's identities (`identities_of`), in order of preference."""
    keys: frozenset[str]
    """Lead keys whose current decision is wanted (incoming leads, breaches, feedback)."""
    domains: frozenset[str]
    """Company domains whose account owner is wanted."""

    def params(self) -> dict[str, list[str]]:
        pairs = [(key, identity) for key, ids in self.identities.items() for identity in ids]
        return {
            "wanted_keys": [key for key, _ in pairs],
            "wanted_identities": [identity for _, identity in pairs],
            "keys": sorted(self.keys),
            "domains": sorted(self.domains),
        }


NO_LEADS = LeadQuery(identities={}, keys=frozenset(), domains=frozenset())


def lead_query(events: Iterable[BatonEvent]) -> LeadQuery:
    """The identities, decisions and account owners a batch's events need. Account owners
    are asked for every company domain; the policy's free-mail list is applied when
    routing."""
    identities: dict[str, list[str]] = {}
    keys: set[str] = set()
    domains: set[str] = set()
    for event in events:
        keys.add(event.record_key)
        if isinstance(event, LeadCaptured):
            identities[event.lead_key] = identities_of(event)
            domain = account_domain(lead_facts(event))
            if domain:
                domains.add(domain)
    return LeadQuery(identities=identities, keys=frozenset(keys), domains=frozenset(domains))


@dataclass(frozen=True)
class LeadsFound:
    """The answer to a `LeadQuery`: each incoming key's canonical key (when the person is
    already known under another), the known leads (locked when routing) and account owners."""

    canonical: dict[str, str] = field(default_factory=dict)
    known: dict[str, KnownLead] = field(default_factory=dict)
    account_owners: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, canonical: str, known: str, account_owners: str) -> LeadsFound:
        return cls(
            canonical=dict(json.loads(canonical)),
            known={row["lead_key"]: _known_lead(row) for row in json.loads(known)},
            account_owners=dict(json.loads(account_owners)),
        )


def _known_lead(row: Mapping[str, Any]) -> KnownLead:
    return KnownLead(
        lead_key=row["lead_key"],
        owner_id=row["owner_id"],
        attempt=row["attempt"],
        previous_owners=tuple(row["previous_owners"]),
        assigned_at=datetime.fromisoformat(row["assigned_at"]),
        last_assigned_event_id=row["last_assigned_event_id"],
        last_captured_event_id=row["last_captured_event_id"],
        lead=LeadCaptured.model_validate(row["captured"]),
        company_domain=row["company_domain"],
    )


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
