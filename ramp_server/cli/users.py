"""``ramp-server init`` (create or upgrade the database) and ``ramp-server user ...``."""

from __future__ import annotations

import argparse

from ramp_server.cli import CliError
from ramp_server.cli.context import service_session, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init",
        help="create the database (or upgrade it to the newest schema) and the storage directory",
    )
    p.set_defaults(func=_init)

    user = sub.add_parser("user", help="manage user accounts")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    a = usub.add_parser("add", help="create a user account")
    a.add_argument("name", help="login name (letters, digits, '_', '-', '.')")
    a.add_argument("--email", required=True, help="e-mail address (unique)")
    a.add_argument("--password", required=True, help="initial password (at least 8 characters)")
    a.add_argument("--full-name", default="", help="display name")
    a.add_argument("--admin", action="store_true", help="give administrator rights")
    a.set_defaults(func=_user_add)
    ap = usub.add_parser("approve", help="approve (and if needed sign up) a user for an event")
    ap.add_argument("name", help="user name")
    ap.add_argument("--event", required=True, help="event name")
    ap.set_defaults(func=_user_approve)
    ad = usub.add_parser("admin", help="give (or with --revoke remove) administrator rights")
    ad.add_argument("name", help="user name")
    ad.add_argument("--revoke", action="store_true", help="remove the rights instead")
    ad.set_defaults(func=_user_admin)
    ls = usub.add_parser("list", help="list user accounts")
    ls.set_defaults(func=_user_list)


def _init(args: argparse.Namespace) -> int:
    from ramp_server.db.engine import make_engine
    from ramp_server.db.migrate import current_revision, upgrade
    from ramp_server.storage import Storage

    settings = settings_from_args(args)
    Storage.from_settings(settings).init()
    engine = make_engine(settings)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    except Exception as exc:  # unreachable server, bad URL, ...
        raise CliError(f"cannot initialise the database {engine.url!r}: {exc}") from exc
    finally:
        engine.dispose()
    state = "created" if before is None else ("up to date" if before == after else "upgraded")
    print(f"database {state} at revision {after}; storage: {settings.storage_dir}")
    return 0


def _user_add(args: argparse.Namespace) -> int:
    from ramp_server.services.accounts import sign_up

    with service_session(args) as (_, session):
        user = sign_up(
            session,
            name=args.name,
            email=args.email,
            password=args.password,
            full_name=args.full_name,
            is_admin=args.admin,
        )
        print(f"user {user.name} created (id {user.id}{', admin' if user.is_admin else ''})")
    return 0


def _user_approve(args: argparse.Namespace) -> int:
    from ramp_server.services.events import get_event
    from ramp_server.services.participants import approve_participant
    from ramp_server.services.users import get_user

    with service_session(args) as (_, session):
        event = get_event(session, name=args.event)
        user = get_user(session, name=args.name)
        approve_participant(session, event=event, user=user)
        print(f"{user.name} approved for {event.name}")
    return 0


def _user_admin(args: argparse.Namespace) -> int:
    from ramp_server.services.accounts import set_admin
    from ramp_server.services.users import get_user

    with service_session(args) as (_, session):
        user = set_admin(
            session, user_id=get_user(session, name=args.name).id, is_admin=not args.revoke
        )
        print(f"{user.name}: admin={user.is_admin}")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    from ramp_server.services.users import list_users

    with service_session(args) as (_, session):
        for u in list_users(session):
            flags = ",".join(
                f for f, on in (("admin", u.is_admin), ("inactive", not u.is_active)) if on
            )
            print(f"{u.id}\t{u.name}\t{u.email}\t{flags}")
    return 0
