"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kit_dir", sa.String(length=1000), nullable=False),
        sa.Column("n_folds", sa.Integer(), nullable=False),
        sa.Column("cv_seed", sa.Integer(), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_test", sa.Integer(), nullable=False),
        sa.Column("opening_at", sa.DateTime(), nullable=True),
        sa.Column("public_opening_at", sa.DateTime(), nullable=True),
        sa.Column("closing_at", sa.DateTime(), nullable=True),
        sa.Column("min_delay_s", sa.Integer(), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=True),
        sa.Column("upload_max_bytes", sa.Integer(), nullable=False),
        sa.Column("fold_time_limit_s", sa.Integer(), nullable=False),
        sa.Column("memory_limit_mb", sa.Integer(), nullable=False),
        sa.Column("uses_gpu", sa.Boolean(), nullable=False),
        sa.Column("max_n_ensemble", sa.Integer(), nullable=False),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        sa.Column(
            "leaderboard_visibility",
            sa.Enum(
                "public",
                "participants",
                "admins",
                name="leaderboardvisibility",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("score_types", sa.JSON(), nullable=False),
        sa.Column("official_score_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("name", name=op.f("uq_events_name")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=254), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(op.f("ix_login_attempts_ip_at"), "login_attempts", ["ip", "at"], unique=False)
    op.create_index(
        op.f("ix_login_attempts_username_at"), "login_attempts", ["username", "at"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "blends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("score_name", sa.String(length=64), nullable=False),
        sa.Column("n_submissions", sa.Integer(), nullable=False),
        sa.Column("combined_valid", sa.Float(), nullable=True),
        sa.Column("combined_test", sa.Float(), nullable=True),
        sa.Column("foldwise_best_valid", sa.Float(), nullable=True),
        sa.Column("foldwise_best_test", sa.Float(), nullable=True),
        sa.Column("nested_valid", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_blends_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blends")),
    )
    op.create_index(
        op.f("ix_blends_event_id_computed_at"), "blends", ["event_id", "computed_at"], unique=False
    )
    op.create_table(
        "cv_folds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("fold", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_valid", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_cv_folds_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cv_folds")),
        sa.UniqueConstraint("event_id", "fold", name=op.f("uq_cv_folds_event_id_fold")),
    )
    op.create_table(
        "event_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_invitations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_invitations")),
        sa.UniqueConstraint("event_id", "email", name=op.f("uq_event_invitations_event_id_email")),
    )
    op.create_table(
        "event_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_participants_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_event_participants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_participants")),
        sa.UniqueConstraint(
            "event_id", "user_id", name=op.f("uq_event_participants_event_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_event_participants_user_id"), "event_participants", ["user_id"], unique=False
    )
    op.create_table(
        "password_reset_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_reset_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_password_reset_tokens_user_id"), "password_reset_tokens", ["user_id"], unique=False
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "new",
                "queued",
                "training",
                "scored",
                "error",
                "cancelled",
                name="submissionstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "error_kind",
            sa.Enum(
                "participant",
                "timeout",
                "memory",
                "killed",
                "invalid_predictions",
                "platform",
                name="errorkind",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("train_time", sa.Float(), nullable=True),
        sa.Column("valid_time", sa.Float(), nullable=True),
        sa.Column("test_time", sa.Float(), nullable=True),
        sa.Column("peak_memory_mb", sa.Float(), nullable=True),
        sa.Column("withdrawn_from_blend", sa.Boolean(), nullable=False),
        sa.Column("contributivity", sa.Float(), nullable=True),
        sa.Column("historical_contributivity", sa.Float(), nullable=True),
        sa.Column("shapley", sa.Float(), nullable=True),
        sa.Column("selected_for_competition", sa.Boolean(), nullable=False),
        sa.Column("charged_to_quota", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_submissions_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_submissions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "event_id", "user_id", "name", name=op.f("uq_submissions_event_id_user_id_name")
        ),
    )
    op.create_index(
        op.f("ix_submissions_event_id_state_submitted_at"),
        "submissions",
        ["event_id", "state", "submitted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_submissions_state_queued_at"), "submissions", ["state", "queued_at"], unique=False
    )
    op.create_index(
        op.f("ix_submissions_user_id_event_id_submitted_at"),
        "submissions",
        ["user_id", "event_id", "submitted_at"],
        unique=False,
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "view",
                "diff",
                "copy",
                "submit",
                "download",
                name="interactionkind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_interactions_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_interactions_submission_id_submissions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_interactions_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    op.create_index(
        op.f("ix_interactions_event_id_at"), "interactions", ["event_id", "at"], unique=False
    )
    op.create_index(
        op.f("ix_interactions_user_id_event_id"),
        "interactions",
        ["user_id", "event_id"],
        unique=False,
    )
    op.create_table(
        "scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("fold", sa.Integer(), nullable=True),
        sa.Column(
            "split",
            sa.Enum("train", "valid", "test", name="split", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("score_name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_scores_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_scores_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scores")),
        sa.UniqueConstraint(
            "submission_id",
            "fold",
            "split",
            "score_name",
            name=op.f("uq_scores_submission_id_fold_split_score_name"),
        ),
    )
    op.create_index(
        "uq_scores_bagged",
        "scores",
        ["submission_id", "split", "score_name"],
        unique=True,
        sqlite_where=sa.text("fold IS NULL"),
        postgresql_where=sa.text("fold IS NULL"),
    )
    op.create_index(
        "ix_scores_bagged",
        "scores",
        ["event_id", "split", "score_name", "value"],
        unique=False,
        sqlite_where=sa.text("fold IS NULL"),
        postgresql_where=sa.text("fold IS NULL"),
    )
    op.create_index(
        op.f("ix_scores_submission_id_split_fold_score_name_value"),
        "scores",
        ["submission_id", "split", "fold", "score_name", "value"],
        unique=False,
    )
    op.create_table(
        "submission_credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("credited_submission_id", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credited_submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_credits_credited_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_credits_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_credits")),
        sa.UniqueConstraint(
            "submission_id",
            "credited_submission_id",
            name=op.f("uq_submission_credits_submission_id_credited_submission_id"),
        ),
    )
    op.create_index(
        op.f("ix_submission_credits_credited_submission_id"),
        "submission_credits",
        ["credited_submission_id"],
        unique=False,
    )
    op.create_table(
        "submission_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_files_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_files")),
        sa.UniqueConstraint(
            "submission_id", "filename", name=op.f("uq_submission_files_submission_id_filename")
        ),
    )
    op.create_table(
        "submission_folds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("fold", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "training",
                "scored",
                "error",
                "cancelled",
                name="foldstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("dask_key", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("train_time", sa.Float(), nullable=True),
        sa.Column("valid_time", sa.Float(), nullable=True),
        sa.Column("test_time", sa.Float(), nullable=True),
        sa.Column("peak_memory_mb", sa.Float(), nullable=True),
        sa.Column("log_path", sa.String(length=1000), nullable=True),
        sa.Column(
            "error_kind",
            sa.Enum(
                "participant",
                "timeout",
                "memory",
                "killed",
                "invalid_predictions",
                "platform",
                name="errorkind",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_folds_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_folds")),
        sa.UniqueConstraint(
            "submission_id", "fold", name=op.f("uq_submission_folds_submission_id_fold")
        ),
    )
    op.create_index(op.f("ix_submission_folds_state"), "submission_folds", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_submission_folds_state"), table_name="submission_folds")
    op.drop_table("submission_folds")
    op.drop_table("submission_files")
    op.drop_index(
        op.f("ix_submission_credits_credited_submission_id"), table_name="submission_credits"
    )
    op.drop_table("submission_credits")
    op.drop_index(op.f("ix_scores_submission_id_split_fold_score_name_value"), table_name="scores")
    op.drop_index(
        "uq_scores_bagged",
        table_name="scores",
        sqlite_where=sa.text("fold IS NULL"),
        postgresql_where=sa.text("fold IS NULL"),
    )
    op.drop_index(
        "ix_scores_bagged",
        table_name="scores",
        sqlite_where=sa.text("fold IS NULL"),
        postgresql_where=sa.text("fold IS NULL"),
    )
    op.drop_table("scores")
    op.drop_index(op.f("ix_interactions_user_id_event_id"), table_name="interactions")
    op.drop_index(op.f("ix_interactions_event_id_at"), table_name="interactions")
    op.drop_table("interactions")
    op.drop_index(op.f("ix_submissions_user_id_event_id_submitted_at"), table_name="submissions")
    op.drop_index(op.f("ix_submissions_state_queued_at"), table_name="submissions")
    op.drop_index(op.f("ix_submissions_event_id_state_submitted_at"), table_name="submissions")
    op.drop_table("submissions")
    op.drop_index(op.f("ix_password_reset_tokens_user_id"), table_name="password_reset_tokens")
    op.drop_table("password_reset_tokens")
    op.drop_index(op.f("ix_event_participants_user_id"), table_name="event_participants")
    op.drop_table("event_invitations")
    op.drop_table("event_participants")
    op.drop_table("cv_folds")
    op.drop_index(op.f("ix_blends_event_id_computed_at"), table_name="blends")
    op.drop_table("blends")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_index(op.f("ix_login_attempts_username_at"), table_name="login_attempts")
    op.drop_index(op.f("ix_login_attempts_ip_at"), table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_table("events")
