"""incidents: incidents, dedup keys, linked calls, hash-chained timeline, evidence store

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(4), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("playbook", sa.String(100), nullable=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("dedup_key", sa.String(300), nullable=True),
        sa.Column("commander", sa.String(200), nullable=True),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("apps", sa.String(1000), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contain_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contain_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timeline_seq", sa.Integer(), nullable=False),
        sa.Column("timeline_head", sa.String(64), nullable=False),
        sa.Column("changed_seq", sa.Integer(), nullable=False),
        sa.Column("snapshot_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_incidents_type", "incidents", ["type"])
    op.create_index("ix_incidents_severity", "incidents", ["severity"])
    op.create_index("ix_incidents_state", "incidents", ["state"])
    op.create_index("ix_incidents_detected_at", "incidents", ["detected_at"])
    op.create_table(
        "incident_dedup",
        sa.Column("dedup_key", sa.String(300), primary_key=True),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_incident_dedup_incident_id", "incident_dedup", ["incident_id"])
    op.create_table(
        "incident_calls",
        sa.Column("incident_id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "incident_timeline",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("incident_id", "seq", name="uq_incident_timeline_incident_seq"),
    )
    op.create_table(
        "evidence_blobs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
    )
    op.create_index("ix_snapshots_incident_id", "snapshots", ["incident_id"])
    op.create_table(
        "snapshot_calls",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("user_pseudonym", sa.String(64), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    op.create_index("ix_snapshot_calls_user", "snapshot_calls", ["user_pseudonym"])


def downgrade() -> None:
    for table in ("snapshot_calls", "snapshots", "evidence_blobs", "incident_timeline", "incident_calls",
                  "incident_dedup", "incidents"):
        op.drop_table(table)
