"""rate counters for shared rate limits without Redis; pending postings of pooled accounts

Revision ID: 0002_scale
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_scale"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "window", name=op.f("pk_rate_counters")),
    )

    with op.batch_alter_table("postings") as batch:
        batch.add_column(
            sa.Column("pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_postings_pending",
        "postings",
        ["account_id"],
        postgresql_where=sa.text("pending"),
        sqlite_where=sa.text("pending"),
    )


def downgrade() -> None:
    op.drop_index("ix_postings_pending", table_name="postings")
    with op.batch_alter_table("postings") as batch:
        batch.drop_column("pending")
    op.drop_table("rate_counters")
