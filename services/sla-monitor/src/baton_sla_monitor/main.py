"""The SLA monitor app: policy versions and assignments and touches in, deadlines kept,
warnings, breaches and escalations fired by the timer, the /sla numbers served."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from baton_runtime.service import ConsumerSpec, ServiceRuntime, create_service_app
from baton_runtime.settings import ServiceSettings
from baton_schemas import FeedbackTraceable, LeadAssigned, PolicyActivated
from baton_sla_monitor.api.sla import sla_router
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.db.tables import runtime_tables
from baton_sla_monitor.handlers import lifecycle_handler, store_policies
from baton_sla_monitor.metrics import SlaMetrics
from baton_sla_monitor.policies import PolicyBook
from baton_sla_monitor.timer import DeadlineTimer

MIGRATIONS = "baton_sla_monitor:migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    config = settings if isinstance(settings, SlaMonitorSettings) else SlaMonitorSettings()
    policies = PolicyBook(wait=timedelta(seconds=config.policy_wait_s))

    def consumers(runtime: ServiceRuntime) -> list[ConsumerSpec]:
        """The consumers, and the timer that fires what they open (an HTTP-only replica,
        `consumers_enabled=false`, runs neither)."""
        metrics = SlaMetrics(runtime.metrics.registry)
        timer = DeadlineTimer(
            runtime,
            policies,
            metrics,
            rescan_s=config.timer_rescan_s,
            horizon_s=config.timer_horizon_s,
        )
        if config.consumers_enabled:
            runtime.spawn("sla-timer", timer)
        topics = config.topics
        return [
            ConsumerSpec(
                topics=[topics.leads_assigned, topics.feedback_traceable],
                accepts=[LeadAssigned, FeedbackTraceable],
                handler=lifecycle_handler(policies, topics.sla_events, timer.schedule, metrics),
            ),
            ConsumerSpec(
                topics=[topics.policy_events],
                accepts=[PolicyActivated],
                handler=store_policies,
                group_suffix="policy",
            ),
        ]

    return create_service_app(
        settings=config,
        tables=runtime_tables,
        consumers=consumers,
        routers=[sla_router()],
        title="Baton SLA monitor",
    )
