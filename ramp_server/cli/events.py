"""``ramp-server event add|update|list|close|reblend|fill-intervals|rescore|retrain``: events from a
kit folder and their rules (``rescore`` and ``retrain``: :mod:`ramp_server.cli.toolkit`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from ramp_server.cli import CliError
from ramp_server.cli.context import service_session


def parse_time(text: str) -> datetime | None:
    """ISO 8601 date/time; without a time zone it is UTC; 'none' clears the setting."""
    if text.lower() in ("none", "never", ""):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date/time, e.g. 2026-05-01T12:00Z or 2026-05-01"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _quota(text: str) -> int | None:
    if text.lower() in ("none", "unlimited"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number or 'unlimited'") from None
    return value


def _rule_flags(p: argparse.ArgumentParser) -> None:
    """Flags of every event rule; unset flags leave the rule unchanged (or at its default)."""
    d = argparse.SUPPRESS
    p.add_argument("--title", default=d, help="title shown on the event page")
    p.add_argument("--description", default=d, help="short description (Markdown)")
    p.add_argument(
        "--opening",
        dest="opening_at",
        type=parse_time,
        default=d,
        help="when submissions open (ISO time, UTC if no zone; 'none': now)",
    )
    p.add_argument(
        "--public-opening",
        dest="public_opening_at",
        type=parse_time,
        default=d,
        help="start of the collaborative phase (others' code visible)",
    )
    p.add_argument(
        "--closing",
        dest="closing_at",
        type=parse_time,
        default=d,
        help="deadline: no submission at or after it",
    )
    p.add_argument(
        "--min-delay",
        dest="min_delay_s",
        type=int,
        default=d,
        help="seconds a participant waits between two submissions",
    )
    p.add_argument(
        "--daily-quota",
        dest="daily_quota",
        type=_quota,
        default=d,
        help="submissions per participant per 24 hours ('unlimited')",
    )
    p.add_argument(
        "--upload-max-bytes",
        dest="upload_max_bytes",
        type=int,
        default=d,
        help="size limit of one submission's files together",
    )
    p.add_argument(
        "--fold-time-limit",
        dest="fold_time_limit_s",
        type=int,
        default=d,
        help="wall-clock seconds allowed to train and predict one fold",
    )
    p.add_argument(
        "--memory-limit-mb",
        dest="memory_limit_mb",
        type=int,
        default=d,
        help="memory limit of a fold's sandbox",
    )
    p.add_argument(
        "--gpu",
        dest="uses_gpu",
        action="store_true",
        default=d,
        help="train on GPU workers (tasks request GPU=1)",
    )
    p.add_argument(
        "--cpu", dest="uses_gpu", action="store_false", default=d, help="train on CPU workers"
    )
    p.add_argument(
        "--max-n-ensemble",
        dest="max_n_ensemble",
        type=int,
        default=d,
        help="largest ensemble the blender builds",
    )
    p.add_argument(
        "--max-running-folds",
        dest="max_running_folds",
        type=_quota,
        default=d,
        help="most folds of one participant training at once ('unlimited')",
    )
    p.add_argument(
        "--worker-time-budget",
        dest="worker_time_budget_s",
        type=_quota,
        default=d,
        help="worker seconds each participant may use ('unlimited'); platform faults are free",
    )
    p.add_argument(
        "--max-team-size",
        dest="max_team_size",
        type=_quota,
        default=d,
        help="most members of a team ('unlimited')",
    )
    p.add_argument(
        "--team-formation-until",
        dest="team_formation_until",
        type=parse_time,
        default=d,
        help="teams may form or merge until then ('none': until a team's first submission)",
    )
    p.add_argument(
        "--freeze",
        dest="freeze_at",
        type=parse_time,
        default=d,
        help="from then until closing participants see the board as it was then ('none': never)",
    )
    p.add_argument(
        "--approval-required",
        dest="approval_required",
        action="store_true",
        default=d,
        help="an admin approves each participant",
    )
    p.add_argument(
        "--open-signup",
        dest="approval_required",
        action="store_false",
        default=d,
        help="anyone may join",
    )
    p.add_argument(
        "--leaderboard-visibility",
        dest="leaderboard_visibility",
        choices=["public", "participants", "admins"],
        default=d,
        help="who sees the public leaderboard before closing",
    )
    p.add_argument(
        "--official-score",
        dest="official_score_name",
        default=d,
        help="score type that ranks the leaderboards (default: the first)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    event = sub.add_parser("event", help="create and configure events")
    esub = event.add_subparsers(dest="event_command", metavar="ACTION", required=True)
    a = esub.add_parser("add", help="create an event from a kit folder (problem.py + data/)")
    a.add_argument("--name", required=True, help="event name (lower case, used in URLs)")
    a.add_argument("--kit", required=True, help="kit folder holding problem.py and data/")
    _rule_flags(a)
    a.set_defaults(func=_add)
    u = esub.add_parser("update", help="change the rules of an event")
    u.add_argument("name", help="event name")
    _rule_flags(u)
    u.set_defaults(func=_update)
    c = esub.add_parser("close", help="close an event now (reveals the private leaderboard)")
    c.add_argument("name", help="event name")
    c.set_defaults(func=_close)
    r = esub.add_parser(
        "reblend",
        help="request a re-blend of an event (the dispatcher runs it)",
        description="Mark the event's blend as out of date: the dispatcher's process re-blends "
        "it within reblend_poll_s + reblend_debounce_s seconds. --now blends here instead.",
    )
    r.add_argument("name", help="event name")
    r.add_argument(
        "--now", action="store_true", help="blend in this process now and wait for the result"
    )
    r.set_defaults(func=_reblend)
    fi = esub.add_parser(
        "fill-intervals",
        help="compute the bootstrap intervals that scored submissions lack",
        description="Submissions scored before the intervals existed (or while bootstrap_n was "
        "0) have none on the leaderboards: compute them from the stored predictions.",
    )
    fi.add_argument("name", help="event name")
    fi.set_defaults(func=_fill_intervals)
    from ramp_server.cli.toolkit import register_event_verbs

    register_event_verbs(esub)
    ls = esub.add_parser("list", help="list events and their rules")
    ls.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    ls.set_defaults(func=_list)


def _rules(args: argparse.Namespace) -> dict[str, Any]:
    from ramp_server.services.events import RULES

    return {k: v for k, v in vars(args).items() if k in RULES}


def _describe(event: Any) -> dict[str, Any]:
    from ramp_server.services.events import RULES

    out = {
        "name": event.name,
        "n_folds": event.n_folds,
        "n_train": event.n_train,
        "n_test": event.n_test,
        "closed": event.closed,
    }
    for key in RULES:
        value = getattr(event, key)
        out[key] = (
            value.isoformat()
            if isinstance(value, datetime)
            else (value.value if hasattr(value, "value") else value)
        )
    out["score_types"] = event.score_types
    return out


def _add(args: argparse.Namespace) -> int:
    from ramp_server.services.events import create_event_from_kit

    with service_session(args) as (settings, session):
        ev = create_event_from_kit(
            session,
            settings=settings,
            slug=args.name,
            kit_dir=args.kit,
            progress=True,
            **_rules(args),
        )
        print(
            f"event {ev.name} created: {ev.n_folds} folds, {ev.n_train} training and "
            f"{ev.n_test} test images, scores {[s['name'] for s in ev.score_types]}"
        )
    return 0


def _update(args: argparse.Namespace) -> int:
    from ramp_server.services.events import get_event, update_event

    rules = _rules(args)
    if not rules:
        raise CliError("nothing to change: give at least one setting flag (see --help)")
    with service_session(args) as (_, session):
        ev = update_event(session, event=get_event(session, name=args.name), **rules)
        print(f"event {ev.name} updated: {', '.join(sorted(rules))}")
    return 0


def _close(args: argparse.Namespace) -> int:
    from ramp_server.services.events import close_event, get_event

    with service_session(args) as (_, session):
        ev = close_event(session, event=get_event(session, name=args.name))
        print(f"event {ev.name} closed")
    return 0


def _reblend(args: argparse.Namespace) -> int:
    from ramp_server.services.blend_requests import request_blend
    from ramp_server.services.events import get_event

    with service_session(args) as (settings, session):
        event_id = get_event(session, name=args.name).id
        request_blend(session, event_id=event_id)
    if not args.now:
        print(f"re-blend of {args.name} requested: the dispatcher runs it shortly")
        return 0
    from ramp_server.engine.reblend import reblend_event

    with service_session(args, settings=settings) as (_, session):
        done = reblend_event(session, settings=settings, event_id=event_id)
    print(
        f"event {args.name} re-blended: {done.n_submissions} submission(s), "
        f"hybrid {done.score_name} {done.combined_valid} in {done.time_s:.2f} s"
    )
    return 0


def _fill_intervals(args: argparse.Namespace) -> int:
    from ramp_server.services.events import get_event
    from ramp_server.services.score_intervals import fill_missing_intervals

    with service_session(args) as (settings, session):
        if settings.bootstrap_n <= 0:
            raise CliError("bootstrap_n is 0 (RAMP_BOOTSTRAP_N): intervals are turned off")
        event = get_event(session, name=args.name)
        n = fill_missing_intervals(session, settings=settings, event=event)
    print(f"event {args.name}: intervals computed for {n} submission(s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    import json

    from ramp_server.services.events import list_events

    with service_session(args) as (_, session):
        events = [_describe(e) for e in list_events(session)]
    if args.format == "json":
        print(json.dumps(events, indent=1))
    else:
        for e in events:
            state = "closed" if e["closed"] else "open"
            print(f"{e['name']}\t{state}\t{e['n_folds']} folds\t{e['title']}")
    return 0
