"""Feedback settings (env prefix FEEDBACK_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from baton_runtime.settings import ServiceSettings


class FeedbackSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_")  # the rest from the base
    service_name: ClassVar[str] = "feedback"

    http_port: int = 8003

    # POST /feedback takes a bearer key (api_keys, from the base: {"client": "key"}) or a
    # Standard Webhooks signature with one of a client's secrets ({"client": ["whsec_..."]},
    # a list so a secret can be rotated).
    webhook_secrets: dict[str, list[str]] = Field(default_factory=dict, repr=False)
    webhook_tolerance_s: int = Field(default=300, ge=1)
    max_body_bytes: int = 1024 * 1024
    max_batch: int = Field(default=1000, ge=1)
    publish_timeout_s: float = 5.0
    # The reason codes a rejection may carry, so marketing reads one vocabulary. The
    # router's policy names some of them to re-route or recycle a lead (the shipped
    # policy: the three routing mistakes below re-route, bad_timing and no_budget recycle).
    reject_reasons: list[str] = Field(
        default=[
            "wrong_territory",
            "wrong_segment",
            "existing_customer_owner",
            "bad_fit",
            "no_budget",
            "no_authority",
            "no_need",
            "bad_timing",
            "unreachable",
            "duplicate",
            "competitor",
            "student",
            "spam",
        ],
        min_length=1,
    )
