"""The enumerations stored in model columns (as strings: see :func:`.base.enum_type`)."""

from __future__ import annotations

import enum


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
