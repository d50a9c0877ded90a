"""`GET /audit`: who changed the roster or the policy, what and when, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from baton_router.api.validation import engine
from baton_router.db import admin as db
from baton_runtime.api_auth import admin_router

Filter = Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


def audit_router() -> APIRouter:
    router = admin_router(tags=["audit"])

    @router.get("/audit")
    async def list_audit(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        action: Filter = None,
        subject: Filter = None,
        actor: Filter = None,
    ) -> dict[str, Any]:
        async with engine(request).connect() as conn:
            rows = await db.audit_entries(
                conn, limit=limit, action=action, subject=subject, actor=actor
            )
        return {
            "entries": [
                {
                    "id": row.id,
                    "at": row.at.isoformat(),
                    "actor": row.actor,
                    "action": row.action,
                    "subject": row.subject,
                    "detail": row.detail,
                }
                for row in rows
            ]
        }

    return router
