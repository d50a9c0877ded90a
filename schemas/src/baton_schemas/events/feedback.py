"""Sales feedback to marketing (topic `feedback.traceable`): what happened to a lead and why.
The router re-routes a lead when a rejection's reason is one the policy names."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from baton_schemas import topics
from baton_schemas.events.base import Closed, LeadEvent, UtcDatetime
from baton_schemas.events.lead import Attribution


class ActivityDetail(Closed):
    type: Literal["call", "email", "meeting", "other"]
    direction: Literal["outbound", "inbound"] | None = None
    outcome: str | None = None


class Disposition(Closed):
    status: Literal["accepted", "rejected", "recycled", "disqualified"]
    reason_code: str | None = None
    note: str | None = None


class FeedbackAttribution(Closed):
    """The lead's origin at handoff, so marketing can judge the source and campaign."""

    source: str | None = None
    attribution: Attribution = Attribution()
    tier: str | None = None
    score: float | None = None
    assigned_at: UtcDatetime | None = None
    owner_id: str | None = None


class FeedbackTraceable(LeadEvent):
    """Traceable data from sales: an activity, a disposition or a stage change."""

    event_type: ClassVar[str] = "baton.feedback.traceable.v1"
    topic: ClassVar[str] = topics.FEEDBACK_TRACEABLE

    crm_event_id: str
    kind: Literal["activity", "disposition", "stage_change"]
    occurred_at: UtcDatetime
    actor_id: str | None = Field(default=None, description="the rep or user who did it")
    activity: ActivityDetail | None = None
    disposition: Disposition | None = None
    stage: str | None = None
    attribution: FeedbackAttribution = FeedbackAttribution()
    seconds_since_assignment: float | None = None
