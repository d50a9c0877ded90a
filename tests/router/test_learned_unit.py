"""The learned part of the score: smoothed win rates per attribute value, with a minimum of
evidence, a cap, and a line in the breakdown that says why."""

from __future__ import annotations

from datetime import UTC, datetime

from baton_router.domain.facts import Facts, lead_facts
from baton_router.domain.policy.learned import LearnedModel, Outcomes, learned_lines
from baton_router.domain.policy.model import LearnedScoring, Scoring
from baton_router.domain.policy.scoring import score_lead
from baton_schemas import LeadCaptured

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
CONFIG = LearnedScoring(
    enabled=True,
    weight=0.5,
    attributes=["source", "attribution.campaign_id"],
    min_deals=20,
    prior_deals=10,
    max_points=40,
)


def lead(source: str, campaign: str | None = None) -> LeadCaptured:
    return LeadCaptured.model_validate(
        {
            "lead_key": "ada@example.com",
            "source": source,
            "received_at": NOW,
            "person": {"email": "ada@example.com"},
            "attribution": {"campaign_id": campaign},
        }
    )


def facts(source: str, campaign: str | None = None) -> Facts:
    return lead_facts(lead(source, campaign))


def model(**by_value: tuple[int, int]) -> LearnedModel:
    """Outcomes by `attribute__value` = (won, closed); overall 30 of 100 won."""
    return LearnedModel(
        revision=7,
        overall=Outcomes(won=30, closed=100),
        by_value={
            tuple(key.split("__")): Outcomes(won, closed)  # type: ignore[misc]
            for key, (won, closed) in by_value.items()
        },
    )


def test_a_source_that_wins_more_adds_points_and_says_why() -> None:
    (line,) = learned_lines(facts("webinar"), CONFIG, model(source__webinar=(45, 60)))
    smoothed = (45 + 10 * 0.3) / (60 + 10)  # 0.686
    assert line.rule == "learned:source"
    assert line.points == round(0.5 * 40 * (smoothed - 0.3) / 0.7, 2)  # 11.02
    assert "source = webinar: won 45 of 60 closed deals" in line.reason
    assert "30% overall" in line.reason and "learned model r7" in line.reason


def test_a_source_that_loses_more_takes_points_away() -> None:
    (line,) = learned_lines(facts("list"), CONFIG, model(source__list=(2, 50)))
    smoothed = (2 + 10 * 0.3) / (50 + 10)  # 0.083
    assert line.points == round(0.5 * 40 * (smoothed - 0.3) / 0.3, 2)  # -14.44
    assert "won 2 of 50" in line.reason


def test_below_the_minimum_evidence_nothing_moves() -> None:
    few = model(source__webinar=(19, 19))  # all won, but only 19 closed deals
    assert learned_lines(facts("webinar"), CONFIG, few) == []
    thin_history = LearnedModel(
        revision=1,
        overall=Outcomes(won=5, closed=10),
        by_value={("source", "webinar"): Outcomes(5, 10)},
    )
    assert (
        learned_lines(facts("webinar"), CONFIG.model_copy(update={"min_deals": 5}), thin_history)
        != []
    )
    assert learned_lines(facts("webinar"), CONFIG, thin_history) == []


def test_lines_together_stay_within_the_cap() -> None:
    both = model(source__webinar=(60, 60), **{"attribution.campaign_id__spring": (60, 60)})
    lines = learned_lines(facts("webinar", "spring"), CONFIG, both)
    assert [line.rule for line in lines] == ["learned:source", "learned:attribution.campaign_id"]
    assert abs(sum(line.points for line in lines) - 20.0) < 0.02  # weight 0.5 * 40
    assert all("scaled by" in line.reason for line in lines)


def test_the_score_counts_learned_points_only_when_the_policy_enables_them() -> None:
    scoring = Scoring.model_validate(
        {"grades": [{"grade": "A", "min_fit": 0}], "mql": {"grades": ["A"], "min_engagement": 0}}
    )
    history = model(source__webinar=(45, 60))
    off = score_lead(lead("webinar"), None, scoring, NOW, history)
    assert (off.total, off.learned, off.learned_model) == (0.0, 0.0, None)
    enabled = scoring.model_copy(update={"learned": CONFIG})
    on = score_lead(lead("webinar"), lead_facts(lead("webinar")), enabled, NOW, history)
    assert on.learned == 11.02 and on.total == 11.02 and on.fit == 0.0
    assert on.learned_model == "r7"
    assert on.to_event().breakdown[-1].rule == "learned:source"
