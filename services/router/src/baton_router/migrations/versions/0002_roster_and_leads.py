"""Roster, pools with their cursors, rep loads, lead owners and identities, account owners,
policy versions and the audit log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    # A reassignment is a second decision for the same captured event: not unique any more.
    op.drop_constraint("assignments_captured_event_id_key", "assignments", type_="unique")
    op.create_index("assignments_captured_event_id", "assignments", ["captured_event_id"])
    op.add_column("assignments", sa.Column("trigger_event_id", sa.Text, nullable=True))
    # Decision order across replicas: rows are inserted while the pool locks are held.
    op.add_column("assignments", sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False))
    op.create_unique_constraint("assignments_seq_key", "assignments", ["seq"])
    op.create_table(
        "reps",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("working_hours", JSONB, nullable=False),
        sa.Column("out_of_office", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("daily_cap", sa.Integer),
        sa.Column("open_cap", sa.Integer),
        sa.Column("country", sa.Text),
        sa.Column("region", sa.Text),
        sa.Column("team", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "rep_loads",
        sa.Column(
            "rep_id", sa.Text, sa.ForeignKey("reps.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("assigned_today", sa.Integer, nullable=False),
        sa.Column("open_leads", sa.Integer, nullable=False),
    )
    op.create_table(
        "pools",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("strategy", sa.Text, nullable=False),
        sa.Column("respect_working_hours", sa.Boolean, nullable=False),
        sa.Column("rr_cursor", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "pool_members",
        sa.Column(
            "pool_name", sa.Text, sa.ForeignKey("pools.name", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "rep_id", sa.Text, sa.ForeignKey("reps.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("pointer", sa.Float, nullable=False),
        sa.Column("away", sa.Boolean, nullable=False),
    )
    op.create_table(
        "leads",
        sa.Column("lead_key", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text),
        sa.Column("queue", sa.Text),
        sa.Column("pool", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("previous_owners", JSONB, nullable=False),
        sa.Column("company_domain", sa.Text),
        sa.Column("tier", sa.Text),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_assigned_event_id", sa.Text, nullable=False),
        sa.Column("last_captured_event_id", sa.Text, nullable=False),
        sa.Column("snapshot", JSONB, nullable=False),
        # the latest captured lead (without the raw payload): what a reassignment routes by
        sa.Column("captured", JSONB, nullable=False),
    )
    op.create_table(
        "lead_identities",
        sa.Column("identity", sa.Text, primary_key=True),
        sa.Column("lead_key", sa.Text, nullable=False),
    )
    op.create_index("lead_identities_lead_key", "lead_identities", ["lead_key"])
    op.create_table(
        "account_owners",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("rep_id", sa.Text, sa.ForeignKey("reps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Text, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index(
        "policy_versions_one_active",
        "policy_versions",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("detail", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_column("assignments", "seq")
    op.drop_column("assignments", "trigger_event_id")
    op.drop_index("assignments_captured_event_id", "assignments")
    op.create_unique_constraint(
        "assignments_captured_event_id_key", "assignments", ["captured_event_id"]
    )
    for table in (
        "audit_log",
        "policy_versions",
        "account_owners",
        "lead_identities",
        "leads",
        "pool_members",
        "pools",
        "rep_loads",
        "reps",
    ):
        op.drop_table(table)
