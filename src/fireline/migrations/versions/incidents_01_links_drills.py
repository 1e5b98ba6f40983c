"""incidents: links between incidents (related, merged, repeat), drill marker, merged_into

Revision ID: incidents_01
Revises: drift_01
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "incidents_01"
down_revision = "drift_01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("merged_into", sa.String(40), nullable=True))
    op.create_table(
        "incident_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("other_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("incident_id", "other_id", "kind", name="uq_incident_links_pair_kind"),
    )
    op.create_index("ix_incident_links_incident_id", "incident_links", ["incident_id"])
    op.create_index("ix_incident_links_other_id", "incident_links", ["other_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_links_other_id", table_name="incident_links")
    op.drop_index("ix_incident_links_incident_id", table_name="incident_links")
    op.drop_table("incident_links")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("merged_into")
        batch.drop_column("drill")
