"""CRM feedback as received, published once its lead's attribution is known.

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


def upgrade() -> None:
    op.create_table(
        "crm_feedback",
        sa.Column("crm_event_id", sa.Text, primary_key=True),
        sa.Column("lead_key", sa.Text, nullable=True),
        sa.Column("crm_record_id", sa.Text, nullable=True),
        sa.Column("event", JSONB, nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "crm_feedback_waiting",
        "crm_feedback",
        ["lead_key"],
        postgresql_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("crm_feedback")
