"""The JSON API of teams, under ``/api/events/{name}/team`` (the team pages' actions)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ramp_server.services import team_invitations, teams, users
from ramp_server.web import access
from ramp_server.web.deps import Csrf, CurrentUser, Db, OptionalUser

router = APIRouter(prefix="/api", tags=["teams"])


class TeamOut(BaseModel):
    id: int
    name: str
    members: list[str]
    n_submissions: int
    may_form: bool = Field(description="the team may still take members")


class InvitationOut(BaseModel):
    id: int
    team: str
    invitee: str
    inviter: str | None
    created_at: datetime


class MyTeamOut(BaseModel):
    team: TeamOut | None
    invitations_received: list[InvitationOut]
    invitations_sent: list[InvitationOut]


class NameIn(BaseModel):
    name: str = Field(max_length=64)


class UserIn(BaseModel):
    user: str = Field(max_length=64)


class TeamIn(BaseModel):
    team: str = Field(max_length=64)


def _inv(inv: Any) -> InvitationOut:
    return InvitationOut(
        id=inv.id,
        team=inv.team.name,
        invitee=inv.invitee.name,
        inviter=inv.inviter.name if inv.inviter else None,
        created_at=inv.created_at,
    )


def _mine(db, event, user) -> MyTeamOut:  # noqa: ANN001
    team = teams.team_of(db, event=event, user=user)
    return MyTeamOut(
        team=None if team is None else TeamOut(**asdict(teams.view(db, event=event, team=team))),
        invitations_received=[
            _inv(i) for i in team_invitations.invitations_for(db, event=event, user=user)
        ],
        invitations_sent=[]
        if team is None
        else [_inv(i) for i in team_invitations.invitations_sent(db, team=team)],
    )


@router.get("/events/{name}/teams", response_model=list[TeamOut])
def list_teams(db: Db, user: OptionalUser, name: str) -> list[TeamOut]:
    """Every team of the event with its members."""
    event = access.get_event(db, name)
    return [TeamOut(**asdict(v)) for v in teams.list_teams(db, event=event)]


@router.get("/events/{name}/team", response_model=MyTeamOut)
def my_team(db: Db, user: CurrentUser, name: str) -> MyTeamOut:
    """Your team, the invitations you received and those your team sent."""
    return _mine(db, access.get_event(db, name), user)


@router.post("/events/{name}/team", response_model=MyTeamOut, dependencies=[Csrf])
def rename_team(db: Db, user: CurrentUser, name: str, body: NameIn) -> MyTeamOut:
    """Name (or rename) your team."""
    event = access.get_event(db, name)
    teams.rename(db, event=event, user=user, name=body.name)
    db.commit()
    return _mine(db, event, user)


@router.post(
    "/events/{name}/team/invitations",
    response_model=InvitationOut,
    status_code=201,
    dependencies=[Csrf],
)
def invite(db: Db, user: CurrentUser, name: str, body: UserIn) -> InvitationOut:
    """Invite another participant of the event into your team."""
    event = access.get_event(db, name)
    inv = team_invitations.invite(
        db, event=event, inviter=user, invitee=users.get_user(db, name=body.user)
    )
    db.commit()
    return _inv(inv)


@router.post("/events/{name}/team/join", response_model=MyTeamOut, dependencies=[Csrf])
def join(db: Db, user: CurrentUser, name: str, body: TeamIn) -> MyTeamOut:
    """Accept your pending invitation from ``team``."""
    event = access.get_event(db, name)
    team_invitations.accept(db, event=event, user=user, team_name=body.team)
    db.commit()
    return _mine(db, event, user)


@router.post("/events/{name}/team/decline", response_model=MyTeamOut, dependencies=[Csrf])
def decline(db: Db, user: CurrentUser, name: str, body: TeamIn) -> MyTeamOut:
    """Decline your pending invitation from ``team``."""
    event = access.get_event(db, name)
    team_invitations.decline(db, event=event, user=user, team_name=body.team)
    db.commit()
    return _mine(db, event, user)


@router.post("/events/{name}/team/leave", response_model=MyTeamOut, dependencies=[Csrf])
def leave(db: Db, user: CurrentUser, name: str) -> MyTeamOut:
    """Leave your team (you form a team of one again; your submissions stay with it)."""
    event = access.get_event(db, name)
    teams.leave(db, event=event, user=user)
    db.commit()
    return _mine(db, event, user)
