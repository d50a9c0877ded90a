"""The learned part of the score: how often leads like this one were won.

From closed deals (won or lost, each with the facts of its lead at handoff) the router
keeps, per attribute the policy names (`source`, `attribution.campaign_id`, ...), the won
and closed counts of each value. A lead's line for an attribute compares the smoothed win
rate of its value with the overall win rate:

    smoothed = (won + prior_deals * overall) / (closed + prior_deals)
    lift     = (smoothed - overall) / (1 - overall)   when above the overall rate
             = (smoothed - overall) / overall         when below
    points   = weight * max_points * lift             (between -/+ weight * max_points)

A value with fewer than `min_deals` closed deals (or a history with fewer overall) moves
nothing, so a handful of deals cannot swing a score; the lines together are capped at
+/- weight * max_points. Each line names the counts and the model revision, so a rep can
see why. Pure: the counts are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from baton_router.domain.facts import Facts
from baton_router.domain.policy.model import LearnedScoring
from baton_schemas.events.lead import ScoreLine

LEARNED_RULE_PREFIX = "learned:"


@dataclass(frozen=True)
class Outcomes:
    won: int = 0
    closed: int = 0

    @property
    def win_rate(self) -> float:
        return self.won / self.closed if self.closed else 0.0


@dataclass(frozen=True)
class LearnedModel:
    """Closed-deal outcomes as of `revision` (which grows with every deal folded in)."""

    revision: int
    overall: Outcomes
    by_value: Mapping[tuple[str, str], Outcomes] = field(default_factory=dict)
    """(attribute, value as text) -> outcomes of leads with that value"""

    @property
    def version(self) -> str:
        return f"r{self.revision}"


def learned_lines(facts: Facts, config: LearnedScoring, model: LearnedModel) -> list[ScoreLine]:
    overall = model.overall
    if overall.closed < config.min_deals or overall.won in (0, overall.closed):
        return []  # too little history, or no contrast to learn from
    lines = []
    for attribute in config.attributes:
        value = facts.get(attribute)
        if value is None:
            continue
        text = _as_json_text(value)
        outcomes = model.by_value.get((attribute, text))
        if outcomes is None or outcomes.closed < config.min_deals:
            continue
        lines.append(_line(attribute, text, outcomes, overall.win_rate, config, model.version))
    return _capped(lines, config.weight * config.max_points)


def _as_json_text(value: object) -> str:
    """The value as PostgreSQL's `->>` gives it, which is how the counts are keyed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _line(
    attribute: str,
    value: str,
    outcomes: Outcomes,
    overall_rate: float,
    config: LearnedScoring,
    version: str,
) -> ScoreLine:
    smoothed = (outcomes.won + config.prior_deals * overall_rate) / (
        outcomes.closed + config.prior_deals
    )
    spread = (1 - overall_rate) if smoothed >= overall_rate else overall_rate
    points = config.weight * config.max_points * (smoothed - overall_rate) / spread
    reason = (
        f"{attribute} = {value}: won {outcomes.won} of {outcomes.closed} closed deals "
        f"(smoothed {smoothed:.0%}) against {overall_rate:.0%} overall; "
        f"learned model {version}, weight {config.weight:g}"
    )
    return ScoreLine(rule=LEARNED_RULE_PREFIX + attribute, points=round(points, 2), reason=reason)


def _capped(lines: list[ScoreLine], cap: float) -> list[ScoreLine]:
    """Scale the lines down together when their sum passes the cap (either way)."""
    total = sum(line.points for line in lines)
    if abs(total) <= cap or total == 0:
        return lines
    factor = cap / abs(total)
    return [
        line.model_copy(
            update={
                "points": round(line.points * factor, 2),
                "reason": f"{line.reason} (scaled by {factor:.2f} to the cap of {cap:g})",
            }
        )
        for line in lines
    ]
