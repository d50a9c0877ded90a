"""CRM reports go back to marketing with the lead's attribution: traceable data and closed
deals on their own topics; a report that arrives before its lead's assignment waits for it;
a report sent twice is published once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from feedback_support import prepare, serving

from baton_runtime.testing import (
    encode_assigned,
    eventually,
    produce,
    read_topic,
    sample_assigned,
    scalar,
)
from baton_schemas import CrmFeedback, encode_event

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def report(settings, crm_event_id: str, lead_key: str, minutes: int, **detail):  # type: ignore[no-untyped-def]
    event = CrmFeedback.model_validate(
        {
            "crm_event_id": crm_event_id,
            "lead_key": lead_key,
            "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
            "actor_id": "rep-1",
            **detail,
        }
    )
    return encode_event(event, topic=settings.topics.crm_activity, source="/test/crm")


async def test_reports_are_published_with_attribution_and_early_ones_wait(make_settings) -> None:
    settings = await prepare(make_settings)
    call = {"kind": "activity", "activity": {"type": "call", "direction": "outbound"}}
    rejected = {
        "kind": "disposition",
        "disposition": {"status": "rejected", "reason_code": "no_budget"},
    }
    won = {"kind": "deal_closed", "deal": {"outcome": "won", "amount": 5000, "currency": "EUR"}}
    async with serving(settings):
        await produce(
            settings.kafka_bootstrap,
            settings.topics.leads_assigned,
            [
                encode_assigned(
                    settings, sample_assigned("lead-a", assigned_at=T0, source="hubspot")
                )
            ],
        )
        first = report(settings, "c-1", "lead-a", 4, **call)
        await produce(
            settings.kafka_bootstrap,
            settings.topics.crm_activity,
            [
                first,
                report(settings, "c-1", "lead-a", 4, **call),  # sent again: new event id
                report(settings, "d-1", "lead-a", 600, **won),
                report(settings, "r-1", "lead-late", 10, **rejected),  # before its assignment
            ],
        )
        await eventually(
            lambda: scalar(settings, "SELECT count(*) FROM crm_feedback"), lambda n: n == 3
        )
        early = await read_topic(
            settings.kafka_bootstrap, settings.topics.feedback_traceable, 2, timeout=2
        )
        await produce(
            settings.kafka_bootstrap,
            settings.topics.leads_assigned,
            [
                encode_assigned(
                    settings, sample_assigned("lead-late", assigned_at=T0, owner_id="rep-2")
                )
            ],
        )
        traceable = await read_topic(
            settings.kafka_bootstrap, settings.topics.feedback_traceable, 2
        )
        deals = await read_topic(settings.kafka_bootstrap, settings.topics.feedback_closed_deals, 1)
        extra = await read_topic(
            settings.kafka_bootstrap, settings.topics.feedback_traceable, 3, timeout=1.5
        )

    assert [json.loads(r.value)["crm_event_id"] for r in early] == ["c-1"]
    by_id = {json.loads(r.value)["crm_event_id"]: json.loads(r.value) for r in traceable}
    touch = by_id["c-1"]
    assert touch["kind"] == "activity" and touch["activity"]["type"] == "call"
    assert touch["attribution"]["source"] == "hubspot"
    assert touch["attribution"]["attribution"]["campaign_id"] == "spring-webinar"
    assert touch["attribution"]["owner_id"] == "rep-1"
    assert touch["seconds_since_assignment"] == 240
    late = by_id["r-1"]
    assert late["disposition"] == {"status": "rejected", "reason_code": "no_budget", "note": None}
    assert late["attribution"]["owner_id"] == "rep-2"
    (deal,) = [json.loads(r.value) for r in deals]
    assert deal["deal"]["outcome"] == "won" and deal["deal"]["amount"] == 5000
    assert deal["closed_by"] == "rep-1" and deal["seconds_since_assignment"] == 36000
    assert deal["attribution"]["source"] == "hubspot"
    assert len(extra) == 2  # the repeated report was absorbed


async def test_a_rejection_with_an_unlisted_reason_is_dead_lettered_with_the_cause(
    make_settings,
) -> None:
    settings = await prepare(make_settings, max_retries=0)
    bad = report(
        settings,
        "r-9",
        "lead-a",
        1,
        kind="disposition",
        disposition={"status": "rejected", "reason_code": "meh"},
    )
    good = report(settings, "c-9", "lead-a", 2, kind="activity", activity={"type": "email"})
    async with serving(settings):
        await produce(settings.kafka_bootstrap, settings.topics.crm_activity, [bad, good])
        dead = await read_topic(
            settings.kafka_bootstrap, settings.topics.dead_letter("feedback"), 1
        )
        kept = await eventually(
            lambda: scalar(settings, "SELECT string_agg(crm_event_id, ',') FROM crm_feedback"),
            lambda ids: ids == "c-9",
        )
    assert kept == "c-9"
    message = dict(dead[0].headers)["__connect.errors.exception.message"].decode()
    assert "reason_code 'meh'" in message


def by_record(settings, crm_event_id: str, record_id: str, minutes: int, lead_key=None):  # type: ignore[no-untyped-def]
    event = CrmFeedback.model_validate(
        {
            "crm_event_id": crm_event_id,
            "crm_record_id": record_id,
            "lead_key": lead_key,
            "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
            "kind": "activity",
            "activity": {"type": "email", "direction": "outbound"},
        }
    )
    return encode_event(event, topic=settings.topics.crm_activity, source="/test/crm")


async def test_reports_naming_only_a_crm_record_are_matched_to_their_lead(make_settings) -> None:
    settings = await prepare(make_settings)
    hubspot_lead = sample_assigned("lead-hs", assigned_at=T0, source="hubspot")
    # the HubSpot contact id, which is the CRM's record id when HubSpot is the CRM too
    snapshot = hubspot_lead.lead.model_copy(update={"source_record_id": "901"})
    hubspot_lead = hubspot_lead.model_copy(update={"lead": snapshot})
    async with serving(settings):
        # 1. only the CRM record, before the assignment: kept, waiting
        await produce(
            settings.kafka_bootstrap,
            settings.topics.crm_activity,
            [by_record(settings, "e-1", "901", 5)],
        )
        await eventually(
            lambda: scalar(settings, "SELECT count(*) FROM crm_feedback WHERE lead_key IS NULL"),
            lambda n: n == 1,
        )
        # 2. the assignment names the lead's HubSpot record: the waiting report is matched
        await produce(
            settings.kafka_bootstrap,
            settings.topics.leads_assigned,
            [
                encode_assigned(settings, hubspot_lead),
                encode_assigned(settings, sample_assigned("lead-sf", assigned_at=T0)),
            ],
        )
        matched = await read_topic(settings.kafka_bootstrap, settings.topics.feedback_traceable, 1)
        # 3. a report naming both teaches the match; a later one naming the record follows
        await produce(
            settings.kafka_bootstrap,
            settings.topics.crm_activity,
            [by_record(settings, "e-2", "00Q5e000001", 6, lead_key="lead-sf")],
        )
        await read_topic(settings.kafka_bootstrap, settings.topics.feedback_traceable, 2)
        await produce(
            settings.kafka_bootstrap,
            settings.topics.crm_activity,
            [by_record(settings, "e-3", "00Q5e000001", 7)],
        )
        published = await read_topic(
            settings.kafka_bootstrap, settings.topics.feedback_traceable, 3
        )

    (first,) = [json.loads(r.value) for r in matched]
    assert first["crm_event_id"] == "e-1" and first["lead_key"] == "lead-hs"
    assert first["attribution"]["source"] == "hubspot"
    assert first["seconds_since_assignment"] == 300
    third = next(
        json.loads(r.value) for r in published if json.loads(r.value)["crm_event_id"] == "e-3"
    )
    assert third["lead_key"] == "lead-sf"
    assert third["attribution"]["owner_id"] == "rep-1"
    assert await scalar(settings, "SELECT count(*) FROM crm_feedback WHERE lead_key IS NULL") == 0
