"""Events: the challenge instances, who takes part in them, and their CV folds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ramp_server.db.models.accounts import User
from ramp_server.db.models.base import Base, UTCDateTime, enum_type, utcnow
from ramp_server.db.models.enums import LeaderboardVisibility


class Event(Base):
    """A challenge instance built from a kit; all its rules are enforced by the services."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # the slug used in URLs and paths
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kit_dir: Mapped[str] = mapped_column(String(1000))  # snapshot, relative to storage_dir
    n_folds: Mapped[int] = mapped_column(Integer)
    cv_seed: Mapped[int] = mapped_column(Integer, default=42)
    n_train: Mapped[int] = mapped_column(Integer, default=0)
    n_test: Mapped[int] = mapped_column(Integer, default=0)
    opening_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    public_opening_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closing_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    min_delay_s: Mapped[int] = mapped_column(Integer, default=0)
    daily_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited
    upload_max_bytes: Mapped[int] = mapped_column(Integer, default=200_000)
    fold_time_limit_s: Mapped[int] = mapped_column(Integer, default=3600)
    memory_limit_mb: Mapped[int] = mapped_column(Integer, default=8000)
    uses_gpu: Mapped[bool] = mapped_column(Boolean, default=False)
    max_n_ensemble: Mapped[int] = mapped_column(Integer, default=80)
    #: most folds of one team training at once (None: no cap beyond fair share)
    max_running_folds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: worker seconds a team may use in the event (None: unlimited)
    worker_time_budget_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: most members of a team (None: no limit)
    max_team_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: teams may form or merge until then (None: until a team's first submission)
    team_formation_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: from then on participants see the public board as it was then (None: never frozen)
    freeze_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    leaderboard_visibility: Mapped[LeaderboardVisibility] = mapped_column(
        enum_type(LeaderboardVisibility), default=LeaderboardVisibility.PUBLIC
    )
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: [{"name": ..., "precision": int, "is_lower_better": bool}], in problem.py order
    score_types: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    official_score_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: set when something the blend depends on changed (a withdrawal, a rule, a new score); the
    #: dispatcher re-blends and clears it unless it was set again meanwhile
    #: (:mod:`ramp_server.services.blend_requests`)
    blend_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    folds: Mapped[list[CVFold]] = relationship(
        back_populates="event", order_by="CVFold.fold", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.name!r}>"


class EventParticipant(Base):
    __tablename__ = "event_participants"
    __table_args__ = (UniqueConstraint("event_id", "user_id"), Index(None, "user_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    event: Mapped[Event] = relationship()
    user: Mapped[User] = relationship()


class EventInvitation(Base):
    """An e-mail pre-approved for an event: its account is approved on joining."""

    __tablename__ = "event_invitations"
    __table_args__ = (UniqueConstraint("event_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CVFold(Base):
    """One cross-validation fold; its train/valid indices live in a storage file (``path``)."""

    __tablename__ = "cv_folds"
    __table_args__ = (UniqueConstraint("event_id", "fold"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    fold: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1000))  # relative to storage_dir (folds.npz)
    n_train: Mapped[int] = mapped_column(Integer)
    n_valid: Mapped[int] = mapped_column(Integer)

    event: Mapped[Event] = relationship(back_populates="folds")
