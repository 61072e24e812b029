"""Submissions: queries and state changes (requeue, cancel, withdraw, select).

A new submission enters through :func:`submit` (:mod:`.submission_intake`: the database rules and
the transactional write) after :mod:`.uploads` validated its files; both are re-exported here so
callers need only this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from ramp_server.db.models import (
    FoldState,
    Score,
    Submission,
    SubmissionFold,
    SubmissionState,
    User,
    utcnow,
)
from ramp_server.services import NotFound, ServiceError, scheduling
from ramp_server.services import events as event_service
from ramp_server.services.blend_requests import request_blend
from ramp_server.services.exports import export_archive
from ramp_server.services.submission_intake import Allowance, submit, team_allowance
from ramp_server.services.uploads import (
    FILE_NAME_RE,
    MAX_ARCHIVE_ENTRIES,
    REQUIRED_FILES,
    SUBMISSION_NAME_MAX,
    SUBMISSION_NAME_RE,
    SubmissionRejected,
    check_files,
    check_submission_name,
    files_from_dir,
    files_from_zip,
)
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from ramp_server.config import Settings

#: states in which a submission is still waiting for or doing work
ACTIVE_STATES = (SubmissionState.NEW, SubmissionState.QUEUED, SubmissionState.TRAINING)

# -- queries and state changes -----------------------------------------------------------------


def get_submission(session: Session, *, submission_id: int) -> Submission:
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission with id {submission_id}")
    return sub


def submission_sources(*, settings: Settings, submission: Submission) -> dict[str, bytes]:
    """``{filename: content}`` of a submission, read from the immutable blobs."""
    storage = Storage.from_settings(settings)
    return {f.filename: storage.read_blob(f.sha256) for f in submission.files}


def can_view_code(
    session: Session, *, submission: Submission, user: User | None, now: datetime | None = None
) -> bool:
    """The submission's code and page: its submitter, their teammates and admins always; the
    event's other approved participants once the collaborative phase opened."""
    from ramp_server.services import participants, teams

    if user is None:
        return False
    if user.is_admin or teams.is_teammate(session, submission=submission, user=user):
        return True
    event = submission.event
    return event_service.is_collaborative(event, now=now) and participants.is_participant(
        session, event=event, user=user
    )


def queue_position(session: Session, *, submission: Submission) -> int | None:
    """1 for the next submission to train, ``None`` when not queued (the platform-wide queue in
    fair-share order: :mod:`ramp_server.services.scheduling`)."""
    if submission.state != SubmissionState.QUEUED:
        return None
    return scheduling.queue_plan(session).positions.get(submission.id)


def requeue(session: Session, *, submission: Submission, now: datetime | None = None) -> Submission:
    """Train again from scratch (admin action): scores and errors are cleared (a scored one
    leaves the blend: a re-blend is requested)."""
    if submission.state in (SubmissionState.QUEUED, SubmissionState.TRAINING):
        raise ServiceError(
            f"submission {submission.id} is {submission.state.value}: cancel it before requeueing"
        )
    now = now or utcnow()
    if submission.state == SubmissionState.SCORED:
        request_blend(session, event_id=submission.event_id, now=now)
    session.execute(delete(Score).where(Score.submission_id == submission.id))
    session.execute(
        update(SubmissionFold)
        .where(SubmissionFold.submission_id == submission.id)
        .values(
            state=FoldState.QUEUED,
            attempts=0,
            worker=None,
            dask_key=None,
            started_at=None,
            finished_at=None,
            error_kind=None,
            error_message=None,
            traceback=None,
            progress=None,
            train_time=None,
            valid_time=None,
            test_time=None,
            peak_memory_mb=None,
            charged_s=None,  # one charge per fold: the new run's
            worker_finished_at=None,
            notes=None,
        )
    )
    submission.state = SubmissionState.QUEUED
    submission.queued_at = now
    submission.started_at = submission.finished_at = None
    submission.error_kind = submission.error_message = submission.traceback = None
    submission.train_time = submission.valid_time = submission.test_time = None
    submission.peak_memory_mb = None
    session.flush()
    session.expire(submission, ["folds"])
    return submission


def cancel(session: Session, *, submission: Submission, now: datetime | None = None) -> Submission:
    """Stop a submission: it leaves the queue; the engine kills a running fold on seeing it."""
    if submission.state not in ACTIVE_STATES:
        raise ServiceError(
            f"submission {submission.id} is {submission.state.value}: only new, queued or "
            "training submissions can be cancelled"
        )
    now = now or utcnow()
    submission.state = SubmissionState.CANCELLED
    submission.finished_at = now
    session.execute(
        update(SubmissionFold)
        .where(
            SubmissionFold.submission_id == submission.id,
            SubmissionFold.state.in_([FoldState.QUEUED, FoldState.TRAINING]),
        )
        .values(state=FoldState.CANCELLED, finished_at=now)
    )
    session.flush()
    session.expire(submission, ["folds"])
    return submission


def set_withdrawn_from_blend(
    session: Session, *, submission: Submission, withdrawn: bool = True
) -> Submission:
    """Exclude (or include again) a submission from the ensemble the blender builds; a scored
    one also requests a re-blend (committed with the caller's transaction)."""
    changed = submission.withdrawn_from_blend != withdrawn
    submission.withdrawn_from_blend = withdrawn
    session.flush()
    if changed and submission.state == SubmissionState.SCORED:
        request_blend(session, event_id=submission.event_id)
    return submission


def select_for_competition(session: Session, *, submission: Submission) -> Submission:
    """Make this the team's submission on the competition leaderboard (one at a time)."""
    if submission.state != SubmissionState.SCORED:
        raise ServiceError("only a scored submission can be selected for the competition")
    same_team = (
        Submission.team_id == submission.team_id
        if submission.team_id is not None
        else Submission.user_id == submission.user_id
    )
    session.execute(
        update(Submission)
        .where(
            Submission.event_id == submission.event_id, same_team, Submission.id != submission.id
        )
        .values(selected_for_competition=False)
    )
    submission.selected_for_competition = True
    session.flush()
    return submission


def set_baseline(session: Session, *, submission: Submission, baseline: bool) -> Submission:
    """Mark (or unmark) a submission as one of the organisers' baselines: the boards show it
    with a badge and rank it not, the competition board leaves it out, the blend keeps it."""
    if baseline and submission.state in (SubmissionState.CANCELLED,):
        raise ServiceError(
            f"submission {submission.id} is cancelled: requeue it before making it a baseline"
        )
    submission.is_baseline = baseline
    if baseline:
        submission.selected_for_competition = False  # a baseline never competes
    session.flush()
    return submission


__all__ = [
    "ACTIVE_STATES",
    "FILE_NAME_RE",
    "MAX_ARCHIVE_ENTRIES",
    "REQUIRED_FILES",
    "SUBMISSION_NAME_MAX",
    "SUBMISSION_NAME_RE",
    "Allowance",
    "SubmissionRejected",
    "can_view_code",
    "cancel",
    "check_files",
    "check_submission_name",
    "export_archive",
    "files_from_dir",
    "files_from_zip",
    "get_submission",
    "queue_position",
    "requeue",
    "select_for_competition",
    "set_baseline",
    "set_withdrawn_from_blend",
    "submission_sources",
    "submit",
    "team_allowance",
]
