"""Counts that the event list, the event page and the organisers' page show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ramp_server.db.models import Event, EventParticipant, Submission, SubmissionState, User


def event_overview(session: Session, *, user: User | None) -> list[dict[str, Any]]:
    """Every event, newest first, with its numbers of participants and submissions and whether
    ``user`` joined it."""
    events = list(session.scalars(select(Event).order_by(Event.created_at.desc(), Event.id)))
    n_parts = dict(
        session.execute(
            select(EventParticipant.event_id, func.count()).group_by(EventParticipant.event_id)
        ).all()
    )
    n_subs = dict(
        session.execute(
            select(Submission.event_id, func.count()).group_by(Submission.event_id)
        ).all()
    )
    joined: set[int] = set()
    if user is not None:
        joined = set(
            session.scalars(
                select(EventParticipant.event_id).where(EventParticipant.user_id == user.id)
            )
        )
    return [
        {
            "event": ev,
            "n_participants": n_parts.get(ev.id, 0),
            "n_submissions": n_subs.get(ev.id, 0),
            "joined": ev.id in joined,
        }
        for ev in events
    ]


def event_counts(session: Session, *, event: Event) -> dict[str, int]:
    """``{"n_participants": ..., "n_submissions": ...}`` of one event."""
    return {
        "n_participants": session.scalar(
            select(func.count()).where(EventParticipant.event_id == event.id)
        )
        or 0,
        "n_submissions": session.scalar(select(func.count()).where(Submission.event_id == event.id))
        or 0,
    }


def submission_state_counts(session: Session, *, event: Event) -> dict[str, int]:
    """``{state: number of the event's submissions in it}`` for every state (0 included)."""
    counts = dict(
        session.execute(
            select(Submission.state, func.count())
            .where(Submission.event_id == event.id)
            .group_by(Submission.state)
        ).all()
    )
    return {s.value: counts.get(s, 0) for s in SubmissionState}
