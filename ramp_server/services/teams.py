"""Teams of an event: what they are, leaving them, and who a submission counts for.

Every participant is in exactly one team of each event they joined: a team of one, named after
them, on joining. A member invites another participant of the event, who accepts (joining the
team) or declines; anyone may leave (their submissions stay with the team; they form a team of
one again). Submissions, quotas, the minimum delay, worker-time budgets and fair share count per
team; a submission records its submitter and its team.

Rules of the event (``events.max_team_size``, ``events.team_formation_until``):

- a team may take members only while it may form: until ``team_formation_until`` when it is
  set, else until the team's first submission (afterwards its membership is fixed);
- joining brings the newcomer's own team of one along: when it already has submissions (an
  event with a formation deadline allows it), the two teams merge, which is refused if their
  submissions together exceed one team's daily quota or worker-time budget;
- a team never grows past ``max_team_size``.

Invitations (and merging teams on accepting one) are in :mod:`ramp_server.services.team_invitations`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    Event,
    Submission,
    SubmissionState,
    Team,
    TeamMember,
    User,
    utcnow,
)
from ramp_server.services import NotFound, ServiceError

TEAM_NAME_RE = re.compile(r"^[\w][\w .'-]{0,62}[\w.]$|^\w$")


class TeamError(ServiceError):
    """A team rule was broken; the message says which and what to do."""


@dataclass(frozen=True)
class TeamView:
    """A team as the pages, the API and the CLI show it."""

    id: int
    name: str
    members: list[str]
    n_submissions: int
    may_form: bool


def check_team_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not TEAM_NAME_RE.match(name):
        raise TeamError(
            f"team name {name!r} is not allowed: 1 to 64 letters, digits, spaces, '.', '-', "
            "'_' or \"'\", starting with a letter or digit"
        )
    return name


def team_of(session: Session, *, event: Event, user: User) -> Team | None:
    """The user's team in the event (None when they have not joined)."""
    return session.scalar(
        select(Team)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.event_id == event.id, TeamMember.user_id == user.id)
    )


def require_team(session: Session, *, event: Event, user: User) -> Team:
    team = team_of(session, event=event, user=user)
    if team is None:
        raise TeamError(f"{user.name} has not joined {event.name}: join the event first")
    return team


def get_team(session: Session, *, event: Event, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.event_id == event.id, Team.name == name))
    if team is None:
        raise NotFound(f"no team named {name!r} in {event.name}")
    return team


def _free_name(session: Session, event: Event, wanted: str) -> str:
    taken = set(session.scalars(select(Team.name).where(Team.event_id == event.id)))
    name, k = wanted, 2
    while name in taken:
        name, k = f"{wanted[:58]}-{k}", k + 1
    return name


def ensure_team(session: Session, *, event: Event, user: User, now: datetime | None = None) -> Team:
    """The user's team, created as a team of one named after them if they have none (on
    joining the event)."""
    team = team_of(session, event=event, user=user)
    if team is not None:
        return team
    now = now or utcnow()
    team = Team(event_id=event.id, name=_free_name(session, event, user.name), created_at=now)
    session.add(team)
    session.flush()
    session.add(TeamMember(team_id=team.id, event_id=event.id, user_id=user.id, joined_at=now))
    session.flush()
    return team


def members(session: Session, *, team: Team) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(TeamMember, TeamMember.user_id == User.id)
            .where(TeamMember.team_id == team.id)
            .order_by(TeamMember.joined_at, User.name)
        )
    )


def n_submissions(session: Session, *, team: Team) -> int:
    return int(
        session.scalar(select(func.count(Submission.id)).where(Submission.team_id == team.id)) or 0
    )


def may_form(session: Session, *, event: Event, team: Team, now: datetime | None = None) -> bool:
    """Whether the team may still take members (see the module docstring)."""
    if event.team_formation_until is not None:
        return (now or utcnow()) < event.team_formation_until
    return n_submissions(session, team=team) == 0


def formation_closed(event: Event, team: Team) -> str:
    """Why the team may no longer take members."""
    if event.team_formation_until is not None:
        return (
            f"teams of {event.name} could form until "
            f"{event.team_formation_until.isoformat(timespec='minutes')}"
        )
    return f"team {team.name} has submitted: its membership is fixed"


def view(session: Session, *, event: Event, team: Team) -> TeamView:
    return TeamView(
        id=team.id,
        name=team.name,
        members=[u.name for u in members(session, team=team)],
        n_submissions=n_submissions(session, team=team),
        may_form=may_form(session, event=event, team=team),
    )


def list_teams(session: Session, *, event: Event) -> list[TeamView]:
    """Every team of the event with its members, by name."""
    rows = session.execute(
        select(Team.id, Team.name, User.name)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .join(User, User.id == TeamMember.user_id)
        .where(Team.event_id == event.id)
        .order_by(Team.name, TeamMember.joined_at, User.name)
    ).all()
    counts = dict(
        session.execute(
            select(Submission.team_id, func.count())
            .where(Submission.event_id == event.id, Submission.team_id.is_not(None))
            .group_by(Submission.team_id)
        ).all()
    )
    teams: dict[int, TeamView] = {}
    for tid, tname, uname in rows:
        if tid not in teams:
            n = int(counts.get(tid, 0))
            formable = (
                n == 0
                if event.team_formation_until is None
                else utcnow() < event.team_formation_until
            )
            teams[tid] = TeamView(tid, tname, [], n, formable)
        teams[tid].members.append(uname)
    return list(teams.values())


def rename(session: Session, *, event: Event, user: User, name: str) -> Team:
    """Give the user's team a new name (unique in the event)."""
    name = check_team_name(name)
    team = require_team(session, event=event, user=user)
    if team.name == name:
        return team
    taken = session.scalar(
        select(Team.id).where(
            Team.event_id == event.id, func.lower(Team.name) == name.lower(), Team.id != team.id
        )
    )
    if taken is not None:
        raise TeamError(f"the name {name!r} is already taken in {event.name}: choose another")
    team.name = name
    session.flush()
    return team


def leave(session: Session, *, event: Event, user: User, now: datetime | None = None) -> Team:
    """The user leaves their team and forms a team of one again (their submissions stay with
    the team they made them for). Refused while they have submissions waiting or training."""
    now = now or utcnow()
    team = require_team(session, event=event, user=user)
    lock_row(session, Team, team.id)
    if len(members(session, team=team)) == 1:
        raise TeamError(f"you are alone in team {team.name}: there is nothing to leave")
    busy = session.scalar(
        select(func.count(Submission.id)).where(
            Submission.team_id == team.id,
            Submission.user_id == user.id,
            Submission.state.in_(
                [SubmissionState.NEW, SubmissionState.QUEUED, SubmissionState.TRAINING]
            ),
        )
    )
    if busy:
        raise TeamError(
            f"you have {busy} submission(s) of team {team.name} waiting or training: cancel "
            "them or wait until they are scored before leaving"
        )
    session.execute(
        TeamMember.__table__.delete().where(
            TeamMember.team_id == team.id, TeamMember.user_id == user.id
        )
    )
    session.flush()
    return ensure_team(session, event=event, user=user, now=now)


def is_teammate(session: Session, *, submission: Submission, user: User) -> bool:
    """Whether ``user`` is in the team the submission was made for (teammates see each other's
    submissions and code, and act on them)."""
    if submission.user_id == user.id:
        return True
    if submission.team_id is None:
        return False
    return bool(
        session.scalar(
            select(TeamMember.id).where(
                TeamMember.team_id == submission.team_id, TeamMember.user_id == user.id
            )
        )
    )


def members_by_team(session: Session, *, team_ids: list[int]) -> dict[int, list[str]]:
    """``{team id: member names}`` (by joining order) of these teams."""
    out: dict[int, list[str]] = {t: [] for t in team_ids}
    if not team_ids:
        return out
    for tid, name in session.execute(
        select(TeamMember.team_id, User.name)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id.in_(team_ids))
        .order_by(TeamMember.joined_at, User.name)
    ):
        out[tid].append(name)
    return out


def with_members(session: Session, rows: list[dict]) -> list[dict]:
    """Add ``members`` (the team's member names) to leaderboard rows carrying ``team_id``."""
    ids = sorted({r["team_id"] for r in rows if r.get("team_id") is not None})
    names = members_by_team(session, team_ids=ids)
    for r in rows:
        r["members"] = names.get(r.get("team_id"), [r.get("user")] if r.get("user") else [])
    return rows
