"""The SLA monitor's tables (schema `sla_monitor`)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from baton_runtime.tables import add_runtime_tables

metadata = MetaData()
runtime_tables = add_runtime_tables(metadata)


def _at(name: str, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


sla_policies = Table(
    "sla_policies",
    metadata,
    Column("version", Text, primary_key=True),
    Column("sla", JSONB, nullable=True),  # the document's sla: section; null: no SLA
    _at("activated_at", nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("deadline_id", Text, primary_key=True),  # the assignment's event id
    Column("lead_key", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("owner_id", Text),
    Column("owner", JSONB),  # as the assignment carried it: zone, hours, out-of-office
    Column("team", Text),
    Column("queue", Text),
    Column("tier", Text),
    Column("source", Text),
    Column("policy_version", Text, nullable=False),
    Column("clock", Text, nullable=False),
    Column("target_seconds", Float, nullable=False),
    _at("opened_at", nullable=False),
    _at("due_at", nullable=False),
    _at("warn_at"),
    Column("rung_times", JSONB, nullable=False),  # ISO instants of escalation rungs 1..n
    Column("next_step", SmallInteger),  # 0 warning, 1..n rungs; null: nothing left
    _at("next_fire_at"),
    Column("status", Text, nullable=False),  # open, breached, met, cancelled
    _at("breached_at"),
    _at("touched_at"),
    Column("within_target", Boolean),
    Column("minutes_to_first_touch", Float),
    Column("business_minutes_to_first_touch", Float),
    Column("activity_type", Text),
    Column("crm_event_id", Text),
    _at("closed_at"),
    Column("closed_reason", Text),  # met, reassigned, superseded
    Index("deadlines_lead", "lead_key", "opened_at"),
    Index("deadlines_due", "next_fire_at", postgresql_where=text("next_fire_at IS NOT NULL")),
    Index("deadlines_open", "due_at", "deadline_id", postgresql_where=text("closed_at IS NULL")),
    Index("deadlines_opened", "opened_at"),
)

touches = Table(
    "touches",
    metadata,
    Column("crm_event_id", Text, primary_key=True),
    Column("lead_key", Text, nullable=False),
    _at("touched_at", nullable=False),
    Column("activity_type", Text, nullable=False),
    Column("direction", Text),
    Column("deadline_id", Text),  # the deadline it met; null: not (yet) matched
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("touches_unmatched", "lead_key", postgresql_where=text("deadline_id IS NULL")),
)
