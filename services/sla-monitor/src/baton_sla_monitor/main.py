"""The SLA monitor app: consumes assignments, runs its outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from baton_runtime.service import ConsumerSpec, ServiceRuntime, create_service_app
from baton_runtime.settings import ServiceSettings
from baton_schemas import LeadAssigned
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.db.tables import runtime_tables
from baton_sla_monitor.handlers import open_deadlines

MIGRATIONS = "baton_sla_monitor:migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    config = settings if isinstance(settings, SlaMonitorSettings) else SlaMonitorSettings()

    def consumers(runtime: ServiceRuntime) -> list[ConsumerSpec]:
        return [
            ConsumerSpec(
                topics=[config.topics.leads_assigned],
                accepts=[LeadAssigned],
                handler=open_deadlines,
            )
        ]

    return create_service_app(
        settings=config, tables=runtime_tables, consumers=consumers, title="Baton SLA monitor"
    )
