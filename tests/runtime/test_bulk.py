"""Set-based inserts on the asyncpg connection stay inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import create_async_engine

from baton_runtime.bulk import BulkInsert, upsert_tail, write_all

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Text, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("doc", JSONB, nullable=False),
)
notes = Table(
    "notes",
    metadata,
    Column("thing_id", Text, ForeignKey("things.id"), primary_key=True),
    Column("note", Text, nullable=False),
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


async def test_several_tables_in_one_statement(engine: Any) -> None:
    columns = ("id", "n", "at", "doc")
    insert_things = BulkInsert(things, columns, tail=upsert_tail("id", columns))
    insert_notes = BulkInsert(notes, ("thing_id", "note"))
    async with engine.begin() as conn:
        await insert_things.execute(conn, [("a", 1, AT, "{}")])
    async with engine.begin() as conn:
        await write_all(
            conn,
            [
                insert_things.of([("a", 2, AT, "{}"), ("b", 3, AT, "[]")]),
                insert_notes.of([]),  # an empty part is left out of the statement
                # a row may reference one written beside it: the key is checked at the end
                insert_notes.of([("b", "new"), ("a", "updated")]),
            ],
        )
    assert await rows(engine) == [("a", 2, AT, {}), ("b", 3, AT, [])]
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT thing_id, note FROM notes ORDER BY thing_id"))
        assert [tuple(row) for row in found] == [("a", "updated"), ("b", "new")]


async def test_one_failing_part_writes_nothing(engine: Any) -> None:
    insert_things = BulkInsert(things, ("id", "n", "at", "doc"))
    insert_notes = BulkInsert(notes, ("thing_id", "note"))
    with pytest.raises(Exception, match="foreign key"):
        async with engine.begin() as conn:
            await write_all(
                conn,
                [
                    insert_things.of([("a", 1, AT, "{}")]),
                    insert_notes.of([("nobody", "dangling")]),
                ],
            )
    assert await rows(engine) == []
