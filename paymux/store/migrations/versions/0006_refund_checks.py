"""refunds sent through a live channel: when each is next asked about (channel_refunds job)

Revision ID: 0006_refund_checks
Revises: 0005_orders_by_status
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_refund_checks"
down_revision = "0005_orders_by_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("refunds", sa.Column("next_check_at", sa.DateTime(), nullable=True))
    op.create_index("ix_refunds_next_check", "refunds", ["next_check_at"])


def downgrade() -> None:
    op.drop_index("ix_refunds_next_check", table_name="refunds")
    op.drop_column("refunds", "next_check_at")
