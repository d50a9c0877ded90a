"""What a CRM's report becomes for marketing: traceable data or a closed deal, carrying the
lead's origin at handoff (source, campaign, channel, tier, score, owner) and the time since
it was assigned. Pure."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from baton_schemas import CrmFeedback, FeedbackDealClosed, FeedbackTraceable
from baton_schemas.events.feedback import FeedbackAttribution
from baton_schemas.events.lead import Attribution


@dataclass(frozen=True)
class Handoff:
    """The lead's newest assignment, as the attribution read model holds it."""

    lead_key: str
    source: str
    campaign_id: str | None
    campaign_name: str | None
    channel: str | None
    owner_id: str | None
    tier: str | None
    score: float | None
    assigned_at: datetime

    def attribution(self) -> FeedbackAttribution:
        return FeedbackAttribution(
            source=self.source,
            attribution=Attribution(
                campaign_id=self.campaign_id,
                campaign_name=self.campaign_name,
                channel=self.channel,
            ),
            tier=self.tier,
            score=self.score,
            assigned_at=self.assigned_at,
            owner_id=self.owner_id,
        )


class UnknownReason(ValueError):
    """A rejection whose reason code is not in the configured list."""


def check_reason(report: CrmFeedback, allowed: Collection[str]) -> None:
    """A rejection must carry a reason code from the list marketing and sales agreed on."""
    disposition = report.disposition
    if disposition is None or disposition.status != "rejected":
        return
    if disposition.reason_code not in allowed:
        raise UnknownReason(
            f"disposition.reason_code {disposition.reason_code!r} is not one of {sorted(allowed)}"
        )


def outgoing(report: CrmFeedback, handoff: Handoff) -> FeedbackTraceable | FeedbackDealClosed:
    since = (report.occurred_at - handoff.assigned_at).total_seconds()
    if report.kind == "deal_closed":
        assert report.deal is not None  # the contract requires it for this kind
        return FeedbackDealClosed(
            lead_key=handoff.lead_key,
            crm_event_id=report.crm_event_id,
            closed_at=report.occurred_at,
            closed_by=report.actor_id,
            deal=report.deal,
            attribution=handoff.attribution(),
            seconds_since_assignment=since,
        )
    return FeedbackTraceable(
        lead_key=handoff.lead_key,
        crm_event_id=report.crm_event_id,
        kind=report.kind,
        occurred_at=report.occurred_at,
        actor_id=report.actor_id,
        activity=report.activity,
        disposition=report.disposition,
        stage=report.stage,
        attribution=handoff.attribution(),
        seconds_since_assignment=since,
    )
