"""Queries behind the admin APIs: one rep, one pool, account owners, lead history, the audit
log. Writers lock what routing locks, in the same order (pools by name, then reps' loads),
so an API change and a routing batch never deadlock and never lose each other's update."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.roster import MEMBERS_IN_ORDER, pools_from, rep_to_row, replace_pool
from baton_router.db.tables import (
    account_owners,
    assignments,
    audit_log,
    lead_identities,
    leads,
    pool_members,
    pools,
    rep_loads,
    reps,
)
from baton_router.domain.routing.roster import Pool, Rep

# Reps ---------------------------------------------------------------------------------------


async def get_rep(conn: AsyncConnection, rep_id: str, *, lock: bool = False) -> Any | None:
    query = select(reps).where(reps.c.id == rep_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def list_reps(conn: AsyncConnection) -> Sequence[Any]:
    return (await conn.execute(select(reps).order_by(reps.c.id))).all()


async def existing_rep_ids(
    conn: AsyncConnection, rep_ids: Iterable[str], *, hold: bool = False
) -> set[str]:
    """The ids that are reps. `hold` keeps them from being deleted until commit (FOR KEY
    SHARE, what a foreign key takes); take it after any pool lock, as rep deletion does."""
    wanted = sorted(set(rep_ids))
    if not wanted:
        return set()
    query = select(reps.c.id).where(reps.c.id.in_(wanted)).order_by(reps.c.id)
    if hold:
        query = query.with_for_update(key_share=True)
    rows = await conn.execute(query)
    return {row.id for row in rows}


async def upsert_rep(conn: AsyncConnection, row: dict[str, Any]) -> None:
    statement = insert(reps).values(**row)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[reps.c.id],
            set_={
                **{name: statement.excluded[name] for name in row if name != "id"},
                "updated_at": func.now(),
            },
        )
    )


async def update_rep(conn: AsyncConnection, rep_id: str, **values: Any) -> None:
    await conn.execute(
        update(reps).where(reps.c.id == rep_id).values(**values, updated_at=func.now())
    )


async def delete_rep(conn: AsyncConnection, rep_id: str) -> None:
    await conn.execute(delete(reps).where(reps.c.id == rep_id))


async def rep_load(conn: AsyncConnection, rep_id: str) -> Any | None:
    return (await conn.execute(select(rep_loads).where(rep_loads.c.rep_id == rep_id))).first()


async def pools_of(conn: AsyncConnection, rep_id: str) -> list[str]:
    rows = await conn.execute(
        select(pool_members.c.pool_name)
        .where(pool_members.c.rep_id == rep_id)
        .order_by(pool_members.c.pool_name)
    )
    return [row.pool_name for row in rows]


# Pools --------------------------------------------------------------------------------------


async def load_pool(conn: AsyncConnection, name: str, *, lock: bool) -> Pool | None:
    """One pool with its members in order; `lock` holds the pool row as routing does."""
    query = select(pools).where(pools.c.name == name)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    members = await conn.execute(MEMBERS_IN_ORDER.where(pool_members.c.pool_name == name))
    return pools_from([row._mapping], (member._mapping for member in members))[0]


async def load_pools(conn: AsyncConnection) -> list[tuple[Pool, datetime]]:
    """Every pool, by name, with when it was last changed."""
    rows = (await conn.execute(select(pools).order_by(pools.c.name))).all()
    members = await conn.execute(MEMBERS_IN_ORDER)
    found = pools_from((row._mapping for row in rows), (member._mapping for member in members))
    return list(zip(found, (row.updated_at for row in rows), strict=True))


async def pool_updated_at(conn: AsyncConnection, name: str) -> datetime | None:
    value = await conn.execute(select(pools.c.updated_at).where(pools.c.name == name))
    return value.scalar_one_or_none()


async def touch_pool(conn: AsyncConnection, name: str) -> None:
    await conn.execute(update(pools).where(pools.c.name == name).values(updated_at=func.now()))


async def delete_pool(conn: AsyncConnection, name: str) -> None:
    await conn.execute(delete(pools).where(pools.c.name == name))


async def pool_assignment_counts(
    conn: AsyncConnection, pool: str, since: datetime
) -> dict[str, int]:
    """Leads the pool's strategy gave each rep since `since` (duplicates and account-owner
    assignments name no pool, so they do not count)."""
    rows = await conn.execute(
        select(assignments.c.owner_id, func.count().label("assigned"))
        .where(
            assignments.c.decision["pool"].astext == pool,
            assignments.c.owner_id.is_not(None),
            assignments.c.assigned_at >= since,
        )
        .group_by(assignments.c.owner_id)
    )
    return {row.owner_id: int(row.assigned) for row in rows}


# Account owners -----------------------------------------------------------------------------


async def get_account(conn: AsyncConnection, domain: str) -> Any | None:
    query = select(account_owners).where(account_owners.c.domain == domain)
    return (await conn.execute(query)).first()


async def list_accounts(conn: AsyncConnection, rep_id: str | None = None) -> Sequence[Any]:
    query = select(account_owners).order_by(account_owners.c.domain)
    if rep_id is not None:
        query = query.where(account_owners.c.rep_id == rep_id)
    return (await conn.execute(query)).all()


async def set_account(conn: AsyncConnection, domain: str, rep_id: str) -> None:
    statement = insert(account_owners).values(domain=domain, rep_id=rep_id)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[account_owners.c.domain],
            set_={"rep_id": statement.excluded.rep_id, "updated_at": func.now()},
        )
    )


async def delete_account(conn: AsyncConnection, domain: str) -> None:
    await conn.execute(delete(account_owners).where(account_owners.c.domain == domain))


# Leads --------------------------------------------------------------------------------------


async def resolve_lead_key(conn: AsyncConnection, lead_key: str) -> str | None:
    """The key the lead is known under: itself, or the lead this key was merged into."""
    found = await conn.execute(select(leads.c.lead_key).where(leads.c.lead_key == lead_key))
    if found.scalar_one_or_none() is not None:
        return lead_key
    merged = await conn.execute(
        select(lead_identities.c.lead_key).where(lead_identities.c.identity == f"key:{lead_key}")
    )
    return merged.scalar_one_or_none()


async def current_lead(conn: AsyncConnection, lead_key: str) -> Any | None:
    """The lead's row, not locked (for reads and simulations)."""
    return (await conn.execute(select(leads).where(leads.c.lead_key == lead_key))).first()


async def lead_history(conn: AsyncConnection, lead_key: str) -> list[Any]:
    """Every decision for the lead, oldest first. Decisions of one batch share a timestamp;
    the insert order (ctid: the rows are never updated) breaks those ties."""
    query = (
        select(assignments.c.assigned_event_id, assignments.c.decision)
        .where(assignments.c.lead_key == lead_key)
        .order_by(assignments.c.seq)
    )
    return list((await conn.execute(query)).all())


# Audit --------------------------------------------------------------------------------------


async def audit_entries(
    conn: AsyncConnection,
    *,
    limit: int,
    action: str | None = None,
    subject: str | None = None,
    actor: str | None = None,
) -> Sequence[Any]:
    """Newest first."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    return (await conn.execute(query)).all()


async def put_roster(
    conn: AsyncConnection,
    reps: Iterable[Rep],
    pools: Iterable[Pool],
    accounts: Mapping[str, str] | None = None,
) -> None:
    """Reps, pools and account owners in one go (seeding a roster: demos, tests, bench)."""
    for rep in reps:
        await upsert_rep(conn, rep_to_row(rep))
    for pool in pools:
        await replace_pool(conn, pool)
    for domain, rep_id in (accounts or {}).items():
        await set_account(conn, domain, rep_id)
