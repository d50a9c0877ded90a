"""SLA monitor settings (env prefix SLA_MONITOR_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from baton_runtime.settings import ServiceSettings


class SlaMonitorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_MONITOR_")  # the rest from the base
    service_name: ClassVar[str] = "sla-monitor"

    http_port: int = 8002
    # api_keys (from the base) guard the /sla numbers.

    # The timer keeps the steps due within the horizon in memory and rescans the table
    # this often: for deadlines another replica opened, and to sweep what is overdue.
    timer_rescan_s: float = Field(default=5.0, gt=0)
    timer_horizon_s: float = Field(default=900.0, gt=0)
    # An assignment stamped with a policy version not received yet waits this long for it
    # (measured from the assignment), then runs by the latest version received.
    policy_wait_s: float = Field(default=30.0, ge=0)
