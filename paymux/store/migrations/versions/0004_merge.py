"""merge the per-capability branches into one history

The capabilities were built in parallel, each with a revision branching from
0001; this joins them so later revisions (and autogenerate) have one head.

Revision ID: 0004_merge
Revises: 0002_channels, 0002_console, 0002_partner, 0002_scale, 0003_skillpay_key_grace
"""

revision = "0004_merge"
down_revision = (
    "0002_channels",
    "0002_console",
    "0002_partner",
    "0002_scale",
    "0003_skillpay_key_grace",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
