"""The whole path on the embedded stack: webhook -> leads.captured -> router ->
leads.assigned -> sla-monitor and feedback, read back by a separate plain consumer."""

from __future__ import annotations

import contextlib
import json

from router_support import TEST_POLICY
from signing import SECRETS, StandardWebhooksAuth

from baton_feedback.config import FeedbackSettings
from baton_feedback.main import MIGRATIONS as FEEDBACK_MIGRATIONS
from baton_feedback.main import create_app as create_feedback
from baton_router.config import RouterSettings
from baton_router.main import MIGRATIONS as ROUTER_MIGRATIONS
from baton_router.main import create_app as create_router
from baton_runtime.testing import (
    create_topics_for,
    eventually,
    migrate,
    read_topic,
    running,
    scalar,
    wait_ready,
)
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.main import MIGRATIONS as SLA_MIGRATIONS
from baton_sla_monitor.main import create_app as create_sla_monitor

LEAD = {
    "person": {"email": "Ada@Example.com", "first_name": "Ada", "title": "CTO", "country": "DE"},
    "company": {"name": "Analytical Engines", "domain": "example.com", "employees": 250},
    "attribution": {"campaign_id": "spring-webinar", "utm_source": "linkedin"},
}


async def value_of(settings, sql: str, expected):  # type: ignore[no-untyped-def]
    """`sql`'s value once it is `expected` (or the last value after 20 s)."""
    return await eventually(lambda: scalar(settings, sql), lambda value: value == expected)


async def set_up_routing(client) -> None:  # type: ignore[no-untyped-def]
    """As an operator would: the policy, a rep and a pool through the admin API."""
    admin = {"authorization": "Bearer k-ops"}
    answer = await client.put(
        "/policy", content=TEST_POLICY, headers={**admin, "content-type": "application/yaml"}
    )
    assert answer.status_code == 200, answer.text
    rep = {"name": "Grace", "time_zone": "Europe/Berlin"}
    answer = await client.put("/roster/reps/rep-ada", json=rep, headers=admin)
    assert answer.status_code in (200, 201), answer.text
    pool = {"strategy": "round_robin", "members": [{"rep_id": "rep-ada"}]}
    answer = await client.put("/roster/pools/inbound", json=pool, headers=admin)
    assert answer.status_code in (200, 201), answer.text


async def test_posted_lead_is_assigned_and_reaches_every_service(make_settings) -> None:
    router = make_settings(RouterSettings, webhook_secrets=SECRETS, api_keys={"ops": "k-ops"})
    sla = make_settings(SlaMonitorSettings)
    feedback = make_settings(FeedbackSettings)
    await create_topics_for(router)
    for settings, migrations in (
        (router, ROUTER_MIGRATIONS),
        (sla, SLA_MIGRATIONS),
        (feedback, FEEDBACK_MIGRATIONS),
    ):
        await migrate(settings, migrations)

    async with contextlib.AsyncExitStack() as stack:
        router_client = await stack.enter_async_context(running(create_router(router)))
        router_client.auth = StandardWebhooksAuth()  # the sender signs (Standard Webhooks)
        sla_client = await stack.enter_async_context(running(create_sla_monitor(sla)))
        feedback_client = await stack.enter_async_context(running(create_feedback(feedback)))
        for client in (router_client, sla_client, feedback_client):
            await wait_ready(client)
        await set_up_routing(router_client)

        answer = await router_client.post("/webhooks/generic", json=LEAD)
        assert answer.status_code == 202, answer.text
        captured_id = answer.json()["event_ids"][0]
        lead_key = answer.json()["lead_keys"][0]

        records = await read_topic(router.kafka_bootstrap, router.topics.leads_assigned, 1)
        assert len(records) == 1
        record = records[0]
        headers = {name: value.decode() for name, value in record.headers}
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_type"] == "baton.lead.assigned.v1"
        assert headers["ce_source"] == "/baton/router"
        assert headers["content-type"] == "application/json"
        assert headers["ce_id"] and headers["ce_time"]
        assert headers["traceparent"].startswith("00-")
        assert record.key == lead_key.encode()
        data = json.loads(record.value)
        assert data["captured_event_id"] == captured_id
        assert data["owner"]["id"] == "rep-ada"
        assert data["owner"]["name"] == "Grace"
        assert data["policy_version"] == "policy-test-7"
        assert data["pool"] == "inbound"
        assert data["lead"]["attribution"]["campaign_id"] == "spring-webinar"

        sql = f"SELECT count(*) FROM deadlines WHERE lead_key = '{lead_key}'"
        assert await value_of(sla, sql, 1) == 1
        sql = f"SELECT campaign_id FROM lead_attribution WHERE lead_key = '{lead_key}'"
        assert await value_of(feedback, sql, "spring-webinar") == "spring-webinar"

        # The same person again (e-mail case differs) is the same lead key.
        again = await router_client.post(
            "/webhooks/generic", json=LEAD | {"person": {"email": "ada@example.com"}}
        )
        assert again.json()["lead_keys"] == [lead_key]
