"""Teams: every participant of an event is in exactly one team (a team of one on joining)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ramp_server.db.models.accounts import User
from ramp_server.db.models.base import Base, UTCDateTime, utcnow


class Team(Base):
    """A team of an event: its name, its members; submissions, quotas and fair share count
    per team."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("event_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", order_by="TeamMember.joined_at", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.name!r}>"


class TeamMember(Base):
    """A participant's membership: one team per participant and event."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("event_id", "user_id"), Index(None, "team_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class TeamInvitation(Base):
    """A member's invitation of another participant into their team; answered once."""

    __tablename__ = "team_invitations"
    __table_args__ = (Index(None, "invitee_id", "state"), Index(None, "team_id", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    invitee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    inviter_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    #: "pending", "accepted", "declined" or "withdrawn" (the team changed under it)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    team: Mapped[Team] = relationship()
    invitee: Mapped[User] = relationship(foreign_keys=[invitee_id])
    inviter: Mapped[User | None] = relationship(foreign_keys=[inviter_id])
