"""Initial router schema: inbox, outbox, assignments.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from baton_runtime.migrations import create_runtime_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_runtime_tables()
    op.create_table(
        "assignments",
        sa.Column("assigned_event_id", sa.Text, primary_key=True),
        sa.Column("captured_event_id", sa.Text, nullable=False, unique=True),
        sa.Column("lead_key", sa.Text, nullable=False),
        sa.Column("owner_id", sa.Text, nullable=True),
        sa.Column("queue", sa.Text, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", JSONB, nullable=False),
    )
    op.create_index("assignments_lead_key", "assignments", ["lead_key"])


def downgrade() -> None:
    op.drop_table("assignments")
    op.drop_table("outbox")
    op.drop_table("inbox")
