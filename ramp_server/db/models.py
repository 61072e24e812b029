"""SQLAlchemy 2 ORM models of the platform (SQLite and PostgreSQL).

Conventions: every timestamp is stored as naive UTC and read back as an aware UTC ``datetime``
(:class:`UTCDateTime`), so both backends behave the same. Enumerations are stored as short
strings (no native PostgreSQL enum types: adding a state is then a code change, not a migration).
Leaderboards are SQL queries over ``submissions`` + ``scores``; the indexes below serve them.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, aware, in UTC (the only clock the models use)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Naive-UTC storage, aware-UTC values: identical behaviour on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _enum(cls: type[enum.Enum], length: int = 24) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class SubmissionState(enum.StrEnum):
    NEW = "new"
    QUEUED = "queued"
    TRAINING = "training"
    SCORED = "scored"
    ERROR = "error"
    CANCELLED = "cancelled"


class FoldState(enum.StrEnum):
    QUEUED = "queued"
    TRAINING = "training"
    SCORED = "scored"
    ERROR = "error"
    CANCELLED = "cancelled"


class ErrorKind(enum.StrEnum):
    PARTICIPANT = "participant"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    KILLED = "killed"
    INVALID_PREDICTIONS = "invalid_predictions"
    PLATFORM = "platform"


class Split(enum.StrEnum):
    TRAIN = "train"
    VALID = "valid"
    TEST = "test"


class LeaderboardVisibility(enum.StrEnum):
    """Who sees the public (validation) leaderboard of an event."""

    PUBLIC = "public"  # anyone, anonymous included
    PARTICIPANTS = "participants"  # users who joined the event (and admins)
    ADMINS = "admins"  # admins only until the event closes


class InteractionKind(enum.StrEnum):
    VIEW = "view"
    DIFF = "diff"
    COPY = "copy"
    SUBMIT = "submit"
    DOWNLOAD = "download"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.name!r}>"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class PasswordResetToken(Base):
    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One login try; rate limiting counts recent failures per address and per user name."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index(None, "ip", "at"),
        Index(None, "username", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ip: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean, default=False)


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
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    leaderboard_visibility: Mapped[LeaderboardVisibility] = mapped_column(
        _enum(LeaderboardVisibility), default=LeaderboardVisibility.PUBLIC
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


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", "name"),
        Index(None, "event_id", "state", "submitted_at"),
        Index(None, "user_id", "event_id", "submitted_at"),
        Index(None, "state", "queued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[SubmissionState] = mapped_column(
        _enum(SubmissionState), default=SubmissionState.NEW
    )
    error_kind: Mapped[ErrorKind | None] = mapped_column(_enum(ErrorKind), nullable=True)
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

    event: Mapped[Event] = relationship()
    user: Mapped[User] = relationship()
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
    state: Mapped[FoldState] = mapped_column(_enum(FoldState), default=FoldState.QUEUED)
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
    error_kind: Mapped[ErrorKind | None] = mapped_column(_enum(ErrorKind), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: latest progress report: {"epoch": e, "n_epochs": E, "metrics": {...}}
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

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
    split: Mapped[Split] = mapped_column(_enum(Split, length=8))
    score_name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    #: percentile bootstrap interval of a bagged score (rows resampled; ``settings.bootstrap_n``)
    ci_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_high: Mapped[float | None] = mapped_column(Float, nullable=True)


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
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


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
    kind: Mapped[InteractionKind] = mapped_column(_enum(InteractionKind, length=16))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = [
    "ApiToken",
    "Base",
    "Blend",
    "CVFold",
    "ErrorKind",
    "Event",
    "EventInvitation",
    "EventParticipant",
    "FoldState",
    "Interaction",
    "InteractionKind",
    "LeaderboardVisibility",
    "LoginAttempt",
    "PasswordResetToken",
    "Score",
    "Split",
    "Submission",
    "SubmissionCredit",
    "SubmissionFile",
    "SubmissionFold",
    "SubmissionState",
    "User",
    "UTCDateTime",
    "utcnow",
]
