"""Baton's event contracts: the CloudEvents envelope, topic names and event models."""

from baton_schemas.envelope import (
    DecodedEvent,
    EnvelopeError,
    OutgoingRecord,
    child_traceparent,
    decode_record,
    encode_event,
    parse_data,
)
from baton_schemas.events import (
    EVENT_MODELS,
    BatonEvent,
    CrmFeedback,
    FeedbackDealClosed,
    FeedbackTraceable,
    LeadAssigned,
    LeadCaptured,
    LeadEvent,
    PolicyActivated,
    SlaBreached,
    SlaMet,
    SlaStarted,
    SlaWarning,
)
from baton_schemas.topics import Topics

__all__ = [
    "EVENT_MODELS",
    "BatonEvent",
    "CrmFeedback",
    "DecodedEvent",
    "EnvelopeError",
    "FeedbackDealClosed",
    "FeedbackTraceable",
    "LeadAssigned",
    "LeadCaptured",
    "LeadEvent",
    "OutgoingRecord",
    "PolicyActivated",
    "SlaBreached",
    "SlaMet",
    "SlaStarted",
    "SlaWarning",
    "Topics",
    "child_traceparent",
    "decode_record",
    "encode_event",
    "parse_data",
]
