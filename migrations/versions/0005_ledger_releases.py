"""The ledger counts the claims that were released because nothing was sent: only the others
(sends that may have reached Paynet) count against the give-up bound.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paynet_ledger") as batch:
        batch.add_column(sa.Column("releases", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("paynet_ledger") as batch:
        batch.drop_column("releases")
