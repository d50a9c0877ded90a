"""Routing: owner first, ordered rules, pools and their strategies, eligibility, fallback.

Pure and fast: no broker, no database. A fixed `now` throughout.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baton_router.domain.facts import Facts, lead_facts
from baton_router.domain.policy.model import Routing, RoutingRule, Strategy
from baton_router.domain.routing import (
    ACCOUNT_OWNERSHIP,
    DUPLICATE,
    FALLBACK,
    Pool,
    PoolMember,
    Rep,
    RepLoad,
    RosterSnapshot,
    RoutingDecision,
    Shift,
    account_domain,
    apply_decision,
    in_working_hours,
    local_day_bounds,
    out_of_office_until,
    pick,
    route,
    share_report,
    why_ineligible,
    within_duplicate_window,
)
from baton_router.domain.routing.roster import STRATEGIES
from baton_schemas import LeadCaptured
from baton_schemas.events.lead import Owner

# Wednesday 2026-03-04 10:00 UTC: 11:00 in Berlin (CET), 05:00 in New York (EST).
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
WEEKDAYS_9_TO_5 = tuple(Shift(day, time(9), time(17)) for day in range(5))


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def rep(rep_id: str, **fields: Any) -> Rep:
    return Rep(id=rep_id, name=rep_id.title(), email=f"{rep_id}@baton.test", **fields)


def make_pool(
    name: str,
    members: dict[str, float] | list[str],
    strategy: Strategy = "weighted_round_robin",
    **fields: Any,
) -> Pool:
    weights = members if isinstance(members, dict) else dict.fromkeys(members, 1.0)
    seats = tuple(PoolMember(rep_id, weight) for rep_id, weight in weights.items())
    return Pool(name=name, strategy=strategy, members=seats, **fields)


def to_pool(name: str, when: dict[str, Any], pool: str) -> RoutingRule:
    return RoutingRule.model_validate({"name": name, "when": when, "pool": pool})


def to_queue(name: str, when: dict[str, Any], queue: str) -> RoutingRule:
    return RoutingRule.model_validate({"name": name, "when": when, "queue": queue})


EVERYONE = {"field": "lead_key", "exists": True}


def routing(*rules: RoutingRule, **fields: Any) -> Routing:
    return Routing(rules=list(rules), **fields)


def facts(tier: str | None = None, **lead: Any) -> Facts:
    captured = LeadCaptured.model_validate(
        {"lead_key": "lead-1", "source": "generic", "received_at": NOW, **lead}
    )
    out = lead_facts(captured)
    out["lead_key"] = captured.lead_key
    if tier is not None:
        out["tier"] = tier
    return out


def decide(
    rules: Routing,
    roster: RosterSnapshot,
    lead: Facts | None = None,
    *,
    now: datetime = NOW,
    account_owner_id: str | None = None,
    existing_owner_id: str | None = None,
    excluded: frozenset[str] = frozenset(),
    attempt: int = 1,
) -> RoutingDecision:
    return route(
        lead_key="lead-1",
        facts=lead if lead is not None else facts(),
        routing=rules,
        roster=roster,
        now=now,
        account_owner_id=account_owner_id,
        existing_owner_id=existing_owner_id,
        excluded_rep_ids=excluded,
        attempt=attempt,
    )


def run(
    rules: Routing, roster: RosterSnapshot, count: int, *, now: datetime = NOW
) -> tuple[list[str], RosterSnapshot]:
    """Route `count` leads one after the other against an evolving roster."""
    owners = []
    for _ in range(count):
        decision = decide(rules, roster, now=now)
        assert decision.owner is not None, decision.reason
        owners.append(decision.owner.id)
        roster = apply_decision(roster, decision)
    return owners, roster


def longest_streak(owners: list[str], rep_id: str) -> int:
    best = current = 0
    for owner in owners:
        current = current + 1 if owner == rep_id else 0
        best = max(best, current)
    return best


def skipped(decision: RoutingDecision) -> dict[str, str]:
    return {skip.rep_id: skip.reason for skip in decision.skipped}


# --- rule kinds -------------------------------------------------------------------------

RULE_KINDS = [
    pytest.param(
        {"field": "person.country", "in": ["DE", "AT", "CH"]},
        facts(person={"country": "at"}),
        facts(person={"country": "FR"}),
        id="country-list",
    ),
    pytest.param(
        {"field": "person.region", "eq": "Bavaria"},
        facts(person={"country": "DE", "region": "Bavaria"}),
        facts(person={"country": "DE", "region": "Hesse"}),
        id="region",
    ),
    pytest.param(
        {
            "all": [
                {"field": "company.employees", "gte": 200},
                {"field": "company.employees", "lt": 1000},
            ]
        },
        facts(company={"employees": 200}),
        facts(company={"employees": 1000}),
        id="company-size-band",
    ),
    pytest.param(
        {"field": "company.industry", "in": ["Software", "Fintech"]},
        facts(company={"industry": "fintech"}),
        facts(company={"industry": "Retail"}),
        id="industry",
    ),
    pytest.param(
        {"field": "person.title", "matches": r"\b(vp|head|chief|director)\b"},
        facts(person={"title": "VP Sales Operations"}),
        facts(person={"title": "Sales Development Intern"}),
        id="title-regex",
    ),
    pytest.param(
        {"field": "person.persona", "eq": "economic_buyer"},
        facts(person={"persona": "economic_buyer"}),
        facts(person={"persona": "end_user"}),
        id="persona",
    ),
    pytest.param(
        {"field": "product_interest", "contains": "routing"},
        facts(product_interest=["SLA", "Routing"]),
        facts(product_interest=["SLA"]),
        id="product-interest",
    ),
    pytest.param(
        {"field": "person.language", "eq": "de"},
        facts(person={"language": "DE"}),
        facts(person={"language": "en"}),
        id="language",
    ),
    pytest.param(
        {"field": "tier", "eq": "enterprise"},
        facts(tier="enterprise"),
        facts(tier="smb"),
        id="tier",
    ),
]


@pytest.mark.parametrize(("when", "hit", "miss"), RULE_KINDS)
def test_each_rule_kind_sends_matching_leads_to_its_pool(
    when: dict[str, Any], hit: Facts, miss: Facts
) -> None:
    roster = RosterSnapshot.of([rep("ada")], [make_pool("target", ["ada"])])
    rules = routing(to_pool("the-rule", when, "target"), fallback_queue="triage")

    matched = decide(rules, roster, hit)
    assert (matched.owner and matched.owner.id, matched.pool, matched.matched_rule) == (
        "ada",
        "target",
        "the-rule",
    )
    assert "rule 'the-rule' matched" in matched.reason
    assert not matched.fallback

    unmatched = decide(rules, roster, miss)
    assert (unmatched.owner, unmatched.queue, unmatched.matched_rule) == (None, "triage", FALLBACK)
    assert unmatched.fallback
    assert "no routing rule matched" in unmatched.reason


def test_company_size_band_edges() -> None:
    band = {
        "all": [
            {"field": "company.employees", "gte": 200},
            {"field": "company.employees", "lt": 1000},
        ]
    }
    rules = routing(to_queue("mid-market", band, "mm"), fallback_queue="other")
    roster = RosterSnapshot()
    for employees, queue in ((199, "other"), (200, "mm"), (999, "mm"), (1000, "other")):
        assert decide(rules, roster, facts(company={"employees": employees})).queue == queue
    assert decide(rules, roster, facts()).queue == "other"  # size unknown


def test_rules_are_tried_in_order_and_first_match_wins() -> None:
    roster = RosterSnapshot.of(
        [rep("ada"), rep("bob")], [make_pool("dach", ["ada"]), make_pool("enterprise", ["bob"])]
    )
    rules = routing(
        to_pool("dach", {"field": "person.country", "in": ["DE", "AT", "CH"]}, "dach"),
        to_pool("enterprise", {"field": "tier", "eq": "enterprise"}, "enterprise"),
    )
    both = decide(rules, roster, facts(tier="enterprise", person={"country": "DE"}))
    second = decide(rules, roster, facts(tier="enterprise", person={"country": "US"}))
    assert (both.matched_rule, both.owner and both.owner.id) == ("dach", "ada")
    assert (second.matched_rule, second.owner and second.owner.id) == ("enterprise", "bob")


def test_a_rule_can_send_to_a_queue() -> None:
    rules = routing(
        to_queue("students", {"field": "person.email_domain", "matches": r"\.edu$"}, "nurture"),
        to_pool("rest", EVERYONE, "all"),
    )
    roster = RosterSnapshot.of([rep("ada")], [make_pool("all", ["ada"])])
    decision = decide(rules, roster, facts(person={"email": "kim@uni.edu"}))
    assert (decision.owner, decision.queue, decision.matched_rule) == (None, "nurture", "students")
    assert not decision.fallback
    assert "sent to queue 'nurture'" in decision.reason
    assert decision.updated_pools == {}


# --- strategies ---------------------------------------------------------------------------


def test_weighted_round_robin_over_10000_leads_holds_the_weights_within_2_percent() -> None:
    weights = {"ada": 3.0, "bob": 2.0, "cyd": 1.0}
    roster = RosterSnapshot.of([rep(r) for r in weights], [make_pool("p", weights)])
    owners, roster = run(routing(to_pool("all", EVERYONE, "p")), roster, 10_000)

    report = share_report(roster.pools["p"], Counter(owners))
    for line in report:
        assert abs(line.deviation) <= 0.02, line
    # LeanData pointers are exact, not just close: 1666 cycles of 6, then ada, bob, cyd, ada.
    assert Counter(owners) == {"ada": 5000, "bob": 3333, "cyd": 1667}
    assert max(abs(line.deviation) for line in report) < 0.001


def test_weighted_round_robin_interleaves_by_pointer() -> None:
    roster = RosterSnapshot.of(
        [rep(r) for r in ("ada", "bob", "cyd")],
        [make_pool("p", {"ada": 3.0, "bob": 2.0, "cyd": 1.0})],
    )
    owners, roster = run(routing(to_pool("all", EVERYONE, "p")), roster, 6)
    assert owners == ["ada", "bob", "cyd", "ada", "bob", "ada"]
    assert [m.pointer for m in roster.pools["p"].members] == pytest.approx([1.0, 1.0, 1.0])


def test_plain_round_robin_is_exactly_even_and_in_turn() -> None:
    names = ["ada", "bob", "cyd"]
    roster = RosterSnapshot.of(
        [rep(r) for r in names],
        [make_pool("p", {"ada": 5.0, "bob": 1.0, "cyd": 1.0}, "round_robin")],
    )
    owners, roster = run(routing(to_pool("all", EVERYONE, "p")), roster, 9_999)
    assert owners[:6] == ["ada", "bob", "cyd", "ada", "bob", "cyd"]  # weights are ignored
    assert Counter(owners) == {"ada": 3333, "bob": 3333, "cyd": 3333}
    assert roster.pools["p"].rr_cursor == 0
    assert all(
        abs(line.deviation) < 1e-9 for line in share_report(roster.pools["p"], Counter(owners))
    )


def test_round_robin_passes_over_an_ineligible_rep_without_stalling() -> None:
    away = rep("bob", out_of_office=((at("2026-03-01T00:00Z"), at("2026-03-10T00:00Z")),))
    roster = RosterSnapshot.of(
        [rep("ada"), away, rep("cyd")], [make_pool("p", ["ada", "bob", "cyd"], "round_robin")]
    )
    rules = routing(to_pool("all", EVERYONE, "p"))
    owners, roster = run(rules, roster, 6)
    assert owners == ["ada", "cyd"] * 3

    owners, _ = run(rules, roster, 6, now=at("2026-03-10T09:00Z"))  # bob is back: in turn
    assert owners == ["ada", "bob", "cyd"] * 2


def test_least_open_picks_the_rep_with_fewest_open_leads() -> None:
    roster = RosterSnapshot.of(
        [rep("ada"), rep("bob"), rep("cyd")],
        [make_pool("p", ["ada", "bob", "cyd"], "least_open")],
        loads={
            "ada": RepLoad(open_leads=4),
            "bob": RepLoad(open_leads=1),
            "cyd": RepLoad(open_leads=2),
        },
    )
    owners, roster = run(routing(to_pool("all", EVERYONE, "p")), roster, 6)
    # bob (1) → bob and cyd tie at 2: cyd has the lower pointer → bob → then all level at 3…
    assert owners[:3] == ["bob", "cyd", "bob"]
    assert Counter(owners) == {"bob": 3, "cyd": 2, "ada": 1}
    assert {rep_id: load.open_leads for rep_id, load in roster.loads.items()} == {
        "ada": 5,
        "bob": 4,
        "cyd": 4,
    }


def test_least_open_ties_go_to_whoever_was_assigned_least_lately() -> None:
    pool = make_pool("p", ["ada", "bob", "cyd"], "least_open")
    pool = replace(
        pool,
        members=tuple(
            replace(m, pointer=p) for m, p in zip(pool.members, (2.0, 1.0, 3.0), strict=True)
        ),
    )
    result = pick(pool, unavailable={}, loads={})
    assert result.member is not None and result.member.rep_id == "bob"


def test_least_open_with_weights_balances_load_per_unit_of_weight() -> None:
    roster = RosterSnapshot.of(
        [rep("ada"), rep("bob")], [make_pool("p", {"ada": 2.0, "bob": 1.0}, "least_open")]
    )
    owners, _ = run(routing(to_pool("all", EVERYONE, "p")), roster, 300)
    assert Counter(owners) == {"ada": 200, "bob": 100}


def test_pool_state_survives_a_restart_and_is_shared_by_replicas() -> None:
    """Pointers and cursors are plain values the database stores: routing from a reloaded
    copy, or alternately from two replicas reading the same row, continues the rotation
    exactly as one uninterrupted router would."""
    weights = {"ada": 3.0, "bob": 2.0, "cyd": 1.0}
    reps = [rep(r) for r in weights]
    rules = routing(to_pool("all", EVERYONE, "p"))
    uninterrupted, _ = run(rules, RosterSnapshot.of(reps, [make_pool("p", weights)]), 60)

    def reload(pool: Pool) -> Pool:  # what a database round trip keeps
        rows = [(m.rep_id, m.weight, m.pointer, m.away) for m in pool.members]
        return Pool(
            name=pool.name,
            strategy=pool.strategy,
            respect_working_hours=pool.respect_working_hours,
            rr_cursor=pool.rr_cursor,
            members=tuple(PoolMember(*row) for row in rows),
        )

    stored = make_pool("p", weights)
    owners = []
    for index in range(60):
        replica = RosterSnapshot.of(reps, [reload(stored)])  # replica index % 2, fresh read
        decision = decide(rules, replica, now=NOW + timedelta(seconds=index))
        assert decision.owner is not None
        owners.append(decision.owner.id)
        stored = decision.updated_pools["p"]
    assert owners == uninterrupted


# --- eligibility --------------------------------------------------------------------------


def test_out_of_office_rep_is_skipped_and_the_skip_is_in_the_decision() -> None:
    holiday = rep("ada", out_of_office=((at("2026-03-02T00:00Z"), at("2026-03-09T08:00Z")),))
    roster = RosterSnapshot.of([holiday, rep("bob")], [make_pool("p", ["ada", "bob"])])
    decision = decide(routing(to_pool("all", EVERYONE, "p")), roster)
    assert decision.owner is not None and decision.owner.id == "bob"
    assert skipped(decision) == {"ada": "out of office until 2026-03-09T08:00Z"}
    assert "ada: out of office until 2026-03-09T08:00Z" in decision.reason


def test_back_to_back_absences_report_when_the_rep_is_really_back() -> None:
    ada = rep(
        "ada",
        out_of_office=(
            (at("2026-03-02T00:00Z"), at("2026-03-06T00:00Z")),
            (at("2026-03-06T00:00Z"), at("2026-03-13T07:30Z")),
        ),
    )
    assert out_of_office_until(ada, NOW) == at("2026-03-13T07:30Z")
    assert out_of_office_until(ada, at("2026-03-13T07:30Z")) is None  # end is exclusive


@pytest.mark.parametrize(
    ("load", "reason"),
    [
        (RepLoad(assigned_today=20, open_leads=3), "daily cap 20 reached"),
        (RepLoad(assigned_today=2, open_leads=50), "open-lead cap 50 reached"),
    ],
)
def test_rep_over_capacity_is_skipped(load: RepLoad, reason: str) -> None:
    capped = rep("ada", daily_cap=20, open_cap=50)
    roster = RosterSnapshot.of(
        [capped, rep("bob")], [make_pool("p", ["ada", "bob"])], loads={"ada": load}
    )
    decision = decide(routing(to_pool("all", EVERYONE, "p")), roster)
    assert decision.owner is not None and decision.owner.id == "bob"
    assert skipped(decision) == {"ada": reason}


def test_daily_cap_is_reached_within_a_batch() -> None:
    roster = RosterSnapshot.of(
        [rep("ada", daily_cap=2), rep("bob")], [make_pool("p", ["ada", "bob"], "round_robin")]
    )
    owners, roster = run(routing(to_pool("all", EVERYONE, "p")), roster, 6)
    assert owners == ["ada", "bob", "ada", "bob", "bob", "bob"]
    assert roster.loads["ada"] == RepLoad(assigned_today=2, open_leads=2)


def test_rep_outside_working_hours_is_skipped_when_the_pool_says_so() -> None:
    friday_evening = at("2026-03-06T17:30Z")  # 18:30 in Berlin, 12:30 in New York
    berlin = rep("ada", time_zone="Europe/Berlin", working_hours=WEEKDAYS_9_TO_5)
    new_york = rep("bob", time_zone="America/New_York", working_hours=WEEKDAYS_9_TO_5)
    rules = routing(to_pool("all", EVERYONE, "p"))
    strict = RosterSnapshot.of(
        [berlin, new_york], [make_pool("p", ["ada", "bob"], respect_working_hours=True)]
    )
    decision = decide(rules, strict, now=friday_evening)
    assert decision.owner is not None and decision.owner.id == "bob"
    assert skipped(decision) == {"ada": "outside working hours (Europe/Berlin 18:30 Fri)"}

    relaxed = RosterSnapshot.of([berlin, new_york], [make_pool("p", ["ada", "bob"])])
    decision = decide(rules, relaxed, now=friday_evening)
    assert decision.owner is not None and decision.owner.id == "ada"
    assert decision.skipped == ()


@pytest.mark.parametrize(
    ("zone", "moment", "inside", "label"),
    [
        # New York switches to EDT on 2026-03-08; Berlin stays on CET until 2026-03-29.
        ("America/New_York", "2026-03-06T13:30Z", False, "America/New_York 08:30 Fri"),
        ("America/New_York", "2026-03-09T13:30Z", True, "America/New_York 09:30 Mon"),
        ("America/New_York", "2026-03-09T21:00Z", False, "America/New_York 17:00 Mon"),
        ("Europe/Berlin", "2026-03-27T07:30Z", False, "Europe/Berlin 08:30 Fri"),
        ("Europe/Berlin", "2026-03-30T07:30Z", True, "Europe/Berlin 09:30 Mon"),
        ("Europe/Berlin", "2026-03-30T15:00Z", False, "Europe/Berlin 17:00 Mon"),
        ("Europe/Berlin", "2026-10-26T16:30Z", False, "Europe/Berlin 17:30 Mon"),
        ("Europe/Berlin", "2026-10-26T15:30Z", True, "Europe/Berlin 16:30 Mon"),
    ],
)
def test_working_hours_follow_the_reps_zone_across_dst(
    zone: str, moment: str, inside: bool, label: str
) -> None:
    person = rep("ada", time_zone=zone, working_hours=WEEKDAYS_9_TO_5)
    assert in_working_hours(person, at(moment)) is inside
    reason = why_ineligible(person, RepLoad(), at(moment), True)
    assert reason == (None if inside else f"outside working hours ({label})")


def test_overnight_and_until_midnight_shifts() -> None:
    night = Rep.from_owner(
        Owner.model_validate(
            {
                "id": "nox",
                "name": "Nox",
                "time_zone": "Europe/Berlin",
                "working_hours": [
                    {"weekday": 4, "start": "22:00", "end": "06:00"},  # Fri night into Sat
                    {"weekday": 0, "start": "18:00", "end": "24:00"},
                ],
            }
        )
    )
    assert night.working_hours == (Shift(4, time(22), time(6)), Shift(0, time(18), time(0)))
    cases = {
        "2026-03-06T20:59Z": False,  # Fri 21:59
        "2026-03-06T21:00Z": True,  # Fri 22:00
        "2026-03-07T04:59Z": True,  # Sat 05:59
        "2026-03-07T05:00Z": False,  # Sat 06:00
        "2026-03-09T22:59Z": True,  # Mon 23:59
        "2026-03-09T23:00Z": False,  # Tue 00:00
        "2026-03-05T21:30Z": False,  # Thu 22:30: the night shift is Friday's
    }
    for moment, inside in cases.items():
        assert in_working_hours(night, at(moment)) is inside, moment
    assert night.to_owner().working_hours[1].end == "24:00"


def test_eligibility_reasons_in_order() -> None:
    person = rep(
        "ada",
        active=False,
        daily_cap=1,
        out_of_office=((at("2026-03-01T00:00Z"), at("2026-03-05T00:00Z")),),
    )
    assert why_ineligible(person, RepLoad(assigned_today=5), NOW, True) == "inactive"
    person = replace(person, active=True)
    assert why_ineligible(person, RepLoad(assigned_today=5), NOW, True) == (
        "out of office until 2026-03-05T00:00Z"
    )
    assert why_ineligible(person, RepLoad(assigned_today=5), at("2026-03-05T00:00Z"), True) == (
        "daily cap 1 reached"
    )
    assert why_ineligible(rep("bob"), RepLoad(99, 99), NOW, True) is None  # no caps, no hours


def test_local_day_bounds_follow_dst() -> None:
    berlin = rep("ada", time_zone="Europe/Berlin")
    start, end = local_day_bounds(berlin, at("2026-03-29T12:00Z"))
    assert (start, end) == (at("2026-03-28T23:00Z"), at("2026-03-29T22:00Z"))
    assert end - start == timedelta(hours=23)


def test_rep_validation() -> None:
    with pytest.raises(ValueError, match="time zone"):
        rep("ada", time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="timezone-aware"):
        rep("ada", out_of_office=((datetime(2026, 1, 1), datetime(2026, 1, 2)),))
    with pytest.raises(ValueError, match="weight"):
        PoolMember("ada", weight=0)
    with pytest.raises(ValueError, match="twice"):
        Pool(name="p", members=(PoolMember("ada"), PoolMember("ada")))
    with pytest.raises(ValueError, match="strategy"):
        Pool(name="p", strategy="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        why_ineligible(rep("ada"), RepLoad(), datetime(2026, 1, 1), False)


def test_pool_membership_edits_keep_the_rotation() -> None:
    pool = replace(make_pool("p", ["ada", "bob", "cyd"], "round_robin"), rr_cursor=2)
    assert pool.without_member("ada").rr_cursor == 1  # still cyd's turn
    assert pool.without_member("cyd").rr_cursor == 2  # wraps to ada on the next pick
    assert pool.with_member("bob", 2.0).members[1].weight == 2.0


def test_owner_round_trip() -> None:
    owner = Owner.model_validate(
        {
            "id": "ada",
            "name": "Ada",
            "email": "ada@baton.test",
            "time_zone": "Europe/Berlin",
            "country": "DE",
            "region": "Bavaria",
            "team": "dach",
            "working_hours": [{"weekday": 0, "start": "09:00", "end": "17:30"}],
            "out_of_office": [{"start": "2026-03-02T00:00:00Z", "end": "2026-03-09T00:00:00Z"}],
        }
    )
    assert Rep.from_owner(owner, daily_cap=3).to_owner() == owner


# --- fair return --------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [1.0, 2.0])
def test_rep_back_from_holiday_gets_no_burst(weight: float) -> None:
    weights = {"ada": 1.0, "bob": 1.0, "cyd": weight}
    holiday = (at("2026-02-23T00:00Z"), at("2026-03-04T00:00Z"))
    roster = RosterSnapshot.of(
        [rep("ada"), rep("bob"), rep("cyd", out_of_office=(holiday,))],
        [make_pool("p", weights)],
    )
    rules = routing(to_pool("all", EVERYONE, "p"))
    before, roster = run(rules, roster, 300, now=at("2026-03-02T10:00Z"))
    assert "cyd" not in before

    after, _ = run(rules, roster, 30)  # NOW: cyd is back
    target = weight / sum(weights.values())
    assert abs(after.count("cyd") / 30 - target) <= 0.05
    assert longest_streak(after, "cyd") < 3
    assert longest_streak(after, "cyd") == (2 if weight == 2.0 else 1)


def test_newcomer_joins_at_the_pools_minimum() -> None:
    roster = RosterSnapshot.of(
        [rep("ada"), rep("bob"), rep("new")], [make_pool("p", ["ada", "bob"])]
    )
    rules = routing(to_pool("all", EVERYONE, "p"))
    _, roster = run(rules, roster, 100)
    roster = roster.with_pools({"p": roster.pools["p"].with_member("new")})
    owners, _ = run(rules, roster, 30)
    assert Counter(owners) == {"ada": 10, "bob": 10, "new": 10}
    assert longest_streak(owners, "new") == 1


def test_rep_at_open_cap_does_not_bank_turns() -> None:
    """A rep held back by a cap does not come back to a run of leads either."""
    roster = RosterSnapshot.of(
        [rep("ada", open_cap=5), rep("bob"), rep("cyd")],
        [make_pool("p", ["ada", "bob", "cyd"])],
    )
    rules = routing(to_pool("all", EVERYONE, "p"))
    owners, roster = run(rules, roster, 60)
    assert owners.count("ada") == 5
    roster = roster.with_load("ada", RepLoad(assigned_today=5, open_leads=0))  # ada closed hers
    owners, _ = run(rules, roster, 30)
    assert longest_streak(owners, "ada") == 1
    assert owners[:15].count("ada") == 5  # her third of the rotation, until the cap again
    assert owners.count("ada") == 5


# --- owner first ------------------------------------------------------------------------


def sticky_roster() -> RosterSnapshot:
    return RosterSnapshot.of(
        [rep("ada"), rep("bob"), rep("own"), rep("dup")], [make_pool("p", ["ada", "bob"])]
    )


STICKY_RULES = routing(to_pool("all", EVERYONE, "p"), duplicate_window_days=30)


def test_account_ownership_wins_over_the_rules() -> None:
    lead = facts(person={"email": "kim@acme.com"})
    decision = decide(STICKY_RULES, sticky_roster(), lead, account_owner_id="own")
    assert decision.owner is not None and decision.owner.id == "own"
    assert (decision.matched_rule, decision.pool, decision.updated_pools) == (
        ACCOUNT_OWNERSHIP,
        None,
        {},
    )
    assert "account acme.com is owned by Own (own)" in decision.reason
    assert decision.adds_load


def test_duplicate_stickiness_wins_over_account_ownership_and_rules() -> None:
    decision = decide(
        STICKY_RULES, sticky_roster(), account_owner_id="own", existing_owner_id="dup"
    )
    assert decision.owner is not None and decision.owner.id == "dup"
    assert decision.matched_rule == DUPLICATE
    assert "within the last 30 days" in decision.reason
    assert not decision.adds_load  # the same lead: the owner's counts do not grow
    assert apply_decision(sticky_roster(), decision).load("dup") == RepLoad()


def test_duplicate_stays_with_an_owner_at_capacity_but_not_with_one_on_holiday() -> None:
    full = sticky_roster().with_rep(rep("dup", daily_cap=1, open_cap=1))
    full = full.with_load("dup", RepLoad(assigned_today=1, open_leads=1))
    assert decide(STICKY_RULES, full, existing_owner_id="dup").matched_rule == DUPLICATE

    away = sticky_roster().with_rep(
        rep("dup", out_of_office=((at("2026-03-01T00:00Z"), at("2026-03-20T00:00Z")),))
    )
    decision = decide(STICKY_RULES, away, account_owner_id="own", existing_owner_id="dup")
    assert decision.owner is not None and decision.owner.id == "own"
    assert skipped(decision) == {
        "dup": "existing owner (duplicate): out of office until 2026-03-20T00:00Z"
    }


def test_account_owner_who_cannot_take_it_is_skipped_and_the_rules_decide() -> None:
    roster = sticky_roster().with_rep(rep("own", daily_cap=10)).with_load("own", RepLoad(10, 0))
    decision = decide(STICKY_RULES, roster, account_owner_id="own")
    assert decision.owner is not None and decision.owner.id == "ada"
    assert decision.matched_rule == "all"
    assert skipped(decision) == {"own": "account owner: daily cap 10 reached"}

    gone = decide(STICKY_RULES, sticky_roster(), account_owner_id="left-the-company")
    assert skipped(gone) == {"left-the-company": "account owner: not in the roster"}
    assert gone.matched_rule == "all"


def test_account_ownership_can_be_switched_off() -> None:
    rules = routing(to_pool("all", EVERYONE, "p"), account_ownership=False)
    decision = decide(rules, sticky_roster(), account_owner_id="own")
    assert decision.owner is not None and decision.owner.id == "ada"
    assert decision.skipped == ()


@pytest.mark.parametrize(
    ("lead", "domain"),
    [
        ({"person": {"email": "kim@Acme.com"}}, "acme.com"),
        ({"person": {"email": "kim@gmail.com"}}, None),
        ({"person": {"email": "kim@mail.yahoo.co.uk"}}, None),
        (
            {
                "person": {"email": "kim@gmail.com"},
                "company": {"domain": "https://www.Acme.io/about"},
            },
            "acme.io",
        ),
        ({"person": {"email": "kim@posteo.de"}}, "posteo.de"),
        ({}, None),
    ],
)
def test_account_domain_ignores_free_mail(lead: dict[str, Any], domain: str | None) -> None:
    assert account_domain(facts(**lead)) == domain


def test_account_domain_uses_the_policys_free_mail_list() -> None:
    assert account_domain(facts(person={"email": "kim@posteo.de"}), ["Posteo.de"]) is None


def test_duplicate_window() -> None:
    rules = routing(duplicate_window_days=30)
    assert within_duplicate_window(rules, NOW - timedelta(days=29), NOW)
    assert within_duplicate_window(rules, NOW - timedelta(days=30), NOW)
    assert not within_duplicate_window(rules, NOW - timedelta(days=31), NOW)
    assert not within_duplicate_window(routing(duplicate_window_days=0), NOW, NOW)


# --- reassignment -------------------------------------------------------------------------


def test_reassignment_excludes_previous_owners() -> None:
    roster = RosterSnapshot.of(
        [rep("ada"), rep("bob"), rep("cyd")], [make_pool("p", ["ada", "bob", "cyd"], "round_robin")]
    )
    decision = route(
        lead_key="lead-1",
        facts=facts(),
        routing=STICKY_RULES,
        roster=roster,
        now=NOW,
        account_owner_id=None,
        existing_owner_id="ada",
        excluded_rep_ids=frozenset({"ada", "bob"}),
        attempt=3,
        previous_owner_ids=["ada", "bob"],
    )
    assert decision.owner is not None and decision.owner.id == "cyd"
    assert (decision.attempt, decision.previous_owners) == (3, ("ada", "bob"))
    assert decision.reason.startswith("reassignment attempt 3 (previous owners excluded: ada, bob)")
    assert [(s.rep_id, s.reason) for s in decision.skipped] == [
        (
            "ada",
            "existing owner (duplicate): previous owner of this lead, excluded on reassignment",
        ),
        ("ada", "previous owner of this lead, excluded on reassignment"),
        ("bob", "previous owner of this lead, excluded on reassignment"),
    ]
    # Excluded for this lead only: they are not "away", so they keep their place.
    assert not any(member.away for member in decision.updated_pools["p"].members)


def test_reassignment_with_everyone_excluded_goes_to_the_fallback() -> None:
    roster = RosterSnapshot.of([rep("ada")], [make_pool("p", ["ada"])])
    decision = decide(STICKY_RULES, roster, excluded=frozenset({"ada"}), attempt=2)
    assert (decision.owner, decision.queue, decision.fallback) == (None, "unassigned", True)
    assert decision.previous_owners == ("ada",)


# --- fallback -----------------------------------------------------------------------------


def test_everyone_full_goes_to_the_named_fallback_queue_and_says_why() -> None:
    roster = RosterSnapshot.of(
        [
            rep("ada", daily_cap=5),
            rep("bob", active=False),
            rep("cyd", out_of_office=((at("2026-03-01T00:00Z"), at("2026-03-06T00:00Z")),)),
        ],
        [make_pool("dach", ["ada", "bob", "cyd", "ghost"])],
        loads={"ada": RepLoad(assigned_today=5)},
    )
    rules = routing(to_pool("dach", EVERYONE, "dach"), fallback_queue="dach-overflow")
    decision = decide(rules, roster)
    assert (decision.owner, decision.queue, decision.pool) == (None, "dach-overflow", "dach")
    assert decision.matched_rule == "dach"
    assert decision.fallback
    assert skipped(decision) == {
        "ada": "daily cap 5 reached",
        "bob": "inactive",
        "cyd": "out of office until 2026-03-06T00:00Z",
        "ghost": "not in the roster",
    }
    assert "all 4 members of pool 'dach' were skipped" in decision.reason
    assert "sent to the fallback queue 'dach-overflow'" in decision.reason
    assert all(member.away for member in decision.updated_pools["dach"].members)
    assert apply_decision(roster, decision).loads == roster.loads


def test_missing_or_empty_pool_goes_to_the_fallback_queue() -> None:
    rules = routing(to_pool("r", EVERYONE, "nowhere"))
    decision = decide(rules, RosterSnapshot())
    assert (decision.queue, decision.pool, decision.fallback) == ("unassigned", "nowhere", True)
    assert "pool 'nowhere' does not exist" in decision.reason

    empty = RosterSnapshot.of([], [Pool(name="nowhere")])
    assert "has no members" in decide(rules, empty).reason


def test_decision_carries_the_owner_for_the_event() -> None:
    ada = rep("ada", time_zone="Europe/Berlin", working_hours=WEEKDAYS_9_TO_5)
    roster = RosterSnapshot.of([ada], [make_pool("p", ["ada"])])
    decision = decide(routing(to_pool("all", EVERYONE, "p")), roster)
    owner = decision.owner_model
    assert owner is not None
    assert (owner.id, owner.name, owner.email, owner.time_zone) == (
        "ada",
        "Ada",
        "ada@baton.test",
        "Europe/Berlin",
    )
    assert len(owner.working_hours) == 5


# --- properties ---------------------------------------------------------------------------

REP_IDS = ["r0", "r1", "r2", "r3", "r4"]


@st.composite
def pools_and_flips(draw: st.DrawFn) -> tuple[Pool, list[tuple[frozenset[str], frozenset[str]]]]:
    count = draw(st.integers(1, len(REP_IDS)))
    strategy: Strategy = draw(st.sampled_from(STRATEGIES))
    weights = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=count, max_size=count))
    pool = Pool(
        name="p",
        strategy=strategy,
        members=tuple(PoolMember(REP_IDS[i], weights[i]) for i in range(count)),
    )
    ids = REP_IDS[:count]
    steps = draw(
        st.lists(
            st.tuples(
                st.frozensets(st.sampled_from(ids)),  # unavailable
                st.frozensets(st.sampled_from(ids), max_size=1),  # excluded (reassignment)
            ),
            min_size=1,
            max_size=60,
        )
    )
    return pool, steps


@settings(max_examples=300, deadline=None)
@given(pools_and_flips())
def test_any_eligibility_flips_never_pick_an_ineligible_rep_and_never_stall(
    case: tuple[Pool, list[tuple[frozenset[str], frozenset[str]]]],
) -> None:
    pool, steps = case
    loads: dict[str, RepLoad] = {}
    previous: str | None = None
    for unavailable, excluded in steps:
        eligible = [m.rep_id for m in pool.members if m.rep_id not in unavailable | excluded]
        before = {m.rep_id: m.pointer for m in pool.members}
        result = pick(pool, unavailable, excluded, loads)
        if not eligible:
            assert result.member is None
        else:
            assert result.member is not None
            chosen = result.member.rep_id
            assert chosen in eligible
            if pool.strategy == "round_robin" and previous in eligible and len(eligible) > 1:
                assert chosen != previous  # nobody twice in a row while another waits
            loads[chosen] = loads.get(chosen, RepLoad()).plus_one()
            previous = chosen
        after = result.pool
        assert [m.rep_id for m in after.members] == [m.rep_id for m in pool.members]
        assert all(m.pointer >= before[m.rep_id] for m in after.members)  # never rewinds
        assert all(m.away == (m.rep_id in unavailable) for m in after.members)
        assert 0 <= after.rr_cursor < max(len(after.members), 1)
        pool = after


@settings(max_examples=200, deadline=None)
@given(pools_and_flips())
def test_weighted_pointers_stay_level_whatever_the_absences(
    case: tuple[Pool, list[tuple[frozenset[str], frozenset[str]]]],
) -> None:
    """No one banks turns while away: among available members the pointer spread never
    exceeds one step of the slowest member, so nobody is owed a burst."""
    pool, steps = case
    pool = replace(pool, strategy="weighted_round_robin")
    step = max(1 / m.weight for m in pool.members)
    for unavailable, _ in steps:
        pool = pick(pool, unavailable).pool
        present = [m.pointer for m in pool.members if m.rep_id not in unavailable]
        if present:
            assert max(present) - min(present) <= step + 1e-9
