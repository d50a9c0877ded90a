"""Sales feedback: what CRMs report (`crm.activity`) and what Baton publishes back to
marketing, attributed to the lead's source and campaign: traceable data
(`feedback.traceable`: activities, dispositions, stage changes) and closed deals
(`feedback.closed-deals`). The router re-routes a lead when a rejection's reason is one the
policy names."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from baton_schemas import topics
from baton_schemas.events.base import BatonEvent, Closed, LeadEvent, UtcDatetime
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


class DealClosed(Closed):
    outcome: Literal["won", "lost"]
    amount: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217")
    lost_reason: str | None = None


class FeedbackDealClosed(LeadEvent):
    """A deal closed, won or lost, attributed to the lead's source and campaign."""

    event_type: ClassVar[str] = "baton.feedback.deal-closed.v1"
    topic: ClassVar[str] = topics.FEEDBACK_CLOSED_DEALS

    crm_event_id: str
    closed_at: UtcDatetime
    closed_by: str | None = Field(default=None, description="the rep who closed it")
    deal: DealClosed
    attribution: FeedbackAttribution = FeedbackAttribution()
    seconds_since_assignment: float | None = None


class CrmFeedback(BatonEvent):
    """What a CRM reports about a lead, on the `crm.activity` topic (and, as JSON, to
    `POST /feedback`): one activity, disposition, stage change or closed deal. It names the
    lead by Baton's lead key or by the CRM's own record id for it."""

    event_type: ClassVar[str] = "baton.crm.feedback.v1"
    topic: ClassVar[str] = topics.CRM_ACTIVITY
    key_description: ClassVar[str] = (
        "The record key is the lead key when the CRM knows it, else the CRM's record id, "
        "so one lead's feedback stays in order on one partition."
    )

    crm_event_id: str = Field(min_length=1, max_length=200, description="the CRM's id; dedupes")
    lead_key: str | None = Field(default=None, min_length=1, max_length=200)
    crm_record_id: str | None = Field(default=None, min_length=1, max_length=200)
    kind: Literal["activity", "disposition", "stage_change", "deal_closed"]
    occurred_at: UtcDatetime
    actor_id: str | None = Field(default=None, max_length=200, description="who did it")
    activity: ActivityDetail | None = None
    disposition: Disposition | None = None
    stage: Literal["sales_accepted", "sales_qualified", "opportunity_created"] | None = None
    deal: DealClosed | None = None

    @model_validator(mode="after")
    def _complete(self) -> CrmFeedback:
        if self.lead_key is None and self.crm_record_id is None:
            raise ValueError("name the lead: lead_key or crm_record_id")
        detail = {
            "activity": self.activity,
            "disposition": self.disposition,
            "stage_change": self.stage,
            "deal_closed": self.deal,
        }
        if detail[self.kind] is None:
            field = "stage" if self.kind == "stage_change" else self.kind.removesuffix("_closed")
            raise ValueError(f"kind {self.kind!r} needs `{field}`")
        return self

    @property
    def record_key(self) -> str:
        return self.lead_key or f"crm:{self.crm_record_id}"
