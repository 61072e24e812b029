"""``ramp-server event rescore|retrain|email``: the organiser's tools on a whole event, registered
under the ``event`` verb group (:mod:`ramp_server.cli.events`)."""

from __future__ import annotations

import argparse

from ramp_server.cli import CliError
from ramp_server.cli.context import service_session


def register_event_verbs(esub: argparse._SubParsersAction) -> None:
    """Add the toolkit's actions to ``ramp-server event``."""
    r = esub.add_parser(
        "rescore",
        help="recompute every score from the stored predictions (no retraining)",
        description="After a score type is added or fixed in the event's problem.py (its "
        "snapshot in the storage), recompute every scored submission's scores from its stored "
        "predictions, with a progress bar; the admin page shows the job too.",
    )
    r.add_argument("name", help="event name")
    r.add_argument(
        "--force", action="store_true", help="start although a job runs (its process died)"
    )
    r.set_defaults(func=_rescore)
    t = esub.add_parser(
        "retrain",
        help="requeue every scored or failed submission (after a data change)",
        description="Train every scored or failed submission of the event again from scratch, "
        "in fair-share order. Asks for --yes: the scores are cleared until retrained.",
    )
    t.add_argument("name", help="event name")
    t.add_argument("--yes", action="store_true", help="confirm: requeue them all")
    t.set_defaults(func=_retrain)
    e = esub.add_parser(
        "email",
        help="e-mail the event's participants (all, approved or pending)",
        description="Queue an e-mail to the event's active participants; the dispatcher's "
        "sender sends it (the log by default, SMTP with RAMP_MAIL_BACKEND=smtp).",
    )
    e.add_argument("name", help="event name")
    e.add_argument("--subject", required=True, help="subject (the event's name is prefixed)")
    e.add_argument("--body", required=True, help="text of the message")
    e.add_argument(
        "--to", choices=["all", "approved", "pending"], default="all", help="whom to write to"
    )
    e.set_defaults(func=_email)


def _rescore(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ramp_server.services import rescore
    from ramp_server.services.events import get_event

    with service_session(args) as (settings, session):
        event = get_event(session, name=args.name)
        job = rescore.start_rescore(session, event=event, requested_by="cli", force=args.force)
        with tqdm(total=job.total, desc=f"re-scoring {event.name}", unit="submission") as bar:
            job = rescore.run_rescore(
                session, settings=settings, job=job, progress=lambda done, total: bar.update(1)
            )
        print(f"event {event.name}: {job.message}; a re-blend is requested")
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from ramp_server.services import rescore
    from ramp_server.services.events import get_event

    with service_session(args) as (_, session):
        event = get_event(session, name=args.name)
        if not args.yes:
            n = rescore.n_to_retrain(session, event=event)
            raise CliError(
                f"this requeues the {n} scored or failed submission(s) of {event.name} and "
                "clears their scores until they are trained again: run it again with --yes"
            )
        requeued, training = rescore.retrain_event(session, event=event)
        print(f"event {event.name}: {len(requeued)} submission(s) requeued")
        if training:
            ids = " ".join(str(s.id) for s in training)
            print(f"still training (requeue them when they end): {ids}")
    return 0


def _email(args: argparse.Namespace) -> int:
    from ramp_server.services import outbox
    from ramp_server.services.events import get_event

    with service_session(args) as (_, session):
        event = get_event(session, name=args.name)
        n = outbox.email_participants(
            session, event=event, subject=args.subject, body=args.body, audience=args.to
        )
    print(f"{n} e-mail(s) queued to the {args.to} participants of {args.name}")
    return 0
