"""The router's consumer: new leads are scored, tiered and routed; SLA breaches and sales
rejections that ask for it reassign or recycle a lead, excluding the owners it already had;
closed deals feed the learned part of the score. Every decision is published as
`baton.lead.assigned.v1` through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

from baton_router.config import RouterSettings
from baton_router.db.leads import lead_query
from baton_router.db.routing_state import load_routing_state
from baton_router.learned_cache import LearnedCache
from baton_router.policy_cache import PolicyCache
from baton_router.routing_session import RoutingSession
from baton_runtime.consumer import Batch, Handler
from baton_runtime.logs import get_logger
from baton_schemas import (
    FeedbackDealClosed,
    FeedbackTraceable,
    LeadAssigned,
    LeadCaptured,
    SlaBreached,
)

log = get_logger(__name__)


def routing_handler(settings: RouterSettings, policies: PolicyCache) -> Handler:
    topic = settings.topics.leads_assigned
    learned = LearnedCache()

    async def handle(batch: Batch) -> None:
        now = datetime.now(UTC)
        query = lead_query(incoming.event for incoming in batch.events)
        state = await load_routing_state(batch.conn, now, lock=True, leads=query)
        policy = await policies.at_version(batch.conn, state.policy_version)
        model = await learned.model(batch.conn, policy.scoring.learned, state.learned_revision)
        session = RoutingSession(policy, now, state.roster, state.leads, model)
        for incoming in batch.events:
            event = incoming.event
            decided: LeadAssigned | None
            if isinstance(event, LeadCaptured):
                decided = session.route_captured(incoming.id, event)
            elif isinstance(event, SlaBreached):
                decided = session.on_breach(event)
            elif isinstance(event, FeedbackTraceable):
                decided = session.on_feedback(event)
            elif isinstance(event, FeedbackDealClosed):
                session.on_deal(event)
                continue
            else:
                decided = None
            if decided is None:
                log.info("no routing change", event_id=incoming.id, lead_key=event.record_key)
                continue
            emitted = batch.emit(decided, topic=topic, traceparent=incoming.envelope.traceparent)
            session.record(emitted, decided, trigger_event_id=incoming.id)
        for rows in session.writes():
            batch.write(rows)

    return handle
