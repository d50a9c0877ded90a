"""Database engine: SQLAlchemy 2 async on asyncpg, one PostgreSQL schema per service."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from baton_runtime.settings import ServiceSettings


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "search_path": settings.schema_name,
                "application_name": f"baton-{settings.service_name}",
            },
            "timeout": 5,
            "command_timeout": 30,
        },
    )


async def ping(engine: AsyncEngine) -> None:
    """A round trip to the database (callers bound it with their own timeout)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def among(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column = ANY($n)` with the values as one array parameter. An expanding `IN` renders
    one placeholder per value, so every batch size was a new statement for SQLAlchemy to
    render and for asyncpg to prepare; this stays one cached, prepared statement."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
