"""Assignment decisions. Bootstrap rule: every lead goes to one configured owner."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from baton_schemas import LeadAssigned, LeadCaptured
from baton_schemas.events.lead import LeadSnapshot, Owner


class DefaultOwner(Protocol):
    default_owner_id: str
    default_owner_name: str
    default_owner_email: str | None
    default_owner_time_zone: str
    policy_version: str


def snapshot(lead: LeadCaptured) -> LeadSnapshot:
    return LeadSnapshot(
        source=lead.source,
        attribution=lead.attribution,
        company_name=lead.company.name,
        company_domain=lead.company.domain,
        country=lead.person.country or lead.company.country,
        title=lead.person.title,
        captured_at=lead.received_at,
    )


def assign_to_default_owner(
    lead: LeadCaptured, captured_event_id: str, config: DefaultOwner, now: datetime
) -> LeadAssigned:
    owner = Owner(
        id=config.default_owner_id,
        name=config.default_owner_name,
        email=config.default_owner_email,
        time_zone=config.default_owner_time_zone,
    )
    return LeadAssigned(
        lead_key=lead.lead_key,
        captured_event_id=captured_event_id,
        assigned_at=now,
        owner=owner,
        reason="bootstrap policy: every lead goes to the configured default owner",
        policy_version=config.policy_version,
        lead=snapshot(lead),
    )
