"""The feedback service's tables (schema `feedback`)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    MetaData,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

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
    # Kept across assignments, whatever order they arrive in: the handoff (the funnel's
    # cohort date) and whether the lead ever came as an MQL.
    Column("first_assigned_at", DateTime(timezone=True), nullable=False),
    Column("mql", Boolean, nullable=False, server_default=false()),
    Index("lead_attribution_first_assigned", "first_assigned_at"),
)

crm_feedback = Table(
    "crm_feedback",
    metadata,
    Column("crm_event_id", Text, primary_key=True),  # the CRM's id: a repeat is absorbed
    Column("lead_key", Text, nullable=True),  # null: named only by a CRM record id
    Column("crm_record_id", Text, nullable=True),
    Column("event", JSONB, nullable=False),  # baton.crm.feedback.v1 as received
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),  # null: waiting
    Index("crm_feedback_waiting", "lead_key", postgresql_where=text("published_at IS NULL")),
    Index("crm_feedback_lead", "lead_key", postgresql_where=text("lead_key IS NOT NULL")),
    Index("crm_feedback_unmatched", "crm_record_id", postgresql_where=text("lead_key IS NULL")),
)

# Which lead a CRM record is: learned from reports that name both, and from assignments
# whose lead came from a platform that is also the CRM (its record id is the CRM's).
crm_records = Table(
    "crm_records",
    metadata,
    Column("crm_record_id", Text, primary_key=True),
    Column("lead_key", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
