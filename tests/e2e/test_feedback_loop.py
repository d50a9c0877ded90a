"""The sales-to-marketing loop end to end on the embedded stack, with all three services:
a lead goes in as a webhook and is assigned; the rep's call (POST /feedback) meets the SLA;
the rep rejects it for a reason the policy re-routes, so the router assigns it to the other
rep; that rep wins the deal. A separate consumer reads feedback.traceable and
feedback.closed-deals and finds every report attributed to the lead's source and campaign;
the router has learned the outcome."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

from e2e_support import ADMIN_KEYS, set_up_routing
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
    query,
    read_topic,
    running,
    wait_ready,
)
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.main import MIGRATIONS as SLA_MIGRATIONS
from baton_sla_monitor.main import create_app as create_sla_monitor

CRM = {"authorization": "Bearer k-crm"}
POLICY = TEST_POLICY.replace("version: policy-test-7", "version: loop-e2e-1").replace(
    "  fallback_queue: unassigned",
    "  fallback_queue: unassigned\n"
    "  reassign_on_reject_reasons: [wrong_territory]\n"
    "  recycle_on_reject_reasons: [bad_timing]",
)


def values(records: Any) -> list[dict[str, Any]]:
    return [json.loads(record.value) for record in records]


async def test_touch_rejection_and_won_deal_flow_back_to_marketing(make_settings) -> None:
    router = make_settings(RouterSettings, webhook_secrets=SECRETS, api_keys=ADMIN_KEYS)
    sla = make_settings(SlaMonitorSettings, api_keys={"ops": "k-sla"})
    feedback = make_settings(FeedbackSettings, api_keys={"crm": "k-crm"})
    await create_topics_for(router)
    await migrate(router, ROUTER_MIGRATIONS)
    await migrate(sla, SLA_MIGRATIONS)
    await migrate(feedback, FEEDBACK_MIGRATIONS)
    topics = router.topics

    async with contextlib.AsyncExitStack() as stack:
        router_client = await stack.enter_async_context(running(create_router(router)))
        router_client.auth = StandardWebhooksAuth()
        sla_client = await stack.enter_async_context(running(create_sla_monitor(sla)))
        crm = await stack.enter_async_context(running(create_feedback(feedback)))
        for client in (router_client, sla_client, crm):
            await wait_ready(client)
        await set_up_routing(router_client, POLICY)

        webhook = {
            "person": {"email": "grace@example.com", "title": "CTO", "country": "DE"},
            "company": {"name": "Compilers Inc", "domain": "example.com"},
            "attribution": {"campaign_id": "spring-webinar", "channel": "paid_social"},
        }
        answer = await router_client.post("/webhooks/generic", json=webhook)
        assert answer.status_code == 202, answer.text
        lead_key = answer.json()["lead_keys"][0]
        (first,) = values(await read_topic(router.kafka_bootstrap, topics.leads_assigned, 1))
        first_owner = first["owner"]["id"]
        assigned_at = datetime.fromisoformat(first["assigned_at"])

        def report(crm_event_id: str, seconds: float, **detail: Any) -> dict[str, Any]:
            at = assigned_at + timedelta(seconds=seconds)
            return {
                "crm_event_id": crm_event_id,
                "lead_key": lead_key,
                "occurred_at": at.isoformat(),
                **detail,
            }

        call = report(
            "crm-call-1",
            30,
            kind="activity",
            actor_id=first_owner,
            activity={"type": "call", "direction": "outbound", "outcome": "connected"},
        )
        answer = await crm.post("/feedback", json=call, headers=CRM)
        assert answer.status_code == 202, answer.text
        met = await eventually(
            lambda: sla_client.get(
                f"/sla/leads/{lead_key}", headers={"authorization": "Bearer k-sla"}
            ),
            lambda r: r.status_code == 200 and r.json()["deadlines"][0]["status"] == "met",
        )
        assert met.json()["deadlines"][0]["owner_id"] == first_owner

        rejection = report(
            "crm-reject-1",
            60,
            kind="disposition",
            actor_id=first_owner,
            disposition={"status": "rejected", "reason_code": "wrong_territory"},
        )
        assert (await crm.post("/feedback", json=rejection, headers=CRM)).status_code == 202
        assignments = values(await read_topic(router.kafka_bootstrap, topics.leads_assigned, 2))
        second = assignments[1]
        second_owner = second["owner"]["id"]
        assert second_owner != first_owner and second["attempt"] == 2
        assert second["reason"].startswith("re-routed after rejection (wrong_territory)")

        won = report(
            "crm-deal-1",
            3600,
            kind="deal_closed",
            actor_id=second_owner,
            deal={"outcome": "won", "amount": 48000, "currency": "EUR"},
        )
        # A CRM that sends the same event twice: absorbed.
        for _ in range(2):
            assert (await crm.post("/feedback", json=won, headers=CRM)).status_code == 202

        traceable = values(await read_topic(router.kafka_bootstrap, topics.feedback_traceable, 2))
        closed = values(
            await read_topic(router.kafka_bootstrap, topics.feedback_closed_deals, 2, timeout=3)
        )
        learned = await eventually(
            lambda: query(router, "SELECT outcome, facts->>'source' FROM closed_deals"),
            lambda rows: len(rows) == 1,
        )

    assert [(t["kind"], t["crm_event_id"]) for t in traceable] == [
        ("activity", "crm-call-1"),
        ("disposition", "crm-reject-1"),
    ]
    for event in (*traceable, *closed):
        attribution = event["attribution"]
        assert attribution["source"] == "generic"
        assert attribution["attribution"]["campaign_id"] == "spring-webinar"
        assert attribution["attribution"]["channel"] == "paid_social"
        assert attribution["tier"] == "hot"
    assert traceable[0]["attribution"]["owner_id"] == first_owner
    assert traceable[0]["seconds_since_assignment"] == 30
    assert traceable[1]["disposition"]["reason_code"] == "wrong_territory"
    (deal,) = closed  # the repeat was absorbed
    assert deal["deal"] == {
        "outcome": "won",
        "amount": 48000.0,
        "currency": "EUR",
        "lost_reason": None,
    }
    assert deal["closed_by"] == second_owner
    assert deal["attribution"]["owner_id"] == second_owner  # the handoff that closed it
    assert learned == [("won", "generic")]
