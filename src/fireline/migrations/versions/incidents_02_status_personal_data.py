"""comms: the status page by decision (component states set by hand, the impact a public update
declares) and the responder's answer on personal data for an incident without calls

Revision ID: incidents_02
Revises: evals_02
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "incidents_02"
down_revision = "evals_02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comms_updates") as batch:
        batch.add_column(sa.Column("impact", sa.String(20), nullable=True))
    with op.batch_alter_table("comms_incidents") as batch:
        batch.add_column(sa.Column("personal_data", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("personal_data_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("personal_data_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("personal_data_reason", sa.Text(), nullable=True))
    op.create_table(
        "comms_status_components",
        sa.Column("component", sa.String(200), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("comms_status_components")
    with op.batch_alter_table("comms_incidents") as batch:
        batch.drop_column("personal_data_reason")
        batch.drop_column("personal_data_by")
        batch.drop_column("personal_data_at")
        batch.drop_column("personal_data")
    with op.batch_alter_table("comms_updates") as batch:
        batch.drop_column("impact")
