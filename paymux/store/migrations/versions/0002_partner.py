"""partner dialect: OAuth authorizations, auth codes, session keys, wallet sign-ins;
withdrawals learn which dialect reports them.

Revision ID: 0002_partner
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_partner"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dialect", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("extra", sa.JSON(), nullable=False, server_default="{}"))

    op.create_table(
        "oauth_authorizations",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bound_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_oauth_authorizations_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_authorizations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_authorizations")),
        sa.UniqueConstraint(
            "merchant_id", "user_id", name=op.f("uq_oauth_authorizations_merchant_id_user_id")
        ),
        sa.UniqueConstraint("openid", name=op.f("uq_oauth_authorizations_openid")),
    )
    with op.batch_alter_table("oauth_authorizations", schema=None) as batch_op:
        batch_op.create_index("ix_oauth_authorizations_user", ["user_id"], unique=False)

    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", ID, nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["oauth_authorizations.id"],
            name=op.f("fk_oauth_codes_authorization_id_oauth_authorizations"),
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_oauth_codes")),
    )

    op.create_table(
        "oauth_sessions",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", ID, nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["oauth_authorizations.id"],
            name=op.f("fk_oauth_sessions_authorization_id_oauth_authorizations"),
        ),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_oauth_sessions")),
    )
    with op.batch_alter_table("oauth_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_oauth_sessions_authorization", ["authorization_id"], unique=False)

    op.create_table(
        "wallet_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wallet_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_wallet_sessions")),
    )
    with op.batch_alter_table("wallet_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_wallet_sessions_user", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wallet_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_wallet_sessions_user")
    op.drop_table("wallet_sessions")
    with op.batch_alter_table("oauth_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_sessions_authorization")
    op.drop_table("oauth_sessions")
    op.drop_table("oauth_codes")
    with op.batch_alter_table("oauth_authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_authorizations_user")
    op.drop_table("oauth_authorizations")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_column("extra")
        batch_op.drop_column("dialect")
