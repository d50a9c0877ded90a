"""Base class of every event model: closed, so its JSON Schema can evolve compatibly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def assume_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(assume_utc)]
"""A timestamp that always carries an offset on the wire (naive input is taken as UTC).

The JSON Schema says `format: date-time` (RFC 3339, offset required); a naive `datetime`
would serialise without one and break that promise, and would raise when compared with
aware timestamps downstream.
"""


class Closed(BaseModel):
    """A nested part of an event: unknown properties are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BatonEvent(Closed):
    """An event's data. `event_type` is the CloudEvents `type`, version included."""

    event_type: ClassVar[str]
    topic: ClassVar[str]
    key_description: ClassVar[str]
    """What the Kafka record key is, for the AsyncAPI document."""

    @property
    def record_key(self) -> str:
        raise NotImplementedError


class LeadEvent(BatonEvent):
    """An event about one lead, keyed by it so one lead's events stay in order."""

    key_description: ClassVar[str] = (
        "The record key is the lead key (UTF-8), the same as the payload's `lead_key`, "
        "so one lead's events stay in order on one partition."
    )

    lead_key: str = Field(min_length=1, max_length=200, description="Kafka record key")

    @property
    def record_key(self) -> str:
        return self.lead_key
