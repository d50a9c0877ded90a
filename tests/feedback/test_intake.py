"""POST /feedback: authenticated CRM feedback, one event or a batch, checked against the
contract and published to crm.activity once the broker has it; mistakes are 4xx naming the
problem, and nothing of a bad batch is taken."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from feedback_support import prepare, serving
from standardwebhooks import Webhook

from baton_runtime.testing import read_topic

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CLIENTS = {"salesforce": "k-sf"}
BEARER = {"Authorization": "Bearer k-sf"}
AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC).isoformat()


def call(crm_event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "crm_event_id": crm_event_id,
        "lead_key": "lead-1",
        "kind": "activity",
        "occurred_at": AT,
        "actor_id": "rep-1",
        "activity": {"type": "call", "direction": "outbound"},
        **fields,
    }


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_1", now, body.decode()),
    }


async def test_feedback_is_published_to_crm_activity(make_settings) -> None:
    settings = await prepare(
        make_settings, api_keys=CLIENTS, webhook_secrets={"hubspot-crm": [SECRET]}
    )
    deal = call(
        "deal-1",
        kind="deal_closed",
        activity=None,
        crm_record_id="0031x",
        lead_key=None,
        deal={"outcome": "won", "amount": 12000, "currency": "EUR"},
    )
    batch = json.dumps([call("c-1"), deal]).encode()
    async with serving(settings) as client:
        one = await client.post("/feedback", json=call("c-2"), headers=BEARER)
        many = await client.post("/feedback", content=batch, headers=signed(batch))
        again = await client.post("/feedback", json=call("c-2"), headers=BEARER)
        records = await read_topic(settings.kafka_bootstrap, settings.topics.crm_activity, 4)

    assert one.status_code == 202, one.text
    assert many.status_code == 202, many.text
    assert again.json() == one.json()  # the same CRM event, the same id: absorbed downstream
    assert len(many.json()["event_ids"]) == 2
    by_id = {dict(r.headers)["ce_id"].decode(): r for r in records}
    published = by_id[many.json()["event_ids"][1]]
    assert dict(published.headers)["ce_type"] == b"baton.crm.feedback.v1"
    assert published.key == b"crm:0031x"
    assert json.loads(published.value)["deal"] == {
        "outcome": "won",
        "amount": 12000.0,
        "currency": "EUR",
        "lost_reason": None,
    }


async def test_mistakes_are_4xx_and_nothing_of_a_bad_batch_is_taken(make_settings) -> None:
    settings = await prepare(
        make_settings, api_keys=CLIENTS, webhook_secrets={"hubspot-crm": [SECRET]}, max_batch=4
    )
    good = json.dumps([call("ok-1")]).encode()
    unknown_reason = {"status": "rejected", "reason_code": "meh"}
    bad_batch = [
        call("ok-2"),
        call("bad-1", activity=None),
        call("bad-2", occurred_at="soon"),
        call("bad-3", kind="disposition", activity=None, disposition=unknown_reason),
    ]
    async with serving(settings) as client:
        answers = {
            "no auth": await client.post("/feedback", json=call("x")),
            "wrong key": await client.post(
                "/feedback", json=call("x"), headers={"Authorization": "Bearer nope"}
            ),
            "wrong secret": await client.post(
                "/feedback", content=good, headers=signed(good, "whsec_" + "A" * 32)
            ),
            "other body": await client.post(
                "/feedback", content=json.dumps([call("ok-9")]).encode(), headers=signed(good)
            ),
            "bad batch": await client.post("/feedback", json=bad_batch, headers=BEARER),
            "too many": await client.post("/feedback", json=[call("a")] * 5, headers=BEARER),
            "empty": await client.post("/feedback", json=[], headers=BEARER),
            "not json": await client.post("/feedback", content=b"{", headers=BEARER),
            "deep": await client.post("/feedback", content=b"[" * 100 + b"]" * 100, headers=BEARER),
            "huge": await client.post(
                "/feedback", content=b" " * (1024 * 1024 + 1), headers=BEARER
            ),
        }
        taken = await read_topic(
            settings.kafka_bootstrap, settings.topics.crm_activity, 1, timeout=1.5
        )

    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "no auth": 401,
        "wrong key": 403,
        "wrong secret": 401,
        "other body": 401,
        "bad batch": 422,
        "too many": 413,
        "empty": 422,
        "not json": 400,
        "deep": 400,
        "huge": 413,
    }
    problems = answers["bad batch"].json()["detail"]
    assert {(p["loc"][1], p["loc"][2] if len(p["loc"]) > 2 else None) for p in problems} == {
        (1, None),
        (2, "occurred_at"),
        (3, "disposition"),
    }
    assert any("'meh' is not one of" in p["msg"] for p in problems)
    assert any("needs `activity`" in p["msg"] for p in problems)
    assert taken == []
