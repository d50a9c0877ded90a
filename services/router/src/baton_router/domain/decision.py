"""From an assessment and a routing decision to the published `baton.lead.assigned.v1`."""

from __future__ import annotations

from datetime import datetime

from baton_router.domain.policy.tiers import Assessment
from baton_router.domain.routing.engine import RoutingDecision
from baton_schemas import LeadAssigned, LeadCaptured
from baton_schemas.events.lead import LeadSnapshot


def snapshot(lead: LeadCaptured) -> LeadSnapshot:
    return LeadSnapshot(
        source=lead.source,
        source_record_id=lead.source_record_id,
        attribution=lead.attribution,
        company_name=lead.company.name,
        company_domain=lead.company.domain,
        country=lead.person.country or lead.company.country,
        title=lead.person.title,
        captured_at=lead.received_at,
    )


def assigned_event(
    *,
    lead: LeadCaptured,
    lead_key: str,
    captured_event_id: str,
    assessment: Assessment,
    decision: RoutingDecision,
    now: datetime,
) -> LeadAssigned:
    return LeadAssigned(
        lead_key=lead_key,
        captured_event_id=captured_event_id,
        assigned_at=now,
        owner=decision.owner_model,
        queue=decision.queue,
        pool=decision.pool,
        matched_rule=decision.matched_rule,
        reason=decision.reason,
        score=assessment.score.to_event(),
        tier=assessment.tier.name,
        lifecycle_stage=assessment.lifecycle_stage,
        skipped=list(decision.skipped),
        policy_version=assessment.policy_version,
        attempt=decision.attempt,
        previous_owners=list(decision.previous_owners),
        lead=snapshot(lead),
    )
