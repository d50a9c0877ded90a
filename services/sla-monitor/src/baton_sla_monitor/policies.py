"""The SLA terms of each policy version, as the router announced them on the policy topic.
A version never changes once announced, so it is cached for the life of the process."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from baton_runtime.errors import NotYet
from baton_runtime.logs import get_logger
from baton_schemas import LeadAssigned
from baton_schemas.sla_policy import SlaPolicy
from baton_sla_monitor.db.store import latest_policy_version, load_policy

log = get_logger(__name__)


class PolicyBook:
    def __init__(self, wait: timedelta) -> None:
        self._wait = wait
        self._known: dict[str, SlaPolicy | None] = {}

    async def terms(self, conn: AsyncConnection, version: str) -> SlaPolicy | None:
        """The SLA terms of a version this monitor has received (None: it has no sla:)."""
        if version not in self._known:
            known, sla = await load_policy(conn, version)
            if not known:
                raise LookupError(f"policy version {version!r} was never announced")
            self._known[version] = sla
        return self._known[version]

    async def for_assignment(
        self, conn: AsyncConnection, assigned: LeadAssigned, now: datetime
    ) -> tuple[str, SlaPolicy | None]:
        """(version, terms) to judge `assigned` by: the version stamped on it. The policy
        topic is consumed apart from the assignments, so a new version can arrive a little
        later than the first lead routed by it: within `wait` of the assignment the record
        waits for it (retried, not dead-lettered); after that the latest version received
        stands in, and the deadline records which version it ran by."""
        version = assigned.policy_version
        try:
            return version, await self.terms(conn, version)
        except LookupError:
            pass
        latest = await latest_policy_version(conn)
        if now - assigned.assigned_at < self._wait or latest is None:
            raise NotYet(f"policy version {version!r} not received yet")
        log.warning(
            "assignment judged by the latest policy version received",
            lead_key=assigned.lead_key,
            stamped=version,
            used=latest,
        )
        return latest, await self.terms(conn, latest)
