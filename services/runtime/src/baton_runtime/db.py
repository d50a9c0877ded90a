"""Database engine: SQLAlchemy 2 async on asyncpg, one PostgreSQL schema per service."""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from baton_runtime.settings import ServiceSettings


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    # No pre-ping: on asyncpg it costs three round trips (BEGIN, ";", ROLLBACK) on every
    # checkout, which was a third of a small consumer batch. A connection that died with
    # the server fails its first statement instead; SQLAlchemy then invalidates the whole
    # pool, the consumer retries the batch as an outage and HTTP answers 503 (retryable).
    # Custom plans only: asyncpg keeps each statement prepared for the connection's life,
    # and after five executions PostgreSQL may settle on a generic plan chosen on the
    # tables as they were then. On a fresh (empty) database that was a sequential scan of
    # the leads for every routing batch, growing with the table until the connection
    # was recycled; planning each execution costs less than one such scan.
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "search_path": settings.schema_name,
                "application_name": f"baton-{settings.service_name}",
                "plan_cache_mode": "force_custom_plan",
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


async def present(
    conn: AsyncConnection, column: ColumnElement[Any], values: Collection[Any]
) -> set[Any]:
    """Which of `values` `column` holds (the ids a batch already stored, say)."""
    if not values:
        return set()
    return set((await conn.execute(select(column).where(among(column, values)))).scalars())


_LOCK_KEYS = text(
    "SELECT pg_advisory_xact_lock(:lock_class, hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS k"
)


async def lock_keys(conn: AsyncConnection, scope: str, keys: Collection[str]) -> None:
    """Serialise work on these keys (lead keys, say) across processes until the transaction
    ends; `scope` names what is locked, so different uses never contend. A lead's records
    can arrive on two topics whose partitions belong to different replicas: without this,
    two transactions could each commit unseen by the other. Taken in key order (unnest
    keeps the array's order), so two transactions never deadlock."""
    lock_class = zlib.crc32(scope.encode()) & 0x7FFFFFFF
    await conn.execute(_LOCK_KEYS, {"lock_class": lock_class, "keys": sorted(keys)})
