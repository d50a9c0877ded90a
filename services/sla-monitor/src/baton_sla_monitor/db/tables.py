"""The SLA monitor's tables (schema `sla_monitor`)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, Table, Text

from baton_runtime.tables import add_runtime_tables

metadata = MetaData()
runtime_tables = add_runtime_tables(metadata)

deadlines = Table(
    "deadlines",
    metadata,
    Column("assigned_event_id", Text, primary_key=True),
    Column("lead_key", Text, nullable=False, index=True),
    Column("owner_id", Text, nullable=True),
    Column("tier", Text, nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
)
