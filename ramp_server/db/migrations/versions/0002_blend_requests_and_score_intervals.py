"""blend requests on events, bootstrap intervals on scores

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("blend_requested_at", sa.DateTime(), nullable=True))
    op.add_column("scores", sa.Column("ci_low", sa.Float(), nullable=True))
    op.add_column("scores", sa.Column("ci_high", sa.Float(), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35 has it): a batch copy of ``scores`` would lose the
    # partial indexes' WHERE clauses
    op.drop_column("scores", "ci_high")
    op.drop_column("scores", "ci_low")
    op.drop_column("events", "blend_requested_at")
