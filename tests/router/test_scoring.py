"""Scoring (fit, free mail, decaying engagement, grade, MQL) and tiers; pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton_router.domain.conditions import Condition
from baton_router.domain.facts import lead_facts
from baton_router.domain.policy import (
    PolicyError,
    ScoreResult,
    assess,
    classify,
    default_policy,
    lifecycle_stage,
    load_policy,
    score_facts,
    score_lead,
)
from baton_router.domain.policy.model import Scoring, Tier
from baton_router.domain.policy.scoring import decay, grade_for
from baton_schemas import LeadCaptured
from baton_schemas.events.lead import Score

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def lead(
    *,
    email: str | None = "ada@example.com",
    title: str | None = None,
    persona: str | None = None,
    country: str | None = "DE",
    employees: int | None = None,
    industry: str | None = None,
    company: str | None = "Example GmbH",
    domain: str | None = None,
    activities: Sequence[tuple[str, float]] = (),
) -> LeadCaptured:
    """`activities` as (type, age in days)."""
    return LeadCaptured(
        lead_key="lead-1",
        source="generic",
        received_at=NOW,
        person={"email": email, "title": title, "persona": persona, "country": country},
        company={"name": company, "employees": employees, "industry": industry, "domain": domain},
        activities=[
            {"type": kind, "occurred_at": NOW - timedelta(days=age)} for kind, age in activities
        ],
    )


def scoring(**overrides: Any) -> Scoring:
    document: dict[str, Any] = {
        "fit": [
            {
                "name": "enterprise",
                "when": {"field": "company.employees", "gte": 1000},
                "points": 30,
                "reason": "1000+ employees",
            },
            {"name": "vp", "when": {"field": "person.title", "matches": r"\bvp\b"}, "points": 20},
            {
                "name": "student",
                "when": {"field": "person.title", "matches": "student"},
                "points": -40,
                "reason": "student",
            },
        ],
        "free_mail_domains": ["gmail.com", "GMX.de"],
        "free_mail_points": -15,
        "engagement": [
            {"activity": "demo_request", "points": 40, "max_count": 2},
            {"activity": "page_view", "points": 1, "max_count": 3},
            {"activity": "form_submit", "points": 10},
        ],
        "half_life_days": 14,
        "grades": [
            {"grade": "A", "min_fit": 50},
            {"grade": "B", "min_fit": 30},
            {"grade": "C", "min_fit": 10},
            {"grade": "D", "min_fit": 0},
        ],
        "mql": {"grades": ["A", "B"], "min_engagement": 20},
    }
    document.update(overrides)
    return Scoring.model_validate(document)


def lines(result: ScoreResult) -> dict[str, tuple[float, str]]:
    return {line.rule: (line.points, line.reason) for line in result.breakdown}


# --- fit ------------------------------------------------------------------------------------


def test_fit_rules_add_lines_with_reasons() -> None:
    result = score_lead(lead(employees=5000, title="VP Sales"), None, scoring(), NOW)
    assert lines(result) == {
        "enterprise": (30.0, "1000+ employees"),
        "vp": (20.0, "person.title matches '\\\\bvp\\\\b'"),  # no reason: the condition
    }
    assert (result.fit, result.engagement, result.total, result.grade) == (50.0, 0.0, 50.0, "A")


def test_no_matching_rule_scores_zero_with_an_empty_breakdown() -> None:
    result = score_lead(lead(), None, scoring(), NOW)
    assert result.breakdown == ()
    assert (result.fit, result.total, result.grade, result.mql) == (0.0, 0.0, "D", False)


@pytest.mark.parametrize("email", ["ada@gmail.com", "Ada@GMAIL.COM", "ada@gmx.de"])
def test_free_mail_is_negative(email: str) -> None:
    result = score_lead(lead(email=email, employees=5000), None, scoring(), NOW)
    domain = email.rsplit("@", 1)[1].lower()
    assert lines(result)["free_mail_domain"] == (-15.0, f"personal e-mail domain {domain}")
    assert result.fit == 15.0


@pytest.mark.parametrize("email", ["ada@example.com", "ada@notgmail.com", "no-at-sign", None])
def test_business_or_missing_email_has_no_free_mail_line(email: str | None) -> None:
    result = score_lead(lead(email=email), None, scoring(), NOW)
    assert "free_mail_domain" not in lines(result)


def test_student_is_negative() -> None:
    result = score_lead(lead(title="Student", email="s@gmail.com"), None, scoring(), NOW)
    assert lines(result) == {
        "student": (-40.0, "student"),
        "free_mail_domain": (-15.0, "personal e-mail domain gmail.com"),
    }
    assert result.fit == -55.0
    assert result.grade == "D"  # the lowest grade is the floor


def test_default_policy_penalises_competitors_students_and_free_mail() -> None:
    policy = default_policy()
    competitor = score_lead(
        lead(email="spy@leandata.com", title="VP Marketing", employees=500),
        None,
        policy.scoring,
        NOW,
    )
    assert lines(competitor)["competitor"] == (-100.0, "competitor")
    assert competitor.grade == "D"
    student = score_lead(
        lead(email="kim@uni.edu", title="PhD Candidate", company=None), None, policy.scoring, NOW
    )
    assert lines(student)["student"][0] == -40.0
    free = score_lead(lead(email="kim@web.de"), None, policy.scoring, NOW)
    assert lines(free)["free_mail_domain"] == (-15.0, "personal e-mail domain web.de")


def test_facts_are_used_when_given() -> None:
    facts = lead_facts(lead())
    facts["company.employees"] = 2000  # e.g. enriched
    assert lines(score_lead(lead(), facts, scoring(), NOW))["enterprise"][0] == 30.0


# --- engagement -----------------------------------------------------------------------------


def test_decay_is_exact_at_half_lives() -> None:
    assert decay(40, 0, 14) == 40
    assert decay(40, 14, 14) == 20
    assert decay(40, 28, 14) == 10
    assert decay(40, -3, 14) == 40


@pytest.mark.parametrize(
    ("age_days", "points"),
    [(0, 40.0), (14, 20.0), (28, 10.0), (7, 28.28), (42, 5.0), (-2, 40.0)],
)
def test_engagement_half_life(age_days: float, points: float) -> None:
    result = score_lead(lead(activities=[("demo_request", age_days)]), None, scoring(), NOW)
    assert lines(result)["engagement:demo_request"][0] == points
    assert result.engagement == points


def test_one_line_per_activity_type_and_totals_add_up() -> None:
    activities = [("demo_request", 14), ("form_submit", 0), ("form_submit", 14), ("webinar", 0)]
    result = score_lead(lead(employees=5000, activities=activities), None, scoring(), NOW)
    found = lines(result)
    assert found["engagement:demo_request"][0] == 20.0
    assert found["engagement:form_submit"][0] == 15.0
    assert "engagement:webinar" not in found  # no rule, no points
    assert found["engagement:form_submit"][1] == (
        "2 x form_submit at 10 points, newest 0.0 days ago, half-life 14 days"
    )
    assert result.engagement == 35.0
    assert result.total == 65.0
    assert result.fit == sum(line.points for line in result.fit_lines)
    assert result.engagement == sum(line.points for line in result.engagement_lines)


def test_max_count_takes_the_most_recent() -> None:
    ages = [28, 0, 14, 42, 0]  # unordered on purpose
    result = score_lead(lead(activities=[("page_view", a) for a in ages]), None, scoring(), NOW)
    points, reason = lines(result)["engagement:page_view"]
    assert points == 2.5  # 1 + 1 + 0.5; the 28- and 42-day-old views are not counted
    assert "2 older ones not counted (max 3)" in reason


def test_activity_type_matching_ignores_case() -> None:
    result = score_lead(lead(activities=[("Demo_Request", 0)]), None, scoring(), NOW)
    assert result.engagement == 40.0


def test_engagement_breakdown_rounds_to_two_decimals() -> None:
    result = score_lead(lead(activities=[("form_submit", 3)]), None, scoring(), NOW)
    expected = round(10 * 0.5 ** (3 / 14), 2)
    assert lines(result)["engagement:form_submit"][0] == expected == 8.62


def test_naive_now_is_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    result = score_lead(lead(activities=[("demo_request", 14)]), None, scoring(), naive)
    assert result.engagement == 20.0


# --- grade and MQL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fit", "grade"),
    [(100, "A"), (50, "A"), (49.99, "B"), (30, "B"), (29.99, "C"), (10, "C"), (0, "D"), (-80, "D")],
)
def test_grade_boundaries(fit: float, grade: str) -> None:
    assert grade_for(fit, scoring()) == grade


@pytest.mark.parametrize(
    ("employees", "title", "demo_age", "mql"),
    [
        (5000, None, 14, True),  # B, engagement exactly 20
        (5000, None, 15, False),  # B, engagement just below 20
        (5000, "VP", 28, False),  # A, engagement 10
        (5000, "VP", 0, True),  # A, engagement 40
        (None, "VP", 0, False),  # C is not an MQL grade, however engaged
    ],
)
def test_mql(employees: int | None, title: str | None, demo_age: float, mql: bool) -> None:
    result = score_lead(
        lead(employees=employees, title=title, activities=[("demo_request", demo_age)]),
        None,
        scoring(),
        NOW,
    )
    assert result.mql is mql
    assert lifecycle_stage(result) == ("mql" if mql else "lead")


def test_to_event() -> None:
    result = score_lead(
        lead(employees=5000, activities=[("demo_request", 14)]), None, scoring(), NOW
    )
    event = result.to_event()
    assert isinstance(event, Score)
    assert event.model_dump() == {
        "total": 50.0,
        "fit": 30.0,
        "engagement": 20.0,
        "grade": "B",
        "breakdown": [
            {"rule": "enterprise", "points": 30.0, "reason": "1000+ employees"},
            {
                "rule": "engagement:demo_request",
                "points": 20.0,
                "reason": "1 x demo_request at 40 points, newest 14.0 days ago, half-life 14 days",
            },
        ],
        "learned": 0.0,  # the policy leaves learned scoring off
        "learned_model": None,
    }


# --- tiers ----------------------------------------------------------------------------------


def test_score_facts_extend_the_lead_facts() -> None:
    result = score_lead(lead(employees=5000), None, scoring(), NOW)
    facts = score_facts(lead_facts(lead(employees=5000)), result)
    assert {key: facts[key] for key in ("grade", "fit", "engagement", "score", "mql")} == {
        "grade": "B",
        "fit": 30.0,
        "engagement": 0.0,
        "score": 30.0,
        "mql": False,
    }
    assert facts["lifecycle_stage"] == "lead"
    assert facts["company.employees"] == 5000


def test_default_tiers_hot_warm_nurture() -> None:
    policy = default_policy()
    # VP at a large software company who asked for a demo today: needs help now.
    hot = assess(
        lead(
            title="VP of Sales",
            employees=1500,
            industry="Computer Software",
            activities=[("demo_request", 0)],
        ),
        policy,
        NOW,
    )
    assert hot.score.grade == "A"
    assert hot.tier.name == "hot"
    assert hot.lifecycle_stage == "mql"
    assert hot.facts["tier"] == "hot"
    assert hot.policy_version == policy.version

    # Director at a mid-size manufacturer with a little recent engagement: marketing-qualified.
    warm = assess(
        lead(
            title="Director of Operations",
            employees=300,
            industry="Manufacturing",
            activities=[("form_submit", 0), ("webinar_attended", 7), ("email_click", 0)],
        ),
        policy,
        NOW,
    )
    assert (warm.score.fit, warm.score.grade) == (40.0, "B")
    assert warm.score.engagement == 20.07
    assert warm.tier.name == "warm"
    assert warm.lifecycle_stage == "mql"

    # A student reading everything: a content fan goes to nurture, however engaged.
    fan = assess(
        lead(
            email="kim@gmail.com",
            title="Student",
            company=None,
            activities=[("content_download", d) for d in range(5)] + [("demo_request", 0)],
        ),
        policy,
        NOW,
    )
    assert fan.score.grade == "D"
    assert fan.score.engagement > 50
    assert fan.tier.name == "nurture"
    assert fan.lifecycle_stage == "lead"

    # Good fit but nothing recent: no MQL, nurture until engaged.
    quiet = assess(
        lead(title="CEO", employees=2000, industry="SaaS", activities=[("demo_request", 120)]),
        policy,
        NOW,
    )
    assert quiet.score.grade == "A"
    assert quiet.tier.name == "nurture"


def test_classify_first_match_wins_and_last_is_the_default() -> None:
    tiers = [
        Tier(name="hot", when=Condition.model_validate({"field": "grade", "eq": "A"})),
        Tier(name="warm", when=Condition.model_validate({"field": "mql", "eq": True})),
        Tier(name="nurture"),
    ]
    assert classify(tiers, {"grade": "A", "mql": True}).name == "hot"
    assert classify(tiers, {"grade": "B", "mql": True}).name == "warm"
    assert classify(tiers, {"grade": "B", "mql": False}).name == "nurture"
    assert classify(tiers[:2], {"grade": "C"}).name == "warm"  # bare list: last is the fallback
    with pytest.raises(ValueError, match="no tiers"):
        classify([], {})


def test_tier_conditions_see_the_score() -> None:
    policy = load_policy(
        """\
version: t1
scoring:
  engagement: [{activity: demo_request, points: 40}]
  grades: [{grade: A, min_fit: 0}]
  mql: {grades: [A], min_engagement: 100}
tiers:
  - {name: engaged, when: {field: engagement, gte: 20}}
  - {name: scored, when: {field: score, gt: 0}}
  - {name: rest}
""",
        "t.yaml",
    )
    assert assess(lead(activities=[("demo_request", 14)]), policy, NOW).tier.name == "engaged"
    assert assess(lead(activities=[("demo_request", 15)]), policy, NOW).tier.name == "scored"
    assert assess(lead(), policy, NOW).tier.name == "rest"


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)
