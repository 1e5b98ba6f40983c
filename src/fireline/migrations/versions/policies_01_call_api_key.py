"""calls: the API key that made each call (gateway attribution)

Revision ID: policies_01
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "policies_01"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_key_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_calls_api_key_started", ["api_key_id", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_api_key_started")
        batch_op.drop_column("api_key_id")
