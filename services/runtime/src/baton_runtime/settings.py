"""Settings shared by every service. Each service subclasses with its own env prefix."""

from __future__ import annotations

import json
from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from baton_schemas import Topics


def shared(env_name: str, default: object, description: str) -> object:
    """A setting read from one un-prefixed variable that all services share."""
    return Field(default=default, validation_alias=AliasChoices(env_name), description=description)


class ServiceSettings(BaseSettings):
    """Base settings. Subclasses set `service_name` and `model_config` (env prefix)."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore")

    service_name: ClassVar[str] = "service"

    kafka_bootstrap: str = shared(  # type: ignore[assignment]
        "BATON_KAFKA_BOOTSTRAP", "127.0.0.1:9092", "Kafka bootstrap servers, comma-separated"
    )
    topic_prefix: str = shared("BATON_TOPIC_PREFIX", "", "prefix for every topic name")  # type: ignore[assignment]
    kafka_idempotent_producer: bool = shared(  # type: ignore[assignment]
        "BATON_KAFKA_IDEMPOTENT",
        False,
        "switch on the idempotent producer (real Kafka; the embedded broker lacks it)",
    )

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    db_schema: str = ""
    db_pool_size: int = 10

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # {"name": "key"}: bearer keys for the service's own API; the name is the actor.
    api_keys: dict[str, str] = Field(default_factory=dict, repr=False)

    consumer_group: str = ""
    # False: this replica serves HTTP only (webhooks, APIs, health) and runs no consumer, so
    # intake and consuming scale separately (HPA on CPU for one, KEDA on lag for the other).
    consumers_enabled: bool = True
    consumer_instance_id: str | None = Field(
        default=None, description="static group membership id (avoids rebalances on restarts)"
    )
    batch_max_records: int = 500
    poll_timeout_ms: int = 200
    # How long the broker may hold a fetch waiting for data. Kafka answers as soon as data
    # arrives; the embedded broker does not, so this bounds each hop's latency there.
    fetch_max_wait_ms: int = 20
    # How long the producer waits to fill a batch. 5 ms is Kafka's own default since 4.0
    # (KIP-1030): fewer, fuller produce requests cost the broker far less per record.
    producer_linger_ms: int = 5
    # How far apart an HTTP door's deliveries to the broker start (`CoalescingPublisher`):
    # the records of requests arriving meanwhile go in one produce request, and each
    # request's 202 waits for its delivery. A produce request costs the embedded broker
    # about a millisecond of CPU whatever it holds: at 1,090 webhooks/s, 40 ms instead of
    # 5 took its CPU per lead from 0.35 to 0.16 ms and the whole path's (HTTP, routing,
    # broker, database) from 1.65 to 1.33 ms; the 202's p50 went from 10 to 28 ms.
    request_linger_ms: int = 40
    # ...but no longer than until this many bytes of records are waiting (a producer's
    # `batch.size`): with the linger alone, 96 concurrent webhooks could not pass 2,400/s.
    request_batch_bytes: int = 128 * 1024
    # The least time between two offset commits: the ones queued meanwhile go together.
    # Records past the committed offset are redelivered after a crash and the inbox absorbs
    # them, so a short wait costs nothing but saves the broker a request per batch.
    offset_commit_interval_ms: int = 100
    max_poll_interval_ms: int = 300_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_retries: int = 3
    retry_backoff_ms: int = 200

    outbox_relay_enabled: bool = True
    gc_gen0_threshold: int = 100_000
    outbox_batch_size: int = 1000
    outbox_poll_interval_s: float = 1.0
    outbox_shards: int = 8
    outbox_retention_s: int = 3600
    inbox_retention_s: int = 7 * 24 * 3600

    log_level: str = "INFO"

    @property
    def schema_name(self) -> str:
        return self.db_schema or self.service_name.replace("-", "_")

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"baton-{self.service_name}"

    def group_for(self, suffix: str = "") -> str:
        """The group of a consumer with its own group (`ConsumerSpec.group_suffix`)."""
        return f"{self.group_id}.{suffix}" if suffix else self.group_id

    @property
    def topics(self) -> Topics:
        return Topics(prefix=self.topic_prefix)

    def as_env(self) -> dict[str, str]:
        """The environment variables that recreate these settings in a child process."""
        prefix = type(self).model_config.get("env_prefix", "")
        env: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            alias = field.validation_alias
            key = alias.choices[0] if alias is not None else f"{prefix}{name}".upper()  # type: ignore[union-attr]
            if isinstance(value, bool):
                env[str(key)] = str(value).lower()
            elif isinstance(value, dict | list):
                env[str(key)] = json.dumps(value)  # complex settings are read as JSON
            else:
                env[str(key)] = str(value)
        return env
