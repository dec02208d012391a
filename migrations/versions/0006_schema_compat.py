"""The schema says which code can use it: one row per migration from here on (expand and
contract, worker/db/versions.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from worker.db.compat import mark

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The code of this release runs on 0005 too: it reads the table only on a schema newer than
# its own. Code before 0006 checks for its exact revision, so it cannot start on this one.
needed_by_code = False
OLDEST_CODE = "0006"


def upgrade() -> None:
    op.create_table(
        "paynet_schema_compat",
        sa.Column("revision", sa.String(32), primary_key=True),
        sa.Column("oldest_code", sa.String(32), nullable=False),
    )
    mark(revision, OLDEST_CODE)


def downgrade() -> None:
    op.drop_table("paynet_schema_compat")
