"""Everything a routing decision reads, in one statement.

The active policy's version, the learned model's revision, the roster (pools locked in
name order, so replicas never deadlock, then reps, members and loads, locked) and what the
batch asks about its leads (`LeadQuery`): which known person each incoming lead is, the
current decision of every lead concerned (locked, after the roster) and the account
owners of their domains. Each set comes back as one JSON array: one round trip instead of
one per table, which is most of a small batch's time. Keys are gathered into arrays
(`= ANY(ARRAY(...))`) so every lookup stays an index scan; an `OR` of two conditions
would scan the whole table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.leads import NO_LEADS, LeadQuery, LeadsFound
from baton_router.db.roster import local_day, pools_from, rep_from_row
from baton_router.domain.routing.roster import RepLoad, RosterSnapshot


@dataclass(frozen=True)
class RoutingState:
    policy_version: str | None
    """The active policy's version (None before one is activated)."""
    roster: RosterSnapshot
    learned_revision: int = 0
    """The closed-deal model's latest revision (0: no deals yet)."""
    leads: LeadsFound = field(default_factory=LeadsFound)


_STATEMENT = """
WITH wanted AS (
  SELECT * FROM unnest(CAST(:wanted_keys AS text[]), CAST(:wanted_identities AS text[]))
    WITH ORDINALITY AS w(lead_key, identity, position)
), canonical AS (
  SELECT DISTINCT ON (w.lead_key) w.lead_key, i.lead_key AS canonical
  FROM wanted AS w JOIN lead_identities AS i ON i.identity = w.identity
  WHERE i.identity = ANY(CAST(:wanted_identities AS text[]))
  ORDER BY w.lead_key, w.position
), known AS MATERIALIZED (
  SELECT lead_key, owner_id, attempt, previous_owners, assigned_at, last_assigned_event_id,
         last_captured_event_id, captured, company_domain
  FROM leads
  WHERE lead_key = ANY(ARRAY(
    SELECT unnest(CAST(:keys AS text[])) UNION SELECT canonical FROM canonical))
  ORDER BY lead_key {lock}
)
SELECT
  (SELECT version FROM policy_versions WHERE active) AS policy_version,
  (SELECT coalesce(max(revision), 0) FROM closed_deals) AS learned_revision,
  (SELECT coalesce(json_agg(p ORDER BY p.name), '[]')::text
     FROM (SELECT name, strategy, respect_working_hours, rr_cursor
           FROM pools ORDER BY name {lock}) AS p) AS pools,
  (SELECT coalesce(json_agg(r), '[]')::text FROM reps AS r) AS reps,
  (SELECT coalesce(json_agg(m ORDER BY m.pool_name, m.position), '[]')::text
     FROM pool_members AS m) AS members,
  (SELECT coalesce(json_agg(l ORDER BY l.rep_id), '[]')::text
     FROM (SELECT rep_id, day, assigned_today, open_leads
           FROM rep_loads ORDER BY rep_id {lock}) AS l) AS loads,
  (SELECT coalesce(json_agg(json_build_array(lead_key, canonical)), '[]')::text
     FROM canonical) AS canonical,
  (SELECT coalesce(json_agg(k), '[]')::text FROM known AS k) AS known,
  (SELECT coalesce(json_agg(json_build_array(domain, rep_id)), '[]')::text
     FROM account_owners
     WHERE domain = ANY(ARRAY(
       SELECT unnest(CAST(:domains AS text[])) UNION SELECT company_domain FROM known)))
     AS account_owners
"""
_LOCKED = text(_STATEMENT.format(lock="FOR UPDATE"))
_UNLOCKED = text(_STATEMENT.format(lock=""))


async def load_routing_state(
    conn: AsyncConnection, now: datetime, *, lock: bool, leads: LeadQuery = NO_LEADS
) -> RoutingState:
    """The roster as of `now` (today's loads in each rep's zone), the active policy version
    and the answer to `leads`; `lock` holds pools, loads and the leads until the
    transaction ends, as routing needs."""
    row = (await conn.execute(_LOCKED if lock else _UNLOCKED, leads.params())).one()
    roster_reps = {rep.id: rep for rep in map(rep_from_row, json.loads(row.reps))}
    loads = {}
    for load in json.loads(row.loads):
        rep = roster_reps.get(load["rep_id"])
        today = rep is not None and date.fromisoformat(load["day"]) == local_day(rep, now)
        loads[load["rep_id"]] = RepLoad(
            assigned_today=load["assigned_today"] if today else 0,
            open_leads=load["open_leads"],
        )
    roster_pools = pools_from(json.loads(row.pools), json.loads(row.members))
    return RoutingState(
        policy_version=row.policy_version,
        learned_revision=row.learned_revision,
        roster=RosterSnapshot.of(roster_reps.values(), roster_pools, loads),
        leads=LeadsFound.from_json(row.canonical, row.known, row.account_owners),
    )
