"""event day: charged worker time, worker finish time and notes on folds (fair share, stuck
work); per-participant budgets on events; re-blend durations and every blend's contributions
(contributivity over time); the engine's view of its workers

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("submission_folds", sa.Column("charged_s", sa.Float(), nullable=True))
    op.add_column("submission_folds", sa.Column("worker_finished_at", sa.DateTime(), nullable=True))
    op.add_column("submission_folds", sa.Column("notes", sa.JSON(), nullable=True))
    # folds finished before fair share: charge what they ran (train + valid + test time)
    op.execute(
        "UPDATE submission_folds SET charged_s = "
        "COALESCE(train_time, 0) + COALESCE(valid_time, 0) + COALESCE(test_time, 0) "
        "WHERE state = 'scored'"
    )
    op.add_column("blends", sa.Column("duration_s", sa.Float(), nullable=True))
    op.add_column("blends", sa.Column("extras_at", sa.DateTime(), nullable=True))
    # blends written before: their extras were computed with them
    op.execute("UPDATE blends SET extras_at = computed_at")
    op.add_column("events", sa.Column("max_running_folds", sa.Integer(), nullable=True))
    op.add_column("events", sa.Column("worker_time_budget_s", sa.Integer(), nullable=True))
    op.create_table(
        "blend_contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blend_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("contributivity", sa.Float(), nullable=False),
        sa.Column("historical_contributivity", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blend_id"],
            ["blends.id"],
            name=op.f("fk_blend_contributions_blend_id_blends"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_blend_contributions_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blend_contributions")),
        sa.UniqueConstraint(
            "blend_id", "submission_id", name=op.f("uq_blend_contributions_blend_id_submission_id")
        ),
    )
    op.create_index(
        op.f("ix_blend_contributions_submission_id_blend_id"),
        "blend_contributions",
        ["submission_id", "blend_id"],
    )
    op.create_table(
        "engine_workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=True),
        sa.Column("nthreads", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("running", sa.JSON(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_workers")),
        sa.UniqueConstraint("address", name=op.f("uq_engine_workers_address")),
    )


def downgrade() -> None:
    op.drop_table("engine_workers")
    op.drop_index(
        op.f("ix_blend_contributions_submission_id_blend_id"), table_name="blend_contributions"
    )
    op.drop_table("blend_contributions")
    op.drop_column("events", "worker_time_budget_s")
    op.drop_column("events", "max_running_folds")
    op.drop_column("blends", "extras_at")
    op.drop_column("blends", "duration_s")
    op.drop_column("submission_folds", "notes")
    op.drop_column("submission_folds", "worker_finished_at")
    op.drop_column("submission_folds", "charged_s")
