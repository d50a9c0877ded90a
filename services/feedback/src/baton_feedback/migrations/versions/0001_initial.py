"""Initial feedback schema: inbox, outbox, lead attribution read model.

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
        "lead_attribution",
        sa.Column("lead_key", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("campaign_id", sa.Text, nullable=True),
        sa.Column("campaign_name", sa.Text, nullable=True),
        sa.Column("channel", sa.Text, nullable=True),
        sa.Column("owner_id", sa.Text, nullable=True),
        sa.Column("tier", sa.Text, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_event_id", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lead_attribution")
    op.drop_table("outbox")
    op.drop_table("inbox")
