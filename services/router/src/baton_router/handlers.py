"""Consumer handlers: captured lead -> assignment decision (through the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from baton_router.config import RouterSettings
from baton_router.db.tables import assignments
from baton_router.domain.assignment import assign_to_default_owner
from baton_runtime.consumer import Batch, Handler
from baton_schemas import LeadCaptured


def assign_captured_leads(settings: RouterSettings) -> Handler:
    topic = settings.topics.leads_assigned

    async def handle(batch: Batch) -> None:
        rows = []
        now = datetime.now(UTC)
        for incoming in batch.events:
            lead = incoming.event
            assert isinstance(lead, LeadCaptured)
            decision = assign_to_default_owner(lead, incoming.id, settings, now)
            event_id = batch.emit(decision, topic=topic, traceparent=incoming.envelope.traceparent)
            rows.append(
                {
                    "assigned_event_id": event_id,
                    "captured_event_id": incoming.id,
                    "lead_key": decision.lead_key,
                    "owner_id": decision.owner.id if decision.owner else None,
                    "queue": decision.queue,
                    "attempt": decision.attempt,
                    "assigned_at": decision.assigned_at,
                    "decision": decision.model_dump(mode="json"),
                }
            )
        await batch.conn.execute(insert(assignments), rows)

    return handle
