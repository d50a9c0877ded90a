"""`crm_records`: CRM record id -> lead key, so a report that names only its CRM record is
matched to its lead; reports waiting for such a match are found by record id.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_records",
        sa.Column("crm_record_id", sa.Text, primary_key=True),
        sa.Column("lead_key", sa.Text, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index(
        "crm_feedback_unmatched",
        "crm_feedback",
        ["crm_record_id"],
        postgresql_where=sa.text("lead_key IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("crm_feedback_unmatched", table_name="crm_feedback")
    op.drop_table("crm_records")
