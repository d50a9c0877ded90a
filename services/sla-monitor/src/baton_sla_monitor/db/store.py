"""Deadlines, touches and policy versions in and out of the database. Rows are written back
whole (one upsert per table and batch, given as rows for the caller to write with its
outbox rows); reads that precede a change lock the rows in
deadline id order, the same order the timer locks them in, so the two never deadlock."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_runtime.bulk import BulkInsert, Rows, upsert_tail
from baton_runtime.db import among, lock_keys
from baton_schemas import PolicyActivated
from baton_schemas.events.lead import Owner
from baton_schemas.sla_policy import SlaPolicy
from baton_sla_monitor.db.tables import deadlines, sla_policies, touches
from baton_sla_monitor.domain.lifecycle import Deadline, Touch

DEADLINE_COLUMNS = tuple(column.name for column in deadlines.columns)
_SAVE_DEADLINES = BulkInsert(
    deadlines, DEADLINE_COLUMNS, tail=upsert_tail("deadline_id", DEADLINE_COLUMNS)
)
SWEEP_BATCH = 500
"""Due deadlines a sweep locks per transaction."""
_SAVE_TOUCHES = BulkInsert(
    touches,
    ("crm_event_id", "lead_key", "touched_at", "activity_type", "direction", "deadline_id"),
    # A touch met at most one deadline; a repeat of it never unmatches it.
    tail='ON CONFLICT ("crm_event_id") DO UPDATE SET "deadline_id" = '
    'COALESCE("touches"."deadline_id", EXCLUDED."deadline_id")',
)


# policy versions ---------------------------------------------------------------------


_POLICIES = BulkInsert(
    sla_policies, ("version", "sla", "activated_at"), tail='ON CONFLICT ("version") DO NOTHING'
)


def policy_rows(events: Iterable[PolicyActivated]) -> Rows:
    """Each version's SLA terms (null: none). A version never changes: a repeat is ignored."""
    return _POLICIES.of(
        [
            (
                event.version,
                event.sla.model_dump_json() if event.sla is not None else None,
                event.activated_at,
            )
            for event in events
        ]
    )


async def load_policy(conn: AsyncConnection, version: str) -> tuple[bool, SlaPolicy | None]:
    """(known, terms) of `version`; terms are None for a version without an sla: section."""
    row = (
        await conn.execute(select(sla_policies.c.sla).where(sla_policies.c.version == version))
    ).first()
    if row is None:
        return False, None
    return True, SlaPolicy.model_validate(row.sla) if row.sla is not None else None


async def latest_policy_version(conn: AsyncConnection) -> str | None:
    return (
        await conn.execute(
            select(sla_policies.c.version).order_by(sla_policies.c.activated_at.desc()).limit(1)
        )
    ).scalar_one_or_none()


# deadlines ---------------------------------------------------------------------------


def _deadline_of(row: Any) -> Deadline:
    values = dict(row._mapping)
    values["owner"] = Owner.model_validate(values["owner"]) if values["owner"] else None
    values["rung_times"] = [datetime.fromisoformat(at) for at in values["rung_times"]]
    return Deadline(**values)


def _row_of(deadline: Deadline) -> tuple[Any, ...]:
    values = vars(deadline).copy()
    values["owner"] = deadline.owner.model_dump_json() if deadline.owner else None
    values["rung_times"] = json.dumps([at.isoformat() for at in deadline.rung_times])
    return tuple(values[name] for name in DEADLINE_COLUMNS)


def deadline_rows(changed: Iterable[Deadline]) -> Rows:
    """The deadlines, written back whole."""
    return _SAVE_DEADLINES.of([_row_of(deadline) for deadline in changed])


async def lock_leads(conn: AsyncConnection, lead_keys: Collection[str]) -> None:
    """A touch and the deadline it meets must never commit unseen by each other."""
    await lock_keys(conn, "baton.sla-monitor.lead", lead_keys)


async def newest_assignments(
    conn: AsyncConnection, lead_keys: Collection[str]
) -> dict[str, tuple[int, datetime]]:
    """Per lead, (attempt, time) of the newest assignment kept, open or closed."""
    rows = await conn.execute(
        select(deadlines.c.lead_key, deadlines.c.attempt, deadlines.c.opened_at)
        .where(among(deadlines.c.lead_key, lead_keys))
        .order_by(deadlines.c.lead_key, deadlines.c.attempt.desc(), deadlines.c.opened_at.desc())
        .ext(distinct_on(deadlines.c.lead_key))
    )
    return {row.lead_key: (row.attempt, row.opened_at) for row in rows}


async def open_deadlines(conn: AsyncConnection, lead_keys: Collection[str]) -> dict[str, Deadline]:
    """The open deadline of each lead (the newest, should there be more), locked."""
    query = (
        select(deadlines)
        .where(among(deadlines.c.lead_key, lead_keys), deadlines.c.closed_at.is_(None))
        .order_by(deadlines.c.deadline_id)
        .with_for_update()
    )
    found: dict[str, Deadline] = {}
    for row in await conn.execute(query):
        deadline = _deadline_of(row)
        current = found.get(deadline.lead_key)
        if current is None or deadline.supersedes(current):
            found[deadline.lead_key] = deadline
    return found


async def due_deadlines(
    conn: AsyncConnection, now: datetime, ids: Sequence[str] | None = None
) -> list[Deadline]:
    """Deadlines with a step due by `now`, locked: the ones named (waiting for a lock
    another transaction holds, then re-checked), or any (skipping locked rows; a sweep)."""
    query: Select[Any] = select(deadlines).where(deadlines.c.next_fire_at <= now)
    if ids is not None:
        query = query.where(among(deadlines.c.deadline_id, ids)).order_by(deadlines.c.deadline_id)
        query = query.with_for_update()
    else:
        query = query.order_by(deadlines.c.next_fire_at).limit(SWEEP_BATCH)
        query = query.with_for_update(skip_locked=True)
    return [_deadline_of(row) for row in await conn.execute(query)]


async def upcoming(conn: AsyncConnection, until: datetime) -> list[tuple[str, datetime]]:
    """(deadline id, next fire time) of every step due before `until`."""
    rows = await conn.execute(
        select(deadlines.c.deadline_id, deadlines.c.next_fire_at).where(
            deadlines.c.next_fire_at <= until
        )
    )
    return [(row.deadline_id, row.next_fire_at) for row in rows]


async def breached_owners(conn: AsyncConnection, lead_keys: Collection[str]) -> dict[str, set[str]]:
    """Per lead, every owner who breached a deadline of it."""
    rows = await conn.execute(
        select(deadlines.c.lead_key, deadlines.c.owner_id).where(
            among(deadlines.c.lead_key, lead_keys),
            deadlines.c.breached_at.is_not(None),
            deadlines.c.owner_id.is_not(None),
        )
    )
    found: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        found[row.lead_key].add(row.owner_id)
    return found


# touches ----------------------------------------------------------------------------


async def unmatched_touches(
    conn: AsyncConnection, lead_keys: Collection[str]
) -> dict[str, list[Touch]]:
    """Per lead, the touches no deadline has taken yet, oldest first."""
    rows = await conn.execute(
        select(touches)
        .where(among(touches.c.lead_key, lead_keys), touches.c.deadline_id.is_(None))
        .order_by(touches.c.touched_at)
    )
    found: dict[str, list[Touch]] = defaultdict(list)
    for row in rows:
        found[row.lead_key].append(
            Touch(
                crm_event_id=row.crm_event_id,
                lead_key=row.lead_key,
                touched_at=row.touched_at,
                activity_type=row.activity_type,
                direction=row.direction,
            )
        )
    return found


def touch_rows(matched: dict[str, tuple[Touch, str | None]]) -> Rows:
    """Touches with the deadline each met (None: none yet)."""
    return _SAVE_TOUCHES.of(
        [
            (t.crm_event_id, t.lead_key, t.touched_at, t.activity_type, t.direction, deadline_id)
            for t, deadline_id in matched.values()
        ]
    )
