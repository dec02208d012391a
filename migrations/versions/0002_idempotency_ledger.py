"""The idempotency ledger: one row per idempotency key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paynet_ledger",
        sa.Column("idempotency_key", sa.String(200), primary_key=True),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("method", sa.String(100), nullable=False),
        sa.Column("params_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("owner", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('received', 'sent', 'succeeded', 'failed', 'unknown')",
            name="ck_paynet_ledger_state",
        ),
    )
    op.create_index("ix_paynet_ledger_state_updated", "paynet_ledger", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_paynet_ledger_state_updated", table_name="paynet_ledger")
    op.drop_table("paynet_ledger")
