"""Login fences: each login takes a number under the lock, and a token is saved only over one
taken by an earlier login, so a late login never replaces (or outlives) a newer one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paynet_tokens") as batch:
        batch.add_column(sa.Column("login_fence", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("token_fence", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("paynet_tokens") as batch:
        batch.drop_column("token_fence")
        batch.drop_column("login_fence")
