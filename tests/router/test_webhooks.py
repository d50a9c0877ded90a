"""`POST /webhooks/{source}` against a real broker and database."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from router_support import LEAD
from signing import router  # router_support.router, signing generic webhooks

from baton_router.domain.intake import normalise_generic
from baton_runtime.testing import eventually, query, read_topic

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def expected_key(payload: dict[str, Any]) -> str:
    return normalise_generic(payload, source="generic", received_at=datetime.now(UTC)).lead_key


def padded(size: int) -> bytes:
    """A valid lead whose JSON body is exactly `size` bytes."""
    body = {**LEAD, "custom": {"note": ""}}
    filler = size - len(json.dumps(body).encode())
    assert filler >= 0
    body["custom"] = {"note": "x" * filler}
    encoded = json.dumps(body).encode()
    assert len(encoded) == size
    return encoded


async def test_accepted_lead_is_on_the_captured_topic_as_a_cloudevent(make_settings) -> None:
    async with router(make_settings) as (settings, client):
        before = datetime.now(UTC)
        answer = await client.post("/webhooks/generic", json=LEAD)
        assert answer.status_code == 202, answer.text
        body = answer.json()
        records = await read_topic(settings.kafka_bootstrap, settings.topics.leads_captured, 1)

    assert set(body) >= {"event_ids", "lead_keys"}
    assert len(body["event_ids"]) == 1 and body["event_ids"][0]
    assert body["lead_keys"] == [expected_key(LEAD)]

    assert len(records) == 1
    record = records[0]
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == body["event_ids"][0]
    assert headers["ce_source"] == "/baton/router"
    assert headers["ce_type"] == "baton.lead.captured.v1"
    assert headers["content-type"].startswith("application/json")
    assert TRACEPARENT.match(headers["traceparent"]), headers["traceparent"]
    ce_time = datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=5) <= ce_time <= datetime.now(UTC) + timedelta(seconds=5)
    assert record.key == body["lead_keys"][0].encode()

    data = json.loads(record.value)
    assert data["lead_key"] == body["lead_keys"][0]
    assert data["source"] == "generic"
    assert data["person"]["email"] == LEAD["person"]["email"]
    assert data["company"]["employees"] == 250
    assert data["attribution"]["campaign_id"] == "spring-webinar"
    assert data["raw"] == LEAD
    received = datetime.fromisoformat(data["received_at"].replace("Z", "+00:00"))
    assert received.tzinfo is not None
    assert abs(received - ce_time) < timedelta(seconds=5)


async def test_one_person_posted_twice_keeps_one_key_and_one_partition(make_settings) -> None:
    second = {**LEAD, "person": {**LEAD["person"], "email": "  ADA@example.COM"}}
    other = {**LEAD, "person": {"email": "grace@example.com"}}
    async with router(make_settings) as (settings, client):
        answers = [await client.post("/webhooks/generic", json=p) for p in (LEAD, second, other)]
        assert [a.status_code for a in answers] == [202, 202, 202]
        records = await read_topic(settings.kafka_bootstrap, settings.topics.leads_captured, 3)

    keys = [a.json()["lead_keys"][0] for a in answers]
    ids = [a.json()["event_ids"][0] for a in answers]
    assert keys[0] == keys[1] != keys[2]
    assert len(set(ids)) == 3  # each delivery is its own event
    by_id = {dict(r.headers)["ce_id"].decode(): r for r in records}
    assert set(by_id) == set(ids)
    assert by_id[ids[0]].partition == by_id[ids[1]].partition
    assert by_id[ids[0]].key == by_id[ids[1]].key == keys[0].encode()


async def test_rejected_requests_get_4xx_and_publish_nothing(make_settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit must still hold
        for _ in range(20):
            yield b" " * 100

    async with router(make_settings, max_body_bytes=1000) as (settings, client):
        unknown = await client.post("/webhooks/salesforce-classic", json=LEAD)
        not_json = await client.post(
            "/webhooks/generic", content=b"{not json", headers={"content-type": "application/json"}
        )
        not_utf8 = await client.post("/webhooks/generic", content=b"\xff\xfe\x00{")
        empty = await client.post("/webhooks/generic", content=b"")
        too_big = await client.post("/webhooks/generic", content=padded(1001))
        too_big_streamed = await client.post("/webhooks/generic", content=chunks())
        no_identity = await client.post(
            "/webhooks/generic", json={"person": {"first_name": "Ada"}, "company": {"name": "AE"}}
        )
        wrong_type = await client.post(
            "/webhooks/generic",
            json={"person": {"email": "ada@example.com"}, "company": {"employees": "lots"}},
        )
        not_object = await client.post("/webhooks/generic", json=[LEAD])
        at_limit = await client.post("/webhooks/generic", content=padded(1000))
        published = await read_topic(
            settings.kafka_bootstrap, settings.topics.leads_captured, 2, timeout=2.0
        )

    assert unknown.status_code == 404, unknown.text
    assert "salesforce-classic" in unknown.json()["detail"]
    for answer in (not_json, not_utf8, empty):
        assert answer.status_code == 400, answer.text
    assert too_big.status_code == 413, too_big.text
    assert too_big_streamed.status_code == 413, too_big_streamed.text

    assert no_identity.status_code == 422, no_identity.text
    assert [f["field"] for f in no_identity.json()["fields"]] == ["person.email"]
    assert wrong_type.status_code == 422, wrong_type.text
    fields = wrong_type.json()["fields"]
    assert [f["field"] for f in fields] == ["company.employees"]
    assert fields[0]["error"]
    assert not_object.status_code == 422, not_object.text
    assert not_object.json()["fields"][0]["field"] == "$"

    # The one valid request at exactly the limit is the only record published.
    assert at_limit.status_code == 202, at_limit.text
    assert [dict(r.headers)["ce_id"].decode() for r in published] == at_limit.json()["event_ids"]


async def test_numbers_json_does_not_have_are_400_naming_them(make_settings) -> None:
    # Python's JSON reader takes NaN and Infinity, and reads 1e400 as infinity; each was
    # published as null, the lead silently changed, and answered 202.
    lead = json.dumps({**LEAD, "custom": {"score": 0.5}})
    bodies = {
        number: lead.replace('"score": 0.5', f'"score": {number}')
        for number in ("NaN", "-Infinity", "1e400")
    }
    async with router(make_settings) as (settings, client):
        answers = {
            name: await client.post(
                "/webhooks/generic", content=body, headers={"content-type": "application/json"}
            )
            for name, body in bodies.items()
        }
        fine = await client.post("/webhooks/generic", content=lead.replace("0.5", "1.5e3"))
        published = await read_topic(
            settings.kafka_bootstrap, settings.topics.leads_captured, 2, timeout=2.0
        )
    for name, answer in answers.items():
        assert answer.status_code == 400, answer.text
        assert name in answer.json()["detail"], answer.text
    assert fine.status_code == 202, fine.text
    assert [dict(r.headers)["ce_id"].decode() for r in published] == fine.json()["event_ids"]


async def test_email_of_the_wrong_type_is_422(make_settings) -> None:
    async with router(make_settings) as (_, client):
        answer = await client.post("/webhooks/generic", json={"person": {"email": 12345}})
    assert answer.status_code == 422, answer.text
    assert "person.email" in [f["field"] for f in answer.json()["fields"]]


async def test_deeply_nested_json_within_the_size_limit_is_4xx(make_settings) -> None:
    async with router(make_settings) as (_, client):
        answer = await client.post("/webhooks/generic", content=b"[" * 20_000 + b"]" * 20_000)
    assert 400 <= answer.status_code < 500, answer.text


async def test_deeply_nested_raw_payload_is_4xx(make_settings) -> None:
    body = b'{"person": {"email": "ada@example.com"}, "raw": ' + b"[" * 400 + b"]" * 400 + b"}"
    async with router(make_settings) as (_, client):
        answer = await client.post("/webhooks/generic", content=body)
    assert 400 <= answer.status_code < 500, answer.text


async def test_broker_down_answers_503_quickly_and_recovers(make_settings, embedded_broker) -> None:
    async with router(make_settings, publish_timeout_s=1.0) as (settings, client):
        warm = await client.post("/webhooks/generic", json=LEAD)  # metadata and connection ready
        assert warm.status_code == 202, warm.text
        embedded_broker.pause()
        try:
            started = time.monotonic()
            answer = await asyncio.wait_for(
                client.post("/webhooks/generic", json={"person": {"email": "down@example.com"}}),
                10,
            )
            elapsed = time.monotonic() - started
        finally:
            embedded_broker.resume()
        assert answer.status_code == 503, answer.text
        assert elapsed < 3.0, elapsed
        assert answer.headers.get("retry-after")
        assert "event_ids" not in answer.json()

        # Once the broker is back the sender's retry is accepted.
        deadline = time.monotonic() + 20
        retry = await client.post(
            "/webhooks/generic", json={"person": {"email": "down@example.com"}}
        )
        while retry.status_code != 202 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            retry = await client.post(
                "/webhooks/generic", json={"person": {"email": "down@example.com"}}
            )
        assert retry.status_code == 202, retry.text
        assignments = await eventually(
            lambda: query(settings, "SELECT count(*) FROM assignments"),
            lambda rows: rows[0][0] >= 1,
        )
    assert assignments[0][0] >= 1


async def test_a_delivery_retried_after_503_is_captured_once(
    make_settings, embedded_broker
) -> None:
    lead = {"person": {"email": "retry@example.com"}}
    async with router(make_settings, publish_timeout_s=1.0) as (settings, client):
        assert (await client.post("/webhooks/generic", json=LEAD)).status_code == 202
        embedded_broker.pause()
        try:
            first = await asyncio.wait_for(client.post("/webhooks/generic", json=lead), 10)
        finally:
            embedded_broker.resume()
        assert first.status_code == 503, first.text
        deadline = time.monotonic() + 20
        retry = await client.post("/webhooks/generic", json=lead)
        while retry.status_code != 202 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            retry = await client.post("/webhooks/generic", json=lead)
        assert retry.status_code == 202, retry.text
        key = retry.json()["lead_keys"][0].encode()

        captured: list[Any] = []
        deadline = time.monotonic() + 15  # long enough for a queued record to be flushed
        while time.monotonic() < deadline:
            records = await read_topic(
                settings.kafka_bootstrap, settings.topics.leads_captured, 3, timeout=1.0
            )
            captured = [r for r in records if r.key == key]
            if len(captured) > 1:
                break
        await asyncio.sleep(1.0)  # let the router consume whatever reached the topic
        assignments = await query(
            settings, f"SELECT count(*) FROM assignments WHERE lead_key = '{key.decode()}'"
        )
    # The first attempt may still reach the broker after its 503; it carries the same
    # event id as the retry, so the router's inbox turns both into one assignment. Both
    # copies are the same bytes: the retry is stamped with the first receipt's time.
    event_ids = {dict(r.headers)["ce_id"] for r in captured}
    assert len(event_ids) == 1, f"{len(event_ids)} distinct captured events for one delivery"
    assert len({r.value for r in captured}) == 1, "one event id, two contents"
    assert assignments[0][0] == 1
