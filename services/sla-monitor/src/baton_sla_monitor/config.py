"""SLA monitor settings (env prefix SLA_MONITOR_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from baton_runtime.settings import ServiceSettings


class SlaMonitorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_MONITOR_")  # the rest from the base
    service_name: ClassVar[str] = "sla-monitor"

    http_port: int = 8002
