"""Lead events: captured from marketing, assigned to sales."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, ClassVar

from pydantic import Field, PlainSerializer

from baton_schemas import topics
from baton_schemas.events.base import Closed, LeadEvent, UtcDatetime

Scalar = str | int | float | bool | None


def _as_received(value: Any) -> Any:
    return value


RawPayload = Annotated[
    dict[str, Any] | list[Any] | None, PlainSerializer(_as_received, return_type=Any)
]
"""A platform's payload, kept as it arrived. Written out as plain JSON values: pydantic's
serializer for the union inspected every nested value against each member, which was two
thirds of encoding a captured lead. The JSON Schema (validation mode) is unchanged."""


class Person(Closed):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    title: str | None = None
    persona: str | None = None
    language: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None


class Company(Closed):
    name: str | None = None
    domain: str | None = None
    employees: int | None = Field(default=None, ge=0)
    annual_revenue: float | None = Field(default=None, ge=0)
    industry: str | None = None
    country: str | None = None


class Consent(Closed):
    email_opt_in: bool | None = None
    legal_basis: str | None = None


class Attribution(Closed):
    campaign_id: str | None = None
    campaign_name: str | None = None
    channel: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    landing_page: str | None = None
    referrer: str | None = None


class Activity(Closed):
    type: str = Field(
        min_length=1, description="e.g. form_submit, email_click, page_view, demo_request"
    )
    occurred_at: UtcDatetime
    detail: str | None = None


class LeadCaptured(LeadEvent):
    """A lead as marketing handed it over, normalised from any source."""

    event_type: ClassVar[str] = "baton.lead.captured.v1"
    topic: ClassVar[str] = topics.LEADS_CAPTURED

    source: str = Field(min_length=1, description="hubspot, marketo, mautic, generic, kafka")
    source_record_id: str | None = None
    received_at: UtcDatetime
    person: Person = Person()
    company: Company = Company()
    consent: Consent = Consent()
    attribution: Attribution = Attribution()
    product_interest: list[str] = []
    activities: list[Activity] = []
    custom: dict[str, Scalar] = {}
    raw: RawPayload = Field(default=None, description="the payload as received, for audit")


class WorkingHours(Closed):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, local time")
    end: str = Field(
        pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
        description="HH:MM, local time; 24:00 = midnight",
    )


def parse_clock(value: str) -> time:
    """A `WorkingHours` 'HH:MM' (or '24:00', read as midnight) as a `time`."""
    hours, _, minutes = value.partition(":")
    hour, minute = int(hours), int(minutes or 0)
    if (hour, minute) == (24, 0):
        return time(0)
    return time(hour, minute)


def format_clock(value: time, *, end: bool = False) -> str:
    """A `time` as 'HH:MM'; an `end` at midnight is '24:00'."""
    if end and value == time(0):
        return "24:00"
    return f"{value.hour:02d}:{value.minute:02d}"


class TimeRange(Closed):
    start: UtcDatetime
    end: UtcDatetime


class Owner(Closed):
    id: str
    name: str
    email: str | None = None
    time_zone: str = "UTC"
    country: str | None = None
    region: str | None = None
    team: str | None = None
    working_hours: list[WorkingHours] = []
    out_of_office: list[TimeRange] = []


class ScoreLine(Closed):
    rule: str
    points: float
    reason: str


class Score(Closed):
    total: float = 0.0
    fit: float = 0.0
    engagement: float = 0.0
    grade: str | None = None
    breakdown: list[ScoreLine] = []
    learned: float = Field(default=0.0, description="points from closed-deal win rates")
    learned_model: str | None = Field(
        default=None, description="the learned model's revision, when it took part"
    )


class SkippedCandidate(Closed):
    rep_id: str
    reason: str


class LeadSnapshot(Closed):
    """The lead state other services need (event-carried state transfer)."""

    source: str
    source_record_id: str | None = Field(
        default=None,
        description="the lead's id in the platform it came from (a HubSpot contact id, "
        "say); when that platform is also the CRM, feedback may name the lead by it",
    )
    attribution: Attribution = Attribution()
    company_name: str | None = None
    company_domain: str | None = None
    country: str | None = None
    title: str | None = None
    captured_at: UtcDatetime | None = None


class LeadAssigned(LeadEvent):
    """Who follows the lead up, and why."""

    event_type: ClassVar[str] = "baton.lead.assigned.v1"
    topic: ClassVar[str] = topics.LEADS_ASSIGNED

    captured_event_id: str
    assigned_at: UtcDatetime
    owner: Owner | None = None
    queue: str | None = None
    pool: str | None = None
    matched_rule: str | None = None
    reason: str
    score: Score = Score()
    tier: str | None = None
    lifecycle_stage: str = "lead"
    skipped: list[SkippedCandidate] = []
    policy_version: str
    attempt: int = Field(default=1, ge=1)
    previous_owners: list[str] = []
    lead: LeadSnapshot
