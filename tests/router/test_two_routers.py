"""Two router processes in one consumer group over one pool: every lead is assigned
exactly once and the round robin stays fair (pool cursors live in the database)."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from datetime import UTC, datetime

import httpx
from router_support import seed_roster, write_policy

from baton_router.config import RouterSettings
from baton_router.domain.routing.roster import Pool, PoolMember, Rep
from baton_router.main import MIGRATIONS
from baton_runtime.devstack.ports import free_port
from baton_runtime.devstack.services import SERVICES, ServiceProcess
from baton_runtime.testing import (
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
ROUTER = next(service for service in SERVICES if service.name == "router")


async def test_two_router_processes_share_the_work_fairly_and_exactly_once(
    make_settings, tmp_path
) -> None:
    settings = make_settings(
        RouterSettings, policy_file=write_policy(tmp_path), batch_max_records=20
    )
    await create_topics_for(settings)
    await migrate(settings, MIGRATIONS)
    await seed_roster(settings, REPS, [POOL])
    processes = [
        ServiceProcess(
            ROUTER,
            {**os.environ, **settings.as_env(), "ROUTER_HTTP_PORT": str(free_port())},
            log_file=tmp_path / f"router-{n}.log",
        )
        for n in range(2)
    ]
    try:
        for process in processes:
            process.start()  # a real second process is the point
        for process in processes:
            await asyncio.to_thread(process.wait_ready, 40)
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
            for process in processes:
                text = (await client.get(f"{process.url}/metrics")).text
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
        for process in processes:
            process.stop(20)

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
