"""Submissions: their files, their training fold by fold, and their scores.

Leaderboards are SQL queries over ``submissions`` + ``scores``; the indexes below serve them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ramp_server.db.models.accounts import User
from ramp_server.db.models.base import Base, UTCDateTime, enum_type, utcnow
from ramp_server.db.models.enums import ErrorKind, FoldState, Split, SubmissionState
from ramp_server.db.models.events import Event
from ramp_server.db.models.teams import Team


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", "name"),
        Index(None, "event_id", "state", "submitted_at"),
        Index(None, "user_id", "event_id", "submitted_at"),
        Index(None, "state", "queued_at"),
        Index(None, "team_id", "event_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: the submitter's team when it was submitted (quotas, fair share and boards count per
    #: team); no foreign key (see migration 0006): the teams service keeps it valid
    team_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[SubmissionState] = mapped_column(
        enum_type(SubmissionState), default=SubmissionState.NEW
    )
    error_kind: Mapped[ErrorKind | None] = mapped_column(enum_type(ErrorKind), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # totals over folds, filled when scored (the leaderboard reads them without a join)
    train_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    valid_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    test_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    withdrawn_from_blend: Mapped[bool] = mapped_column(Boolean, default=False)
    contributivity: Mapped[float | None] = mapped_column(Float, nullable=True)
    historical_contributivity: Mapped[float | None] = mapped_column(Float, nullable=True)
    shapley: Mapped[float | None] = mapped_column(Float, nullable=True)
    selected_for_competition: Mapped[bool] = mapped_column(Boolean, default=False)
    #: counts in the daily quota; False when the platform caused the failure
    charged_to_quota: Mapped[bool] = mapped_column(Boolean, default=True)
    #: a reference model the organisers marked: shown with a badge, never ranked, still blended
    is_baseline: Mapped[bool] = mapped_column(Boolean, server_default=false())

    event: Mapped[Event] = relationship()
    user: Mapped[User] = relationship()
    team: Mapped[Team | None] = relationship(
        primaryjoin="foreign(Submission.team_id) == Team.id", viewonly=True
    )
    files: Mapped[list[SubmissionFile]] = relationship(
        back_populates="submission", order_by="SubmissionFile.filename", cascade="all"
    )
    folds: Mapped[list[SubmissionFold]] = relationship(
        back_populates="submission", order_by="SubmissionFold.fold", cascade="all"
    )

    def __repr__(self) -> str:
        return f"<Submission {self.id} {self.name!r} {self.state.value}>"


class SubmissionFile(Base):
    __tablename__ = "submission_files"
    __table_args__ = (UniqueConstraint("submission_id", "filename"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)

    submission: Mapped[Submission] = relationship(back_populates="files")


class SubmissionFold(Base):
    """Training of one submission on one CV fold: the engine's unit of work."""

    __tablename__ = "submission_folds"
    __table_args__ = (UniqueConstraint("submission_id", "fold"), Index(None, "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    fold: Mapped[int] = mapped_column(Integer)
    state: Mapped[FoldState] = mapped_column(enum_type(FoldState), default=FoldState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    dask_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    train_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    valid_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    test_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    log_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    error_kind: Mapped[ErrorKind | None] = mapped_column(enum_type(ErrorKind), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: latest progress report: {"epoch": e, "n_epochs": E, "metrics": {...}}
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: worker seconds charged to the participant for this fold (fair share, budgets): the
    #: attempt that ended it; a platform fault is never charged
    charged_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: when the worker finished the fold (``finished_at`` is when its score was recorded)
    worker_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: what happened to earlier attempts: [{"at": iso, "attempt": n, "worker": w, "what": text}]
    notes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)

    submission: Mapped[Submission] = relationship(back_populates="folds")


class Score(Base):
    """One score value; ``fold`` NULL is the bagged score over all folds.

    ``event_id`` repeats the submission's event so that a leaderboard page sorted by any score
    type is an ordered scan of ``ix_scores_bagged`` (then 50 primary-key look-ups), not a sort of
    every submission of the event.
    """

    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("submission_id", "fold", "split", "score_name"),
        # per-submission look-ups (the other score columns of a leaderboard row, a submission page)
        Index(None, "submission_id", "split", "fold", "score_name", "value"),
        # one bagged score per (submission, split, score): NULL folds escape the constraint above
        Index(
            "uq_scores_bagged",
            "submission_id",
            "split",
            "score_name",
            unique=True,
            sqlite_where=text("fold IS NULL"),
            postgresql_where=text("fold IS NULL"),
        ),
        Index(
            "ix_scores_bagged",
            "event_id",
            "split",
            "score_name",
            "value",
            sqlite_where=text("fold IS NULL"),
            postgresql_where=text("fold IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    fold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    split: Mapped[Split] = mapped_column(enum_type(Split, length=8))
    score_name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    #: percentile bootstrap interval of a bagged score (rows resampled; ``settings.bootstrap_n``)
    ci_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_high: Mapped[float | None] = mapped_column(Float, nullable=True)


class ProgressEntry(Base):
    """One epoch of one fold's training as its progress report told it (the learning curves).

    ``submission_folds.progress`` keeps only the latest report; this keeps every epoch. A fold
    retried or resumed from a checkpoint reports an epoch again: the newer report replaces it.
    """

    __tablename__ = "progress_log"
    __table_args__ = (UniqueConstraint("submission_id", "fold", "epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    fold: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    n_epochs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: validation accuracy of the epoch (None when the report had none)
    valid_acc: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: the report's other numbers (loss, learning rate, ...), as cleaned by the relay
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
