"""The ledger keeps what an operator needs to settle a key: the payment's own id, for the
status call, and who settled it (an operator's decision is kept apart from Paynet's).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paynet_ledger") as batch:
        batch.add_column(sa.Column("agent_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("settled_by", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("paynet_ledger") as batch:
        batch.drop_column("settled_by")
        batch.drop_column("agent_id")
