"""skillpay: the skill registry

Revision ID: 0002_skillpay
Revises: 0001
Create Date: 2026-11-21 21:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_skillpay"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skills",
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("create_order_url", sa.String(length=512), nullable=False),
        sa.Column("ship_url", sa.String(length=512), nullable=False),
        sa.Column("refund_notify_url", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sandbox_refund", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_skills_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("skill_id", name=op.f("pk_skills")),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_skills_merchant_id")),
    )


def downgrade() -> None:
    op.drop_table("skills")
