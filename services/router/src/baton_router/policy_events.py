"""Every activated policy version is announced on the policy topic (through the outbox, in
the activation's transaction), so services that run by a part of the document (the SLA
monitor by its `sla:` section) hold the same versions the router stamps on its decisions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.domain.policy.model import Policy
from baton_runtime.service import ServiceRuntime
from baton_schemas import PolicyActivated


async def announce(
    runtime: ServiceRuntime, conn: AsyncConnection, policy: Policy, *, source: str
) -> None:
    event = PolicyActivated(
        version=policy.version, activated_at=datetime.now(UTC), source=source, sla=policy.sla
    )
    await runtime.emit(conn, [event], topic=runtime.settings.topics.policy_events)
