"""The feedback service on the embedded stack."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from baton_feedback.config import FeedbackSettings
from baton_feedback.main import MIGRATIONS, create_app
from baton_runtime import testing


async def prepare(make_settings: testing.MakeSettings, **overrides: Any) -> FeedbackSettings:
    return await testing.prepare_service(make_settings, FeedbackSettings, MIGRATIONS, **overrides)


def serving(settings: FeedbackSettings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The feedback app, running and ready."""
    return testing.serving(create_app(settings))
