"""Readiness follows the database; liveness does not."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
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
