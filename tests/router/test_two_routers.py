"""Two router processes in one consumer group over one pool: every lead is assigned
exactly once and the round robin stays fair (pool cursors live in the database)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import httpx
from router_support import seed_roster, write_policy

from baton_router.config import RouterSettings
from baton_router.domain.routing.roster import Pool, PoolMember, Rep
from baton_router.main import MIGRATIONS
from baton_runtime.devstack.ports import free_port
from baton_runtime.testing import (
    as_env,
    create_topics_for,
    eventually,
    metric,
    migrate,
    produce,
    query,
    read_topic,
)
from baton_schemas import LeadCaptured, encode_event

REPS = [Rep(id=f"rep-{n}", name=f"Rep {n}") for n in range(3)]
POOL = Pool(name="inbound", strategy="round_robin", members=tuple(PoolMember(r.id) for r in REPS))
LEADS = 300


async def wait_live(port: int, timeout: float = 40.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"router on :{port} not ready")


async def test_two_router_processes_share_the_work_fairly_and_exactly_once(
    make_settings, tmp_path
) -> None:
    settings = make_settings(
        RouterSettings, policy_file=write_policy(tmp_path), batch_max_records=20
    )
    await create_topics_for(settings)
    await migrate(settings, MIGRATIONS)
    await seed_roster(settings, REPS, [POOL])
    processes = []
    try:
        for _ in range(2):
            port = free_port()
            env = {**os.environ, **as_env(settings), "ROUTER_HTTP_PORT": str(port)}
            processes.append(
                (
                    subprocess.Popen(  # noqa: ASYNC220 - a real second process is the point
                        [sys.executable, "-m", "baton_router", "serve"],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    ),
                    port,
                )
            )
        for _, port in processes:
            await wait_live(port)
        now = datetime.now(UTC)
        leads = [
            LeadCaptured(lead_key=f"two-{n}", source="generic", received_at=now)
            for n in range(LEADS)
        ]
        records = [
            encode_event(lead, topic=settings.topics.leads_captured, source="/test")
            for lead in leads
        ]
        await produce(settings.kafka_bootstrap, settings.topics.leads_captured, records)
        rows = await eventually(
            lambda: query(
                settings, "SELECT captured_event_id, owner_id FROM assignments ORDER BY seq"
            ),
            lambda rows: len(rows) >= LEADS,
            timeout=60,
        )
        await asyncio.sleep(1.0)  # anything duplicated would have landed by now
        rows = await query(
            settings, "SELECT captured_event_id, owner_id FROM assignments ORDER BY seq"
        )
        per_process = []
        async with httpx.AsyncClient() as client:
            for _, port in processes:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                per_process.append(
                    metric(
                        text, "baton_records_processed_total", topic=settings.topics.leads_captured
                    )
                    or 0
                )
        published = await read_topic(
            settings.kafka_bootstrap, settings.topics.leads_assigned, LEADS
        )
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(20)

    assert len(rows) == LEADS, "every lead assigned exactly once"
    assert {row[0] for row in rows} == {record.event_id for record in records}
    owners = [row[1] for row in rows]
    assert Counter(owners) == {rep.id: LEADS // 3 for rep in REPS}
    # Round robin in decision order: every run of three consecutive decisions has all three
    # reps, so nobody got two in a row while another waited.
    for start in range(0, LEADS - 2):
        assert len(set(owners[start : start + 3])) == 3, owners[start : start + 3]
    assert len({json.loads(r.value)["captured_event_id"] for r in published}) == LEADS
    assert all(count > 0 for count in per_process), f"one process did all the work: {per_process}"
    assert sum(per_process) >= LEADS
