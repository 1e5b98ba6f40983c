"""detect: canaries, user reports, monitor alert history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "detect_canaries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=200), nullable=False),
        sa.Column("token", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detect_canaries")),
        sa.UniqueConstraint("token", name=op.f("uq_detect_canaries_token")),
    )
    op.create_index(op.f("ix_detect_canaries_tenant"), "detect_canaries", ["tenant"])
    op.create_table(
        "detect_reports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("app", sa.String(length=200), nullable=False),
        sa.Column("tenant", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("prompt_version", sa.String(length=100), nullable=True),
        sa.Column("tools", sa.String(length=1000), nullable=True),
        sa.Column("user_pseudonym", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detect_reports")),
    )
    op.create_index(op.f("ix_detect_reports_call_id"), "detect_reports", ["call_id"])
    op.create_index(op.f("ix_detect_reports_user_pseudonym"), "detect_reports", ["user_pseudonym"])
    op.create_index("ix_detect_reports_kind_at", "detect_reports", ["kind", "at"])
    op.create_table(
        "detect_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.String(length=600), nullable=False),
        sa.Column("monitor", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=500), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("call_ids", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detect_alerts")),
    )
    op.create_index(op.f("ix_detect_alerts_dedup_key"), "detect_alerts", ["dedup_key"])
    op.create_index("ix_detect_alerts_monitor_fired", "detect_alerts", ["monitor", "fired_at"])


def downgrade() -> None:
    op.drop_table("detect_alerts")
    op.drop_table("detect_reports")
    op.drop_table("detect_canaries")
