"""SLA events (topic `sla.events`). The SLA monitor publishes them: a deadline started,
a warning before it passes, the first qualifying touch (met), and each escalation rung
after a breach. The router acts on a breach whose rung asks for a reassignment."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from baton_schemas import topics
from baton_schemas.events.base import Closed, LeadEvent, UtcDatetime


class Escalation(Closed):
    step: int = Field(ge=1, description="1 = first rung of the policy's escalation ladder")
    action: Literal["notify", "reassign", "manager_queue"]
    queue: str | None = Field(default=None, description="target queue for manager_queue")


class SlaDeadline(LeadEvent):
    """What every SLA event says about its deadline (one per assignment)."""

    deadline_id: str = Field(description="the assignment's event id")
    assigned_event_id: str
    owner_id: str | None = None
    tier: str | None = None
    attempt: int = Field(default=1, ge=1)
    due_at: UtcDatetime
    policy_version: str


class SlaStarted(SlaDeadline):
    """An assignment opened a follow-up deadline."""

    event_type: ClassVar[str] = "baton.sla.started.v1"
    topic: ClassVar[str] = topics.SLA_EVENTS

    opened_at: UtcDatetime
    clock: Literal["wall", "business"]
    target_seconds: float = Field(gt=0)
    warn_at: UtcDatetime | None = None
    team: str | None = None
    queue: str | None = None
    source: str | None = None


class SlaWarning(SlaDeadline):
    """The deadline is close and nobody has touched the lead yet."""

    event_type: ClassVar[str] = "baton.sla.warning.v1"
    topic: ClassVar[str] = topics.SLA_EVENTS

    warned_at: UtcDatetime


class SlaMet(SlaDeadline):
    """The first qualifying touch: the clock stops (late when after the deadline)."""

    event_type: ClassVar[str] = "baton.sla.met.v1"
    topic: ClassVar[str] = topics.SLA_EVENTS

    opened_at: UtcDatetime
    touched_at: UtcDatetime
    within_target: bool
    minutes_to_first_touch: float = Field(ge=0, description="wall-clock minutes")
    business_minutes_to_first_touch: float = Field(
        ge=0, description="minutes of the owner's working time (wall-clock on a wall clock)"
    )
    activity_type: str
    crm_event_id: str


class SlaBreached(SlaDeadline):
    """A follow-up deadline passed without a qualifying touch."""

    event_type: ClassVar[str] = "baton.sla.breached.v1"
    topic: ClassVar[str] = topics.SLA_EVENTS

    breached_at: UtcDatetime
    escalation: Escalation
    breached_owner_ids: list[str] = Field(
        default=[], description="every rep who has breached on this lead so far"
    )
