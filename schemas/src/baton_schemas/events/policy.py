"""Policy events (topic `policy.events`): the router activated a version of the policy
document. Services that run by a part of it (the SLA monitor by its `sla:` section) keep
every version, so each assignment is judged by the version stamped on it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from baton_schemas import topics
from baton_schemas.events.base import BatonEvent, UtcDatetime
from baton_schemas.sla_policy import SlaPolicy

POLICY_KEY = "routing-policy"


class PolicyActivated(BatonEvent):
    """A policy version became the one the router routes by."""

    event_type: ClassVar[str] = "baton.policy.activated.v1"
    topic: ClassVar[str] = topics.POLICY_EVENTS
    key_description: ClassVar[str] = (
        f"The record key is `{POLICY_KEY}` for every version, so versions stay in activation "
        "order on one partition and a compacted topic keeps the latest."
    )

    version: str = Field(min_length=1)
    activated_at: UtcDatetime
    source: str = Field(description="the file or API call that activated it")
    sla: SlaPolicy | None = Field(default=None, description="the document's `sla:` section")

    @property
    def record_key(self) -> str:
        return POLICY_KEY
