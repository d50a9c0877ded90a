"""Router settings (env prefix ROUTER_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from baton_runtime.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", populate_by_name=True, extra="ignore")
    service_name: ClassVar[str] = "router"

    http_port: int = 8001
    max_body_bytes: int = 256 * 1024
    publish_timeout_s: float = 5.0

    default_owner_id: str = "rep-default"
    default_owner_name: str = "Default Owner"
    default_owner_email: str | None = None
    default_owner_time_zone: str = "UTC"
    policy_version: str = "bootstrap-1"
