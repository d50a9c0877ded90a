"""The SLA monitor on the embedded stack."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from baton_runtime import testing
from baton_sla_monitor.config import SlaMonitorSettings
from baton_sla_monitor.main import MIGRATIONS, create_app


async def prepare(make_settings: testing.MakeSettings, **overrides: Any) -> SlaMonitorSettings:
    return await testing.prepare_service(make_settings, SlaMonitorSettings, MIGRATIONS, **overrides)


def serving(settings: SlaMonitorSettings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The monitor's app, running and ready."""
    return testing.serving(create_app(settings))
