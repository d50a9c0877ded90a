"""Starting the router on the embedded stack."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from baton_router.config import RouterSettings
from baton_router.db.roster import rep_to_row, replace_pool
from baton_router.db.tables import account_owners
from baton_router.db.tables import reps as reps_table
from baton_router.domain.routing.roster import Pool, Rep
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
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'SET search_path TO "{settings.schema_name}"'))
            for rep in reps:
                await conn.execute(insert(reps_table).values(rep_to_row(rep)))
            for pool in pools:
                await replace_pool(conn, pool)
            for domain, rep_id in (accounts or {}).items():
                await conn.execute(insert(account_owners).values(domain=domain, rep_id=rep_id))
    finally:
        await engine.dispose()
