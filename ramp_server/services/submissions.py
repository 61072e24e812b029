"""Submissions: validated upload, immutable storage, queueing, requeue/cancel/withdraw.

Every rule is checked on the server (never only in a template): the upload itself by
:mod:`.uploads` (file names, sizes, UTF-8 Python that compiles, the kit's static contract, name
rules), then here name uniqueness, opening and deadline, minimum delay and daily quota. :func:`submit` is safe under concurrent calls on SQLite and PostgreSQL: the
participant's row is locked for the transaction and the name is also a unique constraint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    Event,
    EventParticipant,
    FoldState,
    Interaction,
    InteractionKind,
    Score,
    Submission,
    SubmissionCredit,
    SubmissionFile,
    SubmissionFold,
    SubmissionState,
    User,
    utcnow,
)
from ramp_server.services import NotFound, ServiceError, participants
from ramp_server.services import events as event_service
from ramp_server.services.blend_requests import request_blend
from ramp_server.services.exports import export_archive
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

# -- rules that need the database --------------------------------------------------------------


def _check_timing(session: Session, *, event: Event, user: User, now: datetime) -> None:
    if event.closed or (event.closing_at is not None and now >= event.closing_at):
        raise SubmissionRejected(
            f"event {event.name} is closed: submissions are no longer accepted"
        )
    if event.opening_at is not None and now < event.opening_at:
        raise SubmissionRejected(
            f"event {event.name} opens at {event.opening_at.isoformat()}: submit after that"
        )
    if user.is_admin:
        return
    charged = (
        Submission.event_id == event.id,
        Submission.user_id == user.id,
        Submission.charged_to_quota.is_(True),
    )
    if event.min_delay_s:
        last = session.scalar(select(func.max(Submission.submitted_at)).where(*charged))
        if last is not None:
            wait = last + timedelta(seconds=event.min_delay_s) - now
            if wait > timedelta(0):
                raise SubmissionRejected(
                    f"wait {math.ceil(wait.total_seconds())} s before submitting again: this event "
                    f"requires {event.min_delay_s} s between submissions"
                )
    if event.daily_quota is not None:
        since = now - timedelta(days=1)
        recent = list(
            session.scalars(
                select(Submission.submitted_at)
                .where(*charged, Submission.submitted_at > since)
                .order_by(Submission.submitted_at)
            )
        )
        if len(recent) >= event.daily_quota:
            free_at = recent[len(recent) - event.daily_quota] + timedelta(days=1)
            raise SubmissionRejected(
                f"daily quota reached: {event.daily_quota} submissions per 24 hours; the next "
                f"one is possible at {free_at.isoformat(timespec='seconds')} "
                "(failures caused by the platform do not count)"
            )


def _check_credits(
    session: Session, *, event: Event, user: User, credits: Mapping[int, float], now: datetime
) -> None:
    total = 0.0
    for sid, percent in credits.items():
        if not 0 < percent <= 100:
            raise SubmissionRejected(f"credit to submission {sid}: percent must be in (0, 100]")
        total += percent
        other = session.get(Submission, sid)
        if other is None or other.event_id != event.id:
            raise SubmissionRejected(f"credit to submission {sid}: no such submission here")
        if other.user_id != user.id and not event_service.is_collaborative(event, now=now):
            raise SubmissionRejected(
                f"credit to submission {sid}: others' submissions are visible only after the "
                "collaborative phase opens"
            )
    if total > 100 + 1e-9:
        raise SubmissionRejected(f"credits add up to {total:g}%: at most 100%")


def submit(
    session: Session,
    *,
    settings: Settings,
    event: Event,
    user: User,
    name: str,
    files: Mapping[str, bytes],
    credits: Mapping[int, float] | None = None,
    now: datetime | None = None,
) -> Submission:
    """Validate, store and queue a submission; **commits** the session.

    Raises :class:`SubmissionRejected` with a clear message for every broken rule. Files are
    stored as immutable blobs before the database write, so nothing accepted is ever lost.
    """
    now = now or utcnow()
    if not user.is_active:
        raise SubmissionRejected(f"the account {user.name} is deactivated: contact the organizers")
    name = check_submission_name(name)
    check_files(files, max_bytes=event.upload_max_bytes)
    storage = Storage.from_settings(settings)
    digests = {f: storage.put_blob(bytes(files[f])) for f in REQUIRED_FILES}
    event_id, user_id = event.id, user.id

    participation = participants.get_participation(session, event=event, user=user)
    if participation is None and user.is_admin:
        participation = participants.join_event(session, event=event, user=user, now=now)
        session.commit()
    if participation is None or not participation.approved:
        raise SubmissionRejected(
            f"{user.name} is not an approved participant of {event.name}: "
            + ("join the event first" if participation is None else "wait for an admin's approval")
        )
    part_id = participation.id
    session.commit()  # end any read transaction: the lock below must see the latest data
    try:
        # Serializes this participant's submissions (row lock on PostgreSQL, the write lock on
        # SQLite) so that delay, quota and name checks cannot race.
        lock_row(session, EventParticipant, part_id)
        event = session.get(Event, event_id, populate_existing=True)
        user = session.get(User, user_id)
        _check_timing(session, event=event, user=user, now=now)
        if session.scalar(
            select(Submission.id).where(
                Submission.event_id == event_id,
                Submission.user_id == user_id,
                Submission.name == name,
            )
        ):
            raise SubmissionRejected(
                f"you already have a submission named {name!r} in {event.name}: choose a new name"
            )
        if credits:
            _check_credits(session, event=event, user=user, credits=credits, now=now)
        sub = Submission(
            event_id=event_id,
            user_id=user_id,
            name=name,
            state=SubmissionState.QUEUED,
            submitted_at=now,
            queued_at=now,
        )
        session.add(sub)
        session.flush()
        for filename, digest in digests.items():
            session.add(
                SubmissionFile(
                    submission_id=sub.id,
                    filename=filename,
                    sha256=digest,
                    size=len(files[filename]),
                )
            )
        for k in range(event.n_folds):
            session.add(SubmissionFold(submission_id=sub.id, fold=k, state=FoldState.QUEUED))
        for sid, percent in (credits or {}).items():
            session.add(
                SubmissionCredit(submission_id=sub.id, credited_submission_id=sid, percent=percent)
            )
        session.add(
            Interaction(
                user_id=user_id,
                event_id=event_id,
                kind=InteractionKind.SUBMIT,
                submission_id=sub.id,
                at=now,
            )
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise SubmissionRejected(
            f"you already have a submission named {name!r}: choose a new name"
        ) from None
    except BaseException:
        session.rollback()
        raise
    return sub


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
    *, event: Event, submission: Submission, user: User | None, now: datetime | None = None
) -> bool:
    """Owner and admins always; other signed-in users once the collaborative phase opened."""
    if user is None:
        return False
    if user.is_admin or submission.user_id == user.id:
        return True
    return event_service.is_collaborative(event, now=now)


def queue_position(session: Session, *, submission: Submission) -> int | None:
    """1 for the next submission to train, ``None`` when not queued (queue is platform-wide)."""
    if submission.state != SubmissionState.QUEUED or submission.queued_at is None:
        return None
    ahead = session.scalar(
        select(func.count(Submission.id)).where(
            Submission.state == SubmissionState.QUEUED,
            (Submission.queued_at < submission.queued_at)
            | ((Submission.queued_at == submission.queued_at) & (Submission.id < submission.id)),
        )
    )
    return int(ahead or 0) + 1


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
    """Make this the participant's submission on the competition leaderboard (one at a time)."""
    if submission.state != SubmissionState.SCORED:
        raise ServiceError("only a scored submission can be selected for the competition")
    session.execute(
        update(Submission)
        .where(
            Submission.event_id == submission.event_id,
            Submission.user_id == submission.user_id,
            Submission.id != submission.id,
        )
        .values(selected_for_competition=False)
    )
    submission.selected_for_competition = True
    session.flush()
    return submission


def log_interaction(
    session: Session,
    *,
    event: Event,
    user: User | None,
    kind: InteractionKind,
    submission: Submission | None = None,
    now: datetime | None = None,
) -> None:
    """Record a view/diff/copy/download (feeds historical contributivity)."""
    session.add(
        Interaction(
            user_id=user.id if user else None,
            event_id=event.id,
            kind=InteractionKind(kind),
            submission_id=submission.id if submission else None,
            at=now or utcnow(),
        )
    )
    session.flush()


__all__ = [
    "ACTIVE_STATES",
    "FILE_NAME_RE",
    "MAX_ARCHIVE_ENTRIES",
    "REQUIRED_FILES",
    "SUBMISSION_NAME_MAX",
    "SUBMISSION_NAME_RE",
    "SubmissionRejected",
    "can_view_code",
    "cancel",
    "check_files",
    "check_submission_name",
    "export_archive",
    "files_from_dir",
    "files_from_zip",
    "get_submission",
    "log_interaction",
    "queue_position",
    "requeue",
    "select_for_competition",
    "set_withdrawn_from_blend",
    "submission_sources",
    "submit",
]
