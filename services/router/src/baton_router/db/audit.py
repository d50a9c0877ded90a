"""Every roster and policy change leaves a row: who, what, when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.tables import audit_log


async def audit(
    conn: AsyncConnection, *, actor: str, action: str, subject: str, detail: dict[str, Any]
) -> None:
    await conn.execute(
        insert(audit_log).values(actor=actor, action=action, subject=subject, detail=detail)
    )
