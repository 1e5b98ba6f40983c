"""calls: dead letters (calls that could not be stored, kept encrypted with their reason)

Revision ID: gwup_01
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "gwup_01"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column("user_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letters_user_pseudonym"), ["user_pseudonym"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letters_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("dead_letters")
