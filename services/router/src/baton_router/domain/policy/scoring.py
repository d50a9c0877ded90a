"""Lead scoring: fit from firmographics and persona, engagement from decaying activity.

Pure: the clock is passed in. Every point comes with a breakdown line naming its rule and
reason, and the lines add up to the totals (each is rounded to 2 decimals first, and the
totals are the rounded sums), so the numbers a rep sees are the numbers that decided.

- fit: each matching fit rule adds its points; a personal e-mail domain adds
  `free_mail_points` (line `free_mail_domain`).
- engagement: per engagement rule, the activities of its type (case-insensitive), most
  recent first and at most `max_count`, each worth
  `points * 0.5 ** (age_days / half_life_days)`; an activity dated after `now` counts as
  age 0. One line per activity type (`engagement:<type>`); types without a rule score 0.
- grade: the first grade (highest first) whose `min_fit` the fit reaches; the last grade
  is the floor.
- mql: grade in `mql.grades` and engagement >= `mql.min_engagement`.
- learned (when the policy enables it and a model is given): one line per attribute with
  enough closed deals (`learned.py`, lines `learned:<attribute>`); added to the total,
  never to fit or engagement, so grade and MQL stay the rules' own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from baton_router.domain.conditions import evaluate
from baton_router.domain.facts import Facts, lead_facts
from baton_router.domain.policy.learned import LEARNED_RULE_PREFIX, LearnedModel, learned_lines
from baton_router.domain.policy.model import EngagementRule, Scoring
from baton_schemas import LeadCaptured
from baton_schemas.events.lead import Activity, Score, ScoreLine

FREE_MAIL_RULE = "free_mail_domain"
ENGAGEMENT_RULE_PREFIX = "engagement:"
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class ScoreResult:
    total: float
    fit: float
    engagement: float
    grade: str
    mql: bool
    breakdown: tuple[ScoreLine, ...]
    learned: float = 0.0
    learned_model: str | None = None
    """The learned model's version when it took part."""

    @property
    def fit_lines(self) -> tuple[ScoreLine, ...]:
        return tuple(
            line
            for line in self.breakdown
            if not line.rule.startswith((ENGAGEMENT_RULE_PREFIX, LEARNED_RULE_PREFIX))
        )

    @property
    def engagement_lines(self) -> tuple[ScoreLine, ...]:
        return tuple(
            line for line in self.breakdown if line.rule.startswith(ENGAGEMENT_RULE_PREFIX)
        )

    def to_event(self) -> Score:
        """The score as carried in `LeadAssigned.score`."""
        return Score(
            total=self.total,
            fit=self.fit,
            engagement=self.engagement,
            grade=self.grade,
            breakdown=list(self.breakdown),
            learned=self.learned,
            learned_model=self.learned_model,
        )


def _round(value: float) -> float:
    return round(value, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def decay(points: float, age_days: float, half_life_days: float) -> float:
    """`points` after `age_days` (negative ages count as 0) with the given half-life."""
    return points * math.pow(0.5, max(age_days, 0.0) / half_life_days)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _engagement_line(
    rule: EngagementRule, activities: list[Activity], half_life_days: float, now: datetime
) -> ScoreLine | None:
    matching = sorted(
        (activity for activity in activities if activity.type.lower() == rule.activity.lower()),
        key=lambda activity: activity.occurred_at,
        reverse=True,
    )
    if not matching:
        return None
    counted = matching if rule.max_count is None else matching[: rule.max_count]
    ages = [(now - _aware(a.occurred_at)).total_seconds() / SECONDS_PER_DAY for a in counted]
    points = sum(decay(rule.points, age, half_life_days) for age in ages)
    newest = max(min(ages), 0.0)
    reason = (
        f"{len(counted)} x {rule.activity} at {rule.points:g} points, newest "
        f"{newest:.1f} days ago, half-life {half_life_days:g} days"
    )
    if len(counted) < len(matching):
        skipped = len(matching) - len(counted)
        reason += f"; {_plural(skipped, 'older one')} not counted (max {rule.max_count})"
    return ScoreLine(
        rule=ENGAGEMENT_RULE_PREFIX + rule.activity, points=_round(points), reason=reason
    )


def email_domain(lead: LeadCaptured) -> str | None:
    email = (lead.person.email or "").strip()
    if "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower() or None


def grade_for(fit: float, scoring: Scoring) -> str:
    """The first grade whose `min_fit` the fit reaches; the lowest grade is the floor."""
    for grade in scoring.grades:
        if fit >= grade.min_fit:
            return grade.grade
    return scoring.grades[-1].grade


def score_lead(
    lead: LeadCaptured,
    facts: Facts | None,
    scoring: Scoring,
    now: datetime,
    learned: LearnedModel | None = None,
) -> ScoreResult:
    """Score a lead. `facts` are `lead_facts(lead)` (computed when None); `learned` is the
    closed-deal model, used when the policy enables it."""
    facts = lead_facts(lead) if facts is None else facts
    now = _aware(now)
    fit_lines: list[ScoreLine] = []
    for rule in scoring.fit:
        if evaluate(rule.when, facts):
            reason = rule.reason or rule.when.describe()
            fit_lines.append(ScoreLine(rule=rule.name, points=_round(rule.points), reason=reason))
    domain = email_domain(lead)
    if domain is not None and domain in scoring.free_mail_domains:
        fit_lines.append(
            ScoreLine(
                rule=FREE_MAIL_RULE,
                points=_round(scoring.free_mail_points),
                reason=f"personal e-mail domain {domain}",
            )
        )
    engagement_lines = [
        line
        for rule in scoring.engagement
        if (line := _engagement_line(rule, lead.activities, scoring.half_life_days, now))
        is not None
    ]
    fit = _round(sum(line.points for line in fit_lines))
    engagement = _round(sum(line.points for line in engagement_lines))
    grade = grade_for(fit, scoring)
    mql = grade in scoring.mql.grades and engagement >= scoring.mql.min_engagement
    use_model = learned if scoring.learned.enabled else None
    learned_part = learned_lines(facts, scoring.learned, use_model) if use_model else []
    learned_points = _round(sum(line.points for line in learned_part))
    return ScoreResult(
        total=_round(fit + engagement + learned_points),
        fit=fit,
        engagement=engagement,
        grade=grade,
        mql=mql,
        breakdown=(*fit_lines, *engagement_lines, *learned_part),
        learned=learned_points,
        learned_model=use_model.version if use_model else None,
    )
