"""The policy document's schema. One YAML file, versioned; its version is stamped on every
decision. Loading and validation with line numbers live in `loader.py`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from baton_router.domain.conditions import Condition


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FitRule(Strict):
    name: str
    when: Condition
    points: float
    reason: str | None = None


class EngagementRule(Strict):
    activity: str = Field(description="activity type, e.g. demo_request, form_submit, email_click")
    points: float
    max_count: int | None = Field(default=None, ge=1, description="count at most this many")


class Grade(Strict):
    grade: str
    min_fit: float


class Mql(Strict):
    grades: list[str] = Field(description="fit grades that qualify")
    min_engagement: float


class Scoring(Strict):
    fit: list[FitRule] = []
    free_mail_domains: list[str] = []
    free_mail_points: float = 0.0
    engagement: list[EngagementRule] = []
    half_life_days: float = Field(default=14.0, gt=0)
    grades: list[Grade] = Field(min_length=1, description="highest min_fit first")
    mql: Mql

    @model_validator(mode="after")
    def _grades_descending(self) -> Scoring:
        bounds = [grade.min_fit for grade in self.grades]
        if bounds != sorted(bounds, reverse=True):
            raise ValueError("grades must be listed from the highest min_fit down")
        return self


class Tier(Strict):
    name: str
    when: Condition | None = Field(
        default=None, description="matched on facts incl. grade, engagement, mql; None = default"
    )
    description: str | None = None


class RoutingRule(Strict):
    name: str
    when: Condition
    pool: str | None = None
    queue: str | None = None

    @model_validator(mode="after")
    def _target(self) -> RoutingRule:
        if (self.pool is None) == (self.queue is None):
            raise ValueError("a routing rule sends to exactly one of `pool` or `queue`")
        return self


class Routing(Strict):
    account_ownership: bool = True
    duplicate_window_days: float = Field(default=30.0, ge=0)
    rules: list[RoutingRule] = []
    fallback_queue: str = "unassigned"
    reassign_on_reject_reasons: list[str] = []


class Policy(Strict):
    version: str = Field(min_length=1)
    description: str | None = None
    scoring: Scoring
    tiers: list[Tier] = Field(
        min_length=1, description="first match wins; the last should have no `when`"
    )
    routing: Routing = Routing()

    @model_validator(mode="after")
    def _names_unique(self) -> Policy:
        for label, names in (
            ("tier", [tier.name for tier in self.tiers]),
            ("routing rule", [rule.name for rule in self.routing.rules]),
            ("fit rule", [rule.name for rule in self.scoring.fit]),
        ):
            seen = {name for name in names if names.count(name) > 1}
            if seen:
                raise ValueError(f"duplicate {label} names: {sorted(seen)}")
        return self


Strategy = Literal["round_robin", "weighted_round_robin", "least_open"]
