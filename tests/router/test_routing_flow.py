"""Captured leads are scored and routed by the policy over the roster in the database;
breaches and rejections reassign. Real PostgreSQL and broker; input produced to topics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from router_support import TEST_POLICY, router, seed_roster, write_policy

from baton_router.domain.policy.loader import PolicyError, load_policy
from baton_router.domain.routing.roster import Pool, PoolMember, Rep
from baton_runtime.testing import eventually, produce, query, read_topic
from baton_schemas import (
    FeedbackDealClosed,
    FeedbackTraceable,
    LeadCaptured,
    SlaBreached,
    encode_event,
)
from baton_schemas.events.feedback import DealClosed, Disposition, FeedbackAttribution
from baton_schemas.events.sla import Escalation

NOW = datetime.now(UTC)
REPS = [Rep(id=f"rep-{name}", name=name.title(), time_zone="Europe/Berlin") for name in "abc"]
POOL = Pool(
    name="inbound",
    strategy="round_robin",
    members=tuple(PoolMember(rep.id) for rep in REPS),
)


def lead(n: int | str, **extra: Any) -> LeadCaptured:
    person = {"email": f"person{n}@corp{n}.example", "title": "CTO", "country": "DE"}
    return LeadCaptured.model_validate(
        {
            "lead_key": f"lead-{n}",
            "source": "generic",
            "received_at": NOW,
            "person": person,
            **extra,
        }
    )


async def send(settings: Any, events: list[Any]) -> list[str]:
    records = [
        encode_event(e, topic=e.topic and settings.topics.name(e.topic), source="/test")
        for e in events
    ]
    await produce(settings.kafka_bootstrap, records[0].topic, records)
    return [record.event_id for record in records]


async def decisions(settings: Any, count: int) -> list[dict[str, Any]]:
    rows = await eventually(
        lambda: query(settings, "SELECT decision FROM assignments ORDER BY assigned_at, attempt"),
        lambda rows: len(rows) >= count,
    )
    return [row[0] for row in rows]


async def test_round_robin_over_the_seeded_pool_with_explained_decisions(
    make_settings, tmp_path
) -> None:
    async with router(make_settings, policy_file=write_policy(tmp_path)) as (settings, _):
        await seed_roster(settings, REPS, [POOL])
        await send(settings, [lead(n) for n in range(6)])
        made = await decisions(settings, 6)
        published = await read_topic(settings.kafka_bootstrap, settings.topics.leads_assigned, 6)
    owners = [d["owner"]["id"] for d in made]
    assert sorted(owners) == ["rep-a", "rep-a", "rep-b", "rep-b", "rep-c", "rep-c"]
    first = made[0]
    assert first["policy_version"] == "policy-test-7"
    assert first["matched_rule"] == "everyone-to-inbound"
    assert first["pool"] == "inbound"
    assert first["tier"] == "hot"  # CTO matches the c-level fit rule: grade A
    assert first["score"]["breakdown"][0]["rule"] == "c-level"
    assert first["owner"]["time_zone"] == "Europe/Berlin"
    assert first["reason"]
    assert len(published) == 6


async def test_skips_account_owner_and_duplicates(make_settings, tmp_path) -> None:
    away = Rep(
        id="rep-a",
        name="A",
        out_of_office=((NOW - timedelta(days=1), NOW + timedelta(days=3)),),
    )
    reps = [away, *REPS[1:]]
    async with router(make_settings, policy_file=write_policy(tmp_path)) as (settings, _):
        await seed_roster(settings, reps, [POOL], accounts={"owned.example": "rep-c"})
        owned = lead("owned", company={"domain": "owned.example"})
        await send(settings, [lead(1), owned, lead(1)])
        made = await decisions(settings, 3)
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for made_one in made:
        by_lead.setdefault(made_one["lead_key"], []).append(made_one)
    first, duplicate = sorted(by_lead["lead-1"], key=lambda d: d["matched_rule"] == "duplicate")
    (by_account,) = by_lead["lead-owned"]
    assert first["owner"]["id"] in {"rep-b", "rep-c"}
    assert {"rep_id": "rep-a", "reason": first["skipped"][0]["reason"]} == first["skipped"][0]
    assert "out of office" in first["skipped"][0]["reason"]
    assert by_account["owner"]["id"] == "rep-c"
    assert by_account["matched_rule"] == "account-ownership"
    assert duplicate["owner"]["id"] == first["owner"]["id"]
    assert duplicate["matched_rule"] == "duplicate"


async def test_everyone_full_goes_to_the_named_fallback(make_settings, tmp_path) -> None:
    capped = [Rep(id=rep.id, name=rep.name, daily_cap=0) for rep in REPS]
    async with router(make_settings, policy_file=write_policy(tmp_path)) as (settings, _):
        await seed_roster(settings, capped, [POOL])
        await send(settings, [lead(1)])
        (made,) = await decisions(settings, 1)
    assert made["owner"] is None
    assert made["queue"] == "unassigned"
    assert len(made["skipped"]) == 3
    assert "unassigned" in made["reason"]


async def test_breach_reassigns_excluding_previous_owners_and_stale_breach_is_ignored(
    make_settings, tmp_path
) -> None:
    async with router(make_settings, policy_file=write_policy(tmp_path)) as (settings, _):
        await seed_roster(settings, REPS, [POOL])
        await send(settings, [lead(1)])
        (first,) = await decisions(settings, 1)
        rows = await query(settings, "SELECT assigned_event_id FROM assignments")
        assigned_id = rows[0][0]

        def breach(assigned_event_id: str) -> SlaBreached:
            return SlaBreached(
                lead_key="lead-1",
                deadline_id="d-1",
                assigned_event_id=assigned_event_id,
                owner_id=first["owner"]["id"],
                due_at=NOW,
                breached_at=NOW,
                escalation=Escalation(step=2, action="reassign"),
                breached_owner_ids=[first["owner"]["id"]],
                policy_version="policy-test-7",
            )

        await send(settings, [breach(assigned_id)])
        second = (await decisions(settings, 2))[1]
        await send(settings, [breach(assigned_id)])  # late repeat: refers to the old decision
        await send(settings, [lead(2)])  # marker behind it
        made = await decisions(settings, 3)
    assert second["attempt"] == 2
    assert second["owner"]["id"] != first["owner"]["id"]
    assert second["previous_owners"] == [first["owner"]["id"]]
    assert second["reason"].startswith("reassigned after SLA breach (step 2)")
    assert second["captured_event_id"] == first["captured_event_id"]
    assert sorted(d["lead_key"] for d in made) == ["lead-1", "lead-1", "lead-2"]


async def test_rejection_with_a_listed_reason_reroutes(make_settings, tmp_path) -> None:
    policy = TEST_POLICY.replace(
        "  fallback_queue: unassigned",
        "  fallback_queue: unassigned\n  reassign_on_reject_reasons: [wrong_territory]",
    )
    async with router(make_settings, policy_file=write_policy(tmp_path, policy)) as (settings, _):
        await seed_roster(settings, REPS, [POOL])
        await send(settings, [lead(1)])
        (first,) = await decisions(settings, 1)

        def rejected(code: str) -> FeedbackTraceable:
            return FeedbackTraceable(
                lead_key="lead-1",
                crm_event_id=f"crm-{code}",
                kind="disposition",
                occurred_at=NOW,
                actor_id=first["owner"]["id"],
                disposition=Disposition(status="rejected", reason_code=code),
            )

        await send(settings, [rejected("not_interested")])  # not a re-route reason
        await send(settings, [rejected("wrong_territory")])
        made = await decisions(settings, 2)
    assert len(made) == 2
    assert made[1]["owner"]["id"] != first["owner"]["id"]
    assert made[1]["reason"].startswith("re-routed after rejection (wrong_territory)")
    assert json.dumps(made[1]["previous_owners"]) == json.dumps([first["owner"]["id"]])


async def test_rejection_with_a_recycle_reason_hands_the_lead_back_to_marketing(
    make_settings, tmp_path
) -> None:
    policy = TEST_POLICY.replace(
        "  fallback_queue: unassigned",
        "  fallback_queue: unassigned\n"
        "  reassign_on_reject_reasons: [wrong_territory]\n"
        "  recycle_on_reject_reasons: [bad_timing]\n"
        "  recycle_queue: nurture",
    )
    async with router(make_settings, policy_file=write_policy(tmp_path, policy)) as (settings, _):
        await seed_roster(settings, REPS, [POOL])
        await send(settings, [lead(1), lead(2)])
        first = {d["lead_key"]: d for d in await decisions(settings, 2)}

        def disposed(lead_key: str, status: str, code: str | None) -> FeedbackTraceable:
            return FeedbackTraceable(
                lead_key=lead_key,
                crm_event_id=f"crm-{lead_key}-{status}",
                kind="disposition",
                occurred_at=NOW,
                actor_id=first[lead_key]["owner"]["id"],
                disposition=Disposition(status=status, reason_code=code),  # type: ignore[arg-type]
            )

        await send(settings, [disposed("lead-1", "rejected", "bad_timing")])
        await send(settings, [disposed("lead-2", "recycled", None)])
        await send(settings, [disposed("lead-2", "disqualified", "spam")])  # ends nothing new
        made = await decisions(settings, 4)
    recycled = {d["lead_key"]: d for d in made[2:]}
    assert sorted(recycled) == ["lead-1", "lead-2"]
    for lead_key, decision in recycled.items():
        assert decision["owner"] is None
        assert decision["queue"] == "nurture"
        assert decision["matched_rule"] == "recycle"
        assert decision["attempt"] == 2
        assert decision["previous_owners"] == [first[lead_key]["owner"]["id"]]
    assert recycled["lead-1"]["reason"] == "recycled to nurture by sales (bad_timing)"


def test_a_reason_cannot_both_reroute_and_recycle() -> None:
    policy = TEST_POLICY.replace(
        "  fallback_queue: unassigned",
        "  fallback_queue: unassigned\n"
        "  reassign_on_reject_reasons: [wrong_territory]\n"
        "  recycle_on_reject_reasons: [bad_timing, wrong_territory]",
    )
    with pytest.raises(PolicyError) as raised:
        load_policy(policy, "policy.yaml")
    assert "routing.recycle_on_reject_reasons[1]" in str(raised.value)
    assert "one answer" in str(raised.value)


def closed_deal(n: int, source: str, outcome: str) -> FeedbackDealClosed:
    return FeedbackDealClosed(
        lead_key=f"history-{source}-{n}",
        crm_event_id=f"deal-{source}-{n}",
        closed_at=NOW - timedelta(days=n),
        deal=DealClosed(outcome=outcome, amount=1000.0, currency="EUR"),  # type: ignore[arg-type]
        attribution=FeedbackAttribution(source=source),
    )


async def test_closed_loop_scoring_lifts_the_source_that_wins(make_settings, tmp_path) -> None:
    policy = TEST_POLICY.replace(
        "  mql: {grades: [A], min_engagement: 0}",
        "  mql: {grades: [A], min_engagement: 0}\n"
        "  learned: {enabled: true, weight: 0.5, attributes: [source], min_deals: 20,"
        " max_points: 40}",
    )
    # A synthetic history: webinar leads were won 48 times in 60, list leads 6 in 60, and
    # a source with three deals, all won, which is too little evidence to count.
    history = [
        closed_deal(n, source, "won" if n < wins else "lost")
        for source, wins, deals in (("webinar", 48, 60), ("list", 6, 60), ("referral", 3, 3))
        for n in range(deals)
    ]
    async with router(make_settings, policy_file=write_policy(tmp_path, policy)) as (settings, _):
        await seed_roster(settings, REPS, [POOL])
        await send(settings, history)
        await eventually(
            lambda: query(settings, "SELECT count(*) FROM closed_deals"),
            lambda rows: rows[0][0] == len(history),
        )
        await send(
            settings, [lead(n, source=s) for n, s in enumerate(["webinar", "list", "referral"])]
        )
        made = {d["lead_key"]: d for d in await decisions(settings, 3)}
    webinar, listed, referral = (made[f"lead-{n}"]["score"] for n in range(3))
    assert webinar["fit"] == listed["fit"] == referral["fit"]  # the rules see the same lead
    assert webinar["total"] > referral["total"] > listed["total"]
    assert webinar["learned"] > 0 > listed["learned"] and referral["learned"] == 0
    line = webinar["breakdown"][-1]
    assert line["rule"] == "learned:source"
    assert line["reason"].startswith("source = webinar: won 48 of 60 closed deals")
    assert webinar["learned_model"].startswith("r") and referral["learned_model"] is not None
    assert not [x for x in referral["breakdown"] if x["rule"].startswith("learned:")]
