"""teams: every participant is a team of one in each event it joined; submissions record their
team; events get a maximum team size and a team formation deadline

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_teams_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("event_id", "name", name=op.f("uq_teams_event_id_name")),
    )
    op.create_table(
        "team_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_members_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_team_members_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_team_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_members")),
        sa.UniqueConstraint("event_id", "user_id", name=op.f("uq_team_members_event_id_user_id")),
    )
    op.create_index(op.f("ix_team_members_team_id"), "team_members", ["team_id"])
    op.create_table(
        "team_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("invitee_id", sa.Integer(), nullable=False),
        sa.Column("inviter_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_invitations_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invitee_id"],
            ["users.id"],
            name=op.f("fk_team_invitations_invitee_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inviter_id"],
            ["users.id"],
            name=op.f("fk_team_invitations_inviter_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_invitations")),
    )
    op.create_index(
        op.f("ix_team_invitations_invitee_id_state"), "team_invitations", ["invitee_id", "state"]
    )
    op.create_index(
        op.f("ix_team_invitations_team_id_state"), "team_invitations", ["team_id", "state"]
    )
    op.add_column("events", sa.Column("max_team_size", sa.Integer(), nullable=True))
    op.add_column("events", sa.Column("team_formation_until", sa.DateTime(), nullable=True))
    # a plain indexed column, no foreign key: SQLite cannot add or drop one without copying
    # ``submissions`` (whose referencing tables would cascade); the teams service never deletes
    # a team that submissions still name (a merge moves them first)
    op.add_column("submissions", sa.Column("team_id", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_submissions_team_id_event_id_submitted_at"),
        "submissions",
        ["team_id", "event_id", "submitted_at"],
    )
    # every participant a team of one, named after the user; their submissions in it
    op.execute(
        "INSERT INTO teams (event_id, name, created_at) "
        "SELECT p.event_id, u.name, p.joined_at FROM event_participants p "
        "JOIN users u ON u.id = p.user_id"
    )
    op.execute(
        "INSERT INTO team_members (team_id, event_id, user_id, joined_at) "
        "SELECT t.id, p.event_id, p.user_id, p.joined_at FROM event_participants p "
        "JOIN users u ON u.id = p.user_id "
        "JOIN teams t ON t.event_id = p.event_id AND t.name = u.name"
    )
    op.execute(
        "UPDATE submissions SET team_id = (SELECT m.team_id FROM team_members m "
        "WHERE m.event_id = submissions.event_id AND m.user_id = submissions.user_id)"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_submissions_team_id_event_id_submitted_at"), table_name="submissions")
    op.drop_column("submissions", "team_id")
    op.drop_column("events", "team_formation_until")
    op.drop_column("events", "max_team_size")
    op.drop_index(op.f("ix_team_invitations_team_id_state"), table_name="team_invitations")
    op.drop_index(op.f("ix_team_invitations_invitee_id_state"), table_name="team_invitations")
    op.drop_table("team_invitations")
    op.drop_index(op.f("ix_team_members_team_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
