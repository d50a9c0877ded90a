"""Versioned event models. A change that breaks a consumer is a new version."""

from baton_schemas.events.base import BatonEvent, LeadEvent
from baton_schemas.events.feedback import CrmFeedback, FeedbackDealClosed, FeedbackTraceable
from baton_schemas.events.lead import LeadAssigned, LeadCaptured
from baton_schemas.events.policy import PolicyActivated
from baton_schemas.events.sla import SlaBreached, SlaMet, SlaStarted, SlaWarning

EVENT_MODELS: dict[str, type[BatonEvent]] = {
    model.event_type: model
    for model in (
        LeadCaptured,
        LeadAssigned,
        SlaStarted,
        SlaWarning,
        SlaBreached,
        SlaMet,
        FeedbackTraceable,
        FeedbackDealClosed,
        CrmFeedback,
        PolicyActivated,
    )
}

__all__ = [
    "EVENT_MODELS",
    "BatonEvent",
    "CrmFeedback",
    "FeedbackDealClosed",
    "FeedbackTraceable",
    "LeadAssigned",
    "LeadCaptured",
    "LeadEvent",
    "PolicyActivated",
    "SlaBreached",
    "SlaMet",
    "SlaStarted",
    "SlaWarning",
]
