"""Set-based writes for the hot path: one `INSERT ... SELECT FROM unnest(...)` per table and
batch, sent as plain driver SQL inside the caller's transaction.

SQLAlchemy's executemany builds a parameter dict per row and processes every value in
Python; for a consumer batch of hundreds of rows that cost more than the routing itself
(the bench measured it). Here the parameters are one array per column, which asyncpg
encodes in C, and PostgreSQL runs a single statement. JSONB values are passed as JSON
text, serialized once by the caller (pydantic), so nothing is re-encoded on the way. The statement text is derived
from the Table, so columns and types stay declared in one place.

`write_all` sends several of them as one statement (data-modifying CTEs): a consumer
batch's writes to five tables cost one round trip, not five.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class BulkInsert:
    """`INSERT INTO table (columns) SELECT * FROM unnest($1::type[], ...)` plus a tail
    (ON CONFLICT ..., RETURNING ...). Rows are tuples in `columns` order."""

    table: Table
    columns: tuple[str, ...]
    tail: str = ""

    @cached_property
    def sql(self) -> str:
        return self.statement(first_parameter=1)

    def statement(self, first_parameter: int) -> str:
        types = [self.table.c[name].type.compile(dialect=_DIALECT) for name in self.columns]
        arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, start=first_parameter))
        names = ", ".join(f'"{name}"' for name in self.columns)
        return (
            f'INSERT INTO "{self.table.name}" ({names}) SELECT * FROM unnest({arrays}) {self.tail}'
        )

    def of(self, rows: Sequence[tuple[Any, ...]]) -> Rows:
        return Rows(self, rows)

    async def execute(self, conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            await conn.exec_driver_sql(self.sql, _columns_of(rows, len(self.columns)))

    async def fetch_column(
        self, conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        """Execute with a one-column RETURNING tail; the returned values."""
        if not rows:
            return []
        result = await conn.exec_driver_sql(self.sql, _columns_of(rows, len(self.columns)))
        return list(result.scalars())


@dataclass(frozen=True)
class Rows:
    """Rows for one BulkInsert, to be written together with others by `write_all`."""

    insert: BulkInsert
    rows: Sequence[tuple[Any, ...]]


async def write_all(conn: AsyncConnection, parts: Sequence[Rows]) -> None:
    """Every part's rows in one statement, in the caller's transaction. The parts run in
    one snapshot, so they must not depend on each other's rows (foreign keys are checked
    at the end of the statement, so a row may reference one written beside it)."""
    present = [part for part in parts if part.rows]
    if len(present) <= 1:
        for part in present:
            await part.insert.execute(conn, part.rows)
        return
    sql = _combined_sql(tuple(part.insert for part in present))
    parameters = tuple(
        column for part in present for column in _columns_of(part.rows, len(part.insert.columns))
    )
    await conn.exec_driver_sql(sql, parameters)


@lru_cache(maxsize=64)
def _combined_sql(inserts: tuple[BulkInsert, ...]) -> str:
    """`WITH w0 AS (INSERT ...), w1 AS (INSERT ...) INSERT ...`, parameters numbered on."""
    statements = []
    first = 1
    for insert in inserts:
        statements.append(insert.statement(first_parameter=first))
        first += len(insert.columns)
    ctes = ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(statements[:-1]))
    return f"WITH {ctes} {statements[-1]}"


def upsert_tail(key: str | Sequence[str], columns: Sequence[str]) -> str:
    """ON CONFLICT (key columns) DO UPDATE of every other of `columns` from the new row."""
    keys = (key,) if isinstance(key, str) else tuple(key)
    updates = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in columns if name not in keys)
    conflict = ", ".join(f'"{name}"' for name in keys)
    return f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"


def _columns_of(rows: Sequence[tuple[Any, ...]], width: int) -> tuple[list[Any], ...]:
    columns = tuple(list(column) for column in zip(*rows, strict=True))
    if len(columns) != width:
        raise ValueError(f"rows have {len(columns)} values, the statement {width} columns")
    return columns
