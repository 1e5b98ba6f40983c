"""incidents: the onset (change point) stored on the incident

Revision ID: drift_01
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "drift_01"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("onset_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("onset", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("onset")
        batch.drop_column("onset_at")
