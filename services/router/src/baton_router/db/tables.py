"""The router's tables (schema `router`)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from baton_runtime.tables import add_runtime_tables

metadata = MetaData()
runtime_tables = add_runtime_tables(metadata)

assignments = Table(
    "assignments",
    metadata,
    Column("assigned_event_id", Text, primary_key=True),
    Column("captured_event_id", Text, nullable=False, unique=True),
    Column("lead_key", Text, nullable=False, index=True),
    Column("owner_id", Text, nullable=True),
    Column("queue", Text, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("decision", JSONB, nullable=False),
)
