"""Tables of submissions (not ranked boards): every submission of an event or of a user's team,
with state, error, bagged scores and queue positions; the failed ones. Rows are plain dicts, as
the boards of :mod:`ramp_server.services.leaderboards`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ramp_server.db.models import Event, Split, Submission, SubmissionState, Team, User
from ramp_server.services import teams
from ramp_server.services.board_columns import ci_of, scores_of, with_scores
from ramp_server.services.scheduling import queue_plan

#: ``() -> {submission id: queue position}``: where a caller keeps the queue order it shares
Positions = Callable[[], Mapping[int, int]]


def submissions_table(
    session: Session,
    *,
    event: Event,
    user: User | None = None,
    positions: Positions | None = None,
) -> list[dict[str, Any]]:
    """Every submission (of ``user``'s team, and their own, if given) with state, error,
    bagged valid+test scores and, for queued ones, the platform-wide queue position (1 =
    next). ``positions`` gives the queue order when one is queued (default: the fair-share
    plan computed now; the web server passes the one its pages share)."""
    query = (
        select(
            Submission.id,
            Submission.name,
            User.name.label("user"),
            Team.name.label("team"),
            Submission.state,
            Submission.error_kind,
            Submission.error_message,
            Submission.submitted_at,
            Submission.finished_at,
            Submission.train_time,
            Submission.valid_time,
            Submission.test_time,
            Submission.peak_memory_mb,
            Submission.contributivity,
            Submission.historical_contributivity,
            Submission.withdrawn_from_blend,
            Submission.selected_for_competition,
        )
        .join(User, User.id == Submission.user_id)
        .outerjoin(Team, Team.id == Submission.team_id)
        .where(Submission.event_id == event.id)
    )
    if user is not None:
        team = teams.team_of(session, event=event, user=user)
        mine = Submission.user_id == user.id
        query = query.where(mine if team is None else or_(mine, Submission.team_id == team.id))
    query, _ = with_scores(query, event, Split.VALID, "v")
    query, _ = with_scores(query, event, Split.TEST, "t")
    query = query.order_by(Submission.submitted_at.desc(), Submission.id.desc())
    rows = session.execute(query).all()
    queued = any(row.state == SubmissionState.QUEUED for row in rows)
    if not queued:
        where: Mapping[int, int] = {}
    else:
        where = positions() if positions is not None else queue_plan(session).positions
    out = []
    for row in rows:
        out.append(
            {
                "submission_id": row.id,
                "submission": row.name,
                "user": row.user,
                "team": row.team or row.user,
                "state": row.state.value,
                "queue_position": where.get(row.id),
                "error_kind": row.error_kind.value if row.error_kind else None,
                "error_message": row.error_message,
                "submitted_at": row.submitted_at.isoformat(),
                "finished_at": row.finished_at.isoformat() if row.finished_at else None,
                "train_time": row.train_time,
                "valid_time": row.valid_time,
                "test_time": row.test_time,
                "peak_memory_mb": row.peak_memory_mb,
                "contributivity": row.contributivity,
                "historical_contributivity": row.historical_contributivity,
                "withdrawn_from_blend": row.withdrawn_from_blend,
                "selected_for_competition": row.selected_for_competition,
                "valid_scores": scores_of(row, event, "v"),
                "valid_ci": ci_of(row, "v"),
                "test_scores": scores_of(row, event, "t"),
                "test_ci": ci_of(row, "t"),
            }
        )
    return out


def my_submissions(
    session: Session, *, event: Event, user: User, positions: Positions | None = None
) -> list[dict[str, Any]]:
    """The submissions of the user's team (theirs and their teammates'), newest first, with
    queue positions (see :func:`submissions_table`)."""
    rows = submissions_table(session, event=event, user=user, positions=positions)
    for r in rows:
        r.pop("test_scores")  # hidden from participants until the private phase
        r.pop("test_ci")
    return rows


def failed_submissions(session: Session, *, event: Event) -> list[dict[str, Any]]:
    """Submissions that ended in error, newest first, with the error kind and message."""
    query = (
        select(
            Submission.id,
            Submission.name,
            User.name.label("user"),
            Submission.error_kind,
            Submission.error_message,
            Submission.submitted_at,
        )
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.ERROR)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
    )
    return [
        {
            "submission_id": r.id,
            "submission": r.name,
            "user": r.user,
            "error_kind": r.error_kind.value if r.error_kind else None,
            "error_message": r.error_message,
            "submitted_at": r.submitted_at.isoformat(),
        }
        for r in session.execute(query)
    ]
