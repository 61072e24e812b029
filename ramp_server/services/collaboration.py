"""The collaborative side of an event: interactions, credits, what a participant may build on.

RAMP's collaborative phase opens every submission's code to the event's participants; who
looked at, diffed, copied or downloaded what is logged (:func:`log_interaction`) and suggests
what a new submission should credit (:func:`credit_candidates`); credits given at upload
(:func:`credits_of`) propagate contributivity into the historical contributivity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ramp_server.db.models import (
    Event,
    Interaction,
    InteractionKind,
    Submission,
    SubmissionCredit,
    SubmissionState,
    User,
    utcnow,
)

#: most submissions offered in a credit or diff list
CANDIDATE_LIMIT = 300


def log_interaction(
    session: Session,
    *,
    event: Event,
    user: User | None,
    kind: InteractionKind,
    submission: Submission | None = None,
    now: datetime | None = None,
) -> None:
    """Record a view/diff/copy/download/submit (feeds historical contributivity)."""
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


def interaction_log(session: Session, *, event: Event, limit: int = 300) -> list[dict[str, Any]]:
    """The event's latest interactions, newest first (who did what to whose submission)."""
    owner = User.__table__.alias("owner")
    query = (
        select(
            Interaction.at,
            Interaction.kind,
            User.name.label("user"),
            Submission.id.label("submission_id"),
            Submission.name.label("submission"),
            owner.c.name.label("owner"),
        )
        .outerjoin(User, User.id == Interaction.user_id)
        .outerjoin(Submission, Submission.id == Interaction.submission_id)
        .outerjoin(owner, owner.c.id == Submission.user_id)
        .where(Interaction.event_id == event.id)
        .order_by(Interaction.at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [
        {
            "at": r.at.isoformat(),
            "kind": r.kind.value,
            "user": r.user,
            "submission_id": r.submission_id,
            "submission": r.submission,
            "owner": r.owner,
        }
        for r in session.execute(query)
    ]


def credit_candidates(
    session: Session, *, event: Event, user: User, collaborative: bool
) -> list[tuple[int, str]]:
    """Scored submissions the user may credit: their team's, and everyone's in the collaborative
    phase, as ``(id, label)``.

    As on RAMP's credit page, the interaction log suggests what to credit: the submissions the
    user viewed, diffed, copied or downloaded come first, marked "looked at".
    """
    query = (
        select(Submission.id, Submission.name, User.name)
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.SCORED)
        .order_by(Submission.submitted_at.desc())
        .limit(CANDIDATE_LIMIT)
    )
    if not collaborative:
        query = query.where(_own_team(session, event=event, user=user))
    looked_at = set(
        session.scalars(
            select(Interaction.submission_id)
            .where(
                Interaction.event_id == event.id,
                Interaction.user_id == user.id,
                Interaction.submission_id.is_not(None),
                Interaction.kind != InteractionKind.SUBMIT,
            )
            .distinct()
        )
    )
    rows = sorted(session.execute(query), key=lambda row: row[0] not in looked_at)  # stable
    return [
        (sid, f"{owner} / {name} (#{sid})" + (" · looked at" if sid in looked_at else ""))
        for sid, name, owner in rows
    ]


def diff_candidates(
    session: Session, *, submission: Submission, user: User, see_all: bool
) -> list[tuple[int, str]]:
    """Other submissions of the event that ``user`` may diff ``submission`` against: their
    team's, or everyone's when ``see_all`` (administrators, the collaborative phase)."""
    query = (
        select(Submission.id, Submission.name, User.name)
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == submission.event_id, Submission.id != submission.id)
        .order_by(Submission.submitted_at.desc())
        .limit(CANDIDATE_LIMIT)
    )
    if not see_all:
        query = query.where(_own_team(session, event=submission.event, user=user))
    return [(sid, f"{owner} / {name} (#{sid})") for sid, name, owner in session.execute(query)]


def _own_team(session: Session, *, event: Event, user: User) -> Any:
    """WHERE term: the submissions of the user and of their team."""
    from ramp_server.services import teams

    team = teams.team_of(session, event=event, user=user)
    mine = Submission.user_id == user.id
    return mine if team is None else or_(mine, Submission.team_id == team.id)


@dataclass
class CreditLink:
    """One credit between two submissions, as the page lists it."""

    submission_id: int
    owner: str
    name: str
    percent: float


@dataclass
class Credits:
    """What a submission credited at upload (``given``) and who credited it (``received``)."""

    given: list[CreditLink]
    received: list[CreditLink]


def credits_of(session: Session, *, submission: Submission) -> Credits:
    """The submission's credits both ways, largest share first."""

    def links(mine: Any, other: Any) -> list[CreditLink]:
        rows = session.execute(
            select(Submission.id, User.name, Submission.name, SubmissionCredit.percent)
            .join(SubmissionCredit, other == Submission.id)
            .join(User, User.id == Submission.user_id)
            .where(mine == submission.id)
            .order_by(SubmissionCredit.percent.desc(), Submission.id)
        )
        return [CreditLink(*row) for row in rows]

    return Credits(
        given=links(SubmissionCredit.submission_id, SubmissionCredit.credited_submission_id),
        received=links(SubmissionCredit.credited_submission_id, SubmissionCredit.submission_id),
    )
