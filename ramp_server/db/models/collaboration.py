"""The collaborative side: blends of an event, credits between submissions, interactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ramp_server.db.models.base import Base, UTCDateTime, enum_type, utcnow
from ramp_server.db.models.enums import InteractionKind


class Blend(Base):
    """One re-blend of an event: combined scores of the greedy ensemble and its details."""

    __tablename__ = "blends"
    __table_args__ = (Index(None, "event_id", "computed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    score_name: Mapped[str] = mapped_column(String(64))
    n_submissions: Mapped[int] = mapped_column(Integer)
    combined_valid: Mapped[float | None] = mapped_column(Float, nullable=True)
    combined_test: Mapped[float | None] = mapped_column(Float, nullable=True)
    foldwise_best_valid: Mapped[float | None] = mapped_column(Float, nullable=True)
    foldwise_best_test: Mapped[float | None] = mapped_column(Float, nullable=True)
    nested_valid: Mapped[float | None] = mapped_column(Float, nullable=True)  # honest estimate
    #: seconds the re-blend took, from reading the submissions to writing this row
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: when its extras (Shapley values, nested score, intervals) were written; None: not yet
    extras_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class BlendContribution(Base):
    """A submission's share of one blend (rows only where a share is not 0): how a
    submission's contributivity changed as others arrived."""

    __tablename__ = "blend_contributions"
    __table_args__ = (
        UniqueConstraint("blend_id", "submission_id"),
        Index(None, "submission_id", "blend_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blend_id: Mapped[int] = mapped_column(ForeignKey("blends.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    contributivity: Mapped[float] = mapped_column(Float)
    historical_contributivity: Mapped[float] = mapped_column(Float)


class SubmissionCredit(Base):
    """Credit that a submission gives to one it built on (percent of 100)."""

    __tablename__ = "submission_credits"
    __table_args__ = (
        UniqueConstraint("submission_id", "credited_submission_id"),
        Index(None, "credited_submission_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    credited_submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE")
    )
    percent: Mapped[float] = mapped_column(Float)


class Interaction(Base):
    """Who looked at / copied / submitted what: feeds historical contributivity."""

    __tablename__ = "interactions"
    __table_args__ = (Index(None, "event_id", "at"), Index(None, "user_id", "event_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    kind: Mapped[InteractionKind] = mapped_column(enum_type(InteractionKind, length=16))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
