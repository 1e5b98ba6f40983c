"""timeline entries carry an Ed25519 signature over (incident, seq, hash)

Revision ID: coreup_02
Revises: drift_01
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "coreup_02"
down_revision = "drift_01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident_timeline") as batch:
        batch.add_column(sa.Column("sig", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident_timeline") as batch:
        batch.drop_column("sig")
