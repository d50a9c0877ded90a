"""Tiers (the lead's fitness category: hot, warm, nurture, ...) and lifecycle stage.

Tier conditions see the lead's facts plus the score:

    grade        the fit grade, e.g. "A"
    fit          fit points
    engagement   decayed engagement points
    score        fit + engagement
    mql          true when marketing-qualified
    lifecycle_stage  "mql" or "lead"

The first tier whose `when` matches wins; the last tier has no `when` and is the default.

Lifecycle stage: the router only knows two stages: "mql" when the score meets the policy's
MQL definition, else "lead". Later stages (SAL, SQL, opportunity, customer) are set by
sales in the CRM and come back as feedback; the router never infers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from baton_router.domain.conditions import evaluate
from baton_router.domain.facts import Facts, lead_facts
from baton_router.domain.policy.learned import LearnedModel
from baton_router.domain.policy.model import Policy, Tier
from baton_router.domain.policy.scoring import ScoreResult, score_lead
from baton_schemas import LeadCaptured

STAGE_MQL = "mql"
STAGE_LEAD = "lead"


def lifecycle_stage(score: ScoreResult) -> str:
    """ "mql" if the lead meets the MQL definition, else "lead"."""
    return STAGE_MQL if score.mql else STAGE_LEAD


def score_facts(facts: Facts, score: ScoreResult) -> Facts:
    """The lead's facts extended with the score, for tier (and routing) conditions."""
    return facts.extended(
        {
            "grade": score.grade,
            "fit": score.fit,
            "engagement": score.engagement,
            "score": score.total,
            "mql": score.mql,
            "lifecycle_stage": lifecycle_stage(score),
        }
    )


def classify(tiers: Sequence[Tier], facts_with_score: Facts) -> Tier:
    """The first tier whose condition matches (a tier without `when` always matches).

    A validated policy ends with a default tier; for a bare list that does not, the last
    tier is the fallback.
    """
    if not tiers:
        raise ValueError("no tiers to classify into")
    for tier in tiers:
        if tier.when is None or evaluate(tier.when, facts_with_score):
            return tier
    return tiers[-1]


@dataclass(frozen=True)
class Assessment:
    """Everything the policy says about a lead before routing."""

    policy_version: str
    score: ScoreResult
    tier: Tier
    lifecycle_stage: str
    facts: Facts
    """lead facts + score facts + `tier`, ready for routing conditions"""


def assess(
    lead: LeadCaptured, policy: Policy, now: datetime, learned: LearnedModel | None = None
) -> Assessment:
    """Score and classify a lead under `policy` (and the closed-deal model, if enabled)."""
    base = lead_facts(lead)
    score = score_lead(lead, base, policy.scoring, now, learned)
    facts = score_facts(base, score)
    tier = classify(policy.tiers, facts)
    facts["tier"] = tier.name  # these facts are this assessment's own
    return Assessment(
        policy_version=policy.version,
        score=score,
        tier=tier,
        lifecycle_stage=lifecycle_stage(score),
        facts=facts,
    )
