"""Base class of every event model: closed, so its JSON Schema can evolve compatibly."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Closed(BaseModel):
    """A nested part of an event: unknown properties are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BatonEvent(Closed):
    """An event's data. `event_type` is the CloudEvents `type`, version included."""

    event_type: ClassVar[str]
    topic: ClassVar[str]

    lead_key: str = Field(min_length=1, max_length=200, description="Kafka record key")
