"""The embedded stack the bench runs on: PostgreSQL and the Tansu broker on loopback,
plus the topic and database helpers every phase shares."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Row

from baton_runtime.settings import ServiceSettings


@dataclass(frozen=True)
class Throughput:
    """Records moved in a timed phase."""

    records: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds


class Rated(Protocol):
    @property
    def per_second(self) -> float: ...


RunT = TypeVar("RunT", bound=Rated)


def median_run(runs: list[RunT]) -> RunT:
    """The run with the median rate (the upper one of an even count)."""
    return sorted(runs, key=lambda run: run.per_second)[len(runs) // 2]


@dataclass(frozen=True)
class Stack:
    """Where the broker and the database listen, and a scratch directory."""

    bootstrap: str
    database_url: str
    workdir: Path


@contextlib.contextmanager
def embedded_stack() -> Iterator[Stack]:
    """Start an embedded PostgreSQL and an embedded broker; remove both afterwards."""
    from baton_runtime.devstack.broker import EmbeddedBroker
    from baton_runtime.devstack.ports import free_port
    from baton_runtime.devstack.postgres import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    postgres = EmbeddedPostgres(root / "pg", free_port())
    broker = EmbeddedBroker(free_port(), log_file=root / "broker.log")
    try:
        postgres.start()
        broker.start()
        yield Stack(bootstrap=broker.bootstrap, database_url=postgres.url, workdir=root)
    finally:
        broker.stop()
        postgres.destroy()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def attached_stack(bootstrap: str, database_url: str) -> Iterator[Stack]:
    """A stack somebody else runs (the test fixtures); only a scratch directory is ours."""
    root = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    try:
        yield Stack(bootstrap=bootstrap, database_url=database_url, workdir=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def drop_topics(stack: Stack, prefix: str) -> None:
    """Delete a finished phase's topics (named `prefix…`). The embedded broker keeps every
    record in memory and serves all its topics more slowly the more it holds: (d)'s p99 at
    980 leads/s was 116 and 120 ms with 300,000 records of an earlier run left in another
    topic, 93 and 77 ms once that topic was deleted, 86 ms on a fresh broker. A phase must
    not weigh on the ones after it."""
    from baton_runtime.devstack.topics import delete_topics_with_prefix

    await delete_topics_with_prefix(stack.bootstrap, prefix)


async def drop_schema(stack: Stack, schema: str) -> None:
    """Drop a finished phase's schema. Left in place, its tables' tens of thousands of new
    rows are vacuumed and analysed by autovacuum some seconds later, in the middle of the
    next phase: at 800 leads/s, (d) after two (b) runs had autovacuum on (b)'s tables
    throughout, and a p99 of 132 and 182 ms against 77-87 ms on a fresh database."""
    await _execute(stack, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def checkpoint(stack: Stack) -> None:
    """Checkpoint now, before a phase's clock starts: the write-ahead log of the phases
    before it is otherwise checkpointed during it, when it passes max_wal_size."""
    await _execute(stack, "CHECKPOINT")


async def phase_finished(stack: Stack, settings: ServiceSettings) -> None:
    """Remove what a finished phase leaves behind: its topics and its schema."""
    await drop_topics(stack, settings.topic_prefix)
    await drop_schema(stack, settings.schema_name)


async def _execute(stack: Stack, sql: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(stack.database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def token(label: str) -> str:
    """A unique name part, so phases and runs never share topics, groups or schemas."""
    return f"b{label}{uuid.uuid4().hex[:8]}"


async def wait_for_rows(
    settings: ServiceSettings,
    sql: str,
    done: Callable[[Row[Any]], bool],
    timeout: float,
    interval: float = 0.05,
) -> None:
    """Poll `sql` (one row) in the service's schema, on one engine, until `done(row)`."""
    from sqlalchemy import text

    from baton_runtime.db import create_engine

    statement = text(sql)
    engine = create_engine(settings)
    deadline = time.monotonic() + timeout
    try:
        while True:
            async with engine.connect() as conn:
                row = (await conn.execute(statement)).one()
            if done(row):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{settings.service_name}: {tuple(row)} after {timeout:.0f}s")
            await asyncio.sleep(interval)
    finally:
        await engine.dispose()
