"""Read side of the /sla API: a lead's deadlines, the open ones, and the compliance numbers.

Definitions (the shared numbers sales and marketing hold each other to):
- a deadline is *decided* once it was met or breached; one cancelled by a reassignment
  before its due time never is, and is left out of every figure;
- *met in time*: the first qualifying touch came by the due time;
- *breached*: decided and not met in time (including a touch that came late);
- *compliance rate*: met in time / decided;
- *time to first touch*: median and 90th percentile over the met deadlines, in wall-clock
  minutes and in the owner's business minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_sla_monitor.db.tables import deadlines, touches

DIMENSIONS = {
    "owner": deadlines.c.owner_id,
    "team": deadlines.c.team,
    "tier": deadlines.c.tier,
    "source": deadlines.c.source,
}


async def lead_deadlines(conn: AsyncConnection, lead_key: str) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            select(deadlines)
            .where(deadlines.c.lead_key == lead_key)
            .order_by(deadlines.c.opened_at.desc(), deadlines.c.deadline_id)
        )
    ).all()


async def unmatched_touches(conn: AsyncConnection, lead_key: str) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            select(touches)
            .where(touches.c.lead_key == lead_key, touches.c.deadline_id.is_(None))
            .order_by(touches.c.touched_at)
        )
    ).all()


async def open_page(
    conn: AsyncConnection,
    *,
    owner: str | None,
    team: str | None,
    tier: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Open deadlines, soonest due first, after the keyset cursor `(due_at, deadline_id)`."""
    query = select(deadlines).where(deadlines.c.closed_at.is_(None))
    for column, value in ((deadlines.c.owner_id, owner), (deadlines.c.team, team)):
        if value is not None:
            query = query.where(column == value)
    if tier is not None:
        query = query.where(deadlines.c.tier == tier)
    if after is not None:
        query = query.where(tuple_(deadlines.c.due_at, deadlines.c.deadline_id) > after)
    query = query.order_by(deadlines.c.due_at, deadlines.c.deadline_id).limit(limit)
    return (await conn.execute(query)).all()


async def compliance(
    conn: AsyncConnection, since: datetime, until: datetime, by: Sequence[str]
) -> list[dict[str, Any]]:
    """The figures for deadlines opened in [since, until): overall, then per value of
    each dimension in `by`, in one pass (GROUPING SETS)."""
    decided = or_(deadlines.c.within_target.is_not(None), deadlines.c.breached_at.is_not(None))
    in_time = deadlines.c.within_target.is_(True)
    wall = deadlines.c.minutes_to_first_touch
    business = deadlines.c.business_minutes_to_first_touch
    columns = {name: DIMENSIONS[name] for name in by}
    grouping = [func.grouping(column).label(f"g_{name}") for name, column in columns.items()]
    query = (
        select(
            *[column.label(name) for name, column in columns.items()],
            *grouping,
            func.count().label("deadlines"),
            func.count().filter(decided).label("decided"),
            func.count().filter(in_time).label("met_in_time"),
            func.count().filter(deadlines.c.status == "met").label("met"),
            func.count().filter(deadlines.c.closed_at.is_(None)).label("open"),
            *[
                func.percentile_cont(q).within_group(column).label(label)
                for q, column, label in (
                    (0.5, wall, "median_minutes"),
                    (0.9, wall, "p90_minutes"),
                    (0.5, business, "median_business_minutes"),
                    (0.9, business, "p90_business_minutes"),
                )
            ],
        )
        .where(
            deadlines.c.opened_at >= since,
            deadlines.c.opened_at < until,
            deadlines.c.status != "cancelled",
        )
        .group_by(func.grouping_sets(text("()"), *[tuple_(column) for column in columns.values()]))
    )
    rows = (await conn.execute(query)).all()
    return [_figures(row, by) for row in rows]


def _figures(row: Any, by: Sequence[str]) -> dict[str, Any]:
    values = row._mapping
    group = next((name for name in by if values[f"g_{name}"] == 0), None)
    decided, met_in_time = values["decided"], values["met_in_time"]
    return {
        "group": group,
        "value": values[group] if group else None,
        "deadlines": values["deadlines"],
        "open": values["open"],
        "decided": decided,
        "met_in_time": met_in_time,
        "breached": decided - met_in_time,
        "met": values["met"],
        "compliance_rate": round(met_in_time / decided, 4) if decided else None,
        "median_minutes_to_first_touch": _minutes(values["median_minutes"]),
        "p90_minutes_to_first_touch": _minutes(values["p90_minutes"]),
        "median_business_minutes_to_first_touch": _minutes(values["median_business_minutes"]),
        "p90_business_minutes_to_first_touch": _minutes(values["p90_business_minutes"]),
    }


def _minutes(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
