"""`closed_deals`: the outcomes the learned part of the score is made of.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE closed_deals_revision")
    op.create_table(
        "closed_deals",
        sa.Column("lead_key", sa.Text, primary_key=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crm_event_id", sa.Text, nullable=False),
        sa.Column("facts", JSONB, nullable=False),
        sa.Column(
            "revision",
            sa.BigInteger,
            nullable=False,
            server_default=sa.text("nextval('closed_deals_revision')"),
        ),
    )
    op.create_index("ix_closed_deals_revision", "closed_deals", ["revision"])


def downgrade() -> None:
    op.drop_table("closed_deals")
    op.execute("DROP SEQUENCE closed_deals_revision")
