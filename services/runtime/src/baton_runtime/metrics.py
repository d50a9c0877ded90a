"""Prometheus metrics, one registry per app (no module-level collectors)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class RuntimeMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ["service"]
        self.consumer_lag = Gauge(
            "baton_consumer_lag",
            "Records behind the partition's high watermark",
            [*labels, "topic", "partition"],
            registry=self.registry,
        )
        self.records_processed = Counter(
            "baton_records_processed",
            "Records consumed and committed",
            [*labels, "topic", "outcome"],
            registry=self.registry,
        )
        self.batch_duration = Histogram(
            "baton_batch_duration_seconds",
            "Time to process and commit one consumer batch",
            labels,
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.dead_lettered = Counter(
            "baton_dead_lettered_records",
            "Records sent to the dead-letter topic",
            [*labels, "topic"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "baton_outbox_backlog",
            "Outbox rows not yet published",
            labels,
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            "baton_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unpublished outbox row",
            labels,
            registry=self.registry,
        )
        self.outbox_published = Counter(
            "baton_outbox_published",
            "Outbox rows published to Kafka",
            labels,
            registry=self.registry,
        )
