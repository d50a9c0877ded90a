"""Readiness follows the database and the consumer group; liveness does not."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from echo_service import EchoSettings, create_app, prepare

from baton_runtime.devstack.ports import free_port
from baton_runtime.devstack.postgres import EmbeddedPostgres
from baton_runtime.testing import running, wait_ready


async def test_readyz_names_the_database_while_it_is_down_and_recovers(make_settings) -> None:
    root = Path(tempfile.mkdtemp(prefix="baton-ready-"))
    postgres = EmbeddedPostgres(root / "data", free_port())  # our own server: we stop it
    await asyncio.to_thread(postgres.start)
    try:
        settings = make_settings(EchoSettings, database_url=postgres.url)
        await prepare(settings)
        async with running(create_app(settings)) as client:
            await wait_ready(client)
            await asyncio.to_thread(postgres.stop)
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["failing"] == ["database"]
            assert (await client.get("/livez")).status_code == 200
            await asyncio.to_thread(postgres.start)
            await wait_ready(client, timeout=15)
            assert (await client.get("/readyz")).json()["checks"]["database"] is True
    finally:
        await asyncio.to_thread(postgres.destroy)
        shutil.rmtree(root, ignore_errors=True)


CRASHING_MEMBER = """
import asyncio, sys
from aiokafka import AIOKafkaConsumer

async def main(bootstrap, group, topic):
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group,
        session_timeout_ms=6000, heartbeat_interval_ms=1000,
    )
    await consumer.start()  # returns once the group has given it the partitions
    print("joined", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_http_serves_while_the_group_waits_out_a_crashed_member(make_settings) -> None:
    """A replica restarted after a crash: the group waits out the dead member's session
    before it rebalances. HTTP (and with it webhook intake) must not wait with it."""
    settings = make_settings(EchoSettings)
    await prepare(settings)
    member = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHING_MEMBER,
        settings.kafka_bootstrap,
        settings.group_id,
        settings.topics.leads_captured,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert member.stdout is not None
        assert await asyncio.wait_for(member.stdout.readline(), 30) == b"joined\n"
    finally:
        member.send_signal(signal.SIGKILL)  # no LeaveGroup: the broker keeps it 6 s
        await member.wait()

    started = time.monotonic()
    async with running(create_app(settings)) as client:
        serving_after = time.monotonic() - started
        assert (await client.get("/livez")).status_code == 200
        joining = await client.get("/readyz")
        assert joining.status_code == 503 and joining.json()["failing"] == ["consumer_group"]
        await wait_ready(client, timeout=30)
    assert serving_after < 3.0, f"serving only after {serving_after:.1f}s"
