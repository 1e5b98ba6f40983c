"""comms and postmortems: delivery outbox, updates, obligations, root cause, action items

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comms_deliveries",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("channel_type", sa.String(20), nullable=False),
        sa.Column("message", JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_deliveries")),
    )
    op.create_index("ix_comms_deliveries_incident_id", "comms_deliveries", ["incident_id"])
    op.create_index("ix_comms_deliveries_due", "comms_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "comms_updates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_updates")),
    )
    op.create_index("ix_comms_updates_incident_id", "comms_updates", ["incident_id"])
    op.create_index("ix_comms_updates_at", "comms_updates", ["at"])
    op.create_table(
        "comms_incidents",
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("high_risk", sa.Boolean(), nullable=False),
        sa.Column("high_risk_at", TS, nullable=True),
        sa.Column("high_risk_by", sa.String(200), nullable=True),
        sa.Column("high_risk_reason", sa.Text(), nullable=True),
        sa.Column("likely_consequences", sa.Text(), nullable=True),
        sa.Column("last_reminder_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_comms_incidents")),
    )
    op.create_table(
        "comms_obligations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("basis", JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("met_at", TS, nullable=True),
        sa.Column("met_by", sa.String(200), nullable=True),
        sa.Column("met_note", sa.Text(), nullable=True),
        sa.Column("reminders_sent", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_obligations")),
        sa.UniqueConstraint("incident_id", "kind", name="uq_comms_obligations_incident_kind"),
    )
    op.create_index("ix_comms_obligations_incident_id", "comms_obligations", ["incident_id"])
    op.create_index("ix_comms_obligations_due_at", "comms_obligations", ["due_at"])
    op.create_table(
        "pm_root_causes",
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("category", sa.String(20), nullable=True),
        sa.Column("factors", JSON, nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_pm_root_causes")),
    )
    op.create_table(
        "pm_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pm_actions")),
    )
    op.create_index("ix_pm_actions_incident_id", "pm_actions", ["incident_id"])
    op.create_table(
        "pm_postmortems",
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("completed_at", TS, nullable=False),
        sa.Column("completed_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_pm_postmortems")),
    )


def downgrade() -> None:
    for table in ("pm_postmortems", "pm_actions", "pm_root_causes", "comms_obligations", "comms_incidents",
                  "comms_updates", "comms_deliveries"):
        op.drop_table(table)
