"""Team pages: your team (members, invitations, rename, leave) and the event's teams."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ramp_server.services import team_invitations, teams, users
from ramp_server.services.teams import TeamError
from ramp_server.web import access
from ramp_server.web.context import event_context
from ramp_server.web.deps import Csrf, CurrentUser, Db, OptionalUser
from ramp_server.web.templating import flash, render

router = APIRouter(include_in_schema=False)


@router.get("/events/{name}/team")
def my_team(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
    event = access.get_event(db, name)
    ctx = event_context(request, db, event, user, "team")
    team = teams.team_of(db, event=event, user=user)
    ctx.update(
        team=None if team is None else teams.view(db, event=event, team=team),
        sent=[] if team is None else team_invitations.invitations_sent(db, team=team),
        received=team_invitations.invitations_for(db, event=event, user=user),
    )
    return render(request, "teams/team.html", ctx)


@router.get("/events/{name}/teams")
def all_teams(request: Request, db: Db, user: OptionalUser, name: str) -> Response:
    event = access.get_event(db, name)
    ctx = event_context(request, db, event, user, "teams")
    ctx.update(teams=teams.list_teams(db, event=event))
    return render(request, "teams/teams.html", ctx)


def _back(request: Request, event_name: str, message: str, category: str = "success") -> Response:
    flash(request, message, category)
    return RedirectResponse(f"/events/{event_name}/team", status_code=303)


def _act(request: Request, db, event_name: str, action) -> Response:  # noqa: ANN001
    """Run a team action; its refusal is shown on the team page, not as an error page."""
    try:
        message = action()
    except TeamError as exc:
        db.rollback()
        return _back(request, event_name, str(exc), "error")
    db.commit()
    return _back(request, event_name, message)


@router.post("/events/{name}/team/rename", dependencies=[Csrf])
def rename(
    request: Request, db: Db, user: CurrentUser, name: str, team_name: Annotated[str, Form()]
) -> Response:
    event = access.get_event(db, name)
    return _act(
        request,
        db,
        name,
        lambda: (
            f"Your team is now {teams.rename(db, event=event, user=user, name=team_name).name}."
        ),
    )


@router.post("/events/{name}/team/invite", dependencies=[Csrf])
def invite(
    request: Request, db: Db, user: CurrentUser, name: str, invitee: Annotated[str, Form()]
) -> Response:
    event = access.get_event(db, name)

    def act() -> str:
        target = users.get_user(db, name=invitee.strip())
        inv = team_invitations.invite(db, event=event, inviter=user, invitee=target)
        return f"{target.name} is invited into team {inv.team.name}."

    try:
        return _act(request, db, name, act)
    except LookupError as exc:  # no such user
        return _back(request, name, str(exc), "error")


@router.post("/events/{name}/team/join", dependencies=[Csrf])
def join(
    request: Request, db: Db, user: CurrentUser, name: str, team: Annotated[str, Form()]
) -> Response:
    event = access.get_event(db, name)
    return _act(
        request,
        db,
        name,
        lambda: (
            f"You joined team {team_invitations.accept(db, event=event, user=user, team_name=team).name}."
        ),
    )


@router.post("/events/{name}/team/decline", dependencies=[Csrf])
def decline(
    request: Request, db: Db, user: CurrentUser, name: str, team: Annotated[str, Form()]
) -> Response:
    event = access.get_event(db, name)

    def act() -> str:
        team_invitations.decline(db, event=event, user=user, team_name=team)
        return f"You declined the invitation of team {team}."

    return _act(request, db, name, act)


@router.post("/events/{name}/team/leave", dependencies=[Csrf])
def leave(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
    event = access.get_event(db, name)
    return _act(
        request,
        db,
        name,
        lambda: (
            "You left your team; you are now in team "
            f"{teams.leave(db, event=event, user=user).name} alone."
        ),
    )
