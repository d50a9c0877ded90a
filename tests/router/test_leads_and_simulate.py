"""`GET /leads/{lead_key}` (current decision and history) and `POST /routing/simulate`
(the decision the router would publish, with nothing written and nothing emitted)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from router_support import LEAD
from signing import router  # router_support.router, signing generic webhooks

from baton_runtime.testing import eventually, query, read_topic

KEYS = {"ops": "k-ops"}
OPS = {"Authorization": "Bearer k-ops"}
YAML = {**OPS, "content-type": "application/yaml"}

POOL_POLICY = """\
version: "sim-1"
scoring:
  grades:
    - {grade: A, min_fit: -1000}
  mql: {grades: [A], min_engagement: 1000}
tiers:
  - name: everyone
routing:
  account_ownership: true
  duplicate_window_days: 30
  rules:
    - name: all-inbound
      when: {field: person.email_domain, exists: true}
      pool: inbound
"""

QUEUE_POLICY = """\
version: "sim-queue"
scoring:
  grades:
    - {grade: A, min_fit: -1000}
  mql: {grades: [A], min_engagement: 1000}
tiers:
  - name: everyone
routing:
  account_ownership: false
  rules:
    - name: park
      when: {field: person.email_domain, exists: true}
      queue: parking
"""


async def setup_roster(client: Any) -> None:
    for rep_id in ("ada", "bob"):
        answer = await client.put(
            f"/roster/reps/{rep_id}", json={"name": rep_id.title()}, headers=OPS
        )
        assert answer.status_code == 201, answer.text
    answer = await client.put(
        "/roster/pools/inbound",
        json={
            "strategy": "weighted_round_robin",
            "members": [{"rep_id": "ada"}, {"rep_id": "bob"}],
        },
        headers=OPS,
    )
    assert answer.status_code == 201, answer.text
    answer = await client.put("/policy", content=POOL_POLICY, headers=YAML)
    assert answer.status_code == 200, answer.text


async def state(settings: Any) -> dict[str, Any]:
    """Everything routing writes."""
    result: dict[str, Any] = {}
    for table in (
        "assignments",
        "leads",
        "lead_identities",
        "rep_loads",
        "audit_log",
        "outbox",
        "inbox",
        "policy_versions",
    ):
        result[table] = (await query(settings, f"SELECT count(*) FROM {table}"))[0][0]
    result["members"] = await query(
        settings,
        "SELECT pool_name, rep_id, position, weight, pointer, away FROM pool_members"
        " ORDER BY pool_name, position",
    )
    result["pools"] = await query(settings, "SELECT name, rr_cursor FROM pools ORDER BY name")
    result["active"] = await query(settings, "SELECT version FROM policy_versions WHERE active")
    return result


async def test_lead_history_after_two_routings(make_settings) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        await setup_roster(client)
        first = await client.post("/webhooks/generic", json=LEAD)
        assert first.status_code == 202, first.text
        await eventually(
            lambda: query(settings, "SELECT count(*) FROM assignments"), lambda r: r[0][0] >= 1
        )
        # The same person again, inside the duplicate window: stays with the owner.
        again = await client.post(
            "/webhooks/generic",
            json={**LEAD, "attribution": {"campaign_id": "autumn-webinar"}},
        )
        assert again.status_code == 202, again.text
        records = await read_topic(settings.kafka_bootstrap, settings.topics.leads_assigned, 2)
        lead_key = first.json()["lead_keys"][0]
        assert ":" in lead_key

        answer = await client.get(f"/leads/{lead_key}", headers=OPS)
        encoded = await client.get(f"/leads/{quote(lead_key, safe='')}", headers=OPS)
        unknown = await client.get("/leads/email:00000000000000000000000000000000", headers=OPS)
        with_slash = await client.get("/leads/generic:a/b", headers=OPS)
        nul = await client.get("/leads/email:%00", headers=OPS)
        too_long = await client.get("/leads/" + "k" * 501, headers=OPS)
        unauthorised = await client.get(f"/leads/{lead_key}")

    published = sorted((json.loads(r.value) for r in records), key=lambda d: d["assigned_at"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["lead_key"] == lead_key
    assert body["history"] == published
    assert body["current"] == published[-1]
    assert body["current"]["captured_event_id"] == again.json()["event_ids"][0]
    assert body["history"][0]["captured_event_id"] == first.json()["event_ids"][0]
    assert body["history"][0]["matched_rule"] == "all-inbound"
    assert body["current"]["matched_rule"] == "duplicate"
    assert body["owner_id"] == body["history"][0]["owner"]["id"] == "ada"
    assert body["current"]["owner"]["id"] == "ada"
    assert encoded.json() == body
    assert unknown.status_code == 404 and with_slash.status_code == 404
    assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["path", "lead_key"]
    assert too_long.status_code == 422
    assert unauthorised.status_code == 401


async def test_simulate_returns_the_decision_and_writes_nothing(make_settings) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        await setup_roster(client)
        await client.put("/roster/accounts/acme.io", json={"rep_id": "bob"}, headers=OPS)
        before = await state(settings)

        simulated = await client.post("/routing/simulate", json={"lead": LEAD}, headers=OPS)
        twice = await client.post("/routing/simulate", json={"lead": LEAD}, headers=OPS)
        account = await client.post(
            "/routing/simulate",
            json={"lead": {**LEAD, "company": {"name": "Acme", "domain": "acme.io"}}},
            headers=OPS,
        )
        trial = await client.post(
            "/routing/simulate", json={"lead": LEAD, "policy": QUEUE_POLICY}, headers=OPS
        )
        broken_policy = await client.post(
            "/routing/simulate",
            json={"lead": LEAD, "policy": "version: x\nscoring: {}\ntiers: []\n"},
            headers=OPS,
        )
        bad_leads = [
            await client.post("/routing/simulate", json={"lead": lead}, headers=OPS)
            for lead in (
                {**LEAD, "company": {"employees": "lots"}},
                {"person": {"first_name": "Ada"}},
                {**LEAD, "person": {"email": "ada\u0000@example.com"}},
                {**LEAD, "person": {"email": 42}},
            )
        ]
        not_object = await client.post("/routing/simulate", json={"lead": [LEAD]}, headers=OPS)
        extra = await client.post(
            "/routing/simulate", json={"lead": LEAD, "dry_run": False}, headers=OPS
        )
        naive_at = await client.post(
            "/routing/simulate", json={"lead": LEAD, "at": "2030-01-01T09:00:00"}, headers=OPS
        )
        after = await state(settings)
        emitted = await read_topic(
            settings.kafka_bootstrap, settings.topics.leads_assigned, 1, timeout=2.0
        )

        # The real thing agrees with the simulation, and the simulation then sees the
        # person as a duplicate of the lead just routed.
        real = await client.post("/webhooks/generic", json=LEAD)
        assert real.status_code == 202, real.text
        rows = await eventually(
            lambda: query(settings, "SELECT decision FROM assignments"), lambda r: len(r) >= 1
        )
        afterwards = await client.post("/routing/simulate", json={"lead": LEAD}, headers=OPS)

    assert simulated.status_code == 200, simulated.text
    decision = simulated.json()
    assert decision["would_be"] is True
    assert decision["policy_source"] == "active"
    assert decision["policy_version"] == "sim-1"
    assert decision["owner"]["id"] == "ada"
    assert decision["pool"] == "inbound" and decision["matched_rule"] == "all-inbound"
    assert decision["tier"] == "everyone" and decision["reason"]
    assert decision["lead"]["company_domain"] == "example.com"
    assert decision["lead_key"] == real.json()["lead_keys"][0]
    assert twice.json()["owner"]["id"] == "ada"  # the pool did not move
    assert account.json()["owner"]["id"] == "bob"
    assert account.json()["matched_rule"] == "account-ownership"

    assert trial.status_code == 200, trial.text
    assert trial.json()["policy_source"] == "request"
    assert trial.json()["policy_version"] == "sim-queue"
    assert trial.json()["owner"] is None and trial.json()["queue"] == "parking"

    assert broken_policy.status_code == 422, broken_policy.text
    assert all(p["line"] is not None for p in broken_policy.json()["problems"])

    locs = [[e["loc"] for e in answer.json()["detail"]] for answer in bad_leads]
    assert all(answer.status_code == 422 for answer in bad_leads), [a.text for a in bad_leads]
    assert ["body", "lead", "company", "employees"] in locs[0]
    assert ["body", "lead", "person", "email"] in locs[1]
    assert ["body", "lead", "person", "email"] in locs[2]
    assert ["body", "lead", "person", "email"] in locs[3]
    assert not_object.status_code == 422
    assert ["body", "lead"] in [e["loc"] for e in not_object.json()["detail"]]
    assert ["body", "dry_run"] in [e["loc"] for e in extra.json()["detail"]]
    assert ["body", "at"] in [e["loc"] for e in naive_at.json()["detail"]]

    assert after == before
    assert emitted == []

    real_decision = rows[0][0]
    assert real_decision["owner"]["id"] == decision["owner"]["id"]
    assert real_decision["matched_rule"] == decision["matched_rule"]
    assert afterwards.json()["matched_rule"] == "duplicate"
    assert afterwards.json()["owner"]["id"] == "ada"
