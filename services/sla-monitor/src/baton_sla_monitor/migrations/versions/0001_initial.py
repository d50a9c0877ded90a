"""Initial SLA monitor schema: inbox, outbox, deadlines.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from baton_runtime.migrations import create_runtime_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_runtime_tables()
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


def downgrade() -> None:
    op.drop_table("deadlines")
    op.drop_table("outbox")
    op.drop_table("inbox")
