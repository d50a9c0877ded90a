"""Alembic, run programmatically. Each service ships its own migrations package and keeps
its version table inside its own schema."""

from __future__ import annotations

import asyncio
import zlib

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from baton_runtime.settings import ServiceSettings


def alembic_config(settings: ServiceSettings, script_location: str) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    config.attributes["schema"] = settings.schema_name
    return config


def upgrade(settings: ServiceSettings, script_location: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings, script_location), revision)


def run_alembic_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    config = context.config
    schema: str = config.attributes["schema"]
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                # Serialise concurrent migrate jobs (several replicas starting at once).
                lock = zlib.crc32(f"baton-migrate-{schema}".encode()) & 0x7FFFFFFF
                await connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock})
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await connection.execute(text(f'SET search_path TO "{schema}"'))
                await connection.commit()
                await connection.run_sync(migrate)
                await connection.commit()
                await connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock})
        finally:
            await engine.dispose()

    asyncio.run(run())


def create_runtime_tables() -> None:
    """Revision 1 of the runtime's own tables, called from each service's first migration."""
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("inbox_processed_at", "inbox", ["processed_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("shard", sa.SmallInteger, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "outbox_unpublished",
        "outbox",
        ["shard", "id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
