"""a merchant's orders by status, newest first (order lists filtered by status)

Revision ID: 0005_orders_by_status
Revises: 0004_merge
"""

from alembic import op

revision = "0005_orders_by_status"
down_revision = "0004_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_merchant_status", "orders", ["merchant_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_orders_merchant_status", table_name="orders")
