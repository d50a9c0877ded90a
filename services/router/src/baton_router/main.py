"""The router app: webhook intake, the captured-lead consumer and the outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from baton_router.api.audit import audit_router
from baton_router.api.leads import leads_router
from baton_router.api.policy import policy_router
from baton_router.api.roster import roster_router
from baton_router.api.simulate import simulate_router
from baton_router.api.webhooks import webhook_router
from baton_router.config import RouterSettings
from baton_router.db.tables import runtime_tables
from baton_router.handlers import routing_handler
from baton_router.policy_cache import PolicyCache, ensure_policy
from baton_runtime.service import ConsumerSpec, ServiceRuntime, create_service_app
from baton_runtime.settings import ServiceSettings
from baton_schemas import FeedbackDealClosed, FeedbackTraceable, LeadCaptured, SlaBreached

MIGRATIONS = "baton_router:migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    config = settings if isinstance(settings, RouterSettings) else RouterSettings()
    policies = PolicyCache()

    async def seed_policy(runtime: ServiceRuntime) -> None:
        await ensure_policy(runtime, config.policy_file)

    def consumers(runtime: ServiceRuntime) -> list[ConsumerSpec]:
        return [
            ConsumerSpec(
                topics=[
                    config.topics.leads_captured,
                    config.topics.sla_events,
                    config.topics.feedback_traceable,
                    config.topics.feedback_closed_deals,
                ],
                accepts=[LeadCaptured, SlaBreached, FeedbackTraceable, FeedbackDealClosed],
                handler=routing_handler(config, policies),
            )
        ]

    return create_service_app(
        settings=config,
        tables=runtime_tables,
        consumers=consumers,
        doors=[webhook_router(config)],
        routers=[
            roster_router(),
            policy_router(),
            leads_router(),
            simulate_router(),
            audit_router(),
        ],
        title="Baton router",
        on_startup=seed_policy,
    )
