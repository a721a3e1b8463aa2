"""channels: live channel credentials, payment attempts, channel mismatches.

Revision ID: 0002_channels
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_channels"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel_credentials",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("config_enc", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_channel_credentials_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_credentials")),
        sa.UniqueConstraint(
            "merchant_id", "channel", name=op.f("uq_channel_credentials_merchant_id_channel")
        ),
    )
    op.create_table(
        "payment_attempts",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("pay_method", sa.String(length=16), nullable=False),
        sa.Column("client_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code_url", sa.String(length=512), nullable=False),
        sa.Column("channel_trade_no", sa.String(length=64), nullable=False),
        sa.Column("error", sa.String(length=256), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payment_attempts_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_attempts")),
    )
    with op.batch_alter_table("payment_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_payment_attempts_order", ["order_id", "id"], unique=False)
        batch_op.create_index("ix_payment_attempts_due", ["status", "next_check_at"], unique=False)
    op.create_table(
        "channel_mismatches",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("order_status", sa.String(length=24), nullable=False),
        sa.Column("channel_trade_no", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("detail", sa.String(length=512), nullable=False),
        sa.Column("refund_no", sa.String(length=64), nullable=False),
        sa.Column("refund_status", sa.String(length=16), nullable=False),
        sa.Column("channel_refund_no", sa.String(length=64), nullable=False),
        sa.Column("refund_error", sa.String(length=256), nullable=False),
        sa.Column("refund_attempts", sa.Integer(), nullable=False),
        sa.Column("next_refund_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolution", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_mismatches")),
        sa.UniqueConstraint(
            "channel",
            "channel_trade_no",
            name=op.f("uq_channel_mismatches_channel_channel_trade_no"),
        ),
    )
    with op.batch_alter_table("channel_mismatches", schema=None) as batch_op:
        batch_op.create_index("ix_channel_mismatches_open", ["resolved_at", "id"], unique=False)
        batch_op.create_index(
            "ix_channel_mismatches_refund", ["refund_status", "next_refund_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("channel_mismatches")
    op.drop_table("payment_attempts")
    op.drop_table("channel_credentials")
