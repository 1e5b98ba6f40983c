"""incidents: the distinct values of a scope dimension once it outgrew the incident row's sample

Revision ID: incidents_03
Revises: incidents_02
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "incidents_03"
down_revision = "incidents_02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_scope_values",
        sa.Column("incident_id", sa.String(40), primary_key=True),
        sa.Column("dim", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(500), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("incident_scope_values")
