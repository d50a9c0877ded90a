"""Drop `leads.snapshot`: it repeated the `lead` part of the latest decision, which
`assignments.decision` already holds, and cost a JSON encode and decode per decision.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("leads", "snapshot")


def downgrade() -> None:
    op.add_column(
        "leads",
        sa.Column("snapshot", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.alter_column("leads", "snapshot", server_default=None)
