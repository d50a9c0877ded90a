"""Deadlines with their schedule (due, warning, escalation rungs, the next step to fire),
outcome and close; the policy versions' SLA terms; touches waiting for their assignment.

0001's deadlines carried no schedule (no policy reached the monitor yet), so they are
replaced rather than migrated.

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


def _at(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.drop_table("deadlines")
    op.create_table(
        "sla_policies",
        sa.Column("version", sa.Text, primary_key=True),
        sa.Column("sla", JSONB, nullable=True),
        _at("activated_at", nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "deadlines",
        sa.Column("deadline_id", sa.Text, primary_key=True),
        sa.Column("lead_key", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Text),
        sa.Column("owner", JSONB),
        sa.Column("team", sa.Text),
        sa.Column("queue", sa.Text),
        sa.Column("tier", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("clock", sa.Text, nullable=False),
        sa.Column("target_seconds", sa.Float, nullable=False),
        _at("opened_at", nullable=False),
        _at("due_at", nullable=False),
        _at("warn_at"),
        sa.Column("rung_times", JSONB, nullable=False),
        sa.Column("next_step", sa.SmallInteger),
        _at("next_fire_at"),
        sa.Column("status", sa.Text, nullable=False),
        _at("breached_at"),
        _at("touched_at"),
        sa.Column("within_target", sa.Boolean),
        sa.Column("minutes_to_first_touch", sa.Float),
        sa.Column("business_minutes_to_first_touch", sa.Float),
        sa.Column("activity_type", sa.Text),
        sa.Column("crm_event_id", sa.Text),
        _at("closed_at"),
        sa.Column("closed_reason", sa.Text),
    )
    op.create_index("deadlines_lead", "deadlines", ["lead_key", "opened_at"])
    op.create_index(
        "deadlines_due",
        "deadlines",
        ["next_fire_at"],
        postgresql_where=sa.text("next_fire_at IS NOT NULL"),
    )
    op.create_index(
        "deadlines_open",
        "deadlines",
        ["due_at", "deadline_id"],
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index("deadlines_opened", "deadlines", ["opened_at"])
    op.create_table(
        "touches",
        sa.Column("crm_event_id", sa.Text, primary_key=True),
        sa.Column("lead_key", sa.Text, nullable=False),
        _at("touched_at", nullable=False),
        sa.Column("activity_type", sa.Text, nullable=False),
        sa.Column("direction", sa.Text),
        sa.Column("deadline_id", sa.Text),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index(
        "touches_unmatched",
        "touches",
        ["lead_key"],
        postgresql_where=sa.text("deadline_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("touches")
    op.drop_table("deadlines")
    op.drop_table("sla_policies")
    op.create_table(
        "deadlines",
        sa.Column("assigned_event_id", sa.Text, primary_key=True),
        sa.Column("lead_key", sa.Text, nullable=False),
        sa.Column("owner_id", sa.Text, nullable=True),
        sa.Column("tier", sa.Text, nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
    )
    op.create_index("deadlines_lead_key", "deadlines", ["lead_key"])
