"""ingest: GenAI events from OTLP logs waiting for their span (encrypted)

Revision ID: ecosystem_01
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "ecosystem_01"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "otlp_pending_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otlp_pending_events")),
    )
    with op.batch_alter_table("otlp_pending_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_otlp_pending_events_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_otlp_pending_events_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("otlp_pending_events")
