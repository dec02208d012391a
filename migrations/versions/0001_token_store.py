"""The token store: one row per profile.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paynet_tokens",
        sa.Column("profile", sa.String(64), primary_key=True),
        sa.Column("token_ciphertext", sa.Text, nullable=True),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failure_cause", sa.String(32), nullable=True),
        sa.Column("failure_detail", sa.Text, nullable=True),
        sa.Column("failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_permanent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("paynet_tokens")
