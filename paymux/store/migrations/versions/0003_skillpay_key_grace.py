"""skillpay: a rotated skill key stays valid for the grace period

Revision ID: 0003_skillpay_key_grace
Revises: 0002_skillpay
Create Date: 2026-11-21 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_skillpay_key_grace"
down_revision = "0002_skillpay"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("skills", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("previous_public_key", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("previous_valid_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("skills", schema=None) as batch_op:
        batch_op.drop_column("previous_valid_until")
        batch_op.drop_column("previous_public_key")
