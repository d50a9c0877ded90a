"""SLA events (topic `sla.events`). The SLA monitor publishes them; the router acts on a
breach whose escalation step asks for a reassignment."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from baton_schemas import topics
from baton_schemas.events.base import BatonEvent, Closed, UtcDatetime


class Escalation(Closed):
    step: int = Field(ge=1, description="1 = first rung of the policy's escalation ladder")
    action: Literal["notify", "reassign", "manager_queue"]
    queue: str | None = Field(default=None, description="target queue for manager_queue")


class SlaBreached(BatonEvent):
    """A follow-up deadline passed without a qualifying touch."""

    event_type: ClassVar[str] = "baton.sla.breached.v1"
    topic: ClassVar[str] = topics.SLA_EVENTS

    deadline_id: str
    assigned_event_id: str
    owner_id: str | None = None
    tier: str | None = None
    attempt: int = Field(default=1, ge=1)
    due_at: UtcDatetime
    breached_at: UtcDatetime
    escalation: Escalation
    breached_owner_ids: list[str] = Field(
        default=[], description="every rep who has breached on this lead so far"
    )
    policy_version: str
