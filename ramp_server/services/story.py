"""The RAMP story of an event, as the demo tells it: the hybrid model against the best single
submission, each submission's share of the hybrid, and what an improvement did to its
predecessor's share. Everything is read from the latest blend and the blend history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import Blend, BlendContribution, Submission, User
from ramp_server.services.blends import latest_blend
from ramp_server.services.results import bagged_scores_of


@dataclass(frozen=True)
class Share:
    """One submission of the story: who, its bagged scores and its share of the hybrid."""

    user: str
    submission: str
    valid: float | None
    test: float | None
    contributivity: float


@dataclass(frozen=True)
class Improvement:
    """A predecessor's share of the hybrid in the last blend that started before its successor
    was scored (``before``; None if there was none) and in the latest blend (``after``)."""

    user: str
    predecessor: str
    successor: str
    before: float | None
    after: float


@dataclass(frozen=True)
class Story:
    """The latest blend of an event (``blend_id`` None: nothing blended yet)."""

    score_name: str | None
    blend_id: int | None
    hybrid_valid: float | None
    hybrid_test: float | None
    best: Share | None  # the best single submission on its bagged validation score
    shares: list[Share] = field(default_factory=list)  # largest share first
    improvement: Improvement | None = None


def _submission(session: Session, *, event_id: int, user: str, name: str) -> Submission | None:
    return session.scalar(
        select(Submission)
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == event_id, User.name == user, Submission.name == name)
    )


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _improvement(
    session: Session, *, event_id: int, user: str, predecessor: str, successor: str
) -> Improvement | None:
    old = _submission(session, event_id=event_id, user=user, name=predecessor)
    new = _submission(session, event_id=event_id, user=user, name=successor)
    if old is None or new is None or new.finished_at is None or old.contributivity is None:
        return None  # not both submitted, the successor not scored, the predecessor not blended
    # the last blend that started before the successor was scored (zero shares have no row)
    earlier = [
        bid
        for bid, details in session.execute(
            select(Blend.id, Blend.details)
            .where(Blend.event_id == event_id)
            .order_by(Blend.computed_at, Blend.id)
        )
        if "started_at" in (details or {})
        and _utc(datetime.fromisoformat(details["started_at"])) < _utc(new.finished_at)
    ]
    before = None
    if earlier:
        share = session.scalar(
            select(BlendContribution.contributivity).where(
                BlendContribution.blend_id == earlier[-1],
                BlendContribution.submission_id == old.id,
            )
        )
        before = float(share or 0.0)
    return Improvement(
        user=user,
        predecessor=predecessor,
        successor=successor,
        before=before,
        after=float(old.contributivity),
    )


def event_story(
    session: Session,
    *,
    event_id: int,
    improvement: tuple[str, str, str] | None = None,
) -> Story:
    """The story of the event's latest blend; ``improvement`` = (user, predecessor name,
    successor name) adds the predecessor's share before and after its successor was scored
    (left out while either is missing or not blended yet)."""
    blend = latest_blend(session, event_id=event_id)
    if blend is None or blend.combined_valid is None:
        return Story(None, None, None, None, None)
    details = blend.details or {}
    rows = session.execute(
        select(Submission.id, Submission.name, User.name, Submission.contributivity)
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == event_id, Submission.contributivity.is_not(None))
    ).all()
    scores = bagged_scores_of(
        session, submission_ids=[sid for sid, *_ in rows], score_name=blend.score_name
    )
    by_id = {
        sid: Share(
            user=user,
            submission=name,
            valid=scores.get(sid, {}).get("valid"),
            test=scores.get(sid, {}).get("test"),
            contributivity=float(share),
        )
        for sid, name, user, share in rows
    }
    best_id = (details.get("best_single") or {}).get("submission_id")
    return Story(
        score_name=blend.score_name,
        blend_id=blend.id,
        hybrid_valid=blend.combined_valid,
        hybrid_test=blend.combined_test,
        best=by_id.get(best_id),
        shares=sorted(by_id.values(), key=lambda s: (-s.contributivity, s.user, s.submission)),
        improvement=None
        if improvement is None
        else _improvement(
            session,
            event_id=event_id,
            user=improvement[0],
            predecessor=improvement[1],
            successor=improvement[2],
        ),
    )
