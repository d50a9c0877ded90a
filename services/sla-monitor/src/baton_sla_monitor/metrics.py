"""The SLA monitor's own metrics, on the service's registry: events by type and tier (the
breach rate an SRE alerts on) and how late the timer fires a step after its time."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from baton_schemas.events.sla import SlaDeadline


class SlaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "baton_sla_events",
            "SLA events published, by type (started, warning, breached, met) and tier",
            ["type", "tier"],
            registry=registry,
        )
        self.fire_delay = Histogram(
            "baton_sla_fire_delay_seconds",
            "Time from a step's due instant to the timer firing it",
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
        )
        self.planned = Gauge(
            "baton_sla_timer_planned",
            "Steps the timer holds in memory (due within the horizon)",
            registry=registry,
        )

    def count(self, events: Iterable[SlaDeadline]) -> None:
        for event in events:
            kind = event.event_type.removeprefix("baton.sla.").removesuffix(".v1")
            self.events.labels(kind, event.tier or "").inc()
