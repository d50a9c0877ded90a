"""The roster API: reps (availability, out-of-office, capacity), pools, account owners.

Every change is one transaction that also writes its audit row (actor = the API key's
name). Routing reads the roster afresh for every batch, so a change applies to the next
lead routed, on every replica.

    GET/PUT/DELETE /roster/reps/{rep_id}          GET /roster/reps
    PUT            /roster/reps/{rep_id}/availability   {"active": false}
    POST/DELETE    /roster/reps/{rep_id}/out-of-office  {"start": ..., "end": ...}
    PUT            /roster/reps/{rep_id}/capacity       {"daily_cap": 20, "open_cap": null}
    GET/PUT/DELETE /roster/pools/{name}           GET /roster/pools
    GET/PUT/DELETE /roster/accounts/{domain}      GET /roster/accounts

Redefining a pool keeps the pointers (turn-taking state) of members who stay; newcomers
join at the pool's lowest pointer, so nobody gets a burst of leads and nobody is starved.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import (
    AwareDatetime,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.api.validation import ID_PATTERN, Closed, Text, engine, invalid
from baton_router.db import admin as db
from baton_router.db.audit import audit
from baton_router.db.roster import rep_to_row, replace_pool
from baton_router.domain.policy.model import Strategy
from baton_router.domain.routing.ownership import normalise_domain
from baton_router.domain.routing.roster import Pool, Rep, Shift
from baton_router.domain.routing.strategies import share_report
from baton_runtime.api_auth import admin_router, require_api_key
from baton_runtime.openapi import error_responses, json_object

MAX_CAP = 1_000_000
MAX_WEIGHT = 1_000.0
MAX_MEMBERS = 500
DOMAIN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")

Clock = Annotated[str, StringConstraints(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$")]
EndClock = Annotated[str, StringConstraints(pattern=r"^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$")]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=320, pattern=r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+$"
    ),
]
Cap = Annotated[StrictInt, Field(ge=0, le=MAX_CAP)]
RepId = Annotated[str, Path(pattern=ID_PATTERN, description="rep id")]
PoolName = Annotated[str, Path(pattern=ID_PATTERN, description="pool name")]
Actor = Annotated[str, Depends(require_api_key)]

NO_REP = error_responses(404, e404="no such rep")
NO_POOL = error_responses(404, e404="no such pool")
NO_ACCOUNT = error_responses(404, e404="no owner for that account domain")
CREATED: dict[int | str, dict[str, Any]] = {201: json_object("created (200: replaced)")}


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


# Request bodies -------------------------------------------------------------------------------


class ShiftIn(Closed):
    weekday: StrictInt = Field(ge=0, le=6, description="0 = Monday")
    start: Clock = Field(description="HH:MM, the rep's local time")
    end: EndClock = Field(description="HH:MM or 24:00; at or before start = past midnight")


class TimeRangeIn(Closed):
    start: AwareDatetime
    end: AwareDatetime

    @field_validator("start", "end")
    @classmethod
    def _sane_year(cls, value: datetime) -> datetime:
        if not 1970 <= value.year <= 9998:
            raise ValueError("year must be between 1970 and 9998")
        return value

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if isinstance(start, datetime) and end <= start:
            raise ValueError("end must be after start")
        return end


class RepIn(Closed):
    name: Text
    email: Email | None = None
    time_zone: str = Field(
        default="UTC", max_length=64, description="IANA zone, e.g. Europe/Berlin"
    )
    working_hours: list[ShiftIn] = Field(default_factory=list, max_length=100)
    out_of_office: list[TimeRangeIn] = Field(default_factory=list, max_length=500)
    active: StrictBool = True
    daily_cap: Cap | None = None
    open_cap: Cap | None = None
    country: Text | None = None
    region: Text | None = None
    team: Text | None = None

    @field_validator("time_zone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Berlin")
        return value


class AvailabilityIn(Closed):
    active: StrictBool


class CapacityIn(Closed):
    daily_cap: Cap | None = Field(description="leads per local day; null = no cap")
    open_cap: Cap | None = Field(description="open leads at once; null = no cap")


class MemberIn(Closed):
    rep_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    weight: StrictFloat = Field(default=1.0, gt=0, le=MAX_WEIGHT)


class PoolIn(Closed):
    strategy: Strategy
    respect_working_hours: StrictBool = False
    members: list[MemberIn] = Field(default_factory=list, max_length=MAX_MEMBERS)


class AccountIn(Closed):
    rep_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]


# Answers ----------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def rep_answer(row: Any, load: Any | None = None, pools: list[str] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"id": row.id, **_rep_detail(row), "updated_at": _iso(row.updated_at)}
    if pools is not None:
        answer["pools"] = pools
    if load is not None:
        answer["load"] = {
            "day": load.day.isoformat(),
            "assigned_today": load.assigned_today,
            "open_leads": load.open_leads,
        }
    return answer


def pool_answer(pool: Pool, updated_at: datetime | None) -> dict[str, Any]:
    return {
        "name": pool.name,
        "strategy": pool.strategy,
        "respect_working_hours": pool.respect_working_hours,
        "rr_cursor": pool.rr_cursor,
        "updated_at": _iso(updated_at),
        "members": [
            {
                "rep_id": member.rep_id,
                "position": position,
                "weight": member.weight,
                "pointer": member.pointer,
                "away": member.away,
            }
            for position, member in enumerate(pool.members)
        ],
    }


def pool_definition(pool: Pool) -> dict[str, Any]:
    """What an operator set (for the audit log), without routing state."""
    return {
        "strategy": pool.strategy,
        "respect_working_hours": pool.respect_working_hours,
        "members": [{"rep_id": m.rep_id, "weight": m.weight} for m in pool.members],
    }


def redefine(current: Pool, body: PoolIn) -> Pool:
    """The pool as `body` defines it, keeping the state of members who stay: their pointers
    and away flags, and whose turn it is next under plain round robin. Newcomers join at
    the lowest pointer (see `Pool.with_member`). Members are ordered as listed."""
    wanted = [member.rep_id for member in body.members]
    pool = current
    for member in current.members:
        if member.rep_id not in wanted:
            pool = pool.without_member(member.rep_id)
    next_up = pool.members[pool.rr_cursor % len(pool.members)].rep_id if pool.members else None
    for wanted_member in body.members:
        pool = pool.with_member(wanted_member.rep_id, wanted_member.weight)
    by_id = {member.rep_id: member for member in pool.members}
    return replace(
        pool,
        strategy=body.strategy,
        respect_working_hours=body.respect_working_hours,
        members=tuple(by_id[rep_id] for rep_id in wanted),
        rr_cursor=wanted.index(next_up) if next_up in wanted else 0,
    )


def _domain(value: str) -> str:
    domain = normalise_domain(value) if len(value) <= 300 else None
    if domain is None or not DOMAIN.match(domain):
        raise invalid((("path", "domain"), f"not a domain name: {value[:100]!r}"))
    return domain


def _not_found(kind: str, name: str) -> HTTPException:
    return HTTPException(404, f"no {kind} {name!r}")


async def _locked_rep(conn: AsyncConnection, rep_id: str) -> Any:
    row = await db.get_rep(conn, rep_id, lock=True)
    if row is None:
        raise _not_found("rep", rep_id)
    return row


# Routes -------------------------------------------------------------------------------------------


def roster_router() -> APIRouter:
    router = admin_router(prefix="/roster", tags=["roster"])

    # Reps

    @router.get("/reps")
    async def list_reps(request: Request) -> dict[str, Any]:
        async with engine(request).connect() as conn:
            rows = await db.list_reps(conn)
        return {"reps": [rep_answer(row) for row in rows]}

    @router.get("/reps/{rep_id}", responses=NO_REP)
    async def get_rep(rep_id: RepId, request: Request) -> dict[str, Any]:
        async with engine(request).connect() as conn:
            row = await db.get_rep(conn, rep_id)
            if row is None:
                raise _not_found("rep", rep_id)
            load = await db.rep_load(conn, rep_id)
            pools = await db.pools_of(conn, rep_id)
        return rep_answer(row, load, pools)

    @router.put("/reps/{rep_id}", responses=CREATED)
    async def put_rep(
        rep_id: RepId, body: RepIn, request: Request, response: Response, actor: Actor
    ) -> dict[str, Any]:
        try:
            rep = Rep(
                id=rep_id,
                name=body.name,
                email=body.email,
                time_zone=body.time_zone,
                working_hours=tuple(
                    Shift.parse(s.weekday, s.start, s.end) for s in body.working_hours
                ),
                out_of_office=tuple((r.start, r.end) for r in body.out_of_office),
                active=body.active,
                daily_cap=body.daily_cap,
                open_cap=body.open_cap,
                country=body.country,
                region=body.region,
                team=body.team,
            )
        except ValueError as exc:  # pragma: no cover - the model checks the same things
            raise invalid((("body",), str(exc))) from exc
        row = rep_to_row(rep)
        async with engine(request).begin() as conn:
            before = await db.get_rep(conn, rep_id, lock=True)
            await db.upsert_rep(conn, row)
            await audit(
                conn,
                actor=actor,
                action="rep.upsert",
                subject=rep_id,
                detail={
                    "before": _rep_detail(before) if before is not None else None,
                    "after": {k: v for k, v in row.items() if k != "id"},
                },
            )
            saved = await db.get_rep(conn, rep_id)
        response.status_code = 200 if before is not None else 201
        return rep_answer(saved)

    @router.delete("/reps/{rep_id}", responses=NO_REP)
    async def delete_rep(rep_id: RepId, request: Request, actor: Actor) -> dict[str, Any]:
        async with engine(request).begin() as conn:
            # Pools first, in name order, as routing locks them; then the rep.
            pool_names = await db.pools_of(conn, rep_id)
            for name in pool_names:
                pool = await db.load_pool(conn, name, lock=True)
                if pool is not None:
                    await replace_pool(conn, pool.without_member(rep_id))
            row = await _locked_rep(conn, rep_id)
            accounts = [a.domain for a in await db.list_accounts(conn, rep_id)]
            await db.delete_rep(conn, rep_id)
            await audit(
                conn,
                actor=actor,
                action="rep.delete",
                subject=rep_id,
                detail={
                    "before": _rep_detail(row),
                    "removed_from_pools": pool_names,
                    "released_accounts": accounts,
                },
            )
        return {"deleted": rep_id, "removed_from_pools": pool_names, "released_accounts": accounts}

    @router.put("/reps/{rep_id}/availability", responses=NO_REP)
    async def put_availability(
        rep_id: RepId, body: AvailabilityIn, request: Request, actor: Actor
    ) -> dict[str, Any]:
        async with engine(request).begin() as conn:
            row = await _locked_rep(conn, rep_id)
            await db.update_rep(conn, rep_id, active=body.active)
            await audit(
                conn,
                actor=actor,
                action="rep.availability",
                subject=rep_id,
                detail={"before": {"active": row.active}, "after": {"active": body.active}},
            )
            saved = await db.get_rep(conn, rep_id)
        return rep_answer(saved)

    @router.put("/reps/{rep_id}/capacity", responses=NO_REP)
    async def put_capacity(
        rep_id: RepId, body: CapacityIn, request: Request, actor: Actor
    ) -> dict[str, Any]:
        after = {"daily_cap": body.daily_cap, "open_cap": body.open_cap}
        async with engine(request).begin() as conn:
            row = await _locked_rep(conn, rep_id)
            await db.update_rep(conn, rep_id, **after)
            await audit(
                conn,
                actor=actor,
                action="rep.capacity",
                subject=rep_id,
                detail={
                    "before": {"daily_cap": row.daily_cap, "open_cap": row.open_cap},
                    "after": after,
                },
            )
            saved = await db.get_rep(conn, rep_id)
        return rep_answer(saved)

    @router.post("/reps/{rep_id}/out-of-office", responses=NO_REP)
    async def add_out_of_office(
        rep_id: RepId, body: TimeRangeIn, request: Request, actor: Actor
    ) -> dict[str, Any]:
        added = {"start": body.start.isoformat(), "end": body.end.isoformat()}
        async with engine(request).begin() as conn:
            row = await _locked_rep(conn, rep_id)
            ranges = list(row.out_of_office)
            if len(ranges) >= 500:
                raise invalid((("body",), "a rep has at most 500 out-of-office ranges"))
            if not any(_same_range(item, body.start, body.end) for item in ranges):
                ranges.append(added)
                ranges.sort(key=lambda item: datetime.fromisoformat(item["start"]))
                await db.update_rep(conn, rep_id, out_of_office=ranges)
                await audit(
                    conn,
                    actor=actor,
                    action="rep.out_of_office.add",
                    subject=rep_id,
                    detail=added,
                )
            saved = await db.get_rep(conn, rep_id)
        return rep_answer(saved)

    @router.delete(
        "/reps/{rep_id}/out-of-office",
        responses=error_responses(404, e404="no such rep, or the rep has no such range"),
    )
    async def remove_out_of_office(
        rep_id: RepId,
        request: Request,
        actor: Actor,
        start: Annotated[AwareDatetime, Query(description="the range's start, as stored")],
        end: Annotated[AwareDatetime, Query(description="the range's end, as stored")],
    ) -> dict[str, Any]:
        async with engine(request).begin() as conn:
            row = await _locked_rep(conn, rep_id)
            ranges = [item for item in row.out_of_office if not _same_range(item, start, end)]
            if len(ranges) == len(row.out_of_office):
                raise HTTPException(
                    404,
                    f"rep {rep_id!r} has no out-of-office range {start.isoformat()} - {end.isoformat()}",
                )
            await db.update_rep(conn, rep_id, out_of_office=ranges)
            await audit(
                conn,
                actor=actor,
                action="rep.out_of_office.remove",
                subject=rep_id,
                detail={"start": start.isoformat(), "end": end.isoformat()},
            )
            saved = await db.get_rep(conn, rep_id)
        return rep_answer(saved)

    # Pools

    @router.get("/pools")
    async def list_pools(request: Request) -> dict[str, Any]:
        async with engine(request).connect() as conn:
            pools = await db.load_pools(conn)
        return {"pools": [pool_answer(pool, updated_at) for pool, updated_at in pools]}

    @router.get("/pools/{name}", responses=NO_POOL)
    async def get_pool(
        name: PoolName,
        request: Request,
        days: Annotated[int, Query(ge=1, le=366, description="share report window")] = 30,
    ) -> dict[str, Any]:
        async with engine(request).connect() as conn:
            pool = await db.load_pool(conn, name, lock=False)
            if pool is None:
                raise _not_found("pool", name)
            updated_at = await db.pool_updated_at(conn, name)
            since = datetime.now(UTC) - timedelta(days=days)
            counts = await db.pool_assignment_counts(conn, name, since)
        return {**pool_answer(pool, updated_at), "share": _share(pool, counts, days, since)}

    @router.put("/pools/{name}", responses=CREATED)
    async def put_pool(
        name: PoolName, body: PoolIn, request: Request, response: Response, actor: Actor
    ) -> dict[str, Any]:
        ids = [member.rep_id for member in body.members]
        duplicates = [
            (("body", "members", index, "rep_id"), f"rep {rep_id!r} is listed twice")
            for index, rep_id in enumerate(ids)
            if rep_id in ids[:index]
        ]
        if duplicates:
            raise invalid(*duplicates)
        async with engine(request).begin() as conn:
            # The pool row first, then the reps: the order deleting a rep takes them in.
            current = await db.load_pool(conn, name, lock=True)
            known = await db.existing_rep_ids(conn, ids, hold=True)
            unknown = [
                (("body", "members", index, "rep_id"), f"unknown rep {rep_id!r}")
                for index, rep_id in enumerate(ids)
                if rep_id not in known
            ]
            if unknown:
                raise invalid(*unknown)
            pool = redefine(current or Pool(name=name, strategy=body.strategy), body)
            await replace_pool(conn, pool)
            await db.touch_pool(conn, name)
            await audit(
                conn,
                actor=actor,
                action="pool.upsert",
                subject=name,
                detail={
                    "before": pool_definition(current) if current is not None else None,
                    "after": pool_definition(pool),
                },
            )
            updated_at = await db.pool_updated_at(conn, name)
        response.status_code = 200 if current is not None else 201
        return pool_answer(pool, updated_at)

    @router.delete("/pools/{name}", responses=NO_POOL)
    async def delete_pool(name: PoolName, request: Request, actor: Actor) -> dict[str, Any]:
        async with engine(request).begin() as conn:
            current = await db.load_pool(conn, name, lock=True)
            if current is None:
                raise _not_found("pool", name)
            await db.delete_pool(conn, name)
            await audit(
                conn,
                actor=actor,
                action="pool.delete",
                subject=name,
                detail={"before": pool_definition(current)},
            )
        return {"deleted": name}

    # Account owners

    @router.get("/accounts")
    async def list_accounts(
        request: Request,
        rep_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    ) -> dict[str, Any]:
        async with engine(request).connect() as conn:
            rows = await db.list_accounts(conn, rep_id)
        return {"accounts": [_account_answer(row) for row in rows]}

    @router.get("/accounts/{domain}", responses=NO_ACCOUNT)
    async def get_account(domain: str, request: Request) -> dict[str, Any]:
        name = _domain(domain)
        async with engine(request).connect() as conn:
            row = await db.get_account(conn, name)
        if row is None:
            raise _not_found("account owner for", name)
        return _account_answer(row)

    @router.put("/accounts/{domain}", responses=CREATED)
    async def put_account(
        domain: str, body: AccountIn, request: Request, response: Response, actor: Actor
    ) -> dict[str, Any]:
        name = _domain(domain)
        async with engine(request).begin() as conn:
            if not await db.existing_rep_ids(conn, [body.rep_id], hold=True):
                raise invalid((("body", "rep_id"), f"unknown rep {body.rep_id!r}"))
            before = await db.get_account(conn, name)
            await db.set_account(conn, name, body.rep_id)
            await audit(
                conn,
                actor=actor,
                action="account.upsert",
                subject=name,
                detail={
                    "before": {"rep_id": before.rep_id} if before is not None else None,
                    "after": {"rep_id": body.rep_id},
                },
            )
            row = await db.get_account(conn, name)
        response.status_code = 200 if before is not None else 201
        return _account_answer(row)

    @router.delete("/accounts/{domain}", responses=NO_ACCOUNT)
    async def delete_account(domain: str, request: Request, actor: Actor) -> dict[str, Any]:
        name = _domain(domain)
        async with engine(request).begin() as conn:
            before = await db.get_account(conn, name)
            if before is None:
                raise _not_found("account owner for", name)
            await db.delete_account(conn, name)
            await audit(
                conn,
                actor=actor,
                action="account.delete",
                subject=name,
                detail={"before": {"rep_id": before.rep_id}},
            )
        return {"deleted": name}

    return router


def _rep_detail(row: Any) -> dict[str, Any]:
    return {
        name: getattr(row, name)
        for name in (
            "name",
            "email",
            "time_zone",
            "working_hours",
            "out_of_office",
            "active",
            "daily_cap",
            "open_cap",
            "country",
            "region",
            "team",
        )
    }


def _same_range(item: dict[str, str], start: datetime, end: datetime) -> bool:
    return (
        datetime.fromisoformat(item["start"]) == start
        and datetime.fromisoformat(item["end"]) == end
    )


def _share(pool: Pool, counts: dict[str, int], days: int, since: datetime) -> dict[str, Any]:
    lines = share_report(pool, counts)
    return {
        "window_days": days,
        "since": since.isoformat(),
        "total": sum(line.assigned for line in lines),
        "members": [
            {
                "rep_id": line.rep_id,
                "weight": line.weight,
                "assigned": line.assigned,
                "target": round(line.target, 4),
                "actual": round(line.actual, 4),
                "deviation": round(line.deviation, 4),
            }
            for line in lines
        ],
        "others": {
            rep_id: n for rep_id, n in sorted(counts.items()) if pool.member(rep_id) is None
        },
    }


def _account_answer(row: Any) -> dict[str, Any]:
    return {"domain": row.domain, "rep_id": row.rep_id, "updated_at": _iso(row.updated_at)}
