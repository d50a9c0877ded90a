"""Starting the router on the embedded stack."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from baton_router.config import RouterSettings
from baton_router.main import MIGRATIONS, create_app
from baton_runtime.testing import MakeSettings, prepare_service, serving

LEAD: dict[str, Any] = {
    "person": {"email": "Ada@Example.com", "first_name": "Ada", "title": "CTO", "country": "DE"},
    "company": {"name": "Analytical Engines", "domain": "example.com", "employees": 250},
    "attribution": {
        "campaign_id": "spring-webinar",
        "campaign_name": "Spring webinar",
        "channel": "paid_social",
        "utm_source": "linkedin",
    },
}


@contextlib.asynccontextmanager
async def router(
    make_settings: MakeSettings, **overrides: Any
) -> AsyncIterator[tuple[RouterSettings, httpx.AsyncClient]]:
    """A migrated, ready router with its own topics and schema."""
    settings = await prepare_service(make_settings, RouterSettings, MIGRATIONS, **overrides)
    async with serving(create_app(settings)) as client:
        yield settings, client
