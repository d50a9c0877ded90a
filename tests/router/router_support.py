"""Starting the router on the embedded stack."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from baton_router.config import RouterSettings
from baton_router.db.admin import put_roster
from baton_router.domain.routing.roster import Pool, Rep
from baton_router.main import MIGRATIONS, create_app
from baton_runtime.db import create_engine
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


TEST_POLICY = """
version: policy-test-7
scoring:
  fit:
    - name: c-level
      when: {field: person.title, matches: "^(c[etio]o|chief)"}
      points: 30
      reason: decision maker
  engagement:
    - {activity: demo_request, points: 40}
  half_life_days: 14
  grades:
    - {grade: A, min_fit: 30}
    - {grade: B, min_fit: 0}
  mql: {grades: [A], min_engagement: 0}
tiers:
  - {name: hot, when: {field: grade, eq: A}}
  - {name: warm}
routing:
  rules:
    - name: everyone-to-inbound
      when: {field: lead_key, exists: true}
      pool: inbound
  fallback_queue: unassigned
sla:
  tiers:
    hot: {target: 5m, clock: wall}
  default: {target: 8h, clock: business}
"""


def write_policy(directory: Any, text: str = TEST_POLICY) -> str:
    path = directory / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


async def seed_roster(
    settings: RouterSettings,
    reps: list[Rep],
    pools: list[Pool],
    accounts: dict[str, str] | None = None,
) -> None:
    """Put reps, pools and account owners straight into the router's tables."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await put_roster(conn, reps, pools, accounts)
    finally:
        await engine.dispose()
