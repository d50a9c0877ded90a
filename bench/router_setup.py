"""A router the way an operator sets one up: its own topics and schema, migrated, a policy
file that sends every lead to the `inbound` pool, and ten reps in that pool's round robin."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from baton_router.config import RouterSettings
from baton_router.db.admin import put_roster
from baton_router.domain.routing.roster import Pool, PoolMember, Rep
from baton_router.main import MIGRATIONS
from baton_runtime.db import create_engine
from baton_runtime.devstack.ports import free_port
from baton_runtime.devstack.topics import create_topics, wait_for_topics
from baton_runtime.migrations import upgrade
from bench import proc
from bench.stack import Stack, wait_for_rows

GENERIC_SECRET = "whsec_" + base64.b64encode(b"baton-bench-generic-secret-01234").decode()

POLICY = """
version: policy-bench-1
scoring:
  fit:
    - name: c-level
      when: {field: person.title, matches: "^(c[etio]o|chief)"}
      points: 30
      reason: decision maker
  engagement:
    - {activity: demo_request, points: 40}
    - {activity: form_submit, points: 10}
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

ZONES = ["Europe/Berlin", "Europe/Paris", "America/Chicago", "Europe/London", "Europe/Madrid"]
REPS = [
    Rep(
        id=f"rep-{n:02d}",
        name=f"Rep {n:02d}",
        email=f"rep{n:02d}@baton.example",
        time_zone=ZONES[n % len(ZONES)],
    )
    for n in range(1, 11)
]
INBOUND = Pool(
    name="inbound", strategy="round_robin", members=tuple(PoolMember(rep.id) for rep in REPS)
)


def router_settings(stack: Stack, run: str, **overrides: Any) -> RouterSettings:
    """Production defaults, except what isolates this run and the loopback port."""
    policy = stack.workdir / f"{run}-policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    values: dict[str, Any] = {
        "kafka_bootstrap": stack.bootstrap,
        "topic_prefix": f"{run}.",
        "database_url": stack.database_url,
        "db_schema": f"{run}_router",
        "consumer_group": f"{run}-router",
        "http_host": "127.0.0.1",
        "http_port": free_port(),
        "policy_file": str(policy),
        "webhook_secrets": {"generic": [GENERIC_SECRET]},
    }
    values.update(overrides)
    return RouterSettings(**values)


async def prepare_router(settings: RouterSettings) -> None:
    """Topics, migrations and the roster, before the router starts."""
    topics = settings.topics.all_for()
    await create_topics(settings.kafka_bootstrap, topics)
    await wait_for_topics(settings.kafka_bootstrap, topics)
    await asyncio.to_thread(upgrade, settings, MIGRATIONS)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await put_roster(conn, REPS, [INBOUND])
    finally:
        await engine.dispose()


def base_url(settings: RouterSettings) -> str:
    return f"http://{settings.http_host}:{settings.http_port}"


@contextlib.asynccontextmanager
async def router_process(
    settings: RouterSettings,
    log_file: Path,
    module: str = "baton_router",
    env: dict[str, str] | None = None,
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`python -m <module> serve` with `settings` in its environment, once ready."""
    environment = {**settings.as_env(), **(env or {})}
    with proc.running(["-m", module, "serve"], log_file, environment) as process:
        await proc.wait_ready(process, base_url(settings), log_file)
        yield process


# Published outbox rows on the assigned topic only: the roster and policy put their own
# events in the outbox too.
PROGRESS = (
    "SELECT (SELECT count(*) FROM assignments),"
    " (SELECT count(*) FROM outbox WHERE published_at IS NOT NULL AND topic = '{topic}')"
)


async def wait_assigned(settings: RouterSettings, count: int, timeout: float) -> None:
    """Until `count` assignments are committed and published. Polled once a second: the
    counts cost the database ~10 ms each, taken from the router being measured, and the
    timed phases read their end from the records, not from this poll."""
    sql = PROGRESS.format(topic=settings.topics.leads_assigned)
    await wait_for_rows(settings, sql, lambda row: min(row) >= count, timeout, interval=1.0)
