"""foundation: calls, raw content, findings, holds, keys

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("app", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("tenant", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("user_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("model_resolved", sa.String(length=200), nullable=True),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("prompt_version", sa.String(length=100), nullable=True),
        sa.Column("system_prompt_sha256", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("span_id", sa.String(length=32), nullable=True),
        sa.Column("tools", sa.String(length=1000), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("has_raw", sa.Boolean(), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index("ix_calls_app_started", ["app", "started_at"], unique=False)
        batch_op.create_index("ix_calls_session", ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_started_at"), ["started_at"], unique=False)
        batch_op.create_index("ix_calls_tenant_started", ["tenant", "started_at"], unique=False)
        batch_op.create_index("ix_calls_trace", ["trace_id"], unique=False)
        batch_op.create_index("ix_calls_user_started", ["user_pseudonym", "started_at"], unique=False)

    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_pseudonym", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("deleted_calls", sa.Integer(), nullable=False),
        sa.Column("held_calls", sa.Integer(), nullable=False),
        sa.Column("holders", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasures_user_pseudonym"), ["user_pseudonym"], unique=False)

    op.create_table(
        "raw_access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_access_log")),
    )
    with op.batch_alter_table("raw_access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_raw_access_log_call_id"), ["call_id"], unique=False)

    op.create_table(
        "call_findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("app", sa.String(length=200), nullable=False),
        sa.Column("tenant", sa.String(length=200), nullable=True),
        sa.Column("detector", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("location", sa.String(length=16), nullable=False),
        sa.Column("item", sa.Integer(), nullable=True),
        sa.Column("start", sa.Integer(), nullable=True),
        sa.Column("end", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_findings_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_findings")),
    )
    with op.batch_alter_table("call_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_findings_call_id"), ["call_id"], unique=False)
        # Blast radius reads only this index: the signature scan never touches the findings table.
        batch_op.create_index(
            "ix_call_findings_signature", ["detector", "kind", "started_at", "app", "tenant", "call_id"], unique=False
        )

    op.create_table(
        "calls_raw",
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_calls_raw_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_calls_raw")),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by", sa.String(length=64), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_legal_holds_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_holds_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_legal_holds_holder"), ["holder"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_holder"))
        batch_op.drop_index(batch_op.f("ix_legal_holds_call_id"))

    op.drop_table("legal_holds")
    op.drop_table("calls_raw")
    with op.batch_alter_table("call_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_call_findings_signature")
        batch_op.drop_index(batch_op.f("ix_call_findings_call_id"))

    op.drop_table("call_findings")
    with op.batch_alter_table("raw_access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_raw_access_log_call_id"))

    op.drop_table("raw_access_log")
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasures_user_pseudonym"))

    op.drop_table("erasures")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_user_started")
        batch_op.drop_index("ix_calls_trace")
        batch_op.drop_index("ix_calls_tenant_started")
        batch_op.drop_index(batch_op.f("ix_calls_started_at"))
        batch_op.drop_index("ix_calls_session")
        batch_op.drop_index("ix_calls_app_started")

    op.drop_table("calls")
    op.drop_table("api_keys")
