"""Participants of an event: signing up, approval, pre-approved e-mails."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import Event, EventInvitation, EventParticipant, User, utcnow
from ramp_server.services import teams
from ramp_server.services.events import EventError


def get_participation(session: Session, *, event: Event, user: User) -> EventParticipant | None:
    return session.scalar(
        select(EventParticipant).where(
            EventParticipant.event_id == event.id, EventParticipant.user_id == user.id
        )
    )


def is_participant(session: Session, *, event: Event, user: User) -> bool:
    """True when ``user`` joined ``event`` and is approved."""
    p = get_participation(session, event=event, user=user)
    return p is not None and p.approved


def join_event(
    session: Session, *, event: Event, user: User, now: datetime | None = None
) -> EventParticipant:
    """Sign ``user`` up; approved at once unless the event requires approval (admins and
    pre-approved e-mails never wait)."""
    existing = get_participation(session, event=event, user=user)
    if existing is not None:
        return existing
    now = now or utcnow()
    invited = session.scalar(
        select(EventInvitation.id).where(
            EventInvitation.event_id == event.id, EventInvitation.email == user.email.lower()
        )
    )
    approved = not event.approval_required or user.is_admin or invited is not None
    p = EventParticipant(
        event_id=event.id,
        user_id=user.id,
        approved=approved,
        joined_at=now,
        approved_at=now if approved else None,
    )
    session.add(p)
    session.flush()
    teams.ensure_team(session, event=event, user=user, now=now)  # a team of one
    return p


def approve_participant(
    session: Session, *, event: Event, user: User, now: datetime | None = None
) -> EventParticipant:
    """Approve ``user`` for ``event`` (signing them up first when needed)."""
    p = join_event(session, event=event, user=user, now=now)
    if not p.approved:
        p.approved = True
        p.approved_at = now or utcnow()
        session.flush()
    return p


def pre_approve_emails(
    session: Session, *, event: Event, emails: list[str], now: datetime | None = None
) -> list[str]:
    """Approve these e-mails for ``event``: existing accounts now, others when they sign up
    and join. Returns the e-mails that have no account yet (they are remembered)."""
    pending = []
    for raw in dict.fromkeys(e.strip().lower() for e in emails):
        if not raw:
            continue
        if "@" not in raw:
            raise EventError(f"{raw!r} is not an e-mail address")
        user = session.scalar(select(User).where(User.email == raw))
        if user is not None:
            approve_participant(session, event=event, user=user, now=now)
            continue
        pending.append(raw)
        exists = session.scalar(
            select(EventInvitation.id).where(
                EventInvitation.event_id == event.id, EventInvitation.email == raw
            )
        )
        if exists is None:
            session.add(EventInvitation(event_id=event.id, email=raw, created_at=now or utcnow()))
    session.flush()
    return pending


def list_participants(session: Session, *, event: Event) -> list[EventParticipant]:
    return list(
        session.scalars(
            select(EventParticipant)
            .where(EventParticipant.event_id == event.id)
            .order_by(EventParticipant.joined_at)
        )
    )


def pending_approvals(session: Session) -> list[tuple[EventParticipant, str, str]]:
    """Participations waiting for an administrator, oldest first: ``(row, event, user name)``."""
    return list(
        session.execute(
            select(EventParticipant, Event.name, User.name)
            .join(Event, Event.id == EventParticipant.event_id)
            .join(User, User.id == EventParticipant.user_id)
            .where(EventParticipant.approved.is_(False))
            .order_by(EventParticipant.joined_at)
        ).all()
    )
