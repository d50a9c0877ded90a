"""The policy every replica routes by: the active version in the database, re-read when
it changes, so a reload reaches all replicas without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.policies import (
    ActivePolicy,
    activate,
    active_version,
    lock_policy_versions,
)
from baton_router.domain.policy.loader import default_policy_text, load_policy
from baton_router.domain.policy.model import Policy
from baton_router.policy_events import announce
from baton_runtime.logs import get_logger
from baton_runtime.service import ServiceRuntime

log = get_logger(__name__)

SHIPPED_DEFAULT = "shipped default"


class PolicyCache:
    def __init__(self) -> None:
        self._policy: Policy | None = None

    async def at_version(self, conn: AsyncConnection, version: str | None) -> Policy:
        """The active policy, given its version as just read (routing reads it with the
        roster); the document is read and parsed again only when the version changed."""
        if self._policy is None or version != self._policy.version:
            active = await active_version(conn)
            if active is None:
                raise RuntimeError("no active policy; the router activates one at startup")
            self._policy = load_policy(active.document, f"policy {active.version}")
            log.info("routing policy loaded", policy_version=self._policy.version)
        return self._policy


async def ensure_policy(runtime: ServiceRuntime, policy_file: str | None) -> None:
    """At startup: activate the configured policy file (or the shipped default when the
    database has none yet, or runs an older shipped default), and announce the active
    version. An invalid file stops the
    router with the file's errors. The announcement is repeated at every start so a
    consumer that lost the topic's history (retention, a new deployment) still learns it;
    consumers keep versions by name, so a repeat changes nothing."""
    if policy_file:
        text = await asyncio.to_thread(Path(policy_file).read_text, encoding="utf-8")
        source = policy_file
    else:
        text, source = default_policy_text(), SHIPPED_DEFAULT
    policy = load_policy(text, source)
    async with runtime.engine.begin() as conn:
        await lock_policy_versions(conn)
        active = await active_version(conn)
        if active is not None and _keep_active(active, policy.version, policy_file):
            policy = load_policy(active.document, f"policy {active.version}")
            await announce(runtime, conn, policy, source="router startup (active)")
            return
        await activate(
            conn, version=policy.version, document=text, source=source, actor="router startup"
        )
        await announce(runtime, conn, policy, source=source)
    log.info("policy activated", policy_version=policy.version, source=source)


def _keep_active(active: ActivePolicy, version: str, policy_file: str | None) -> bool:
    """Whether startup leaves the active policy alone: it is the configured file's version,
    or there is no file and the active one is not an older shipped default (a policy an
    operator activated is theirs to replace)."""
    if policy_file:
        return active.version == version
    return active.source != SHIPPED_DEFAULT or active.version == version
