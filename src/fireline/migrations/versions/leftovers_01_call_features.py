"""calls: distribution features measured at ingest (answer language and script, question language,
topic bucket), so the monitors rebuild their histograms at startup

Revision ID: leftovers_01
Revises: policies_01
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "leftovers_01"
down_revision = "policies_01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("output_language", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("output_script", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("input_language", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("input_topic", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("input_topic")
        batch_op.drop_column("input_language")
        batch_op.drop_column("output_script")
        batch_op.drop_column("output_language")
