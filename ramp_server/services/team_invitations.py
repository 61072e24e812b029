"""Invitations into a team: invite, accept (joining, and merging the teams' submissions where the
event's formation deadline allows it), decline. The rules are those of
:mod:`ramp_server.services.teams`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    Event,
    Submission,
    Team,
    TeamInvitation,
    TeamMember,
    User,
    utcnow,
)
from ramp_server.services import participants
from ramp_server.services.teams import (
    TeamError,
    formation_closed,
    may_form,
    members,
    n_submissions,
    require_team,
    team_of,
)


def invite(
    session: Session, *, event: Event, inviter: User, invitee: User, now: datetime | None = None
) -> TeamInvitation:
    """Invite ``invitee`` (an approved participant of the event) into ``inviter``'s team."""
    team = require_team(session, event=event, user=inviter)
    if invitee.id == inviter.id:
        raise TeamError("you are already in your own team")
    if not participants.is_participant(session, event=event, user=invitee):
        raise TeamError(
            f"{invitee.name} is not an approved participant of {event.name}: only participants "
            "can be invited (ask them to join the event first)"
        )
    theirs = team_of(session, event=event, user=invitee)
    if theirs is not None and theirs.id == team.id:
        raise TeamError(f"{invitee.name} is already in team {team.name}")
    if not may_form(session, event=event, team=team, now=now):
        raise TeamError(f"cannot invite: {formation_closed(event, team)}")
    size = len(members(session, team=team))
    if event.max_team_size is not None and size >= event.max_team_size:
        raise TeamError(
            f"team {team.name} is full: teams of {event.name} have at most "
            f"{event.max_team_size} members"
        )
    pending = session.scalar(
        select(TeamInvitation).where(
            TeamInvitation.team_id == team.id,
            TeamInvitation.invitee_id == invitee.id,
            TeamInvitation.state == "pending",
        )
    )
    if pending is not None:
        return pending
    inv = TeamInvitation(
        team_id=team.id, invitee_id=invitee.id, inviter_id=inviter.id, created_at=now or utcnow()
    )
    session.add(inv)
    session.flush()
    return inv


def invitations_for(session: Session, *, event: Event, user: User) -> list[TeamInvitation]:
    """The user's pending invitations in the event, oldest first."""
    return list(
        session.scalars(
            select(TeamInvitation)
            .join(Team, Team.id == TeamInvitation.team_id)
            .where(
                Team.event_id == event.id,
                TeamInvitation.invitee_id == user.id,
                TeamInvitation.state == "pending",
            )
            .order_by(TeamInvitation.created_at, TeamInvitation.id)
        )
    )


def invitations_sent(session: Session, *, team: Team) -> list[TeamInvitation]:
    """The team's pending invitations."""
    return list(
        session.scalars(
            select(TeamInvitation)
            .where(TeamInvitation.team_id == team.id, TeamInvitation.state == "pending")
            .order_by(TeamInvitation.created_at, TeamInvitation.id)
        )
    )


def _invitation(session: Session, *, event: Event, user: User, team_name: str) -> TeamInvitation:
    for inv in invitations_for(session, event=event, user=user):
        if inv.team.name == team_name:
            return inv
    raise TeamError(
        f"{user.name} has no pending invitation from team {team_name!r} in {event.name}"
    )


def _merge_checks(
    session: Session, event: Event, target: Team, incoming: Team, now: datetime
) -> None:
    """Refuse a merge whose teams' submissions together exceed one team's quota or budget."""
    from ramp_server.services import scheduling

    if event.daily_quota is not None:
        recent = session.scalar(
            select(func.count(Submission.id)).where(
                Submission.team_id.in_([target.id, incoming.id]),
                Submission.charged_to_quota.is_(True),
                Submission.submitted_at > now - timedelta(days=1),
            )
        )
        if recent > event.daily_quota:
            raise TeamError(
                f"teams {target.name} and {incoming.name} made {recent} submissions in the last "
                f"24 hours together, more than one team's daily quota of {event.daily_quota}: "
                "they cannot merge now"
            )
    if event.worker_time_budget_s is not None:
        used = scheduling.charged_seconds(session, event_id=event.id)
        both = used.get((event.id, target.id), 0.0) + used.get((event.id, incoming.id), 0.0)
        if both > event.worker_time_budget_s:
            raise TeamError(
                f"teams {target.name} and {incoming.name} used {both:,.0f} s of worker time "
                f"together, more than one team's budget of {event.worker_time_budget_s:,} s: "
                "they cannot merge"
            )


def accept(
    session: Session, *, event: Event, user: User, team_name: str, now: datetime | None = None
) -> Team:
    """The user accepts the pending invitation of ``team_name``: they join it, their own team
    of one (and its submissions, if the event's formation deadline allows a merge) with them."""
    now = now or utcnow()
    inv = _invitation(session, event=event, user=user, team_name=team_name)
    target = inv.team
    lock_row(session, Team, target.id)  # one membership change of a team at a time
    mine = require_team(session, event=event, user=user)
    mates = [u.name for u in members(session, team=mine) if u.id != user.id]
    if mates:
        raise TeamError(
            f"you are already in team {mine.name} with {', '.join(mates)}: one team per "
            "participant — leave it before joining another"
        )
    for team in (target, mine):
        if not may_form(session, event=event, team=team, now=now):
            raise TeamError(f"cannot join: {formation_closed(event, team)}")
    size = len(members(session, team=target))
    if event.max_team_size is not None and size + 1 > event.max_team_size:
        raise TeamError(
            f"team {target.name} is full: teams of {event.name} have at most "
            f"{event.max_team_size} members"
        )
    if n_submissions(session, team=mine):
        _merge_checks(session, event, target, mine, now)
        session.execute(
            update(Submission).where(Submission.team_id == mine.id).values(team_id=target.id)
        )
    session.execute(
        update(TeamMember)
        .where(TeamMember.team_id == mine.id, TeamMember.user_id == user.id)
        .values(team_id=target.id, joined_at=now)
    )
    session.execute(
        update(TeamInvitation)
        .where(TeamInvitation.team_id == mine.id, TeamInvitation.state == "pending")
        .values(state="withdrawn", answered_at=now)
    )
    inv.state, inv.answered_at = "accepted", now
    session.flush()
    session.delete(mine)
    session.flush()
    session.expire(target)
    return target


def decline(
    session: Session, *, event: Event, user: User, team_name: str, now: datetime | None = None
) -> TeamInvitation:
    inv = _invitation(session, event=event, user=user, team_name=team_name)
    inv.state, inv.answered_at = "declined", now or utcnow()
    session.flush()
    return inv
