"""A captured lead becomes exactly one `baton.lead.assigned.v1`, through the outbox."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from router_support import LEAD, seed_roster, write_policy
from signing import router  # router_support.router, signing generic webhooks

from baton_router.domain.routing.roster import Pool, PoolMember, Rep
from baton_runtime.testing import eventually, metric, produce, query, read_topic

ADA = Rep(
    id="rep-ada",
    name="Ada Lovelace",
    email="ada.owner@baton.test",
    time_zone="Europe/Berlin",
)
INBOUND = Pool(name="inbound", members=(PoolMember("rep-ada"),))


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def trace_id(traceparent: bytes) -> str:
    return traceparent.decode().split("-")[1]


async def assignment_rows(settings: Any) -> list[tuple[Any, ...]]:
    return await query(
        settings,
        "SELECT assigned_event_id, captured_event_id, lead_key, owner_id, queue, attempt,"
        " assigned_at, decision FROM assignments ORDER BY assigned_at",
    )


async def test_a_posted_lead_is_assigned_once_to_the_pool_member(make_settings, tmp_path) -> None:
    async with router(make_settings, policy_file=write_policy(tmp_path)) as (settings, client):
        await seed_roster(settings, [ADA], [INBOUND])
        answer = await client.post("/webhooks/generic", json=LEAD)
        assert answer.status_code == 202, answer.text
        captured_id = answer.json()["event_ids"][0]
        lead_key = answer.json()["lead_keys"][0]

        assigned = await read_topic(settings.kafka_bootstrap, settings.topics.leads_assigned, 1)
        rows = await eventually(lambda: assignment_rows(settings), lambda r: len(r) >= 1)
        # Nothing more arrives: read for a second record and expect none.
        again = await read_topic(
            settings.kafka_bootstrap, settings.topics.leads_assigned, 2, timeout=2.0
        )
        captured = await read_topic(settings.kafka_bootstrap, settings.topics.leads_captured, 1)
        metrics = (await client.get("/metrics")).text

    assert len(assigned) == 1
    assert len(again) == 1
    record = assigned[0]
    headers = dict(record.headers)
    assert headers["ce_type"] == b"baton.lead.assigned.v1"
    assert headers["ce_source"] == b"/baton/router"
    assert headers["ce_specversion"] == b"1.0"
    assert record.key == lead_key.encode()
    assert trace_id(headers["traceparent"]) == trace_id(dict(captured[0].headers)["traceparent"])

    data = json.loads(record.value)
    assert data["lead_key"] == lead_key
    assert data["captured_event_id"] == captured_id
    assert data["owner"]["id"] == "rep-ada"
    assert data["owner"]["name"] == "Ada Lovelace"
    assert data["owner"]["email"] == "ada.owner@baton.test"
    assert data["owner"]["time_zone"] == "Europe/Berlin"
    assert data["policy_version"] == "policy-test-7"
    assert data["attempt"] == 1
    assert data["reason"]
    lead = data["lead"]
    assert lead["source"] == "generic"
    assert {k: v for k, v in lead["attribution"].items() if v is not None} == LEAD["attribution"]
    assert lead["company_name"] == "Analytical Engines"
    assert lead["company_domain"] == "example.com"
    assert lead["country"] == "DE"
    assert lead["title"] == "CTO"
    assert at(lead["captured_at"]) == at(json.loads(captured[0].value)["received_at"])

    assert len(rows) == 1
    assigned_event_id, row_captured, row_key, owner_id, queue, attempt, assigned_at, decision = (
        rows[0]
    )
    assert assigned_event_id == headers["ce_id"].decode()
    assert row_captured == captured_id
    assert row_key == lead_key
    assert owner_id == "rep-ada"
    assert queue is None
    assert attempt == 1
    assert assigned_at == at(data["assigned_at"])
    assert decision == data

    captured_topic = settings.topics.leads_captured
    processed = metric(metrics, "baton_records_processed_total", topic=captured_topic, outcome="ok")
    assert processed == 1.0, metrics
    assert (metric(metrics, "baton_outbox_published_total", service="router") or 0) >= 1
    assert metric(metrics, "baton_consumer_lag", topic=captured_topic) is not None


async def test_a_redelivered_captured_event_is_assigned_once(make_settings) -> None:
    async with router(make_settings) as (settings, client):
        first = await client.post("/webhooks/generic", json=LEAD)
        assert first.status_code == 202, first.text
        await eventually(lambda: assignment_rows(settings), lambda r: len(r) >= 1)
        original = (await read_topic(settings.kafka_bootstrap, settings.topics.leads_captured, 1))[
            0
        ]
        for _ in range(2):  # the same event id again, as a redelivery would bring it
            await produce(
                settings.kafka_bootstrap,
                settings.topics.leads_captured,
                [(original.key, original.value, list(original.headers))],
            )
        # Same person, new delivery: same key, so same partition, behind the duplicates.
        marker = await client.post(
            "/webhooks/generic", json={"person": {"email": "ADA@example.com"}}
        )
        assert marker.status_code == 202, marker.text
        rows = await eventually(lambda: assignment_rows(settings), lambda r: len(r) >= 2)
        assigned = await read_topic(
            settings.kafka_bootstrap, settings.topics.leads_assigned, 3, timeout=3.0
        )
        metrics = (await client.get("/metrics")).text

    assert sorted(row[1] for row in rows) == sorted(
        [first.json()["event_ids"][0], marker.json()["event_ids"][0]]
    )
    assert len(assigned) == 2
    assert sorted(json.loads(r.value)["captured_event_id"] for r in assigned) == sorted(
        row[1] for row in rows
    )
    processed = metric(
        metrics,
        "baton_records_processed_total",
        topic=settings.topics.leads_captured,
        outcome="ok",
    )
    assert processed == 4.0, metrics  # every record was consumed, only two had effects


async def test_an_invalid_captured_record_is_dead_lettered_and_the_lead_behind_it_assigned(
    make_settings,
) -> None:
    async with router(make_settings, max_retries=1) as (settings, client):
        first = await client.post("/webhooks/generic", json=LEAD)
        original = (await read_topic(settings.kafka_bootstrap, settings.topics.leads_captured, 1))[
            0
        ]
        bad_headers = [
            (name, b"bad-captured-1" if name == "ce_id" else value)
            for name, value in original.headers
        ]
        await produce(
            settings.kafka_bootstrap,
            settings.topics.leads_captured,
            [
                (
                    original.key,
                    json.dumps({"lead_key": "x", "source": "generic"}).encode(),  # no received_at
                    bad_headers,
                )
            ],
        )
        after = await client.post(
            "/webhooks/generic", json={"person": {"email": "ada@example.com"}}
        )
        rows = await eventually(lambda: assignment_rows(settings), lambda r: len(r) >= 2)
        dead = await read_topic(settings.kafka_bootstrap, settings.topics.dead_letter("router"), 1)
        metrics = (await client.get("/metrics")).text

    assert sorted(row[1] for row in rows) == sorted(
        [first.json()["event_ids"][0], after.json()["event_ids"][0]]
    )
    assert len(dead) == 1
    context = {name: value.decode() for name, value in dead[0].headers}
    assert context["ce_id"] == "bad-captured-1"
    assert context["__connect.errors.topic"] == settings.topics.leads_captured
    assert context["__connect.errors.service"] == "router"
    assert "received_at" in context["__connect.errors.exception.message"]
    assert dead[0].key == original.key
    assert metric(metrics, "baton_dead_lettered_records_total", service="router") == 1.0
