"""Who may see or do what on the web: event phases, membership, code visibility.

The services enforce the rules on writes (submission deadlines, quotas...). These read-side
checks guard every page and API answer; they are the one place the web layer decides access.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException
from sqlalchemy.orm import Session

from ramp_server.db.models import Event, EventParticipant, LeaderboardVisibility, Submission, User
from ramp_server.services import NotFound, events, freeze, participants, submissions, teams


def now() -> datetime:
    return datetime.now(UTC)


def get_event(db: Session, name: str) -> Event:
    """The event called ``name``, or 404."""
    try:
        return events.get_event(db, name=name)
    except NotFound:
        raise HTTPException(404, f"no event named {name!r}") from None


def get_submission(db: Session, submission_id: int) -> Submission:
    """The submission with that id, or 404."""
    sub = find_submission(db, submission_id)
    if sub is None:
        raise HTTPException(404, f"no submission {submission_id}")
    return sub


def find_submission(db: Session, submission_id: int) -> Submission | None:
    """The submission with that id, or None."""
    try:
        return submissions.get_submission(db, submission_id=submission_id)
    except NotFound:
        return None


def phase(event: Event, at: datetime | None = None) -> str:
    """'upcoming', 'open', 'collaborative' or 'closed' (rules of :mod:`services.events`)."""
    at = at or now()
    if events.is_closed(event, now=at):
        return "closed"
    if event.opening_at is not None and at < event.opening_at:
        return "upcoming"
    if events.is_collaborative(event, now=at):
        return "collaborative"
    return "open"


def is_closed(event: Event, at: datetime | None = None) -> bool:
    return events.is_closed(event, now=at)


def is_collaborative(event: Event, at: datetime | None = None) -> bool:
    """After the public opening date the code of every submission is visible to participants."""
    return events.is_collaborative(event, now=at)


def membership(db: Session, event: Event, user: User | None) -> EventParticipant | None:
    if user is None:
        return None
    return participants.get_participation(db, event=event, user=user)


def is_approved(db: Session, event: Event, user: User | None) -> bool:
    """Admins, and participants whose membership is approved."""
    if user is None:
        return False
    return user.is_admin or participants.is_participant(db, event=event, user=user)


def can_see_public_leaderboard(db: Session, event: Event, user: User | None) -> bool:
    if user is not None and user.is_admin:
        return True
    vis = event.leaderboard_visibility
    if vis == LeaderboardVisibility.PUBLIC:
        return True
    if vis == LeaderboardVisibility.PARTICIPANTS:
        return is_approved(db, event, user)
    return is_closed(event)


def board_frozen_at(event: Event, user: User | None) -> datetime | None:
    """When the boards ``user`` sees were frozen (None: they see the live boards)."""
    return freeze.frozen_at(event, user=user, now=now())


def can_see_private_leaderboard(event: Event, user: User | None) -> bool:
    """Test scores: admins always, everyone once the event is closed."""
    return bool(events.can_see_private_leaderboard(event, user=user))


def can_see_code(db: Session, submission: Submission, user: User | None) -> bool:
    """Own and teammates' code always; others' code only for approved participants after the
    public opening (:func:`ramp_server.services.submissions.can_view_code`)."""
    return submissions.can_view_code(db, submission=submission, user=user)


def is_teammate(db: Session, submission: Submission, user: User | None) -> bool:
    """The submitter or a member of the team it was made for."""
    return user is not None and teams.is_teammate(db, submission=submission, user=user)


def can_act_on(db: Session, submission: Submission, user: User | None) -> bool:
    """Cancel, withdraw, select for the competition: its team's members and admins."""
    if user is None:
        return False
    return user.is_admin or teams.is_teammate(db, submission=submission, user=user)


def require_code_access(db: Session, submission: Submission, user: User | None) -> None:
    if user is None:
        raise HTTPException(401, "log in to see submitted code")
    if not can_see_code(db, submission, user):
        raise HTTPException(
            403,
            "the code of other participants becomes visible to the event's participants after "
            "its public (collaborative) opening",
        )


def can_see_submission(db: Session, submission: Submission, user: User | None) -> bool:
    """The submission page (state, scores): its owner, admins, and participants once public."""
    return can_see_code(db, submission, user)
