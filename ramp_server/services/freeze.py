"""The leaderboard freeze: from an event's ``freeze_at`` until it closes, participants see the
public and competition boards as they were at the freeze.

A frozen board holds the submissions scored by ``freeze_at`` with their contributivities of the
last blend computed by then; a participant also sees their own team's submissions scored since
(unranked, marked, for them only). Organisers see the live boards; at closing every board is live
again and the private board is revealed as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import Blend, BlendContribution, Event, Submission, User, utcnow
from ramp_server.services import events as event_service
from ramp_server.services import leaderboards, teams


def frozen_at(event: Event, *, user: User | None, now: datetime | None = None) -> datetime | None:
    """The freeze time if ``user`` sees ``event``'s boards frozen now, else ``None``
    (organisers never do; nobody once the event closed)."""
    now = now or utcnow()
    if event.freeze_at is None or now < event.freeze_at or (user is not None and user.is_admin):
        return None
    return None if event_service.is_closed(event, now=now) else event.freeze_at


def last_blend_at(session: Session, *, event: Event, at: datetime) -> Blend | None:
    """The event's last blend computed by ``at`` (the hybrid model a frozen page shows)."""
    return session.scalar(
        select(Blend)
        .where(Blend.event_id == event.id, Blend.computed_at <= at)
        .order_by(Blend.computed_at.desc(), Blend.id.desc())
        .limit(1)
    )


def _contributivity_at(session: Session, *, event: Event, at: datetime) -> dict[int, tuple]:
    """``{submission id: (contributivity, historical)}`` of the last blend computed by ``at``."""
    blend = last_blend_at(session, event=event, at=at)
    if blend is None:
        return {}
    blend_id = blend.id
    rows = session.execute(
        select(
            BlendContribution.submission_id,
            BlendContribution.contributivity,
            BlendContribution.historical_contributivity,
        ).where(BlendContribution.blend_id == blend_id)
    )
    return {sid: (c, h) for sid, c, h in rows}


def _as_at(session: Session, event: Event, at: datetime, rows: list[dict]) -> list[dict]:
    shares = _contributivity_at(session, event=event, at=at)
    for r in rows:
        r["contributivity"], r["historical_contributivity"] = shares.get(
            r["submission_id"], (None, None)
        )
    return rows


def frozen_public_board(
    session: Session,
    *,
    event: Event,
    at: datetime,
    sort_by: str | None = None,
    best_first: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The public board as at ``at``: what :func:`leaderboards.public_leaderboard` returns,
    restricted to the submissions scored by then, with the contributivities of then."""
    rows = leaderboards.public_leaderboard(
        session,
        event=event,
        sort_by=sort_by,
        best_first=best_first,
        limit=limit,
        offset=offset,
        where=(Submission.finished_at <= at,),
    )
    return _as_at(session, event, at, rows)


def frozen_competition_board(
    session: Session, *, event: Event, at: datetime
) -> list[dict[str, Any]]:
    """The competition board as at ``at`` (validation scores only: the event is not closed)."""
    rows = leaderboards.competition_leaderboard(
        session, event=event, where=(Submission.finished_at <= at,)
    )
    return _as_at(session, event, at, rows)


def own_rows_since(
    session: Session, *, event: Event, user: User, at: datetime
) -> list[dict[str, Any]]:
    """The board rows of ``user``'s team's submissions scored after ``at``: unranked, marked
    ``after_freeze``, shown to that team only."""
    team = teams.team_of(session, event=event, user=user)
    mine = Submission.team_id == team.id if team is not None else Submission.user_id == user.id
    rows = leaderboards.public_leaderboard(
        session, event=event, where=(Submission.finished_at > at, mine)
    )
    for r in rows:
        r["rank"], r["after_freeze"] = None, True
    return rows
