"""`GET /leads/{lead_key}`: the lead's current routing decision and every decision before it.

A key the same person arrived under before being merged into another lead (same phone
number) answers with the lead it belongs to. Decisions are the `baton.lead.assigned.v1`
data exactly as published.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from baton_router.api.validation import engine, invalid, unstorable
from baton_router.db import admin as db
from baton_runtime.api_auth import admin_router
from baton_runtime.openapi import error_responses

MAX_LEAD_KEY = 500


def leads_router() -> APIRouter:
    router = admin_router(tags=["leads"])

    @router.get("/leads/{lead_key:path}", responses=error_responses(404, e404="no such lead"))
    async def get_lead(lead_key: str, request: Request) -> dict[str, Any]:
        problem = unstorable(lead_key)
        if not lead_key or len(lead_key) > MAX_LEAD_KEY or problem is not None:
            reason = problem or f"must be 1 to {MAX_LEAD_KEY} characters"
            raise invalid((("path", "lead_key"), reason))
        async with engine(request).connect() as conn:
            key = await db.resolve_lead_key(conn, lead_key)
            lead = await db.current_lead(conn, key) if key is not None else None
            if key is None or lead is None:
                raise HTTPException(404, f"no lead {lead_key!r}")
            history = await db.lead_history(conn, key)
        current = next(
            (row for row in history if row.assigned_event_id == lead.last_assigned_event_id),
            history[-1] if history else None,
        )
        # The lead's row names its latest decision; keep that one last even when a batch
        # decided the same lead twice in the same instant.
        if current is not None:
            history = [row for row in history if row is not current] + [current]
        return {
            "lead_key": key,
            **({"requested_key": lead_key} if key != lead_key else {}),
            "owner_id": lead.owner_id,
            "queue": lead.queue,
            "attempt": lead.attempt,
            "assigned_at": lead.assigned_at.isoformat(),
            "current_event_id": current.assigned_event_id if current is not None else None,
            "current": current.decision if current is not None else None,
            "history": [row.decision for row in history],
        }

    return router
