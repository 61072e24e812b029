"""``ramp-server team create|invite|join|decline|leave|list``: teams of an event, as a participant
(``--user``) would form them on the web site."""

from __future__ import annotations

import argparse
import json

from ramp_server.cli.context import service_session


def register(sub: argparse._SubParsersAction) -> None:
    team = sub.add_parser("team", help="form teams in an event (for a participant)")
    tsub = team.add_subparsers(dest="team_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser, *, user: bool = True) -> None:
        p.add_argument("--event", required=True, help="event name")
        if user:
            p.add_argument("--user", required=True, help="the participant who acts")

    c = tsub.add_parser("create", help="name the user's team (or leave it for a new one)")
    common(c)
    c.add_argument("name", help="team name (unique in the event)")
    c.set_defaults(func=_create)
    i = tsub.add_parser("invite", help="invite another participant into the user's team")
    common(i)
    i.add_argument("invitee", help="user name of the participant to invite")
    i.set_defaults(func=_invite)
    for verb, what, func in (
        ("join", "accept the user's pending invitation from a team", _join),
        ("decline", "decline the user's pending invitation from a team", _decline),
    ):
        p = tsub.add_parser(verb, help=what)
        common(p)
        p.add_argument("team", help="name of the inviting team")
        p.set_defaults(func=func)
    lv = tsub.add_parser("leave", help="leave the user's team (forming a team of one)")
    common(lv)
    lv.set_defaults(func=_leave)
    ls = tsub.add_parser("list", help="list the event's teams and their members")
    common(ls, user=False)
    ls.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    ls.set_defaults(func=_list)


def _who(session, args):  # noqa: ANN001, ANN202
    from ramp_server.services.events import get_event
    from ramp_server.services.users import get_user

    return get_event(session, name=args.event), get_user(session, name=args.user)


def _create(args: argparse.Namespace) -> int:
    from ramp_server.services import teams

    with service_session(args) as (_, session):
        event, user = _who(session, args)
        mine = teams.require_team(session, event=event, user=user)
        if len(teams.members(session, team=mine)) > 1:
            teams.leave(session, event=event, user=user)
        team = teams.rename(session, event=event, user=user, name=args.name)
        print(f"{user.name} is in team {team.name} of {event.name}")
    return 0


def _invite(args: argparse.Namespace) -> int:
    from ramp_server.services import team_invitations
    from ramp_server.services.users import get_user

    with service_session(args) as (_, session):
        event, user = _who(session, args)
        inv = team_invitations.invite(
            session, event=event, inviter=user, invitee=get_user(session, name=args.invitee)
        )
        print(f"{args.invitee} is invited into team {inv.team.name} (invitation {inv.id})")
    return 0


def _join(args: argparse.Namespace) -> int:
    from ramp_server.services import team_invitations, teams

    with service_session(args) as (_, session):
        event, user = _who(session, args)
        team = team_invitations.accept(session, event=event, user=user, team_name=args.team)
        names = ", ".join(u.name for u in teams.members(session, team=team))
        print(f"{user.name} joined team {team.name}: {names}")
    return 0


def _decline(args: argparse.Namespace) -> int:
    from ramp_server.services import team_invitations

    with service_session(args) as (_, session):
        event, user = _who(session, args)
        team_invitations.decline(session, event=event, user=user, team_name=args.team)
        print(f"{user.name} declined the invitation of team {args.team}")
    return 0


def _leave(args: argparse.Namespace) -> int:
    from ramp_server.services import teams

    with service_session(args) as (_, session):
        event, user = _who(session, args)
        team = teams.leave(session, event=event, user=user)
        print(f"{user.name} left their team; now in team {team.name} alone")
    return 0


def _list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ramp_server.services import teams
    from ramp_server.services.events import get_event

    with service_session(args) as (_, session):
        views = teams.list_teams(session, event=get_event(session, name=args.event))
    if args.format == "json":
        print(json.dumps([asdict(v) for v in views], indent=1))
        return 0
    for v in views:
        state = "open" if v.may_form else "fixed"
        print(f"{v.name}\t{state}\t{v.n_submissions} submission(s)\t{', '.join(v.members)}")
    return 0
