"""The `sla:` section of the policy document: the follow-up promise sales makes marketing.

The router owns the document (versions, validation, activation) and checks this section
with the rest; the SLA monitor runs by it. It lives with the contracts because both read it.

    sla:
      qualifying_activities: [call, email, meeting]   # what stops the clock
      calendar:                  # for owners whose assignment carries no working hours
        time_zone: Europe/Berlin
        working_hours: [{weekday: 0, start: "09:00", end: "17:00"}, ...]
        holidays: {country: DE, region: BE}
      tiers:
        hot:  {target: 5m, clock: wall, warning: {before: 2m}}
        warm: {target: 2h, clock: business, warning: {at_percent: 75}}
      default: {target: 16h, clock: business}        # tiers not listed (16 business hours)
      escalation:                                     # rungs after the breach, in order
        - {after: 0m, action: notify}
        - {after: 15m, action: reassign}
      manager_queue: {queue: sales-managers, after_reassignments: 2}

Durations are `90s`, `5m`, `2h`, `1h30m`, `2d` (a day is 24 hours) or ISO 8601 (`PT5M`).
On the business clock only working time counts, so two 8-hour business days are `16h`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from baton_schemas.events.base import Closed
from baton_schemas.events.lead import WorkingHours

_COMPACT = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
    r"(?:(\d+(?:\.\d+)?)s)?\s*$"
)


def parse_duration(value: Any) -> Any:
    """'1h30m' and friends to a timedelta; anything else is left to pydantic (ISO 8601,
    seconds as a number)."""
    if isinstance(value, str) and (match := _COMPACT.match(value)) and any(match.groups()):
        days, hours, minutes, seconds = (float(part or 0) for part in match.groups())
        try:
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        except OverflowError:  # `99999999999d`: a validation error, like pydantic's own
            raise ValueError("duration too large (at most 999999999 days)") from None
    return value


def format_duration(value: timedelta) -> str:
    """The compact form back (`1h30m`, `2s`, `0.000001s`), so a dumped section reads like its
    source and parses back to the same duration (counted in whole microseconds: a float's
    `1e-06` or a negative hour count would not parse)."""
    micros = value // timedelta(microseconds=1)
    if micros < 0:
        return "-" + format_duration(-value)  # not a valid Duration; kept readable
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    parts = [f"{count}{unit}" for count, unit in ((hours, "h"), (minutes, "m")) if count]
    if rest or not parts:
        whole, fraction = divmod(rest, 1_000_000)
        parts.append(f"{whole}.{fraction:06d}".rstrip("0").rstrip(".") + "s")
    return "".join(parts)


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration cannot be negative")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    AfterValidator(_not_negative),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _COMPACT.pattern},
                {"type": "string", "format": "duration"},
                {"type": "number", "minimum": 0},
            ],
            "description": "90s, 5m, 2h, 1h30m or 2d; ISO 8601 (PT5M); or seconds",
        }
    ),
]

WEEKDAYS_NINE_TO_FIVE = [WorkingHours(weekday=day, start="09:00", end="17:00") for day in range(5)]


class Holidays(Closed):
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    region: str | None = Field(default=None, description="ISO 3166-2 subdivision, e.g. BE")


class Calendar(Closed):
    time_zone: str = "UTC"
    working_hours: list[WorkingHours] = Field(default=WEEKDAYS_NINE_TO_FIVE, min_length=1)
    holidays: Holidays | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class Warning(Closed):
    """When to warn: a time before the deadline, or a share of the target gone."""

    before: Duration | None = None
    at_percent: float | None = Field(default=None, gt=0, lt=100)

    @model_validator(mode="after")
    def _one_of(self) -> Warning:
        if (self.before is None) == (self.at_percent is None):
            raise ValueError("give exactly one of `before` and `at_percent`")
        return self


class TierTarget(Closed):
    target: Duration
    clock: Literal["wall", "business"] = "business"
    warning: Warning | None = None

    @field_validator("target")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("the target must be longer than zero")
        return value

    @model_validator(mode="after")
    def _warning_inside(self) -> TierTarget:
        if self.warning and self.warning.before and self.warning.before >= self.target:
            raise ValueError("the warning must come after the deadline opens (before < target)")
        return self


class Rung(Closed):
    after: Duration = timedelta(0)
    action: Literal["notify", "reassign"]


class ManagerQueue(Closed):
    queue: str = Field(min_length=1)
    after_reassignments: int = Field(
        ge=1,
        description="reassign rungs become hand-overs to the queue once the lead was reassigned this often",
    )


class SlaPolicy(Closed):
    qualifying_activities: list[Literal["call", "email", "meeting", "other"]] = Field(
        default=["call", "email", "meeting"], min_length=1
    )
    outbound_only: bool = Field(
        default=False, description="only outbound activities stop the clock"
    )
    calendar: Calendar = Calendar()
    tiers: dict[str, TierTarget] = {}
    default: TierTarget | None = Field(
        default=None, description="for tiers not listed and for leads handed to a queue"
    )
    escalation: list[Rung] = Field(default=[Rung(action="notify")], min_length=1)
    manager_queue: ManagerQueue | None = None

    @field_validator("escalation")
    @classmethod
    def _in_order(cls, rungs: list[Rung]) -> list[Rung]:
        for earlier, later in pairwise(rungs):
            if later.after < earlier.after:
                raise ValueError("rungs must be in order of `after`")
        return rungs

    def target_for(self, tier: str | None) -> TierTarget | None:
        """The tier's terms, the default's for any other tier; None: no deadline."""
        return self.tiers.get(tier or "", self.default)
