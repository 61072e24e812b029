"""Submission intake: the database rules of a new submission and its transactional write.

The upload itself is checked by :mod:`.uploads` (file names, sizes, UTF-8 Python that compiles,
the kit's static contract, name rules); this module adds what needs the database: the
participant's approval, name uniqueness in the team, opening and deadline, and the team's
minimum delay, daily quota and worker-time budget, and credits. The submission records its
submitter and their team (:mod:`.teams`). :func:`submit` is safe under concurrent calls on
SQLite and PostgreSQL: the team's row is locked for the transaction and the name is also a
unique constraint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    Event,
    FoldState,
    InteractionKind,
    Submission,
    SubmissionCredit,
    SubmissionFile,
    SubmissionFold,
    SubmissionState,
    Team,
    User,
    utcnow,
)
from ramp_server.services import events as event_service
from ramp_server.services import participants, scheduling, teams
from ramp_server.services.collaboration import log_interaction
from ramp_server.services.uploads import (
    REQUIRED_FILES,
    SubmissionRejected,
    check_files,
    check_submission_name,
)
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from ramp_server.config import Settings

# -- rules that need the database --------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    """How many submissions a team may still make today and when the next one is allowed.

    ``left_today`` is ``None`` when the event has no daily quota; ``next_at`` is ``None`` when
    a submission is allowed right now (the later of the minimum delay and the quota's rolling
    24-hour window otherwise).
    """

    daily_quota: int | None
    min_delay_s: int
    left_today: int | None
    next_at: datetime | None
    delay_until: datetime | None
    quota_free_at: datetime | None


def allowance(
    session: Session, *, event: Event, team_id: int | None, exempt: bool = False, now: datetime
) -> Allowance:
    """The team's :class:`Allowance` at ``now`` (``exempt``: an administrator, no limits).

    Submissions whose failure the platform caused are not charged (``charged_to_quota``).
    """
    quota = None if exempt else event.daily_quota
    delay = 0 if exempt else event.min_delay_s or 0
    charged = (
        Submission.event_id == event.id,
        Submission.team_id == team_id,
        Submission.charged_to_quota.is_(True),
    )
    delay_until = quota_free_at = None
    if delay and team_id is not None:
        last = session.scalar(select(func.max(Submission.submitted_at)).where(*charged))
        if last is not None and last + timedelta(seconds=delay) > now:
            delay_until = last + timedelta(seconds=delay)
    left = quota
    if quota is not None and team_id is not None:
        recent = list(
            session.scalars(
                select(Submission.submitted_at)
                .where(*charged, Submission.submitted_at > now - timedelta(days=1))
                .order_by(Submission.submitted_at)
            )
        )
        left = max(0, quota - len(recent))
        if left == 0:
            quota_free_at = recent[len(recent) - quota] + timedelta(days=1)
    waits = [t for t in (delay_until, quota_free_at) if t is not None]
    return Allowance(
        daily_quota=quota,
        min_delay_s=delay,
        left_today=left,
        next_at=max(waits) if waits else None,
        delay_until=delay_until,
        quota_free_at=quota_free_at,
    )


def team_allowance(
    session: Session, *, event: Event, user: User, now: datetime | None = None
) -> Allowance:
    """The :class:`Allowance` of ``user``'s team in ``event`` (a participant without a team yet
    has the whole quota)."""
    team = teams.team_of(session, event=event, user=user)
    return allowance(
        session,
        event=event,
        team_id=team.id if team is not None else None,
        exempt=user.is_admin,
        now=now or utcnow(),
    )


def _check_timing(session: Session, *, event: Event, user: User, team: Team, now: datetime) -> None:
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
    left = allowance(session, event=event, team_id=team.id, now=now)
    if left.delay_until is not None:
        wait = left.delay_until - now
        raise SubmissionRejected(
            f"wait {math.ceil(wait.total_seconds())} s before submitting again: this event "
            f"requires {event.min_delay_s} s between two submissions of a team"
        )
    if left.quota_free_at is not None:
        raise SubmissionRejected(
            f"daily quota reached: {event.daily_quota} submissions per team per 24 hours; the next "
            f"one is possible at {left.quota_free_at.isoformat(timespec='seconds')} "
            "(failures caused by the platform do not count)"
        )
    budget = scheduling.budget_left(session, event=event, team_id=team.id)
    if budget is not None and budget <= 0:
        raise SubmissionRejected(
            f"worker-time budget used up: {event.name} allows {event.worker_time_budget_s:,} s "
            f"of worker time per team and team {team.name}'s submissions have used "
            f"{event.worker_time_budget_s - budget:,.0f} s (platform failures are not charged); "
            "ask the organisers for more"
        )


def _check_credits(
    session: Session, *, event: Event, team: Team, credits: Mapping[int, float], now: datetime
) -> None:
    total = 0.0
    for sid, percent in credits.items():
        if not 0 < percent <= 100:
            raise SubmissionRejected(f"credit to submission {sid}: percent must be in (0, 100]")
        total += percent
        other = session.get(Submission, sid)
        if other is None or other.event_id != event.id:
            raise SubmissionRejected(f"credit to submission {sid}: no such submission here")
        if other.team_id != team.id and not event_service.is_collaborative(event, now=now):
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
    team_id = teams.ensure_team(session, event=event, user=user, now=now).id
    session.commit()  # end any read transaction: the lock below must see the latest data
    try:
        # Serializes the team's submissions (row lock on PostgreSQL, the write lock on SQLite)
        # so that delay, quota, budget and name checks cannot race.
        lock_row(session, Team, team_id)
        event = session.get(Event, event_id, populate_existing=True)
        user = session.get(User, user_id)
        team = teams.require_team(session, event=event, user=user)
        if team.id != team_id:  # they changed team meanwhile: lock that one instead
            lock_row(session, Team, team.id)
        _check_timing(session, event=event, user=user, team=team, now=now)
        if session.scalar(
            select(Submission.id).where(
                Submission.event_id == event_id,
                or_(Submission.team_id == team.id, Submission.user_id == user_id),
                Submission.name == name,
            )
        ):
            raise SubmissionRejected(
                f"you already have a submission named {name!r} in {event.name} (team "
                f"{team.name}): choose a new name"
            )
        if credits:
            _check_credits(session, event=event, team=team, credits=credits, now=now)
        sub = Submission(
            event_id=event_id,
            user_id=user_id,
            team_id=team.id,
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
        log_interaction(
            session, event=event, user=user, kind=InteractionKind.SUBMIT, submission=sub, now=now
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
