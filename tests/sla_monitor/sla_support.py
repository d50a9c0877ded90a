"""The SLA monitor on the embedded stack, and the records a router and a CRM would send it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import httpx

from baton_runtime import testing
from baton_runtime.testing import produce
from baton_schemas import FeedbackTraceable, OutgoingRecord, PolicyActivated, encode_event
from baton_schemas.events.feedback import ActivityDetail
from baton_schemas.sla_policy import SlaPolicy
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.main import MIGRATIONS, create_app

KEYS = {"revops": "k-revops"}
AUTH = {"Authorization": "Bearer k-revops"}

# Seconds, so a test sees the whole ladder: warning at 1 s, breach (notify) at 2 s,
# reassign at 3 s, hand-over to the manager queue once the lead was reassigned twice.
FAST = {
    "tiers": {
        "hot": {"target": "2s", "clock": "wall", "warning": {"before": "1s"}},
        "warm": {"target": "1h", "clock": "business"},
    },
    "default": {"target": "1h", "clock": "wall"},
    "escalation": [{"after": "0s", "action": "notify"}, {"after": "1s", "action": "reassign"}],
    "manager_queue": {"queue": "sales-managers", "after_reassignments": 2},
}


async def prepare(make_settings: testing.MakeSettings, **overrides: Any) -> SlaMonitorSettings:
    overrides.setdefault("api_keys", KEYS)
    overrides.setdefault("timer_rescan_s", 1.0)
    return await testing.prepare_service(make_settings, SlaMonitorSettings, MIGRATIONS, **overrides)


def serving(settings: SlaMonitorSettings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The monitor's app, running and ready."""
    return testing.serving(create_app(settings))


def policy_record(
    settings: SlaMonitorSettings, sla: dict[str, Any] | None = FAST, version: str = "test-1"
) -> OutgoingRecord:
    event = PolicyActivated(
        version=version,
        activated_at=datetime.now(UTC),
        source="test",
        sla=SlaPolicy.model_validate(sla) if sla is not None else None,
    )
    return encode_event(event, topic=settings.topics.policy_events, source="/test/router")


async def announce(
    settings: SlaMonitorSettings, sla: dict[str, Any] | None = FAST, version: str = "test-1"
) -> None:
    await produce(
        settings.kafka_bootstrap,
        settings.topics.policy_events,
        [policy_record(settings, sla, version)],
    )


def touch(
    settings: SlaMonitorSettings,
    lead_key: str,
    crm_event_id: str,
    at: datetime,
    *,
    kind: str = "call",
    direction: str = "outbound",
) -> OutgoingRecord:
    event = FeedbackTraceable(
        lead_key=lead_key,
        crm_event_id=crm_event_id,
        kind="activity",
        occurred_at=at,
        actor_id="rep-1",
        activity=ActivityDetail(type=kind, direction=direction),  # type: ignore[arg-type]
    )
    return encode_event(event, topic=settings.topics.feedback_traceable, source="/test/feedback")


async def sla_events(settings: SlaMonitorSettings, count: int, timeout: float = 20.0) -> list[Any]:
    """(type, data, publish time) of the first `count` SLA events, in publish order."""
    import json

    records = await testing.read_topic(
        settings.kafka_bootstrap, settings.topics.sla_events, count, timeout=timeout
    )
    records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
    return [
        (
            dict(r.headers)["ce_type"].decode().removeprefix("baton.sla.").removesuffix(".v1"),
            json.loads(r.value),
            datetime.fromtimestamp(r.timestamp / 1000, UTC),
        )
        for r in records
    ]
