"""Policy versions in the database: the active one is what every replica routes by."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.audit import audit
from baton_router.db.tables import policy_versions


class ActivePolicy(NamedTuple):
    version: str
    document: str
    source: str


async def lock_policy_versions(conn: AsyncConnection) -> None:
    """One activation at a time, until the transaction ends: two would each find no active
    version (or the old one), clear `active`, and collide on the one-active index. Replicas
    starting together on an empty database do exactly that. Readers are not blocked."""
    await conn.execute(text("LOCK TABLE policy_versions IN SHARE ROW EXCLUSIVE MODE"))


async def active_version(conn: AsyncConnection) -> ActivePolicy | None:
    """The active policy, if one was ever activated."""
    row = (
        await conn.execute(
            select(
                policy_versions.c.version, policy_versions.c.document, policy_versions.c.source
            ).where(policy_versions.c.active)
        )
    ).first()
    return ActivePolicy(row.version, row.document, row.source) if row else None


async def activate(
    conn: AsyncConnection, *, version: str, document: str, source: str, actor: str
) -> None:
    """Make `version` the active policy. A version's document never changes once stored.
    The caller announces it (`announce`) in the same transaction."""
    existing = (
        await conn.execute(
            select(policy_versions.c.document).where(policy_versions.c.version == version)
        )
    ).scalar_one_or_none()
    if existing is not None and existing != document:
        raise ValueError(f"policy version {version!r} already exists with other content; bump it")
    await conn.execute(update(policy_versions).where(policy_versions.c.active).values(active=False))
    statement = insert(policy_versions).values(
        version=version, document=document, source=source, active=True
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[policy_versions.c.version], set_={"active": True}
        )
    )
    await audit(
        conn, actor=actor, action="policy.activate", subject=version, detail={"source": source}
    )
