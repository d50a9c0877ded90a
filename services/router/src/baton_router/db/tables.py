"""The router's tables (schema `router`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from baton_runtime.tables import add_runtime_tables

metadata = MetaData()
runtime_tables = add_runtime_tables(metadata)

assignments = Table(
    "assignments",
    metadata,
    Column("assigned_event_id", Text, primary_key=True),
    Column("captured_event_id", Text, nullable=False, index=True),
    Column("trigger_event_id", Text, nullable=True),
    Column("lead_key", Text, nullable=False, index=True),
    Column("owner_id", Text, nullable=True),
    Column("queue", Text, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("decision", JSONB, nullable=False),
    Column("seq", BigInteger, nullable=False, autoincrement=True, unique=True),
)

reps = Table(
    "reps",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("time_zone", Text, nullable=False),
    Column("working_hours", JSONB, nullable=False),
    Column("out_of_office", JSONB, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("daily_cap", Integer),
    Column("open_cap", Integer),
    Column("country", Text),
    Column("region", Text),
    Column("team", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rep_loads = Table(
    "rep_loads",
    metadata,
    Column("rep_id", Text, ForeignKey("reps.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, nullable=False),
    Column("assigned_today", Integer, nullable=False),
    Column("open_leads", Integer, nullable=False),
)

pools = Table(
    "pools",
    metadata,
    Column("name", Text, primary_key=True),
    Column("strategy", Text, nullable=False),
    Column("respect_working_hours", Boolean, nullable=False),
    Column("rr_cursor", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

pool_members = Table(
    "pool_members",
    metadata,
    Column("pool_name", Text, ForeignKey("pools.name", ondelete="CASCADE"), primary_key=True),
    Column("rep_id", Text, ForeignKey("reps.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("weight", Float, nullable=False),
    Column("pointer", Float, nullable=False),
    Column("away", Boolean, nullable=False),
)

leads = Table(
    "leads",
    metadata,
    Column("lead_key", Text, primary_key=True),
    Column("owner_id", Text),
    Column("queue", Text),
    Column("pool", Text),
    Column("attempt", Integer, nullable=False),
    Column("previous_owners", JSONB, nullable=False),
    Column("company_domain", Text),
    Column("tier", Text),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("last_assigned_event_id", Text, nullable=False),
    Column("last_captured_event_id", Text, nullable=False),
    Column("captured", JSONB, nullable=False),
)

lead_identities = Table(
    "lead_identities",
    metadata,
    Column("identity", Text, primary_key=True),
    Column("lead_key", Text, nullable=False, index=True),
)

account_owners = Table(
    "account_owners",
    metadata,
    Column("domain", Text, primary_key=True),
    Column("rep_id", Text, ForeignKey("reps.id", ondelete="CASCADE"), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", Text, primary_key=True),
    Column("document", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("detail", JSONB, nullable=False),
)

# Closed deals the learned score is made of: each lead's latest outcome, with the lead's
# facts at handoff. `revision` is taken from a sequence at every change, so the largest one
# tells a router whether its model is current.
closed_deals = Table(
    "closed_deals",
    metadata,
    Column("lead_key", Text, primary_key=True),
    Column("outcome", Text, nullable=False),  # won | lost
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("crm_event_id", Text, nullable=False),
    Column("facts", JSONB, nullable=False),
    Column(
        "revision",
        BigInteger,
        nullable=False,
        index=True,
        server_default=text("nextval('closed_deals_revision')"),
    ),
)
