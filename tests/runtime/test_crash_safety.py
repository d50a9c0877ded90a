"""Crash safety with real processes: SIGKILL mid-batch, and a relay that died after the
database commit but before publishing."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx
from echo_service import EchoSettings, prepare
from helpers import produce_leads

from baton_runtime.devstack.ports import free_port
from baton_runtime.testing import count_rows, eventually, query, read_topic

SERVICE = Path(__file__).parent / "echo_service.py"


class EchoProcess:
    def __init__(self, settings: EchoSettings) -> None:
        self.env = {**os.environ, **settings.as_env()}
        self.port = settings.http_port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SERVICE)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait_started(self, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as client:
            while asyncio.get_running_loop().time() < deadline:
                try:
                    if (await client.get(f"http://127.0.0.1:{self.port}/livez")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError("echo service did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


async def test_sigkill_mid_batch_loses_nothing_and_duplicates_no_effect(make_settings) -> None:
    settings = make_settings(
        EchoSettings,
        http_port=free_port(),
        batch_max_records=40,
        handler_delay_s=0.08,
        session_timeout_ms=3000,  # a killed member leaves the group sooner
        heartbeat_interval_ms=300,
    )
    await prepare(settings)
    total = 1500
    ids = await produce_leads(settings, [f"crash-{n}" for n in range(total)])
    service = EchoProcess(settings)
    kills = 0
    rng = random.Random(7)
    try:
        for _ in range(5):
            service.start()
            await service.wait_started()
            # Wait until the consumer is busy, then kill it inside a batch.
            await eventually(lambda: count_rows(settings, "effects"), lambda n: n >= 1, 20, 0.2)
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            service.kill()
            kills += 1
        service.start()
        done = await eventually(lambda: _all_published(settings, total), bool, 90, 0.2)
        assert done, "service did not finish after the last restart"
    finally:
        service.stop()

    assert kills == 5
    effects = await query(settings, "SELECT captured_event_id, count(*) FROM effects GROUP BY 1")
    assert len(effects) == total, "lost records"
    assert all(count == 1 for _, count in effects), "duplicate effects"
    assert {row[0] for row in effects} == set(ids)

    out = await read_topic(
        settings.kafka_bootstrap, settings.topics.leads_assigned, total, timeout=30
    )
    emitted: dict[str, set[str]] = defaultdict(set)
    for record in out:
        emitted[json.loads(record.value)["captured_event_id"]].add(
            dict(record.headers)["ce_id"].decode()
        )
    assert set(emitted) == set(ids), "an input has no emitted event"
    assert all(len(event_ids) == 1 for event_ids in emitted.values()), "an input emitted two events"


async def test_relay_killed_after_commit_before_publish_publishes_after_restart(
    make_settings,
) -> None:
    # A process whose relay never ran: the effects and outbox rows are committed, nothing is
    # published; then the process is killed, exactly the state a crash there leaves.
    settings = make_settings(EchoSettings, http_port=free_port(), outbox_relay_enabled=False)
    await prepare(settings)
    ids = await produce_leads(settings, [f"relay-{n}" for n in range(200)])
    service = EchoProcess(settings)
    service.start()
    try:
        await service.wait_started()
        assert (
            await eventually(lambda: count_rows(settings, "outbox"), lambda n: n >= 200, 30, 0.2)
            >= 200
        )
        service.kill()
        nothing = await read_topic(
            settings.kafka_bootstrap, settings.topics.leads_assigned, 1, timeout=1.5
        )
        assert nothing == []

        restarted = EchoProcess(settings.model_copy(update={"outbox_relay_enabled": True}))
        restarted.start()
        try:
            assert await eventually(lambda: _all_published(settings, 200), bool, 30, 0.2)
        finally:
            restarted.stop()
    finally:
        service.stop()
    out = await read_topic(settings.kafka_bootstrap, settings.topics.leads_assigned, 200)
    assert sorted(json.loads(r.value)["captured_event_id"] for r in out) == sorted(ids)


async def _all_published(settings: EchoSettings, count: int) -> bool:
    rows = await query(
        settings, "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox"
    )
    total, unpublished = rows[0]
    return total == count and unpublished == 0
