"""The policy document's schema. One YAML file, versioned; its version is stamped on every
decision. Loading and validation with line numbers live in `loader.py`.

Cross-field checks raise errors located at the offending item (for example
`scoring.mql.grades[1]`), so the loader can point at the exact line of the YAML file.

Semantics the schema alone does not say:

- fit rules: every matching rule adds its points (they are not exclusive); a lead whose
  e-mail domain is in `free_mail_domains` also gets `free_mail_points` (usually negative).
- engagement rules: per activity type, the most recent `max_count` activities count, each
  worth `points * 0.5 ** (age_days / half_life_days)`.
- grades: listed from the highest `min_fit` down; the first whose `min_fit` the fit reaches
  wins, and the last (lowest) grade is also the floor for a fit below every bound.
- tiers: first match wins; the last tier has no `when` and is the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from baton_router.domain.conditions import Condition
from baton_schemas.sla_policy import SlaPolicy

Loc = tuple[str | int, ...]


def _fail(title: str, problems: Sequence[tuple[Loc, str, Any]]) -> None:
    """Raise one validation error per (location relative to the model, message, input)."""
    if problems:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(
                    type=PydanticCustomError("policy", "{message}", {"message": message}),
                    loc=loc,
                    input=value,
                )
                for loc, message, value in problems
            ],
        )


def _duplicates(
    list_name: str, key: str, names: Sequence[str], fold_case: bool = False
) -> list[tuple[Loc, str, Any]]:
    """A problem at each repeat of a name, pointing back at its first use."""
    first: dict[str, int] = {}
    problems: list[tuple[Loc, str, Any]] = []
    for index, name in enumerate(names):
        folded = name.lower() if fold_case else name
        if folded in first:
            message = f"duplicate {key} {name!r} (also {list_name}[{first[folded]}])"
            problems.append(((list_name, index, key), message, name))
        else:
            first[folded] = index
    return problems


class Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


class FitRule(Strict):
    name: str = Field(min_length=1)
    when: Condition
    points: float
    reason: str | None = Field(
        default=None, description="shown in the score breakdown; default: the condition"
    )


class EngagementRule(Strict):
    activity: str = Field(
        min_length=1, description="activity type, e.g. demo_request, form_submit, email_click"
    )
    points: float
    max_count: int | None = Field(
        default=None, ge=1, description="count at most this many, most recent first"
    )


class Grade(Strict):
    grade: str = Field(min_length=1)
    min_fit: float


class Mql(Strict):
    grades: list[str] = Field(min_length=1, description="fit grades that qualify")
    min_engagement: float


class LearnedScoring(Strict):
    """The score's learned part, from closed deals (see `learned.py`); off unless enabled."""

    enabled: bool = False
    weight: float = Field(default=0.5, ge=0, le=1, description="share of max_points applied")
    attributes: list[str] = Field(
        default=["source", "attribution.campaign_id"],
        min_length=1,
        description="lead fields whose values' win rates are learned",
    )
    min_deals: int = Field(default=30, ge=1, description="closed deals before a value counts")
    prior_deals: float = Field(default=10.0, ge=0, description="smoothing toward the overall")
    max_points: float = Field(default=20.0, gt=0)


class Scoring(Strict):
    fit: list[FitRule] = []
    free_mail_domains: list[str] = []
    free_mail_points: float = 0.0
    engagement: list[EngagementRule] = []
    half_life_days: float = Field(default=14.0, gt=0)
    grades: list[Grade] = Field(min_length=1, description="highest min_fit first")
    mql: Mql
    learned: LearnedScoring = LearnedScoring()

    @field_validator("free_mail_domains")
    @classmethod
    def _normalise_domains(cls, domains: list[str]) -> list[str]:
        return [domain.strip().lstrip("@").lower() for domain in domains]

    @model_validator(mode="after")
    def _consistent(self) -> Scoring:
        problems: list[tuple[Loc, str, Any]] = []
        for index in range(1, len(self.grades)):
            above, grade = self.grades[index - 1], self.grades[index]
            if grade.min_fit >= above.min_fit:
                message = (
                    f"grades must be listed from the highest min_fit down: {grade.grade!r} "
                    f"({grade.min_fit:g}) is not below {above.grade!r} ({above.min_fit:g})"
                )
                problems.append((("grades", index, "min_fit"), message, grade.min_fit))
        problems += _duplicates("grades", "grade", [grade.grade for grade in self.grades])
        problems += _duplicates("fit", "name", [rule.name for rule in self.fit])
        problems += _duplicates(
            "engagement", "activity", [rule.activity for rule in self.engagement], fold_case=True
        )
        known = list(dict.fromkeys(grade.grade for grade in self.grades))
        for index, name in enumerate(self.mql.grades):
            if name not in known:
                message = f"unknown grade {name!r} (grades are {', '.join(known)})"
                problems.append((("mql", "grades", index), message, name))
        _fail("Scoring", problems)
        return self


class Tier(Strict):
    name: str = Field(min_length=1)
    when: Condition | None = Field(
        default=None,
        description="matched on lead facts plus grade, fit, engagement, score, mql; "
        "None = default (the last tier only)",
    )
    description: str | None = None


class RoutingRule(Strict):
    name: str = Field(min_length=1)
    when: Condition
    pool: str | None = Field(default=None, min_length=1)
    queue: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _target(self) -> RoutingRule:
        if (self.pool is None) == (self.queue is None):
            raise ValueError("a routing rule sends to exactly one of `pool` or `queue`")
        return self


class Routing(Strict):
    account_ownership: bool = True
    duplicate_window_days: float = Field(default=30.0, ge=0)
    rules: list[RoutingRule] = []
    fallback_queue: str = Field(default="unassigned", min_length=1)
    reassign_on_reject_reasons: list[str] = Field(
        default=[], description="sales rejections that send the lead to another rep"
    )
    recycle_on_reject_reasons: list[str] = Field(
        default=[],
        description="sales rejections that hand the lead back to marketing's recycle queue "
        "(as does a disposition of `recycled`)",
    )
    recycle_queue: str = Field(default="nurture", min_length=1)

    @model_validator(mode="after")
    def _names_unique(self) -> Routing:
        _fail("Routing", _duplicates("rules", "name", [rule.name for rule in self.rules]))
        return self

    @model_validator(mode="after")
    def _one_answer_per_reason(self) -> Routing:
        reassigned = set(self.reassign_on_reject_reasons)
        _fail(
            "Routing",
            [
                (
                    ("recycle_on_reject_reasons", index),
                    f"{reason!r} is also in reassign_on_reject_reasons: a rejection "
                    "must have one answer",
                    reason,
                )
                for index, reason in enumerate(self.recycle_on_reject_reasons)
                if reason in reassigned
            ],
        )
        return self


class Policy(Strict):
    version: str = Field(min_length=1)
    description: str | None = None
    scoring: Scoring
    tiers: list[Tier] = Field(
        min_length=1, description="first match wins; the last has no `when` (the default)"
    )
    routing: Routing = Routing()
    sla: SlaPolicy | None = Field(
        default=None, description="the follow-up promise the SLA monitor enforces"
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            raise ValueError(
                f'quote the version, e.g. version: "1.10" (a bare number loses digits; read as {value})'
            )
        return value

    @model_validator(mode="after")
    def _tiers(self) -> Policy:
        problems = _duplicates("tiers", "name", [tier.name for tier in self.tiers])
        last = len(self.tiers) - 1
        for index, tier in enumerate(self.tiers):
            if index < last and tier.when is None:
                message = (
                    "only the last tier may omit `when` (the tiers after it could never match)"
                )
                problems.append((("tiers", index, "name"), message, tier.name))
        if self.tiers[last].when is not None:
            message = (
                "the last tier is the default: it must not have `when`, so every lead gets a tier"
            )
            problems.append((("tiers", last, "when"), message, self.tiers[last].name))
        names = {tier.name for tier in self.tiers}
        for name in self.sla.tiers if self.sla else ():
            if name not in names:
                message = f"no tier named {name!r} (tiers: {', '.join(sorted(names))})"
                problems.append((("sla", "tiers", name), message, name))
        _fail("Policy", problems)
        return self


Strategy = Literal["round_robin", "weighted_round_robin", "least_open"]
