"""The funnel report's needs: each lead's first assignment (its handoff, the cohort date)
and whether any assignment came as an MQL; indexes for the cohort and its reports.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lead_attribution", sa.Column("first_assigned_at", sa.DateTime(timezone=True)))
    # Only the newest assignment was kept so far: the best first-assignment time known.
    op.execute("UPDATE lead_attribution SET first_assigned_at = assigned_at")
    op.alter_column("lead_attribution", "first_assigned_at", nullable=False)
    op.add_column(
        "lead_attribution",
        sa.Column("mql", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("lead_attribution_first_assigned", "lead_attribution", ["first_assigned_at"])
    op.create_index(
        "crm_feedback_lead",
        "crm_feedback",
        ["lead_key"],
        postgresql_where=sa.text("lead_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("crm_feedback_lead", "crm_feedback")
    op.drop_index("lead_attribution_first_assigned", "lead_attribution")
    op.drop_column("lead_attribution", "mql")
    op.drop_column("lead_attribution", "first_assigned_at")
