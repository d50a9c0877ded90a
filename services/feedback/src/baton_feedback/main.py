"""The feedback app: CRM feedback in (POST /feedback, crm.activity), attributed to each
lead's handoff from its assignments, and published back to marketing; the funnel numbers
over them (GET /reports/funnel)."""

from __future__ import annotations

from fastapi import FastAPI

from baton_feedback.api.intake import intake_router
from baton_feedback.api.reports import reports_router
from baton_feedback.config import FeedbackSettings
from baton_feedback.db.tables import runtime_tables
from baton_feedback.handlers import feedback_handler
from baton_runtime.service import ConsumerSpec, ServiceRuntime, create_service_app
from baton_runtime.settings import ServiceSettings
from baton_schemas import CrmFeedback, LeadAssigned

MIGRATIONS = "baton_feedback:migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    config = settings if isinstance(settings, FeedbackSettings) else FeedbackSettings()

    def consumers(runtime: ServiceRuntime) -> list[ConsumerSpec]:
        return [
            ConsumerSpec(
                topics=[config.topics.leads_assigned, config.topics.crm_activity],
                accepts=[LeadAssigned, CrmFeedback],
                handler=feedback_handler(config.topics, config.reject_reasons),
            )
        ]

    return create_service_app(
        settings=config,
        tables=runtime_tables,
        consumers=consumers,
        doors=[intake_router()],
        routers=[reports_router()],
        title="Baton feedback",
    )
