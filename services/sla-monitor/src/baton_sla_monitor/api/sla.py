"""The SLA API (bearer keys from SLA_MONITOR_API_KEYS):

GET /sla/leads/{lead_key}   the lead's deadlines, newest first, and touches waiting
                            for an assignment
GET /sla/open               open deadlines, soonest due first; filters owner, team,
                            tier; keyset pagination (`next` is the cursor to pass as
                            `after`)
GET /sla/stats              compliance over a window (`since`, `until`, default the
                            last 30 days), overall and by owner, team, tier, source
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from sqlalchemy import Row

from baton_runtime.api_auth import admin_router
from baton_runtime.app_state import runtime_of
from baton_runtime.openapi import error_responses
from baton_runtime.report_window import Instant, instant, report_window
from baton_sla_monitor.db import reports

PRINTABLE = r"^[^\x00-\x1f]+$"
Name = Annotated[str | None, Query(min_length=1, max_length=200, pattern=PRINTABLE)]
LeadKey = Annotated[str, Path(min_length=1, max_length=200, pattern=PRINTABLE)]
Dimension = Literal["owner", "team", "tier", "source"]


def sla_router() -> APIRouter:
    router = admin_router(prefix="/sla", tags=["sla"])

    @router.get(
        "/leads/{lead_key}",
        responses=error_responses(404, e404="no deadline or touch for the lead"),
    )
    async def lead(request: Request, lead_key: LeadKey) -> dict[str, Any]:
        async with runtime_of(request).engine.connect() as conn:
            found = await reports.lead_deadlines(conn, lead_key)
            waiting = await reports.unmatched_touches(conn, lead_key)
        if not found and not waiting:
            raise HTTPException(404, f"no deadline or touch for lead {lead_key!r}")
        return {
            "lead_key": lead_key,
            "deadlines": [deadline_json(row) for row in found],
            "unmatched_touches": [
                {
                    "crm_event_id": row.crm_event_id,
                    "touched_at": row.touched_at.isoformat(),
                    "activity_type": row.activity_type,
                    "direction": row.direction,
                }
                for row in waiting
            ],
        }

    @router.get("/open")
    async def open_deadlines(
        request: Request,
        owner: Name = None,
        team: Name = None,
        tier: Name = None,
        after: Annotated[str | None, Query(max_length=400)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        cursor = decode_cursor(after) if after else None
        async with runtime_of(request).engine.connect() as conn:
            rows = await reports.open_page(
                conn, owner=owner, team=team, tier=tier, after=cursor, limit=limit + 1
            )
        page = rows[:limit]
        more = len(rows) > limit
        return {
            "deadlines": [deadline_json(row) for row in page],
            "next": encode_cursor(page[-1].due_at, page[-1].deadline_id) if more else None,
        }

    @router.get("/stats")
    async def stats(
        request: Request,
        since: Instant | None = None,
        until: Instant | None = None,
        by: Annotated[list[Dimension] | None, Query()] = None,
    ) -> dict[str, Any]:
        since, until = report_window(since, until)
        dimensions = list(dict.fromkeys(by or reports.DIMENSIONS))
        async with runtime_of(request).engine.connect() as conn:
            groups = await reports.compliance(conn, since, until, dimensions)
        overall = next(group for group in groups if group["group"] is None)
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "overall": _without_group(overall),
            **{
                f"by_{name}": [
                    {name: group["value"], **_without_group(group)}
                    for group in sorted(groups, key=_by_value)
                    if group["group"] == name
                ]
                for name in dimensions
            },
        }

    return router


def deadline_json(row: Row[Any]) -> dict[str, Any]:
    values = dict(row._mapping)
    owner = values.pop("owner")
    values["owner_name"] = owner.get("name") if owner else None
    values["owner_time_zone"] = owner.get("time_zone") if owner else None
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in values.items()
    }


def encode_cursor(due_at: datetime, deadline_id: str) -> str:
    raw = f"{due_at.isoformat()}|{deadline_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due_at, deadline_id = raw.split("|", 1)
        if not re.match(PRINTABLE, deadline_id):
            raise ValueError("control character in the cursor")
        return instant(datetime.fromisoformat(due_at), "after"), deadline_id
    except (binascii.Error, UnicodeDecodeError, ValueError, HTTPException) as exc:
        raise HTTPException(422, "`after` is not a cursor this API returned") from exc


def _without_group(figures: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in figures.items() if key not in ("group", "value")}


def _by_value(figures: dict[str, Any]) -> tuple[bool, str]:
    return figures["value"] is None, str(figures["value"])
