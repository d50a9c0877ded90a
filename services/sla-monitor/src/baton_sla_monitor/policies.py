"""The SLA terms of each policy version, as the router announced them on the policy topic.
A version never changes once announced, so it is cached for the life of the process."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from baton_runtime.errors import NotYet
from baton_runtime.logs import get_logger
from baton_schemas import LeadAssigned
from baton_schemas.sla_policy import SlaPolicy
from baton_sla_monitor.db.store import latest_policy_version, load_policy

log = get_logger(__name__)


class UnknownVersion(LookupError):
    """No announcement of this policy version has reached the monitor."""


class PolicyBook:
    def __init__(self, wait: timedelta) -> None:
        self._wait = wait.total_seconds()
        self._known: dict[str, SlaPolicy | None] = {}
        self._waiting_since: dict[str, float] = {}  # assignment event id -> monotonic

    async def terms(self, conn: AsyncConnection, version: str) -> SlaPolicy | None:
        """The SLA terms of a version this monitor has received (None: it has no sla:)."""
        if version not in self._known:
            known, sla = await load_policy(conn, version)
            if not known:
                raise UnknownVersion(f"policy version {version!r} was never announced")
            self._known[version] = sla
        return self._known[version]

    async def for_assignment(
        self, conn: AsyncConnection, assigned: LeadAssigned, event_id: str
    ) -> tuple[str, SlaPolicy | None]:
        """(version, terms) to judge `assigned` by: the version stamped on it. The policy
        topic is consumed apart from the assignments, so a new version can arrive a little
        later than the first lead routed by it: for `wait` after this monitor first saw the
        assignment it waits for the version (retried, not dead-lettered); after that the
        latest version received stands in, and the deadline records which one it ran by."""
        version = assigned.policy_version
        try:
            terms = await self.terms(conn, version)
        except UnknownVersion:
            pass
        else:
            self._waiting_since.pop(event_id, None)
            return version, terms
        first_seen = self._waiting_since.setdefault(event_id, time.monotonic())
        latest = await latest_policy_version(conn)
        if time.monotonic() - first_seen < self._wait or latest is None:
            raise NotYet(f"policy version {version!r} not received yet")
        del self._waiting_since[event_id]
        log.warning(
            "assignment judged by the latest policy version received",
            lead_key=assigned.lead_key,
            stamped=version,
            used=latest,
        )
        return latest, await self.terms(conn, latest)
