"""the organiser's toolkit: leaderboard freeze (events.freeze_at), baseline submissions
(submissions.is_baseline), e-mail opt-out (users.notify_by_email), event jobs (re-scoring
progress) and the e-mail outbox

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("freeze_at", sa.DateTime(), nullable=True))
    # existing rows: no baseline, e-mails on (the server default fills them in)
    op.add_column(
        "submissions",
        sa.Column("is_baseline", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "users",
        sa.Column("notify_by_email", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "event_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_jobs_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_jobs")),
    )
    op.create_index(
        op.f("ix_event_jobs_event_id_started_at"), "event_jobs", ["event_id", "started_at"]
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_addr", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link_path", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
    )
    op.create_index(
        op.f("ix_email_outbox_sent_at_next_attempt_at"),
        "email_outbox",
        ["sent_at", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_email_outbox_sent_at_next_attempt_at"), table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_index(op.f("ix_event_jobs_event_id_started_at"), table_name="event_jobs")
    op.drop_table("event_jobs")
    op.drop_column("users", "notify_by_email")
    op.drop_column("submissions", "is_baseline")
    op.drop_column("events", "freeze_at")
