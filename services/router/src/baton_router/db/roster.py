"""Loading the roster for routing and saving what routing changed.

Routing reads the roster (`db.routing_state`) and locks every pool row for the batch's
transaction: pool cursors and rep loads are then read and written by one router at a
time, which is what keeps round robins fair across replicas and restarts. What routing
changed goes back as rows the consumer writes with the batch's outbox rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.tables import pool_members, pools, rep_loads
from baton_router.domain.routing.roster import (
    Pool,
    PoolMember,
    Rep,
    RosterSnapshot,
    Shift,
)
from baton_runtime.bulk import BulkInsert, Rows, upsert_tail, write_all


def rep_from_row(row: Mapping[str, Any]) -> Rep:
    return Rep(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        time_zone=row["time_zone"],
        working_hours=tuple(
            Shift.parse(item["weekday"], item["start"], item["end"])
            for item in row["working_hours"]
        ),
        out_of_office=tuple(
            (datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"]))
            for item in row["out_of_office"]
        ),
        active=row["active"],
        daily_cap=row["daily_cap"],
        open_cap=row["open_cap"],
        country=row["country"],
        region=row["region"],
        team=row["team"],
    )


def rep_to_row(rep: Rep) -> dict[str, Any]:
    return {
        "id": rep.id,
        "name": rep.name,
        "email": rep.email,
        "time_zone": rep.time_zone,
        "working_hours": [shift.as_clock() for shift in rep.working_hours],
        "out_of_office": [
            {"start": start.isoformat(), "end": end.isoformat()} for start, end in rep.out_of_office
        ],
        "active": rep.active,
        "daily_cap": rep.daily_cap,
        "open_cap": rep.open_cap,
        "country": rep.country,
        "region": rep.region,
        "team": rep.team,
    }


def local_day(rep: Rep, now: datetime) -> date:
    return now.astimezone(rep.zone).date()


def pools_from(
    pool_rows: Iterable[Mapping[Any, Any]], member_rows: Iterable[Mapping[Any, Any]]
) -> list[Pool]:
    """Pools from their rows and their members' rows (in position order)."""
    members: dict[str, list[PoolMember]] = {}
    for row in member_rows:
        members.setdefault(row["pool_name"], []).append(
            PoolMember(
                rep_id=row["rep_id"], weight=row["weight"], pointer=row["pointer"], away=row["away"]
            )
        )
    return [
        Pool(
            name=row["name"],
            strategy=row["strategy"],
            members=tuple(members.get(row["name"], ())),
            respect_working_hours=row["respect_working_hours"],
            rr_cursor=row["rr_cursor"],
        )
        for row in pool_rows
    ]


MEMBERS_IN_ORDER = select(pool_members).order_by(pool_members.c.pool_name, pool_members.c.position)
_MEMBER_COLUMNS = ("pool_name", "rep_id", "position", "weight", "pointer", "away")
_MEMBERS = BulkInsert(
    pool_members, _MEMBER_COLUMNS, tail=upsert_tail(("pool_name", "rep_id"), _MEMBER_COLUMNS)
)
_POOL_COLUMNS = ("name", "strategy", "respect_working_hours", "rr_cursor")
# Routing moves only the cursor; the definition is the roster API's to change.
_CURSORS = BulkInsert(pools, _POOL_COLUMNS, tail=upsert_tail("name", ("name", "rr_cursor")))
_LOAD_COLUMNS = ("rep_id", "day", "assigned_today", "open_leads")
_LOADS = BulkInsert(rep_loads, _LOAD_COLUMNS, tail=upsert_tail("rep_id", _LOAD_COLUMNS))


def pool_state_rows(changed: Iterable[Pool]) -> list[Rows]:
    """Each changed pool's cursor and every member's state (pointer, away)."""
    cursors = []
    members = []
    for pool in changed:
        cursors.append((pool.name, pool.strategy, pool.respect_working_hours, pool.rr_cursor))
        members += [
            (pool.name, member.rep_id, position, member.weight, member.pointer, member.away)
            for position, member in enumerate(pool.members)
        ]
    return [_CURSORS.of(cursors), _MEMBERS.of(members)]


async def replace_pool(conn: AsyncConnection, pool: Pool) -> None:
    """Create or redefine a pool (roster API), keeping the state of members who stay."""
    statement = insert(pools).values(
        name=pool.name,
        strategy=pool.strategy,
        respect_working_hours=pool.respect_working_hours,
        rr_cursor=pool.rr_cursor,
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[pools.c.name],
            set_={
                "strategy": statement.excluded.strategy,
                "respect_working_hours": statement.excluded.respect_working_hours,
                "rr_cursor": statement.excluded.rr_cursor,
            },
        )
    )
    keep = [member.rep_id for member in pool.members]
    await conn.execute(
        delete(pool_members).where(
            pool_members.c.pool_name == pool.name, pool_members.c.rep_id.not_in(keep)
        )
    )
    await write_all(conn, pool_state_rows([pool]))


def load_rows(roster: RosterSnapshot, rep_ids: Iterable[str], now: datetime) -> Rows:
    rows = []
    for rep_id in sorted(set(rep_ids)):
        if rep_id in roster.reps:
            load = roster.load(rep_id)
            day = local_day(roster.reps[rep_id], now)
            rows.append((rep_id, day, load.assigned_today, load.open_leads))
    return _LOADS.of(rows)


def changed_pools(before: Mapping[str, Pool], after: Mapping[str, Pool]) -> list[Pool]:
    return [pool for name, pool in after.items() if before.get(name) != pool]
