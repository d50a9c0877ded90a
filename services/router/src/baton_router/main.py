"""The router app: webhook intake, the captured-lead consumer and the outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from baton_router.api.webhooks import webhook_router
from baton_router.config import RouterSettings
from baton_router.db.tables import runtime_tables
from baton_router.handlers import assign_captured_leads
from baton_runtime.service import ConsumerSpec, ServiceRuntime, create_service_app
from baton_runtime.settings import ServiceSettings
from baton_schemas import LeadCaptured

MIGRATIONS = "baton_router:migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    config = settings if isinstance(settings, RouterSettings) else RouterSettings()

    def consumers(runtime: ServiceRuntime) -> list[ConsumerSpec]:
        return [
            ConsumerSpec(
                topics=[config.topics.leads_captured],
                accepts=[LeadCaptured],
                handler=assign_captured_leads(config),
            )
        ]

    return create_service_app(
        settings=config,
        tables=runtime_tables,
        consumers=consumers,
        routers=[webhook_router()],
        title="Baton router",
    )
