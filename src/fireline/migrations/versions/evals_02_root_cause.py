"""postmortems: the root-cause record gains the 5 whys, remediation steps, the regression-test
reference and recurrence prevention

Revision ID: evals_02
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "evals_02"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pm_root_causes") as batch:
        batch.add_column(sa.Column("whys", JSON, nullable=True))
        batch.add_column(sa.Column("remediation", JSON, nullable=True))
        batch.add_column(sa.Column("regression_test", sa.String(200), nullable=True))
        batch.add_column(sa.Column("prevention", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pm_root_causes") as batch:
        for name in ("prevention", "regression_test", "remediation", "whys"):
            batch.drop_column(name)
