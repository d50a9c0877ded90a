"""The system under fault: an embedded PostgreSQL and broker of its own, and the three
services as real processes (`python -m baton_<service> serve`), each one killable,
restartable and watched through its `/readyz`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from signing import GENERIC_SECRET

from baton_runtime.devstack.broker import EmbeddedBroker
from baton_runtime.devstack.ports import free_port
from baton_runtime.devstack.postgres import EmbeddedPostgres
from baton_runtime.devstack.services import SERVICES, ServiceDef, log_tail, migrate, service_env
from baton_runtime.devstack.topics import create_topics, wait_for_topics
from baton_schemas import Topics

ADMIN_KEY = "k-chaos-ops"
CRM_KEY = "k-chaos-crm"
REPS = ("rep-ada", "rep-bo", "rep-cy")


def _service_settings(service: ServiceDef, publish_timeout_s: float) -> dict[str, str]:
    """What each service is started with: keys, the webhook secret, and a consumer group
    membership that is static (a restarted replica takes its partitions straight back, as a
    StatefulSet's pod would) and notices a vanished member within a few seconds."""
    prefix = service.env_prefix
    keys = {"ops": ADMIN_KEY, "crm": CRM_KEY} if service.name == "feedback" else {"ops": ADMIN_KEY}
    env = {
        f"{prefix}API_KEYS": json.dumps(keys),
        f"{prefix}CONSUMER_INSTANCE_ID": f"chaos-{service.name}-0",
        f"{prefix}SESSION_TIMEOUT_MS": "6000",
        f"{prefix}HEARTBEAT_INTERVAL_MS": "1000",
        f"{prefix}OUTBOX_POLL_INTERVAL_S": "0.2",
        f"{prefix}LOG_LEVEL": "WARNING",
        f"{prefix}PUBLISH_TIMEOUT_S": str(publish_timeout_s),  # the intake doors' 503
    }
    if service.name == "router":
        env["ROUTER_WEBHOOK_SECRETS"] = json.dumps({"generic": [GENERIC_SECRET]})
    return env


@dataclass
class ServiceUnderTest:
    """One service process: started, SIGKILLed and restarted on the same port."""

    service: ServiceDef
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env[f'{self.service.env_prefix}HTTP_PORT']}"

    def start(self) -> None:
        log = open(self.log_file, "ab")  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.service.module, "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when a machine or a container dies."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    async def ready(self, client: httpx.AsyncClient) -> bool:
        try:
            answer = await client.get(f"{self.url}/readyz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def log_tail(self, size: int = 4000) -> str:
        return log_tail(self.log_file, size)


@dataclass
class ChaosStack:
    workdir: Path
    postgres: EmbeddedPostgres
    broker: EmbeddedBroker
    topics: Topics
    services: dict[str, ServiceUnderTest]

    @property
    def router(self) -> ServiceUnderTest:
        return self.services["router"]

    @property
    def feedback(self) -> ServiceUnderTest:
        return self.services["feedback"]

    def database_url(self, service: str) -> str:
        return self.services[service].env[
            f"{self.services[service].service.env_prefix}DATABASE_URL"
        ]

    async def all_ready(self, client: httpx.AsyncClient) -> bool:
        answers = await asyncio.gather(*(s.ready(client) for s in self.services.values()))
        return all(answers)

    async def wait_all_ready(self, client: httpx.AsyncClient, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not await self.all_ready(client):
            for service in self.services.values():
                if service.exited() is not None:
                    raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError("services not ready:\n" + self.log_tails())
            await asyncio.sleep(0.2)

    async def supervise(self, unplanned: list[str], stop: asyncio.Event) -> None:
        """Restart a service that exited on its own, as an orchestrator would, and keep
        why (the end of its log): Baton's processes should only ever exit when told to."""
        while not stop.is_set():
            for service in self.services.values():
                code = service.exited()
                if code is not None:
                    unplanned.append(f"{service.name} exited {code}: {service.log_tail(1500)}")
                    service.start()
            await asyncio.sleep(0.5)

    def log_tails(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in self.services.values())


@contextlib.asynccontextmanager
async def chaos_stack(publish_timeout_s: float) -> AsyncIterator[ChaosStack]:
    """PostgreSQL and the broker on free loopback ports, topics created, every service
    migrated and serving. Everything is stopped and removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="baton-chaos-"))
    # Commits survive the server's crash (fsync matters only when the machine goes down).
    postgres = EmbeddedPostgres(workdir / "pg", free_port(), durable_commits=True)
    broker = EmbeddedBroker(free_port(), log_file=workdir / "broker.log")
    topics = Topics("")
    services: dict[str, ServiceUnderTest] = {}
    try:
        await asyncio.to_thread(postgres.start)
        await asyncio.to_thread(broker.start)
        await create_topics(broker.bootstrap, topics.all_for())
        await wait_for_topics(broker.bootstrap, topics.all_for())
        for service in SERVICES:
            env = service_env(
                service,
                database_url=postgres.url,
                bootstrap=broker.bootstrap,
                extra={
                    **_service_settings(service, publish_timeout_s),
                    f"{service.env_prefix}HTTP_PORT": str(free_port()),
                },
            )
            await asyncio.to_thread(migrate, service, env)
            services[service.name] = ServiceUnderTest(service, env, workdir / f"{service.name}.log")
        for process in services.values():
            process.start()
        stack = ChaosStack(workdir, postgres, broker, topics, services)
        async with httpx.AsyncClient() as client:
            await stack.wait_all_ready(client)
        yield stack
    finally:
        for process in services.values():
            if process.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.process.pid, signal.SIGCONT)
            process.stop()
        broker.resume()
        broker.stop()
        postgres.destroy()
        if os.environ.get("BATON_CHAOS_KEEP"):
            print(f"chaos workdir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
