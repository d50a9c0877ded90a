"""Router settings (env prefix ROUTER_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from baton_runtime.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_")  # the rest from the base
    service_name: ClassVar[str] = "router"

    http_port: int = 8001
    max_body_bytes: int = 256 * 1024
    publish_timeout_s: float = 5.0

    # The routing policy (YAML). Unset: the active version in the database, or on first
    # start the shipped default. Set: activated at startup when its version is new.
    policy_file: str | None = None
    # api_keys (from the base) guard the roster, policy, lead and simulation APIs; the
    # key's name is what the audit log records as the actor.

    # Webhook intake. Secrets per source, a list so one can be rotated (old and new both
    # valid for a while), e.g. ROUTER_WEBHOOK_SECRETS='{"hubspot": ["s1", "s2"],
    # "generic": ["whsec_..."]}'; a source without a secret rejects every request. Signed
    # timestamps (HubSpot, Standard Webhooks) must be within ± webhook_tolerance_s of now.
    # marketo_mapping_file replaces the shipped Marketo field mapping. public_base_url is
    # the URL prefix senders call (scheme://host[:port][/path]) when a proxy sits in front:
    # HubSpot signs the URL it called.
    webhook_secrets: dict[str, list[str]] = Field(default_factory=dict, repr=False)
    webhook_tolerance_s: int = Field(default=300, ge=1)
    marketo_mapping_file: str | None = None
    public_base_url: str | None = None
