"""window_counters: rate-limit, budget and session counters shared by workers and replicas

Revision ID: scale_01
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "scale_01"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Used on PostgreSQL without FIRELINE_REDIS_URL (fireline.counters.PostgresCounter); created on
    # SQLite too so the schema is one.
    op.create_table(
        "window_counters",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("window_s", sa.Float(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("prev", sa.Float(), nullable=False),
        sa.Column("cur", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_s", name="pk_window_counters"),
    )


def downgrade() -> None:
    op.drop_table("window_counters")
