"""The feedback service's tables (schema `feedback`)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, MetaData, Table, Text

from baton_runtime.tables import add_runtime_tables

metadata = MetaData()
runtime_tables = add_runtime_tables(metadata)

lead_attribution = Table(
    "lead_attribution",
    metadata,
    Column("lead_key", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("campaign_id", Text, nullable=True),
    Column("campaign_name", Text, nullable=True),
    Column("channel", Text, nullable=True),
    Column("owner_id", Text, nullable=True),
    Column("tier", Text, nullable=True),
    Column("score", Float, nullable=True),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("assigned_event_id", Text, nullable=False),
)
