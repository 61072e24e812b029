"""``ramp-server submit|submissions|leaderboard|requeue|cancel|export``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ramp_server.cli import CliError
from ramp_server.cli.context import service_session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help="submit a folder's two files as a participant would")
    p.add_argument(
        "folder", metavar="DIR", help="folder with image_preprocessor.py, batch_classifier.py"
    )
    p.add_argument("--event", required=True, help="event name")
    p.add_argument("--user", required=True, help="participant (joined to the event if needed)")
    p.add_argument("--name", required=True, help="submission name (unique per participant)")
    p.set_defaults(func=_submit)

    p = sub.add_parser("submissions", help="list an event's submissions with state, scores, error")
    p.add_argument("--event", required=True, help="event name")
    p.add_argument("--user", default=None, help="only this participant's submissions")
    p.add_argument("--format", choices=["json", "table"], default="table", help="output format")
    p.set_defaults(func=_submissions)

    p = sub.add_parser("leaderboard", help="print a leaderboard of an event")
    p.add_argument("--event", required=True, help="event name")
    p.add_argument(
        "--format", choices=["table", "json", "csv"], default="table", help="output format"
    )
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--private", action="store_true", help="test scores with rank change")
    kind.add_argument(
        "--competition",
        action="store_true",
        help="one submission per participant (selected or best)",
    )
    p.add_argument(
        "--sort-by",
        default=None,
        help="score name (default: the official one) or contributivity, train_time, ...",
    )
    p.set_defaults(func=_leaderboard)

    p = sub.add_parser("requeue", help="train a submission again from scratch")
    p.add_argument("submission_id", type=int, metavar="ID", help="submission id")
    p.set_defaults(func=_requeue)
    p = sub.add_parser("cancel", help="cancel a queued or training submission (stops training)")
    p.add_argument("submission_id", type=int, metavar="ID", help="submission id")
    p.set_defaults(func=_cancel)

    p = sub.add_parser(
        "baseline",
        help="mark a submission as a baseline (badge, no rank, still blended) or unmark it",
    )
    p.add_argument("submission_id", type=int, metavar="ID", help="submission id")
    p.add_argument("--off", action="store_true", help="unmark it: ranked again")
    p.set_defaults(func=_baseline)

    p = sub.add_parser("export", help="export an event's scores, predictions and code as a zip")
    p.add_argument("--event", required=True, help="event name")
    p.add_argument("--out", required=True, help="zip file to write")
    p.add_argument("--user", default=None, help="only this participant's submissions")
    p.add_argument("--no-predictions", action="store_true", help="leave the predictions out")
    p.set_defaults(func=_export)


def _submit(args: argparse.Namespace) -> int:
    from ramp_server.services.events import get_event
    from ramp_server.services.participants import get_participation, join_event
    from ramp_server.services.submissions import files_from_dir, submit, team_allowance
    from ramp_server.services.users import get_user

    with service_session(args) as (settings, session):
        event = get_event(session, name=args.event)
        user = get_user(session, name=args.user)
        if get_participation(session, event=event, user=user) is None:
            join_event(session, event=event, user=user)
            session.commit()
        files = files_from_dir(args.folder, max_bytes=event.upload_max_bytes)
        sub = submit(
            session, settings=settings, event=event, user=user, name=args.name, files=files
        )
        print(f"submission {sub.id} ({user.name}/{sub.name}) {sub.state.value}")
        print(allowance_line(team_allowance(session, event=event, user=user)))
    return 0


def allowance_line(allowance: Any) -> str:
    """One line saying how many submissions the team has left today and when the next is
    allowed (an :class:`~ramp_server.services.submissions.Allowance`)."""
    left = (
        "no daily limit"
        if allowance.left_today is None
        else f"{allowance.left_today} of {allowance.daily_quota} submissions left today"
    )
    when = (
        f"next allowed at {allowance.next_at.isoformat(timespec='seconds')}"
        if allowance.next_at
        else "next allowed now"
    )
    return f"{left}; {when}"


def _submissions(args: argparse.Namespace) -> int:
    import json

    from ramp_server.services.events import get_event
    from ramp_server.services.submission_tables import submissions_table
    from ramp_server.services.users import get_user

    with service_session(args) as (_, session):
        event = get_event(session, name=args.event)
        user = get_user(session, name=args.user) if args.user else None
        rows = submissions_table(session, event=event, user=user)
    if args.format == "json":
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    official = event.official_score_name
    table = [
        {
            "id": r["submission_id"],
            "user": r["user"],
            "submission": r["submission"],
            "state": r["state"] + (f" #{r['queue_position']}" if r["queue_position"] else ""),
            f"valid {official}": r["valid_scores"][official],
            "error": (r["error_kind"] or "")
            + (": " + r["error_message"][:60] if r["error_message"] else ""),
        }
        for r in rows
    ]
    _print_table(table, precision={f"valid {official}": _precision(event, official)})
    return 0


def _precision(event: Any, name: str) -> int:
    return next((s["precision"] for s in event.score_types if s["name"] == name), 4)


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, dict):
            prefix = {"scores": "", "valid_scores": "valid_", "test_scores": "test_"}[key]
            out.update({f"{prefix}{k}": v for k, v in value.items()})
        elif key.endswith("ci"):  # [low, high] of the official score, or None
            out[f"{key}_low"], out[f"{key}_high"] = value or (None, None)
        else:
            out[key] = value
    return out


def _print_table(rows: list[dict[str, Any]], *, precision: dict[str, int] | None = None) -> None:
    if not rows:
        print("(no rows)")
        return
    precision = precision or {}

    def fmt(key: str, v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.{precision.get(key, 3)}f}"
        return str(v)

    keys = list(rows[0])
    cells = [[fmt(k, r.get(k)) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)).rstrip())
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())


def _leaderboard(args: argparse.Namespace) -> int:
    import csv
    import json

    from ramp_server.services import leaderboards
    from ramp_server.services.blends import latest_blend
    from ramp_server.services.events import get_event

    with service_session(args) as (_, session):
        event = get_event(session, name=args.event)
        if args.private:
            rows = leaderboards.private_leaderboard(session, event=event)
        elif args.competition:
            rows = leaderboards.competition_leaderboard(session, event=event)
        else:
            try:
                rows = leaderboards.public_leaderboard(session, event=event, sort_by=args.sort_by)
            except ValueError as exc:  # an unknown --sort-by column: the message lists them
                raise CliError(str(exc)) from exc
        blend = latest_blend(session, event_id=event.id)
    if args.format == "json":
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    flat = [_flatten(r) for r in rows]
    if args.format == "csv":
        if flat:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(flat[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(flat)
        return 0
    names = [s["name"] for s in event.score_types]
    keep = ["rank"] + (["public_rank", "rank_change"] if args.private else [])
    keep += [
        "user",
        "submission",
        *names,
        "contributivity",
        "train_time",
        "valid_time",
        "test_time",
        "submitted_at",
    ]
    table = [{k: r.get(k) for k in keep} for r in flat]
    for row, r in zip(table, flat, strict=True):
        if r.get("baseline"):  # shown, never ranked
            row["rank"], row["submission"] = "-", f"{r['submission']} (baseline)"
    precision = {s["name"]: s["precision"] for s in event.score_types}
    _print_table(table, precision=precision)
    if blend is not None and blend.combined_valid is not None:
        official = event.official_score_name
        digits = precision.get(official, 4)
        line = (
            f"hybrid model of {blend.n_submissions} submissions: "
            f"{official} {blend.combined_valid:.{digits}f} (valid)"
        )
        if args.private and blend.combined_test is not None:
            line += f", {blend.combined_test:.{digits}f} (test)"
        print(line)
    return 0


def _change_state(args: argparse.Namespace, action: str) -> int:
    from ramp_server.services import submissions as service

    with service_session(args) as (_, session):
        sub = service.get_submission(session, submission_id=args.submission_id)
        getattr(service, action)(session, submission=sub)
        print(f"submission {sub.id} ({sub.name}) {sub.state.value}")
    return 0


def _requeue(args: argparse.Namespace) -> int:
    return _change_state(args, "requeue")


def _cancel(args: argparse.Namespace) -> int:
    return _change_state(args, "cancel")


def _baseline(args: argparse.Namespace) -> int:
    from ramp_server.services import submissions as service

    with service_session(args) as (_, session):
        sub = service.get_submission(session, submission_id=args.submission_id)
        service.set_baseline(session, submission=sub, baseline=not args.off)
        label = f"{sub.id} ({sub.user.name}/{sub.name})"
        print(f"submission {label} is {'no longer ' if args.off else ''}a baseline")
    return 0


def _export(args: argparse.Namespace) -> int:
    import io
    from pathlib import Path

    from ramp_server.services.events import get_event
    from ramp_server.services.submissions import export_archive
    from ramp_server.services.users import get_user
    from ramp_server.storage import atomic_write_bytes

    with service_session(args) as (settings, session):
        event = get_event(session, name=args.event)
        user = get_user(session, name=args.user) if args.user else None
        buf = io.BytesIO()
        n = export_archive(
            session,
            settings=settings,
            event=event,
            out=buf,
            user=user,
            include_predictions=not args.no_predictions,
        )
    atomic_write_bytes(Path(args.out), buf.getvalue())
    print(f"{n} submissions exported to {args.out}")
    return 0
