"""Set-based inserts on the asyncpg connection stay inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import create_async_engine

from baton_runtime.bulk import BulkInsert, upsert_tail

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Text, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("doc", JSONB, nullable=False),
)
AT = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


@pytest.fixture
async def engine(embedded_postgres: Any, isolation: str) -> Any:
    engine = create_async_engine(
        embedded_postgres.url, connect_args={"server_settings": {"search_path": isolation}}
    )
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{isolation}"'))
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def rows(engine: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text("SELECT * FROM things ORDER BY id"))]


async def test_rows_land_with_their_types_and_json_text(engine: Any) -> None:
    insert = BulkInsert(things, ("id", "n", "at", "doc"))
    async with engine.begin() as conn:
        await insert.execute(conn, [("a", 1, AT, '{"x": [1, 2]}'), ("b", 2, AT, "null")])
    assert await rows(engine) == [("a", 1, AT, {"x": [1, 2]}), ("b", 2, AT, None)]


async def test_a_rolled_back_transaction_leaves_nothing(engine: Any) -> None:
    # The bulk statement is the transaction's first: it must open it, not run outside it
    # (SQLAlchemy's asyncpg adapter sends BEGIN lazily, with the first statement).
    insert = BulkInsert(things, ("id", "n", "at", "doc"))
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await insert.execute(conn, [("a", 1, AT, "{}")])
            raise RuntimeError("handler failed")
    assert await rows(engine) == []


async def test_conflicts_and_returning(engine: Any) -> None:
    columns = ("id", "n", "at", "doc")
    fresh = BulkInsert(things, columns, tail='ON CONFLICT DO NOTHING RETURNING "id"')
    upsert = BulkInsert(things, columns, tail=upsert_tail("id", columns))
    async with engine.begin() as conn:
        assert await fresh.fetch_column(conn, [("a", 1, AT, "{}")]) == ["a"]
        assert await fresh.fetch_column(conn, [("a", 9, AT, "{}"), ("b", 2, AT, "{}")]) == ["b"]
        await upsert.execute(conn, [("a", 5, AT, "[]")])
    assert await rows(engine) == [("a", 5, AT, []), ("b", 2, AT, {})]
