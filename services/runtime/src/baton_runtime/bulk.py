"""Set-based writes for the hot path: one `INSERT ... SELECT FROM unnest(...)` per table and
batch, sent as plain driver SQL inside the caller's transaction.

SQLAlchemy's executemany builds a parameter dict per row and processes every value in
Python; for a consumer batch of hundreds of rows that cost more than the routing itself
(the bench measured it). Here the parameters are one array per column, which asyncpg
encodes in C, and PostgreSQL runs a single statement. JSONB values are passed as JSON
text, serialized once by the caller (pydantic), so nothing is re-encoded on the way. The statement text is derived
from the Table, so columns and types stay declared in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
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
        types = [self.table.c[name].type.compile(dialect=_DIALECT) for name in self.columns]
        arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, start=1))
        names = ", ".join(f'"{name}"' for name in self.columns)
        return (
            f'INSERT INTO "{self.table.name}" ({names}) SELECT * FROM unnest({arrays}) {self.tail}'
        )

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
